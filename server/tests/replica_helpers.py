"""Replicas: ``chaosiq-server serve`` processes on one PostgreSQL database behind HAProxy,
and what the replica tests run through them (the real ``chaos`` CLI)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml
from haproxy_helpers import HAProxy, require_haproxy
from server_helpers import PG_ENV, PG_SKIP, PG_TEST_SECRET_KEY, Served, free_port, reset_postgres
from server_helpers import start_server as start_serve
from server_helpers import stop_server as stop_serve

from chaosiq_core.testing import ServerProcess, Team, executable, run_chaos, wait_until


class Replicas:
    """``n`` replicas (``serve --init --forwarded-allow-ips 127.0.0.1``) behind :class:`HAProxy`;
    each keeps its port across restarts. :attr:`server` drives the database's admin CLI, and
    its ``url`` is the proxy's, so its teams' API calls go through HAProxy."""

    def __init__(self, url: str, folder: Path, n: int = 2) -> None:
        self.url, self.folder = url, folder
        self.ports = [free_port() for _ in range(n)]
        self.replicas: list[Served | None] = [None] * n
        self.start(0, wait_routed=False)  # migrates the empty database; the others start together
        with ThreadPoolExecutor(n) as pool:
            list(pool.map(lambda i: self.start(i, wait_routed=False), range(1, n)))
        self.proxy_port = free_port()
        self.start_proxy()
        self.server = ServerProcess(url, self.proxy_port)

    def start_proxy(self) -> None:
        """(Re)start HAProxy on its port, and wait until it routes to every replica."""
        servers = [f"127.0.0.1:{p}" for p in self.ports]
        self.proxy = HAProxy(self.folder, "127.0.0.1", self.proxy_port, servers)
        self.wait_routed(*range(len(self.ports)))

    @property
    def base(self) -> str:
        return self.proxy.base

    def direct(self, i: int) -> str:
        """The URL of replica ``i`` itself (not through the proxy)."""
        return f"http://127.0.0.1:{self.ports[i]}"

    def start(self, i: int, wait_routed: bool = True) -> None:
        log = self.folder / f"r{i + 1}.log"
        self.replicas[i] = start_serve(
            self.url, log, "--init", "--forwarded-allow-ips", "127.0.0.1", port=self.ports[i]
        )
        if wait_routed:
            self.wait_routed(i)

    def wait_routed(self, *indexes: int) -> None:
        """Wait until HAProxy sends requests to these replicas again (its health check saw them)."""
        for i in indexes:
            name = f"r{i + 1}"
            wait_until(lambda n=name: self.proxy.answered_by() == n, timeout=20, interval=0.02, what=name)

    def kill(self, i: int) -> None:
        """``kill -9``: no request in flight is finished, nothing is flushed."""
        served = self.replicas[i]
        assert served is not None
        served.proc.kill()
        served.proc.wait(timeout=10)

    def stop(self, i: int) -> None:
        """A graceful stop (SIGTERM: uvicorn finishes the requests in flight)."""
        served = self.replicas[i]
        assert served is not None
        stop_serve(served)

    def close(self) -> None:
        self.proxy.stop()
        for served in self.replicas:
            if served is not None:
                stop_serve(served)


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replicas]:
    """Two replicas behind HAProxy on an emptied PostgreSQL database (skipped without
    PostgreSQL or HAProxy), for a whole module: each test makes its own team. The replicas
    share the secret key given in their environment."""
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(PG_SKIP)
    require_haproxy()
    reset_postgres(url)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CHAOSIQ_SERVER_SECRET_KEY", PG_TEST_SECRET_KEY)
        cluster = Replicas(url, tmp_path_factory.mktemp("replicas"))
        try:
            yield cluster
        finally:
            cluster.close()


# ------------------------------------------------------------------ chaos runs
def chaos_env(folder: Path, *plugins_off: str) -> dict[str, str]:
    """A private HOME and chaosiq data directory (outbox) under ``folder``; ``plugins_off``
    are not loaded (``CHAOSIQ_DISABLE_PLUGINS``)."""
    home = folder / "home"
    (home / ".chaostoolkit").mkdir(parents=True, exist_ok=True)
    env = {"HOME": str(home), "CHAOSIQ_DATA_DIR": str(folder / "chaosiq-data")}
    env["CHAOSIQ_DISABLE_PLUGINS"] = ",".join(plugins_off)
    return env


def signed_in(team: Team, env: dict[str, str], **publish: Any) -> Path:
    """The real ``chaos signin`` through the proxy (``team.server.url``); ``publish``: options."""
    settings = Path(env["HOME"]) / ".chaostoolkit" / "settings.yaml"
    r = run_chaos(
        "signin", "--url", team.server.url, "--token", team.token,
        "--org", team.org_name, "--team", team.team_name, settings=settings, env=env,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    if publish:
        data = yaml.safe_load(settings.read_text())
        options = data["controls"]["chaosiq-cloud"].setdefault("options", {})
        options.setdefault("publish", {}).update(publish)
        settings.write_text(yaml.safe_dump(data))
    return settings


def sleep_action(name: str, seconds: float) -> dict[str, Any]:
    """A cheap Python activity that waits ``seconds`` in the run's process (``time.sleep`` is a
    builtin without a signature, which Chaos Toolkit's validation refuses)."""
    args = {"object_list": [], "timeout": seconds}
    return {
        "type": "action",
        "name": name,
        "provider": {
            "type": "python",
            "module": "multiprocessing.connection",
            "func": "wait",
            "arguments": args,
        },
    }


