"""The on-disk outbox: one write-ahead log per run, so nothing a run emitted is lost.

Layout: ``<data dir>/outbox/<run id>.jsonl`` (data dir: ``$CHAOSIQ_DATA_DIR`` or
``platformdirs.user_data_dir("chaosiq")``). Each line is one record:

* ``{"op": "run", ...}`` — first line: server URL, org/team ids, the redacted
  experiment and initial journal (enough to create the execution later);
* ``{"op": "ids", "experiment_id", "execution_id", "location"}`` — the server ids;
* ``{"op": "msg", "key", "kind", "method", "json"}`` (plus ``path``, ``headers`` and
  ``with_execution`` for other plugins' requests) — one :class:`Message`
  (``kind`` ``event``: a CloudEvent whose path is derived from the ids;
  ``journal``: the final journal PUT; anything else: a plugin's request);
* ``{"op": "done", "keys": [...]}`` — messages the server acknowledged (2xx);
* ``{"op": "rejected", "keys": [...], "reason"}`` — messages the server refused for good
  (kept until ``chaos publish --drop``);
* ``{"op": "error", "reason", "refusal"}`` — why messages are still pending (``refusal``:
  ``token``, ``team`` or ``execution`` when no retry mends it); a later ``run`` line
  re-targets the run.

The running ``chaos`` writes a message *before* it sends it, and holds the file's lock
(``<file>.lock``, :class:`chaosiq_core.files.FileLock`) for the whole run, so ``chaos publish``
never replays a file still being written, and two ``chaos`` processes never share a file. A ``kill -9``
leaves every record written (a torn last line is ignored). A file with nothing pending is deleted.
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

import orjson

from chaosiq_core.files import FileLock
from chaosiq_core.serialize import dumps

logger = logging.getLogger("chaostoolkit.chaosiq.publish")


def data_dir() -> Path:
    """Where chaosiq keeps its data (``$CHAOSIQ_DATA_DIR`` overrides the platform's)."""
    if env := os.environ.get("CHAOSIQ_DATA_DIR", "").strip():
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("chaosiq"))


def outbox_dir() -> Path:
    return data_dir() / "outbox"


def outbox_files() -> list[Path]:
    """Every run log in the outbox, oldest first (none when there is no outbox yet)."""
    files = [p for p in outbox_dir().glob("*.jsonl") if p.is_file()]
    return sorted(files, key=lambda p: (p.stat().st_mtime, p.name))


@dataclass(frozen=True)
class Message:
    """One request to the server, as the outbox keeps it: its body is redacted JSON text."""

    key: str
    """Unique within the run: a CloudEvent's id, ``journal:<run id>``, or a plugin's key."""
    kind: str
    """``event``, ``journal``, or another plugin's kind."""
    method: str
    body: str
    """The JSON sent (``json`` in the log): the CloudEvent, the journal, a plugin's body."""
    path: str | None = None
    """A plugin request's path (events and the journal have theirs from the execution)."""
    headers: dict[str, str] | None = None
    with_execution: bool = False
    """Sent once the execution exists, its ids added to the body."""

    @property
    def needs_execution(self) -> bool:
        return self.kind in ("event", "journal") or self.with_execution

    def record(self) -> bytes:
        """The message's line in the log."""
        rec: dict[str, Any] = {"op": "msg", "key": self.key, "kind": self.kind, "method": self.method}
        if self.path is not None:
            rec.update(path=self.path, headers=self.headers or {}, with_execution=self.with_execution)
        rec["json"] = orjson.Fragment(self.body)
        return orjson.dumps(rec)

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> Message:
        """The message of a ``msg`` line read back from a log."""
        return cls(
            key=str(rec["key"]),
            kind=str(rec.get("kind") or "request"),
            method=str(rec.get("method") or "POST"),
            body=dumps(rec.get("json")),
            path=rec.get("path"),
            headers=rec.get("headers") or None,
            with_execution=bool(rec.get("with_execution")),
        )


@dataclass
class OutboxState:
    """What a run log says: its header, ids, and which messages are still pending."""

    header: dict[str, Any] = field(default_factory=dict)
    ids: dict[str, Any] = field(default_factory=dict)
    messages: OrderedDict[str, dict[str, Any]] = field(default_factory=OrderedDict)
    done: set[str] = field(default_factory=set)
    rejected: set[str] = field(default_factory=set)
    reason: str | None = None
    """Why the server refused the last rejected messages."""
    error: dict[str, Any] = field(default_factory=dict)
    """The last ``error`` line: ``reason`` and ``refusal``."""

    @property
    def pending(self) -> OrderedDict[str, dict[str, Any]]:
        return OrderedDict(
            (k, m) for k, m in self.messages.items() if k not in self.done and k not in self.rejected
        )


def read_log(path: Path) -> OutboxState:
    """Parse a run log, tolerating a torn or corrupt line (a crash mid-write)."""
    state = OutboxState()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return state
    for line in text.splitlines():
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
            state.reason = rec.get("reason") or state.reason
        elif op == "error":
            state.error = rec
    return state


class RunLog:
    """The append-only log of one run, locked for as long as it is open."""

    def __init__(self, path: Path, *, wait: float = 5) -> None:
        """Lock the log at ``path`` and open it for appending (created, private, when missing);
        raises :class:`~chaosiq_core.files.LockTimeout` when another process holds it
        longer than ``wait`` seconds."""
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = path
        self._lock = FileLock(f"{path}.lock")
        self._lock.acquire(timeout=wait)
        self._write_lock = threading.Lock()
        try:
            self._fh: Any = os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab")
        except BaseException:
            self._lock.release()
            raise
        self.broken: str | None = None

    def append(self, *records: dict[str, Any] | Message) -> None:
        """Write records (one line each) and hand them to the OS; a disk that refuses is said once."""
        lines = [r.record() if isinstance(r, Message) else orjson.dumps(r, default=str) for r in records]
        with self._write_lock:
            if self._fh is None or not lines:
                return
            try:
                self._fh.write(b"\n".join(lines) + b"\n")
                self._fh.flush()
            except OSError as exc:
                if self.broken is None:
                    self.broken = f"{type(exc).__name__}: {exc}"
                    logger.warning("chaosiq: cannot write the outbox %s: %s", self.path, self.broken)

    def close(self, *, delete: bool = False) -> None:
        """Close (and delete when nothing is pending) and release the lock."""
        with self._write_lock:
            if self._fh is not None:
                with contextlib.suppress(OSError):
                    self._fh.close()
                self._fh = None
            if delete:
                self.path.unlink(missing_ok=True)
        try:
            self._lock.release()
        finally:
            if delete:
                with contextlib.suppress(OSError):
                    self._lock.path.unlink()
