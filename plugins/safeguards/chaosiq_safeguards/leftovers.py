"""Ending the processes a safeguard stop left running (background activities).

chaostoolkit-lib does not wait for background activities after a stop signal,
but their threads are still in ``subprocess.run`` and the interpreter joins
them when ``chaos`` exits: a 60-second background action kept ``chaos`` alive
for its remaining time after the journal was written. Once a run a safeguard
stopped is over, every process still running below ``chaos`` is such an
activity (chaosiq starts none): they get SIGTERM, and SIGKILL after a short
grace. Linux only (``/proc``); elsewhere nothing is done.

Written by hand rather than with psutil: it is one ``/proc`` scan, and psutil
would be a compiled dependency of every install for these few lines.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

PROC = Path("/proc")


def _stat(pid: int | str) -> list[str]:
    """``/proc/<pid>/stat`` after the command name: ``[state, ppid, …]``; ``[]`` when gone."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return []
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses
    return stat.rsplit(")", 1)[-1].split()


def descendants(pid: int) -> list[int]:
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


def command_of(pid: int) -> str:
    """The process's command name (``/proc/<pid>/comm``), ``?`` when gone."""
    try:
        return (PROC / str(pid) / "comm").read_text().strip() or "?"
    except OSError:
        return "?"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _stat(pid)[:1] != ["Z"]  # a zombie has exited: its parent only has to reap it


def end_leftovers(grace: float = 1.0, pid: int | None = None) -> dict[int, str]:
    """SIGTERM every process below ``pid`` (default: this one), SIGKILL what is left after ``grace``.

    Returns the processes it signalled: pid → command name.
    """
    if not PROC.is_dir():
        return []
    targets = descendants(pid or os.getpid())
    names = {t: command_of(t) for t in targets}
    for target in targets:
        with contextlib.suppress(OSError):
            os.kill(target, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_alive(t) for t in targets):
        time.sleep(0.02)
    for target in targets:
        if _alive(target):
            with contextlib.suppress(OSError):
                os.kill(target, signal.SIGKILL)
    return names
