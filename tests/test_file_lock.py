"""The inter-process lock of a run's outbox log (chaosiq_core.files.FileLock): the cases other
processes cannot stage on demand (the log's own tests cover two processes and a fork)."""

from __future__ import annotations

import errno
import fcntl
import logging
import os
from pathlib import Path

import pytest

from chaosiq_core.files import FileLock, LockTimeout


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def failing_flock(code: int):
    def flock(fd: int, operation: int) -> None:
        raise OSError(code, os.strerror(code))

    return flock


def test_a_file_system_without_flock_uses_the_file_unlocked_and_says_so_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(fcntl, "flock", failing_flock(errno.ENOSYS))
    before = open_descriptors()
    with caplog.at_level(logging.WARNING, logger="chaostoolkit.chaosiq"):
        first = FileLock(tmp_path / "one.lock").acquire(timeout=0)
        second = FileLock(tmp_path / "two.lock").acquire(timeout=0)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert str(tmp_path) in warnings[0] and "cannot lock files" in warnings[0]
    first.release()
    second.release()
    assert open_descriptors() == before


def test_another_flock_error_is_raised_and_leaves_no_descriptor_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fcntl, "flock", failing_flock(errno.EIO))
    before = open_descriptors()
    with pytest.raises(OSError, match="Input/output error"):
        FileLock(tmp_path / "x.lock").acquire(timeout=1)
    assert open_descriptors() == before


def test_a_timeout_leaves_no_descriptor_open(tmp_path: Path) -> None:
    holder = FileLock(tmp_path / "x.lock").acquire(timeout=0)
    before = open_descriptors()
    with pytest.raises(LockTimeout):
        FileLock(tmp_path / "x.lock").acquire(timeout=0.2)
    assert open_descriptors() == before
    holder.release()


def test_a_waiter_never_holds_a_lock_file_its_holder_deleted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``chaos publish --drop`` deletes the lock file as it lets go: a process that opened the
    old file just before must lock the new one, or two processes would both hold "the" lock."""
    path = tmp_path / "run.jsonl.lock"
    holder = FileLock(path).acquire(timeout=0)
    held_fd = holder._fd
    real_flock = fcntl.flock

    def holder_lets_go_between_open_and_flock(fd: int, operation: int) -> None:
        if fd != held_fd and operation & fcntl.LOCK_EX and holder._fd is not None:
            holder.release()
            path.unlink()
        real_flock(fd, operation)

    monkeypatch.setattr(fcntl, "flock", holder_lets_go_between_open_and_flock)
    waiter = FileLock(path).acquire(timeout=5)
    monkeypatch.undo()
    assert path.exists()
    with pytest.raises(LockTimeout):  # the file now at the path is the one the waiter holds
        FileLock(path).acquire(timeout=0)
    waiter.release()
    FileLock(path).acquire(timeout=0).release()


def test_release_twice_and_from_another_thread_is_harmless(tmp_path: Path) -> None:
    import threading

    lock = FileLock(tmp_path / "x.lock").acquire(timeout=0)
    before = open_descriptors()
    threads = [threading.Thread(target=lock.release) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lock.release()
    assert open_descriptors() == before - 1
    FileLock(tmp_path / "x.lock").acquire(timeout=0).release()
