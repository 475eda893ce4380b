"""pytest fixtures for chaosiq and for authors of chaosiq plugins.

Enable them with ``pytest_plugins = ["chaosiq_core.testing"]`` in a conftest.

* ``chaosiq_hooks`` — a fresh plugin manager with no entry point loaded (its
  :class:`~chaosiq_core.hooks.Hooks` facade): ``chaosiq_hooks.register(plugin,
  name)``, then call each hook by its method.
* ``chaos_home`` — a temporary ``HOME`` with an empty ``~/.chaostoolkit``.
* ``chaosiq_server`` — a real ``chaosiq-server`` (SQLite, free loopback port)
  for the whole session; ``chaosiq_team`` — a fresh organization, team and
  token on it for one test; ``signed_in`` — the real ``chaos signin`` run
  against that team, returning the settings path.
* :func:`run_chaos` — run the real ``chaos`` CLI in a subprocess.
* ``fake_chaosiq`` — a :class:`FakeServer` (stdlib, loopback) answering the
  sign-in calls; :class:`SilentServer` never answers; :func:`self_signed_cert`.

The server is only ever driven through its command line and HTTP API.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

BIN = Path(sys.executable).parent


def executable(name: str) -> str:
    """Path of a console script installed beside this interpreter."""
    found = BIN / name
    if found.exists():
        return str(found)
    which = shutil.which(name)
    if which is None:
        raise RuntimeError(f"{name} is not installed in this environment")
    return which


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(predicate: Any, timeout: float = 15.0, interval: float = 0.05, what: str = "condition") -> Any:
    """Poll ``predicate`` until it returns a truthy value or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")


def exists_activity(name: str, path: str = "/", kind: str = "action", **extra: Any) -> dict[str, Any]:
    """A cheap Python activity (``os.path.exists(path)``); a probe of ``/`` always holds."""
    activity: dict[str, Any] = {
        "type": kind,
        "name": name,
        "provider": {"type": "python", "module": "os.path", "func": "exists", "arguments": {"path": path}},
    }
    if kind == "probe" and "tolerance" not in extra:
        activity["tolerance"] = True
    activity.update(extra)
    return activity


def gate_activity(name: str, flag: Path) -> dict[str, Any]:
    """An action that ends once ``flag`` exists (failing after 60 s): a run held where a
    test wants it, released by ``flag.touch()``."""
    script = f"for i in $(seq 600); do [ -e '{flag}' ] && exit 0; sleep 0.1; done; exit 1"
    return {
        "type": "action",
        "name": name,
        "provider": {"type": "process", "path": "sh", "arguments": ["-c", script]},
    }


def small_experiment(
    title: str,
    method: list[dict[str, Any]],
    *,
    rollbacks: list[dict[str, Any]] | None = None,
    description: str = "a small experiment made by chaosiq_core.testing",
) -> dict[str, Any]:
    """An experiment whose steady state is one probe that always holds (``root-exists``)."""
    experiment: dict[str, Any] = {
        "title": title,
        "description": description,
        "steady-state-hypothesis": {
            "title": "root exists",
            "probes": [exists_activity("root-exists", kind="probe")],
        },
        "method": method,
    }
    if rollbacks:
        experiment["rollbacks"] = rollbacks
    return experiment


