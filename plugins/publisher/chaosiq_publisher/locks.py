"""A small inter-process file lock (``fcntl.flock``; :mod:`filelock` where there is no fcntl).

:mod:`filelock` costs ~30 ms to import, more than everything else the
publisher adds to a run; on POSIX ``flock`` does the same job. ``flock`` locks
belong to an open file: a second open of the same lock file, in this process or
another, waits, and a killed process releases its locks.
"""

from __future__ import annotations

import os
import time
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


class LockTimeout(Exception):
    """The lock is held by someone else."""


class PathLock:
    """An exclusive lock on ``path`` (created if missing)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.lock_file = str(path)
        self._fd: int | None = None
        self._fallback: Any = None

    def acquire(self, timeout: float = -1) -> PathLock:
        """Take the lock, waiting up to ``timeout`` s (``-1``: forever); raises :class:`LockTimeout`."""
        if fcntl is None:  # pragma: no cover - Windows
            from filelock import FileLock, Timeout

            self._fallback = FileLock(self.lock_file, thread_local=False)
            try:
                self._fallback.acquire(timeout=timeout)
            except Timeout:
                raise LockTimeout(self.lock_file) from None
            return self
        fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = None if timeout < 0 else time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._fd = fd
                return self
            except BlockingIOError:
                if deadline is not None and time.monotonic() >= deadline:
                    os.close(fd)
                    raise LockTimeout(self.lock_file) from None
                time.sleep(0.02)

    def release(self) -> None:
        if self._fallback is not None:  # pragma: no cover - Windows
            self._fallback.release()
            self._fallback = None
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)

    def __enter__(self) -> PathLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
