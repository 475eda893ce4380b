"""Files written whole, and files locked between processes.

A crash or a full disk never leaves a file written by :func:`write_atomic` half
written. :class:`FileLock` is the lock a run holds on its outbox log for its
whole life: ``fcntl.flock`` on a private lock file, the call the ``filelock``
library makes on POSIX (so the two exclude each other), with filelock's care for
forked children. It is written here because importing filelock 4 costs about
8 ms, a sixth of what a published run may add; on Windows, filelock (a
dependency there only) takes the lock.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
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
    """An exclusive lock on ``path`` (created private), which any thread may release; not re-entrant.

    A process forked while it holds a lock closes its copy of the descriptor at once (without
    unlocking): a child left running by an action never keeps a dead run's log locked.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._fd: int | None = None
        self._windows: Any = None

    def acquire(self, timeout: float) -> FileLock:
        """Take the lock, trying every :data:`POLL` s for ``timeout`` s (once when 0);
        raises :class:`LockTimeout` when another process still holds it."""
        if sys.platform == "win32":  # pragma: no cover
            import filelock

            self._windows = filelock.FileLock(self.path, mode=0o600, thread_local=False)
            try:
                self._windows.acquire(timeout=timeout)
            except filelock.Timeout:
                self._windows = None
                raise LockTimeout(f"another process holds {self.path}") from None
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
        self._fd = fd
        _held.add(self)
        return self

    def release(self) -> None:
        """Release the lock (nothing when it is not held)."""
        if sys.platform == "win32":  # pragma: no cover
            windows, self._windows = self._windows, None
            if windows is not None:
                windows.release()
            return
        import fcntl

        fd, self._fd = self._fd, None
        _held.discard(self)
        if fd is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)

    def _forget(self) -> None:
        """In a forked child: close the inherited descriptor, leaving the parent's lock held."""
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)

    def __enter__(self) -> FileLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


_held: set[FileLock] = set()
"""The locks this process holds."""


def _forget_inherited_locks() -> None:
    for lock in list(_held):
        lock._forget()
    _held.clear()


if sys.platform != "win32":
    os.register_at_fork(after_in_child=_forget_inherited_locks)