def process_sleep(name: str, seconds: float) -> dict[str, Any]:
    """An action running ``sleep seconds`` as a process (a safeguard stop cuts it)."""
    return {
        "type": "action",
        "name": name,
        "provider": {"type": "process", "path": "sleep", "arguments": str(seconds)},
    }


def write_experiment(folder: Path, method: list[dict[str, Any]], title: str) -> Path:
    """1 steady-state probe (before and after), ``method``, 1 rollback."""
    folder.mkdir(parents=True, exist_ok=True)
    probe = {
        "type": "probe",
        "name": "root-exists",
        "tolerance": True,
        "provider": {"type": "python", "module": "os.path", "func": "exists", "arguments": {"path": "/"}},
    }
    doc = {
        "title": title,
        "description": "replicas test",
        "steady-state-hypothesis": {"title": "root exists", "probes": [probe]},
        "method": method,
        "rollbacks": [
            {"type": "action", "name": "rollback", "provider": {"type": "process", "path": "true"}}
        ],
    }
    path = folder / "experiment.json"
    path.write_text(json.dumps(doc))
    return path


def expected_types(activities: int) -> list[str]:
    """The event types of :func:`write_experiment` with ``activities`` actions, in order."""
    one = ["starting-activity", "activity-finished"]
    hypothesis = ["starting-hypothesis", *one, "hypothesis-finished"]
    return [
        "starting-experiment", *hypothesis,
        "starting-method", *(one * activities), "method-finished",
        *hypothesis,
        "starting-rollback", *one, "rollback-finished",
        "experiment-finished",
    ]  # fmt: skip


class ChaosRun:
    """The real ``chaos run`` of ``exp`` in the background (journal beside the experiment)."""

    def __init__(self, settings: Path, exp: Path, env: dict[str, str]) -> None:
        self.journal_path = exp.parent / "journal.json"
        self.out = (exp.parent / "chaos.out").open("w")
        cmd = [executable("chaos"), "--no-version-check", "--settings", str(settings), "run"]
        self.proc = subprocess.Popen(
            [*cmd, "--journal-path", str(self.journal_path), str(exp)],
            cwd=exp.parent,
            env={**os.environ, **env},
            stdout=self.out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

    def wait(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self.out.close()

    @property
    def output(self) -> str:
        return Path(self.out.name).read_text()

    @property
    def journal(self) -> dict[str, Any]:
        return dict(json.loads(self.journal_path.read_text()))

    @property
    def execution_id(self) -> str | None:
        ext = next((e for e in self.journal.get("extensions") or [] if e.get("name") == "chaosiq"), {})
        return ext.get("execution_id")

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.out.close()


def publish_warnings(output: str) -> list[str]:
    """The chaosiq lines of a run's output that say something went wrong (retried failures
    are logged at DEBUG only, so they are not among them)."""
    return [
        line
        for line in output.splitlines()
        if ("chaosiq" in line and ("WARNING" in line or "ERROR" in line)) or "Traceback" in line
    ]


def copy_outbox(env: dict[str, str], to: Path) -> list[Path]:
    """Copy the outbox files of ``env``'s data directory to ``to``: what was kept."""
    outbox = Path(env["CHAOSIQ_DATA_DIR"]) / "outbox"
    files = sorted(outbox.glob("*.jsonl")) if outbox.is_dir() else []
    to.mkdir(parents=True, exist_ok=True)
    for f in files:
        shutil.copy2(f, to / f.name)
    return files
