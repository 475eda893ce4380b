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
import errno
import logging
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

if sys.platform != "win32":
    import fcntl

logger = logging.getLogger("chaostoolkit.chaosiq")

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


CONTENDED = {errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES}
"""``flock`` errors that mean another process holds the lock."""
UNSUPPORTED = {errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP}
"""``flock`` errors of a file system without it: the file is used unlocked, with a warning."""


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
        deadline = time.monotonic() + timeout
        while not self._try_lock():
            if (left := deadline - time.monotonic()) <= 0:
                raise LockTimeout(f"another process holds {self.path}")
            time.sleep(min(POLL, left))
        return self

    def _try_lock(self) -> bool:
        with _mutex:  # known to the fork hook from the moment it is open
            self._fd = fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
            _held.add(self)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in UNSUPPORTED:
                _warn_unlocked(self.path, exc)
                return True
            self._close()
            if exc.errno in CONTENDED:
                return False
            raise
        except BaseException:
            self._close()
            raise
        if os.fstat(fd).st_nlink == 0:  # its holder deleted it meanwhile: lock the file now there
            self._close()
            return False
        return True

    def release(self) -> None:
        """Release the lock (nothing when it is not held)."""
        if sys.platform == "win32":  # pragma: no cover
            windows, self._windows = self._windows, None
            if windows is not None:
                windows.release()
            return
        self._close(unlock=True)

    def _close(self, *, unlock: bool = False) -> None:
        """Close the descriptor, unlocking it first when asked (never in a forked child, where
        the parent's lock must stay held). Taken under the mutex, so it is closed once."""
        with _mutex:
            fd, self._fd = self._fd, None
            _held.discard(self)
        if fd is None:
            return
        if unlock:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
        with contextlib.suppress(OSError):
            os.close(fd)

    def __enter__(self) -> FileLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


_mutex = threading.Lock()
_held: set[FileLock] = set()
"""The locks this process holds (or is taking)."""
_warned: set[Path] = set()


def _warn_unlocked(path: Path, exc: OSError) -> None:
    if path.parent not in _warned:
        _warned.add(path.parent)
        logger.warning(
            "chaosiq: the file system of %s cannot lock files (%s): its files are used unlocked; "
            "do not run `chaos publish` while a `chaos run` is going",
            path.parent,
            exc.strerror,
        )


def _forget_inherited_locks() -> None:
    global _mutex
    _mutex = threading.Lock()  # another thread may have held it at the fork
    for lock in list(_held):
        lock._close()


if sys.platform != "win32":
    os.register_at_fork(after_in_child=_forget_inherited_locks)