@dataclass
class Team:
    """An organization, team and token created on a :class:`ServerProcess`."""

    server: ServerProcess
    org_id: str
    org_name: str
    team_id: str
    team_name: str
    token: str
    token_id: str | None = None

    @property
    def base(self) -> str:
        return f"{self.server.url}/api/v1/organizations/{self.org_id}/teams/{self.team_id}"

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Call the team-scoped API (``path`` relative to the team base, or ``/api/...``)."""
        url = (
            f"{self.server.url}{path}"
            if path.startswith("/") and path.startswith("/api/")
            else f"{self.base}{path}"
        )
        headers = {
            "Authorization": f"Bearer {self.token}",
            **kwargs.pop("headers", {}),
        }  # a copy: never the caller's
        return requests.request(method, url, headers=headers, timeout=10, **kwargs)

    def executions(self) -> list[dict[str, Any]]:
        resp = self.api("GET", "/executions?limit=100")
        resp.raise_for_status()
        body = resp.json()
        items: list[dict[str, Any]] = body["items"] if isinstance(body, dict) else body
        return items

    def events(self, execution_id: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            q = f"?limit=500&cursor={cursor}" if cursor else "?limit=500"
            resp = self.api("GET", f"/executions/{execution_id}/events{q}")
            resp.raise_for_status()
            body = resp.json()
            items.extend(body["items"])
            cursor = body.get("next_cursor")
            if not cursor:
                return items

    def stop(self, execution_id: str, reason: str = "stopped by test") -> requests.Response:
        return self.api("POST", f"/executions/{execution_id}/stop", json={"reason": reason})


@dataclass
class ServerProcess:
    """A running ``chaosiq-server serve`` on loopback."""

    database_url: str
    port: int
    extra_args: list[str] = field(default_factory=list)
    proc: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "CHAOSIQ_SERVER_DATABASE_URL": self.database_url}
        return subprocess.run(
            [executable("chaosiq-server"), *args],
            env=env,
            capture_output=True,
            text=True,
            check=check,
            timeout=60,
        )

    def start(self) -> ServerProcess:
        env = {**os.environ, "CHAOSIQ_SERVER_DATABASE_URL": self.database_url}
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                executable("chaosiq-server"),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                *self.extra_args,
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until(self.healthy, timeout=30, what=f"chaosiq-server on port {self.port}")
        return self

    def healthy(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise RuntimeError(f"chaosiq-server exited with {self.proc.returncode}; log: {self.log_path}")
        try:
            return requests.get(f"{self.url}/health", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=15)

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def new_team(self, org: str | None = None, team: str | None = None) -> Team:
        org = org or f"org-{uuid.uuid4().hex[:8]}"
        team = team or f"team-{uuid.uuid4().hex[:8]}"
        out = self.cli("init", "--org", org, "--team", team, "--json").stdout
        data = json.loads(out)
        return Team(
            server=self,
            org_id=data["organization"]["id"],
            org_name=data["organization"]["name"],
            team_id=data["team"]["id"],
            team_name=data["team"]["name"],
            token=data["token"],
            token_id=data.get("token_id"),
        )


PG_ENV = "CHAOSIQ_TEST_DATABASE_URL"
"""The PostgreSQL database tests may empty and use (``scripts/ci-services.sh`` sets it)."""


def postgres_url() -> str:
    """:data:`PG_ENV`'s database, emptied; skips the test without it (fails it in CI)."""
    url = os.environ.get(PG_ENV)
    if not url:
        message = f"PostgreSQL not configured: set {PG_ENV} (see scripts/ci-postgres.sh)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    reset_postgres(url)
    return url


def reset_postgres(url: str) -> None:
    """Empty the PostgreSQL database at ``url`` (a server started on it migrates it again)."""
    from sqlalchemy import create_engine, text  # the server's dependency: tests run beside it

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def start_server(tmp: Path, *extra_args: str, database_url: str | None = None) -> ServerProcess:
    """Initialise a database in ``tmp`` and start a server on a free port."""
    tmp.mkdir(parents=True, exist_ok=True)
    db = database_url or f"sqlite:///{tmp / 'chaosiq.db'}"
    server = ServerProcess(db, free_port(), list(extra_args), log_path=tmp / "server.log")
    server.cli("init", "--org", "bootstrap", "--team", "bootstrap", "--json")
    return server.start()


