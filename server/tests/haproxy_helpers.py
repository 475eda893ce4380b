"""HAProxy in front of ``chaosiq-server serve`` processes: the one configuration the
tests, ``benchmarks/server_ingest.py`` and docs/server.md ("Running several
replicas") use, and a running HAProxy process."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from chaosiq_core.testing import wait_until

HAPROXY = "/usr/sbin/haproxy"
REPLICA_HEADER = "X-Chaosiq-Replica"
"""Set by HAProxy on every answer: the name of the replica that answered (``r1``, ``r2``, …)."""


def require_haproxy() -> None:
    """Skip without HAProxy, except in CI (``CI`` set), where its absence is a failure."""
    if not Path(HAPROXY).exists():
        if os.environ.get("CI"):
            pytest.fail("haproxy is not installed: scripts/ci-services.sh installs it")
        pytest.skip("haproxy is not installed (apt-get install haproxy)")


def haproxy_config(bind: str, servers: Sequence[str], *, source: str | None = None) -> str:
    """HAProxy's configuration for replicas at ``servers`` (``host:port``), listening on ``bind``.

    Round robin; a replica is taken out after two failed ``GET /ready`` (0.5 s apart) and back
    after one good one; a request whose connection failed, or that got no answer, is sent again
    to another replica (the API's writes are idempotent). ``source``: the address HAProxy
    connects from (what ``serve --forwarded-allow-ips`` names)."""
    src = f" source {source}" if source else ""
    lines = [
        "global",
        "    maxconn 4096",
        "defaults",
        "    mode http",
        "    option forwardfor                       # the client's address in X-Forwarded-For",
        "    option redispatch                       # a retry goes to another replica",
        "    retries 3",
        "    retry-on conn-failure empty-response    # the replica died: send it to another",
        "    timeout connect 2s",
        "    timeout client 60s",
        "    timeout server 60s",
        "    timeout http-keep-alive 10s",
        "frontend chaosiq",
        f"    bind {bind}",
        f"    http-response set-header {REPLICA_HEADER} %s   # which replica answered",
        "    default_backend replicas",
        "backend replicas",
        "    balance roundrobin",
        "    option httpchk GET /ready               # database reachable, schema current",
        "    http-check expect status 200",
        "    default-server check inter 500ms fall 2 rise 1",
        *(f"    server r{n} {address}{src}" for n, address in enumerate(servers, 1)),
    ]
    return "\n".join(lines) + "\n"


def check_config(cfg: Path) -> subprocess.CompletedProcess[str]:
    """``haproxy -c``: does HAProxy accept the configuration in ``cfg``?"""
    return subprocess.run([HAPROXY, "-c", "-f", str(cfg)], capture_output=True, text=True, timeout=30)


class HAProxy:
    """A running HAProxy (``-db``: in the foreground) with :func:`haproxy_config`."""

    def __init__(self, folder: Path, host: str, port: int, servers: Sequence[str], **kw: Any) -> None:
        self.base = f"http://{host}:{port}"
        self.cfg = folder / "haproxy.cfg"
        self.cfg.write_text(haproxy_config(f"{host}:{port}", servers, **kw))
        self.log = folder / "haproxy.log"
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen([HAPROXY, "-f", str(self.cfg), "-db"], stdout=log, stderr=log)
        wait_until(self._up, timeout=20, what="haproxy in front of chaosiq-server")

    def _up(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"haproxy exited with {self.proc.returncode}: {self.log.read_text()}")
        try:
            return httpx.get(self.base + "/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def answered_by(self, path: str = "/ready") -> str | None:
        """The replica that answered one ``GET path`` through the proxy (``None``: no answer)."""
        try:
            return httpx.get(self.base + path, timeout=2).headers.get(REPLICA_HEADER)
        except httpx.HTTPError:
            return None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
