"""Files written whole, and files locked between processes.

A crash or a full disk never leaves a file written by :func:`write_atomic` half
written. :class:`FileLock` is the lock a run holds on its outbox log for its
whole life: ``fcntl.flock`` on a private lock file, the call the ``filelock``
library makes on POSIX (so the two exclude each other). It is written here
because importing filelock 4 costs about 8 ms, a sixth of what a published run
may add; on Windows, filelock (a dependency there only) takes the lock.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

POLL = 0.05
"""Seconds between two tries while another process holds a lock (filelock's default)."""


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` (mode 0600) through a temporary file in the same folder and a
    rename: the previous file stays intact until the new one is complete."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


class LockTimeout(Exception):
    """Another process held the lock for longer than the wait allowed."""


class FileLock:
    """An exclusive lock on ``path`` (created private), which any thread may release; not re-entrant."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._release: Callable[[], Any] | None = None

    def acquire(self, timeout: float) -> FileLock:
        """Take the lock, trying every :data:`POLL` s for ``timeout`` s (once when 0);
        raises :class:`LockTimeout` when another process still holds it."""
        if sys.platform == "win32":  # pragma: no cover
            import filelock

            lock = filelock.FileLock(self.path, mode=0o600, thread_local=False)
            try:
                lock.acquire(timeout=timeout)
            except filelock.Timeout:
                raise LockTimeout(f"another process holds {self.path}") from None
            self._release = lock.release
            return self
        import fcntl

        deadline = time.monotonic() + timeout
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if (left := deadline - time.monotonic()) <= 0:
                    os.close(fd)
                    raise LockTimeout(f"another process holds {self.path}") from None
                time.sleep(min(POLL, left))
        self._release = lambda: os.close(fd)  # closing the only descriptor releases the flock
        return self

    def release(self) -> None:
        """Release the lock (nothing when it is not held)."""
        release, self._release = self._release, None
        if release is not None:
            release()

    def __enter__(self) -> FileLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
