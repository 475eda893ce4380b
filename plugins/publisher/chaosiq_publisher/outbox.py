"""The on-disk outbox: one write-ahead log per run, so nothing a run emitted is lost.

Layout: ``<data dir>/outbox/<run id>.jsonl`` (data dir: ``$CHAOSIQ_DATA_DIR`` or
``platformdirs.user_data_dir("chaosiq")``). Each line is one record:

* ``{"op": "run", ...}`` — first line: server URL, org/team ids, the redacted
  experiment and initial journal (enough to create the execution later);
* ``{"op": "ids", "experiment_id", "execution_id", "location"}`` — the server ids;
* ``{"op": "msg", "key", "kind", "method", "path", "json", "headers"}`` — one message
  (``kind`` ``event``: a CloudEvent whose path is derived from the ids;
  ``journal``: the final journal PUT; anything else: a plugin's request);
* ``{"op": "done", "keys": [...]}`` — messages the server acknowledged (2xx);
* ``{"op": "rejected", "keys": [...], "reason"}`` — messages the server refused for good.

The running ``chaos`` process writes a record *before* it sends the message,
and holds the file's lock (``<file>.lock``, see :mod:`chaosiq_publisher.locks`) for the whole run,
so ``chaos publish`` never replays a file that is still being written, and two
``chaos`` processes never share a file. A ``kill -9`` leaves every record that
was written (a torn last line is ignored). A file with nothing pending is deleted.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaosiq_core.serialize import dumps
from chaosiq_publisher.locks import LockTimeout, PathLock

logger = logging.getLogger("chaostoolkit.chaosiq.publish")

DATA_DIR_ENV = "CHAOSIQ_DATA_DIR"


def data_dir() -> Path:
    """Where chaosiq keeps its data (``$CHAOSIQ_DATA_DIR`` overrides the platform's)."""
    env = os.environ.get(DATA_DIR_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("chaosiq"))


def outbox_dir() -> Path:
    return data_dir() / "outbox"


def outbox_files(directory: Path | None = None) -> list[Path]:
    """Every run log in the outbox, oldest first."""
    d = directory or outbox_dir()
    if not d.is_dir():
        return []
    files = [p for p in d.glob("*.jsonl") if p.is_file()]
    return sorted(files, key=lambda p: (p.stat().st_mtime, p.name))


@dataclass
class OutboxState:
    """What a run log says: its header, ids, and which messages are still pending."""

    path: Path
    header: dict[str, Any] = field(default_factory=dict)
    ids: dict[str, Any] = field(default_factory=dict)
    messages: OrderedDict[str, dict[str, Any]] = field(default_factory=OrderedDict)
    done: set[str] = field(default_factory=set)
    rejected: set[str] = field(default_factory=set)

    @property
    def pending(self) -> OrderedDict[str, dict[str, Any]]:
        return OrderedDict(
            (k, m) for k, m in self.messages.items() if k not in self.done and k not in self.rejected
        )

    @property
    def pending_events(self) -> int:
        return sum(1 for m in self.pending.values() if m.get("kind") == "event")


def read_log(path: Path) -> OutboxState:
    """Parse a run log, tolerating a torn or corrupt line (a crash mid-write)."""
    state = OutboxState(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return state
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            logger.debug("skipping a torn line in %s", path)
            continue
        op = rec.get("op")
        if op == "run":
            state.header = rec
        elif op == "ids":
            state.ids = {k: rec.get(k) for k in ("experiment_id", "execution_id", "location")}
        elif op == "msg" and rec.get("key"):
            state.messages.setdefault(rec["key"], rec)
        elif op == "done":
            state.done.update(rec.get("keys") or ())
        elif op == "rejected":
            state.rejected.update(rec.get("keys") or ())
    return state


def _line(record: dict[str, Any]) -> str:
    """One log line; a pre-encoded ``_text`` is spliced in as ``json`` (no re-encoding)."""
    line = record.get("_line")
    if line is not None:
        return line
    text = record.get("_text")
    if text is None:
        return dumps(record) + "\n"
    head = dumps({k: v for k, v in record.items() if k not in ("json", "_text")})
    return f'{head[:-1]},"json":{text}}}\n'


class RunLog:
    """The append-only log of one run, locked for as long as it is open."""

    def __init__(self, path: Path, lock: PathLock) -> None:
        self.path = path
        self._lock = lock
        self._write_lock = threading.Lock()
        self._fh: Any = None
        self.broken: str | None = None

    @classmethod
    def create(cls, run_id: str, directory: Path | None = None) -> RunLog:
        """A new log for ``run_id`` (locked; blocks only if another process holds it)."""
        d = directory or outbox_dir()
        d.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = d / f"{run_id}.jsonl"
        lock = PathLock(str(path) + ".lock").acquire(timeout=5)
        log = cls(path, lock)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        log._fh = os.fdopen(fd, "a", encoding="utf-8")
        return log

    @classmethod
    def open_existing(cls, path: Path) -> RunLog | None:
        """Lock an existing log for replay; ``None`` when another process holds it."""
        try:
            lock = PathLock(str(path) + ".lock").acquire(timeout=0)
        except LockTimeout:
            return None
        log = cls(path, lock)
        log._fh = open(path, "a", encoding="utf-8")  # noqa: SIM115
        return log

    def append(self, *records: dict[str, Any]) -> bool:
        """Write records (one line each) and hand them to the OS; ``False`` if the disk refused."""
        if not records:
            return True
        text = "".join(_line(r) for r in records)
        with self._write_lock:
            if self._fh is None:
                return False
            try:
                self._fh.write(text)
                self._fh.flush()
                return True
            except OSError as exc:
                if self.broken is None:
                    self.broken = f"{type(exc).__name__}: {exc}"
                    logger.warning("chaosiq: cannot write the outbox %s: %s", self.path, self.broken)
                return False

    def close(self, *, delete: bool = False) -> None:
        """Close (and delete when nothing is pending) and release the lock."""
        with self._write_lock:
            if self._fh is not None:
                with contextlib.suppress(OSError):
                    self._fh.close()
                self._fh = None
            if delete:
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()
        try:
            self._lock.release()
        finally:
            if delete:
                with contextlib.suppress(OSError):
                    Path(self._lock.lock_file).unlink()
