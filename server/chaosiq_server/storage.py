"""When the database cannot store what it is sent: which driver errors mean
"unavailable, retry later" (503), and the watch on a SQLite file's identity.

A SQLite connection keeps writing into its open file after the file was
deleted or replaced: every write would be acknowledged and lost at the next
restart. :class:`FileWatch` records the file's device and inode when the server
starts and compares them after every commit; once they differ (or the file is
gone) the database is *lost* for the rest of the process: ``/health`` fails
and every write gets 503, and the log says why once.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path

log = logging.getLogger("chaosiq_server.storage")

RETRY_AFTER_S = 30  # seconds a client is asked to wait before sending again

# SQLite primary result codes (the low byte of an extended code).
_SQLITE_REASONS = {
    8: "the database is read-only",  # SQLITE_READONLY
    10: "the database file cannot be written (I/O error; is the disk full?)",  # SQLITE_IOERR
    13: "the database or its disk is full",  # SQLITE_FULL
    14: "the database file cannot be opened",  # SQLITE_CANTOPEN
}


def unavailable_reason(exc: BaseException) -> str | None:
    """Why ``exc`` means the database cannot take writes now, or None for any other error."""
    orig = getattr(exc, "orig", None) or exc  # SQLAlchemy wraps the driver's error
    if isinstance(orig, sqlite3.Error):
        code = getattr(orig, "sqlite_errorcode", None)
        if code is not None:
            return _SQLITE_REASONS.get(code & 0xFF)
        text = str(orig).lower()  # pragma: no cover - Python < 3.11 has no error codes
        return next((r for k, r in _SQLITE_TEXT.items() if k in text), None)
    sqlstate = getattr(orig, "sqlstate", None)
    if sqlstate is not None or type(orig).__module__.startswith("psycopg"):
        return _postgres_reason(orig, sqlstate)
    return None


_SQLITE_TEXT = {  # pragma: no cover - see above
    "readonly": _SQLITE_REASONS[8],
    "disk i/o": _SQLITE_REASONS[10],
    "is full": _SQLITE_REASONS[13],
    "unable to open": _SQLITE_REASONS[14],
}


def _postgres_reason(orig: BaseException, sqlstate: str | None) -> str | None:
    if sqlstate is None:
        import psycopg

        if isinstance(orig, psycopg.OperationalError):
            return "the database server cannot be reached"
        return None
    if sqlstate == "53100":
        return "the database server's disk is full"
    if sqlstate.startswith("53"):
        return "the database server is out of resources"
    if sqlstate == "25006":
        return "the database is read-only"
    if sqlstate.startswith(("08", "57P")):
        return "the database server cannot be reached"
    return None


class FileWatch:
    """The identity (device, inode) of a SQLite database file, checked cheaply
    (one ``stat``) after every commit."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.identity: tuple[int, int] | None = None
        self.lost: str | None = None

    def arm(self) -> None:
        """Record the file's identity (the server starts serving this file)."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self._lose(f"the database file {self.path} does not exist")
            return
        self.identity = (st.st_dev, st.st_ino)

    def check(self) -> str | None:
        """None while the file is the one armed, else why not (and log it once)."""
        if self.lost is not None or self.identity is None:
            return self.lost
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return self._lose(f"the database file {self.path} was deleted while serving")
        if (st.st_dev, st.st_ino) != self.identity:
            was = f"{self.identity[0]}:{self.identity[1]}"
            return self._lose(
                f"the database file {self.path} was replaced while serving "
                f"(device:inode was {was}, is {st.st_dev}:{st.st_ino})"
            )
        return None

    def writable(self) -> str | None:
        """None when this process may write the file, else why not."""
        if os.access(self.path, os.W_OK):
            return None
        return self.check() or f"the database file {self.path} is read-only"

    def _lose(self, reason: str) -> str:
        if self.lost is None:
            self.lost = reason + (
                ": acknowledged writes would be lost, so writes are refused and /health fails; "
                "restore the file and restart the server"
            )
            log.error("%s", self.lost)
        return self.lost