def run_chaos(
    *args: str,
    settings: Path | None = None,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the real ``chaos`` CLI (``--no-version-check``, optional ``--settings``)."""
    cmd = [executable("chaos"), "--no-version-check"]
    if settings is not None:
        cmd += ["--settings", str(settings)]
    cmd += list(args)
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        cmd,
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
    )


# ----------------------------------------------------------------- fixtures


@pytest.fixture
def chaosiq_hooks() -> Iterator[Any]:
    """A fresh :class:`~chaosiq_core.hooks.Hooks` with no entry point loaded."""
    from chaosiq_core.manager import make_hooks

    hooks = make_hooks({}, load_entrypoints=False)
    yield hooks
    hooks.pm.check_pending()


@pytest.fixture
def chaos_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary HOME; ``chaos_home / '.chaostoolkit' / 'settings.yaml'`` is the default settings."""
    home = tmp_path / "home"
    (home / ".chaostoolkit").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("CHAOSIQ_TOKEN", raising=False)
    monkeypatch.delenv("CHAOSIQ_DISABLE_PLUGINS", raising=False)
    return home


@pytest.fixture(scope="session")
def chaosiq_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One real chaosiq-server on SQLite for the test session."""
    server = start_server(tmp_path_factory.mktemp("chaosiq-server"))
    yield server
    server.stop()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def chaosiq_server_each_database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """A real chaosiq-server for one module, on SQLite, then on PostgreSQL (:data:`PG_ENV`).

    A module runs every test on both with ``chaosiq_server = chaosiq_server_each_database``
    (``chaosiq_team`` and ``signed_in`` then use it)."""
    url = postgres_url() if request.param == "postgresql" else None
    server = start_server(tmp_path_factory.mktemp(f"chaosiq-server-{request.param}"), database_url=url)
    yield server
    server.stop()


@pytest.fixture
def chaosiq_team(chaosiq_server: ServerProcess) -> Team:
    """A new organization, team and token on the session's server."""
    return chaosiq_server.new_team()


def sign_in(team: Team, settings: Path, env: dict[str, str] | None = None) -> Path:
    """Write ``settings`` with the real ``chaos signin`` to ``team``'s server, org and team."""
    settings.parent.mkdir(parents=True, exist_ok=True)
    result = run_chaos(
        "signin", "--url", team.server.url, "--token", team.token,
        "--org", team.org_name, "--team", team.team_name, settings=settings, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr + result.stdout
    return settings


@pytest.fixture
def signed_in(chaos_home: Path, chaosiq_team: Team) -> Path:
    """Settings made by the real ``chaos signin`` against ``chaosiq_team``."""
    return sign_in(chaosiq_team, chaos_home / ".chaostoolkit" / "settings.yaml")


# ------------------------------------------------------------ fake servers


class FakeServer:
    """A tiny stdlib ChaosIQ stand-in on loopback for sign-in and selection tests.

    It answers ``HEAD /`` (token probe), ``GET /api/v1/organizations`` and
    ``GET /api/v1/organizations/{org}/teams`` from :attr:`orgs` / :attr:`teams`,
    ``401`` for any other token than :attr:`token`, and whatever
    :attr:`routes` maps ``(method, path)`` to. Every request is recorded in
    :attr:`requests` as ``(method, path, headers)``.
    """

    def __init__(self, token: str = "s3cret-token", *, tls: tuple[Path, Path] | None = None) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.token = token
        self.orgs: list[dict[str, Any]] = [{"id": "o-1", "name": "acme"}]
        self.teams: dict[str, list[dict[str, Any]]] = {"o-1": [{"id": "t-1", "name": "ops"}]}
        self.routes: dict[tuple[str, str], Any] = {}
        """``(method, path)`` → ``(status, body)``, or a list of them answered in turn."""
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:  # quiet
                return

            def _reply(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
                data = b"" if body is None else json.dumps(body).encode()
                head = [
                    f"HTTP/1.1 {status} X",
                    "Content-Type: application/json",
                    f"Content-Length: {len(data)}",
                ]
                head += [f"{k}: {v}" for k, v in (headers or {}).items()]
                payload = ("\r\n".join(head) + "\r\n\r\n").encode()
                self.wfile.write(payload + (b"" if self.command == "HEAD" else data))

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                path = self.path.split("?", 1)[0]
                fake.requests.append((self.command, path, dict(self.headers)))
                if (self.command, path) in fake.routes:
                    answer = fake.routes[(self.command, path)]
                    if isinstance(answer, list):  # a sequence of answers; the last one sticks
                        answer = answer.pop(0) if len(answer) > 1 else answer[0]
                    self._reply(*answer)
                    return
                if self.headers.get("Authorization") != f"Bearer {fake.token}":
                    self._reply(401, {"detail": "invalid token"})
                    return
                parts = path.strip("/").split("/")
                if path == "/":
                    self._reply(200, {"name": "fake"})
                elif parts == ["api", "v1", "organizations"]:
                    self._reply(200, fake.orgs)
                elif len(parts) == 5 and parts[:3] == ["api", "v1", "organizations"] and parts[4] == "teams":
                    if parts[3] not in fake.teams:
                        self._reply(404, {"detail": "organization not found"})
                    else:
                        self._reply(200, fake.teams[parts[3]])
                else:
                    self._reply(404, {"detail": "not found"})

            do_GET = do_HEAD = do_POST = do_PUT = _handle

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.scheme = "http"
        if tls is not None:
            import ssl

            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(str(tls[0]), str(tls[1]))
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
            self.scheme = "https"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class SilentServer:
    """A loopback socket that accepts connections and never answers (a hung server)."""

    def __init__(self) -> None:
        import threading

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = int(self.sock.getsockname()[1])
        self.conns: list[socket.socket] = []
        self._closed = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._closed = True
        self.sock.close()
        for conn in self.conns:
            conn.close()


def self_signed_cert(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate and key for ``127.0.0.1`` (made with the ``openssl`` CLI)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def fake_chaosiq() -> Iterator[FakeServer]:
    """A :class:`FakeServer` for one test (token ``fake_chaosiq.token``)."""
    server = FakeServer()
    yield server
    server.close()
