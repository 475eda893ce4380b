"""Ending the processes a safeguard stop left running (background activities).

chaostoolkit-lib does not wait for background activities after a stop signal,
but their threads are still in ``subprocess.run`` and the interpreter joins
them when ``chaos`` exits: a 60-second background action kept ``chaos`` alive
for its remaining time after the journal was written. Once a run a safeguard
stopped is over, every process still running below ``chaos`` is such an
activity (chaosiq starts none): they get SIGTERM, and SIGKILL after a short
grace.

The process tree is walked with psutil when it is installed (the extra
``chaosiq-safeguards[psutil]``: every platform psutil supports); otherwise with
one scan of Linux's ``/proc`` (elsewhere nothing is done), so that a plain
install does not need a compiled dependency. Processes are never reaped here
(the activity's own thread waits for its child), a zombie only counts as gone.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

try:
    import psutil
except ImportError:  # the optional extra is not installed: /proc on Linux
    psutil = None

PROC = Path("/proc")
POLL = 0.02
"""Seconds between two checks that the signalled processes are gone."""


# ------------------------------------------------------------------ psutil


def _children(pid: int) -> list[Any]:
    """psutil's processes below ``pid``; ``[]`` when it is gone."""
    try:
        return list(psutil.Process(pid).children(recursive=True))
    except psutil.Error:
        return []


def _running(proc: Any) -> bool:
    try:
        return bool(proc.is_running()) and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _name(proc: Any) -> str:
    try:
        return str(proc.name()) or "?"
    except psutil.Error:
        return "?"


def _terminate(proc: Any) -> None:
    with contextlib.suppress(psutil.Error, OSError):
        proc.terminate()  # SIGTERM (TerminateProcess on Windows)


def _kill(proc: Any) -> None:
    with contextlib.suppress(psutil.Error, OSError):
        proc.kill()


# ------------------------------------------------------------------- /proc


def _stat(pid: int | str) -> list[str]:
    """``/proc/<pid>/stat`` after the command name: ``[state, ppid, …]``; ``[]`` when gone."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return []
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses
    return stat.rsplit(")", 1)[-1].split()


def _proc_descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children first), from one scan of ``/proc``."""
    children: dict[int, list[int]] = {}
    try:
        entries = list(PROC.iterdir())
    except OSError:
        return []
    for entry in entries:
        if not entry.name.isdigit():
            continue
        fields = _stat(entry.name)
        if len(fields) > 1:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: list[int] = []
    todo = list(children.get(pid, []))
    while todo:
        child = todo.pop(0)
        found.append(child)
        todo.extend(children.get(child, []))
    return found


def _proc_command(pid: int) -> str:
    """The process's command name (``/proc/<pid>/comm``), ``?`` when gone."""
    try:
        return (PROC / str(pid) / "comm").read_text().strip() or "?"
    except OSError:
        return "?"


def _proc_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _stat(pid)[:1] != ["Z"]  # a zombie has exited: its parent only has to reap it


def _proc_terminate(pid: int) -> None:
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGTERM)


def _proc_kill(pid: int) -> None:
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGKILL)


# -------------------------------------------------------------------- API


def descendants(pid: int) -> list[int]:
    """The pids of every process below ``pid``."""
    if psutil is not None:
        return [proc.pid for proc in _children(pid)]
    return _proc_descendants(pid) if PROC.is_dir() else []


def end_leftovers(grace: float = 1.0, pid: int | None = None) -> dict[int, str]:
    """SIGTERM every process below ``pid`` (default: this one), SIGKILL what is left after ``grace``.

    Returns the processes it signalled: pid → command name.
    """
    root = pid or os.getpid()
    targets: list[Any]
    alive: Callable[[Any], bool]
    terminate: Callable[[Any], None]
    kill: Callable[[Any], None]
    if psutil is not None:
        targets = _children(root)
        names = {proc.pid: _name(proc) for proc in targets}
        alive, terminate, kill = _running, _terminate, _kill
    elif PROC.is_dir():
        targets = _proc_descendants(root)
        names = {target: _proc_command(target) for target in targets}
        alive, terminate, kill = _proc_alive, _proc_terminate, _proc_kill
    else:
        return {}
    for target in targets:
        terminate(target)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(alive(t) for t in targets):
        time.sleep(POLL)
    for target in targets:
        if alive(target):
            kill(target)
    return names
