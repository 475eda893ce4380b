"""The server's secret key: it signs console session cookies and CSRF tokens.

It is never stored in the database, so read access to the database is not
enough to forge a console session. It comes from, in this order:

1. the environment variable ``CHAOSIQ_SERVER_SECRET_KEY`` (at least 32
   characters): give every replica the same value and they accept each other's
   sessions;
2. the key file ``secret_key`` in the server's data directory: beside the
   SQLite database file, or ``<user data dir>/chaosiq-server/`` for another
   database. ``init`` and ``serve`` create it (mode 0600) when it is missing.

A new key signs everyone out of the console (their cookies no longer verify);
API tokens are not affected.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path

from platformdirs import user_data_dir
from sqlalchemy.engine import make_url

ENV_SECRET_KEY = "CHAOSIQ_SERVER_SECRET_KEY"
KEY_FILE_NAME = "secret_key"
MIN_LENGTH = 32

log = logging.getLogger("chaosiq_server.secret_key")


class SecretKeyError(Exception):
    """The key is unusable (too short, unreadable): one line for the operator."""


@dataclass(frozen=True)
class SecretKey:
    """The key and where it came from (for the start-up log; never the key itself)."""

    value: bytes = field(repr=False)  # never in a log line or a traceback's locals
    source: str
    created: bool = False

    def sign(self, purpose: str, message: str) -> str:
        """An HMAC-SHA256 of ``message`` for one ``purpose`` (hex)."""
        key = hmac.new(self.value, purpose.encode("utf-8"), hashlib.sha256).digest()
        return hmac.new(key, message.encode("utf-8"), hashlib.sha256).hexdigest()

    def verify(self, purpose: str, message: str, signature: str | None) -> bool:
        return bool(signature) and hmac.compare_digest(self.sign(purpose, message), str(signature))


def key_file_for(database_url: str) -> Path:
    """Where the key file of the server using ``database_url`` lives."""
    url = make_url(database_url)
    database = url.database or ""
    if (
        url.get_backend_name() == "sqlite"
        and database
        and database != ":memory:"
        and not database.startswith("file:")
    ):
        return Path(database).expanduser().resolve().parent / KEY_FILE_NAME
    return Path(user_data_dir("chaosiq-server", appauthor=False)) / KEY_FILE_NAME


def from_text(text: str, source: str, created: bool = False) -> SecretKey:
    text = text.strip()
    if len(text) < MIN_LENGTH:
        raise SecretKeyError(
            f"the secret key from {source} is too short: use at least {MIN_LENGTH} characters"
        )
    return SecretKey(text.encode("utf-8"), source, created)


def load(database_url: str, *, environ: dict[str, str] | None = None) -> SecretKey:
    """The server's key: from the environment, else the key file (created if missing)."""
    env = os.environ if environ is None else environ
    if env.get(ENV_SECRET_KEY):
        return from_text(env[ENV_SECRET_KEY], f"the environment variable {ENV_SECRET_KEY}")
    path = key_file_for(database_url)
    try:
        return _read(path)
    except FileNotFoundError:
        return _create(path)


def _read(path: Path, created: bool = False) -> SecretKey:
    try:
        text = path.read_text(encoding="utf-8")
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError) as exc:
        raise SecretKeyError(f"cannot read the secret key file {path}: {exc}") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("the secret key file %s can be read by other users: chmod 600 it", path)
    return from_text(text, f"the key file {path}", created)


def _create(path: Path) -> SecretKey:
    """Write a new random key to ``path`` (0600) unless another process just did; read it back."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(secrets.token_urlsafe(48) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, path)  # atomic, and never replaces a key another process wrote
                created = True
            except FileExistsError:
                created = False
        finally:
            tmp.unlink(missing_ok=True)
    except OSError as exc:
        raise SecretKeyError(f"cannot create the secret key file {path}: {exc}") from exc
    return _read(path, created=created)
