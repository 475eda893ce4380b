"""Every `serve` option can be set by the environment: CHAOSIQ_SERVER_<OPTION>."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import click
import httpx
from chaosiq_server.cli import serve
from server_helpers import Served, free_port, seed, server_cmd, stop_server, wait_healthy


def test_serve_help_names_the_variable_of_every_option() -> None:
    r = subprocess.run([*server_cmd(), "serve", "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0
    help_text = " ".join(r.stdout.split())  # click wraps long lines
    options = [p for p in serve.params if isinstance(p, click.Option)]
    assert len(options) >= 8
    for option in options:
        name = max(option.opts, key=len).lstrip("-").upper().replace("-", "_")
        assert f"env var: CHAOSIQ_SERVER_{name}" in help_text.replace("- ", "-"), (name, r.stdout)


def test_serve_configured_by_the_environment_alone(tmp_path: Path) -> None:
    db = tmp_path / "new" / "chaosiq.db"
    port = free_port()
    log = tmp_path / "server.log"
    env = {
        **os.environ,
        "CHAOSIQ_SERVER_DATABASE_URL": f"sqlite:///{db}",
        "CHAOSIQ_SERVER_HOST": "127.0.0.1",
        "CHAOSIQ_SERVER_PORT": str(port),
        "CHAOSIQ_SERVER_LOG_FORMAT": "json",
        "CHAOSIQ_SERVER_MAX_BODY_SIZE": "2000",
        "CHAOSIQ_SERVER_RESPONSE_DELAY_MS": "40",
        "CHAOSIQ_SERVER_INIT": "true",  # a missing database is created
    }
    with log.open("wb") as out:
        proc = subprocess.Popen([*server_cmd(), "serve"], env=env, stdout=out, stderr=subprocess.STDOUT)
    served = Served(f"http://127.0.0.1:{port}", proc, log)
    try:
        wait_healthy(served.base, proc)
        assert db.exists()
        a, _ = seed(f"sqlite:///{db}")
        with httpx.Client(base_url=served.base, headers=a.headers, timeout=10) as c:
            r = c.get("/api/v1/organizations")
            assert r.status_code == 200 and r.elapsed.total_seconds() >= 0.04
            big = c.post(f"{a.base}/experiments", content=b"{" + b" " * 3000 + b"}")
            assert big.status_code == 413
    finally:
        stop_server(served)
    lines = [json.loads(x) for x in log.read_text().splitlines() if x.startswith("{")]
    assert any(x.get("path") == "/api/v1/organizations" for x in lines)  # JSON log lines

    # A flag on the command line wins over the environment.
    other = free_port()
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [*server_cmd(), "serve", "--port", str(other)], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    served = Served(f"http://127.0.0.1:{other}", proc, log)
    try:
        wait_healthy(served.base, proc)
    finally:
        stop_server(served)
