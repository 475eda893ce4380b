"""The publisher of one run: hooks enqueue, one background thread sends.

The run thread only appends a small tuple to a deque (no lock held while the
worker serialises, no I/O). The worker thread:

1. opens the run's log in the outbox and writes its header;
2. creates the experiment and the execution, then always sets
   ``run.execution_ready`` (with ``None`` ids when the server could not be reached);
3. loops: takes what was enqueued, serialises and redacts it, writes it to the
   log (write-ahead), then sends it — in batches when the server offers
   ``events-batch`` — retrying with backoff;
4. at the end of the run, flushes until the deadline; what is still unsent
   stays pending in the log for ``chaos publish``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from typing import Any

import orjson

from chaosiq_core.errors import ApiError, AuthError
from chaosiq_core.journal import chaosiq_extension
from chaosiq_core.redaction import Redactor
from chaosiq_core.run import Run
from chaosiq_core.serialize import dumps, to_jsonable
from chaosiq_core.types import Outgoing
from chaosiq_publisher import events as ev
from chaosiq_publisher.outbox import RunLog
from chaosiq_publisher.sender import Backoff, Sender
from chaosiq_publisher.session import publisher_client

logger = logging.getLogger("chaostoolkit.chaosiq.publish")

FEATURE = "publish"
DEFAULTS: dict[str, Any] = {
    "flush_deadline": 5.0,
    "batch_size": 1000,
    "queue_size": 50000,
    "linger": 0.05,
}
RUN_TIMEOUT = (3.05, 10.0)
_EVENT_LINE = '{{"op":"msg","key":"{}","kind":"event","method":"POST","json":{}}}\n'
"""The outbox line of an event (what :func:`outbox._line` would write), filled in by ``str.format``."""
YIELD_EVERY = 0.0005
"""Seconds of encoding after which the worker offers the GIL to the run thread."""
_yield = getattr(os, "sched_yield", lambda: time.sleep(0))
"""Releases the GIL (CPython drops it around ``sched_yield``) and lets a waiting thread run:
~1 µs, where ``time.sleep(0)`` costs ~90 µs of timer slack on Linux."""


_ACTIVITY_EVENTS = frozenset({ev.STARTING_ACTIVITY, ev.ACTIVITY_FINISHED})
_RUN_KEYS = frozenset(
    {"activity", "output", "status", "start", "end", "duration", "exception", "tolerance_met"}
)
"""The members of chaostoolkit-lib's run record of an activity: none is a sensitive key name."""
_SCALAR_TYPES = frozenset({str, int, float, bool, type(None)})


def _plain_run(state: Any, activity: Any) -> bool:
    """``state`` is ``activity``'s run record with scalar values only (a traceback as strings).

    No key of such a record can need redacting: only a secret *value* can, and
    that is tested on its text. (chaostoolkit-lib's record holds a shallow copy
    of the activity: equal, and compared member by member by identity first.)
    """
    if type(state) is not dict:
        return False
    copy = state.get("activity")
    if copy is not activity and copy != activity:
        return False
    for key, value in state.items():
        if key not in _RUN_KEYS:
            return False
        if key == "activity" or type(value) in _SCALAR_TYPES:
            continue
        if key == "exception" and type(value) is list and all(type(x) is str for x in value):
            continue
        return False
    return True


def _initial_journal(experiment: dict[str, Any]) -> dict[str, Any]:
    try:
        from chaoslib.run import initialize_run_journal

        journal = initialize_run_journal(experiment)
    except Exception:
        journal = {"experiment": experiment, "run": [], "rollbacks": []}
    journal["status"] = "running"
    return journal


def _shape(experiment: dict[str, Any]) -> tuple[Any, ...]:
    """What changes when a member of ``experiment`` is added, removed or replaced, or a list of
    activities changes length (what Chaos Toolkit and controls do to an experiment during a run).

    A shallow copy (the journal's ``experiment``) has the shape of its original.
    """
    return (*_fingerprint(experiment), *(len(v) for v in experiment.values() if isinstance(v, list)))


def _fingerprint(record: dict[str, Any]) -> tuple[Any, ...]:
    """Keys and member identities of ``record``: equal for a shallow copy, different once a
    member is added, removed or replaced (a change below the top level is not seen)."""
    return (*record, *map(id, record.values()))


def _with_members(text: str, members: dict[str, str]) -> str:
    """The JSON object ``text`` with ``members`` (plain keys, encoded values) appended."""
    tail = "".join(f',"{key}":{value}' for key, value in members.items())
    return f"{{{tail[1:]}}}" if text == "{}" else f"{text[:-1]}{tail}}}"


def _activities(experiment: dict[str, Any]) -> list[Any]:
    """The activities an experiment declares: steady-state probes, method, rollbacks."""
    hypothesis = experiment.get("steady-state-hypothesis")
    found = list(hypothesis.get("probes") or []) if isinstance(hypothesis, dict) else []
    for key in ("method", "rollbacks"):
        if isinstance(experiment.get(key), list):
            found.extend(experiment[key])
    return [a for a in found if isinstance(a, dict)]


_RUN_LIST_EVENTS = frozenset({ev.METHOD_FINISHED, ev.ROLLBACK_FINISHED})
RUN_CACHE_MAX = 100_000
"""Run records whose text is kept for the lists and the journal that hold them again."""


def _snapshot(obj: Any) -> Any:
    """A JSON-safe deep copy, retried if another thread changes ``obj`` meanwhile."""
    for _ in range(3):
        try:
            return to_jsonable(obj)
        except RuntimeError:  # "dictionary changed size during iteration"
            time.sleep(0.001)
    return to_jsonable(repr(obj))


class Publisher:
    """Everything the ``publish`` feature does for one run."""

    def __init__(self, run: Run, *, log_dir: Any = None) -> None:
        self.run = run
        assert run.client is not None
        opt = lambda name: run.option(FEATURE, name, DEFAULTS[name])  # noqa: E731
        self.flush_deadline = float(opt("flush_deadline"))
        self.max_queue = int(opt("queue_size"))
        self.linger = float(opt("linger"))
        self.redact = Redactor.for_run(
            run.experiment,
            secrets=run.secrets,
            configuration=run.configuration,
            settings=run.settings,
            extra_keys=run.option("redaction", "keys", None) or (),
        )
        self._log_dir = log_dir
        self.log: RunLog | None = None
        self.sender = Sender(publisher_client(run.client), None, batch_size=int(opt("batch_size")))
        self._items: deque[tuple[Any, ...]] = deque()
        self._spilled: deque[dict[str, Any]] = deque()
        self._activity_cache: dict[int, tuple[Any, str, bool]] = {}
        self._clean_activities: set[tuple[Any, ...]] = set()
        """Fingerprints of the experiment's activities, when its text needed no redaction."""
        self._run_texts: dict[int, tuple[Any, tuple[tuple[str, Any], ...], str]] = {}
        self._experiment_text: tuple[Any, tuple[int, ...], str] | None = None
        self._final: tuple[Any, Any, float] | None = None
        self._new_id = ev.IdSequence()
        self._clock = ev.Clock()
        self._wake = threading.Event()
        self._idle = False
        """The worker waits for work: ``enqueue`` has to wake it."""
        self._stopping = threading.Event()
        self._deadline: float | None = None
        self._take_lock = threading.Lock()
        self._backoff = Backoff()
        self._thread: threading.Thread | None = None
        self._creating: threading.Thread | None = None
        self.enqueued = 0
        self.overflowed = 0
        self.finished = False

    # -------------------------------------------------------- run thread

    def start(self) -> None:
        """Open the run's log (so nothing can be emitted before it exists), start the worker."""
        self._started = time.monotonic()
        self._open_log()
        self.sender.prefetch_capabilities()
        self._thread = threading.Thread(target=self._main, name="chaosiq-publisher", daemon=True)
        self._thread.start()

    def enqueue(self, event_type: str, context: Any = None, state: Any = None) -> None:
        """Queue one lifecycle event: a deque append, nothing else (any thread).

        The event's id and time text are made by the worker (from the time
        taken here); the worker is woken only when it waits for work, not at
        every event (a wake-up costs the run thread a GIL hand-off).
        """
        item = ("event", event_type, context, state, time.time())
        if len(self._items) >= self.max_queue:
            self._overflow(item)
            return
        self._queue(item)

    def enqueue_snapshot(
        self, event_type: str, context: Any = None, state: Any = None, *, when: float | None = None
    ) -> None:
        """Queue an event whose objects may change after this call (journals).

        Encoded (and redacted) now, on the calling thread: one pass over the
        journal, where a copy for the worker to encode later took three.
        ``when``: the event's time, if it was taken earlier.
        """
        data = self._encode_data(event_type, context, state)
        self._queue(("encoded", event_type, data, time.time() if when is None else when))

    def enqueue_final(self, experiment: Any, journal: Any) -> None:
        """Queue ``experiment-finished``, whose state is the journal, for :meth:`finish` to encode.

        Chaos Toolkit ends a run with the after-experiment controls, then
        ``finish``; both carry the journal. Encoding (and redacting) it once at
        ``finish`` for the event and the final PUT saves a pass over the largest
        document of the run. The event keeps the time of this call. Should
        ``finish`` come with another journal, or none, the event is encoded
        with its own.
        """
        self._final = (experiment, journal, time.time())

    def _queue_final(self, journal_text: str | None, journal: Any) -> None:
        final, self._final = self._final, None
        if final is None:
            return
        experiment, state, when = final
        if journal_text is None or state is not journal:
            self.enqueue_snapshot(ev.EXPERIMENT_FINISHED, experiment, state, when=when)
            return
        data = f'{{"context": {self._context_json(experiment)}, "state": {journal_text}}}'
        self._queue(("encoded", ev.EXPERIMENT_FINISHED, data, when))

    def _queue(self, item: tuple[Any, ...]) -> None:
        self._items.append(item)
        self.enqueued += 1
        if self._idle:
            self._wake.set()

    def deliver(self, message: Outgoing) -> bool:
        """Queue another plugin's request (``chaosiq_deliver``)."""
        self._items.append(("outgoing", message, ev.new_id()))
        self._wake.set()
        return True

    def _overflow(self, item: tuple[Any, ...]) -> None:
        """The queue is full (worker far behind): serialise and write straight to the log.

        The record reaches the worker's pending list through ``_spilled`` (only the
        worker thread changes that list while it runs).
        """
        self.overflowed += 1
        record = self._record(item)
        if self.log is not None:
            self.log.append(record)
        self._spilled.append(record)
        self._wake.set()

    def finish(self, journal: dict[str, Any] | None) -> None:
        """The run is over: queue the final journal, flush until the deadline, report."""
        if journal is not None:
            text, ids = self._journal_text(journal)
            self._queue_final(text, journal)
            self._items.append(("journal", text, ids))
        else:
            self._queue_final(None, None)
        self._deadline = time.monotonic() + self.flush_deadline
        self.sender.parallel_journal = True
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(max(0.0, self._deadline - time.monotonic()))
        if self._thread is not None and self._thread.is_alive():
            # the worker is stuck in a request: make sure everything is on disk
            with self._take_lock:
                self._take_all()
        self.finished = True
        logger.debug(
            "chaosiq: publisher flushed in %.3f s (deadline %.1f s), %.3f s after the run was configured; "
            "%d requests",
            time.monotonic() - (self._deadline - self.flush_deadline),
            self.flush_deadline,
            time.monotonic() - self._started,
            self.sender.requests,
        )
        self._report()

    # ----------------------------------------------------------- worker

    def _create_first(self) -> None:
        """The first attempt to create the execution, on a helper thread (see :meth:`_main`)."""
        try:
            self._try_create()
        except Exception as exc:  # never let the helper die silently
            logger.debug("chaosiq: creating the execution failed: %s", exc)
            self.sender.last_error = f"{type(exc).__name__}: {exc}"
        finally:
            if not self.run.execution_ready.is_set():
                self.run.set_execution(experiment_id=None, execution_id=None)
            self._wake.set()

    def _main(self) -> None:
        try:
            # create the experiment and execution (2 round trips) while this thread already
            # writes what the run emits to the log: the backlog is encoded when the ids arrive
            self._creating = threading.Thread(target=self._create_first, name="chaosiq-create", daemon=True)
            self._creating.start()
            while True:
                creating = self._creating is not None and self._creating.is_alive()
                # a batch in flight during the run: wait for its helper to wake this thread
                sending = self.sender.in_flight is not None and not self._stopping.is_set()
                waiting = creating or sending or not self.sender.pending
                wait = None if waiting else self._backoff.wait_left()
                if self._stopping.is_set():
                    left = (self._deadline or 0) - time.monotonic()
                    if left <= 0:
                        break
                    wait = min(wait, left) if wait is not None else left
                    if not self._items and not self._spilled and not self.sender.pending:
                        break
                    if self._items or self._spilled:
                        wait = 0
                elif wait is None:
                    wait = 1.0
                if wait > 0:
                    self._idle = True
                    if not (self._items or self._spilled) or self._backoff.wait_left() > 0:
                        self._wake.wait(wait)
                    self._idle = False
                    self._wake.clear()
                    if self.linger and not self._stopping.is_set() and self._items:
                        # let a burst pile up into one batch (but not past the end of the run)
                        self._stopping.wait(self.linger)
                with self._take_lock:
                    self._take_all()
                if self._backoff.wait_left() > 0:
                    continue
                self._send()
        except Exception as exc:  # never let the worker die silently
            logger.warning("chaosiq: the publisher stopped: %s: %s", type(exc).__name__, exc)
            logger.debug("traceback", exc_info=exc)
            self.sender.last_error = f"{type(exc).__name__}: {exc}"
        finally:
            if not self.run.execution_ready.is_set():
                self.run.set_execution(experiment_id=None, execution_id=None)

    def _timeout(self) -> tuple[float, float] | None:
        if self._deadline is None:
            return RUN_TIMEOUT
        left = self._deadline - time.monotonic()
        if left <= 0.05:
            return None
        return (min(RUN_TIMEOUT[0], left), min(RUN_TIMEOUT[1], left))

    def _open_log(self) -> None:
        run = self.run
        scope = run.client.scope
        # The experiment is encoded, scanned and redacted once: its text is the context of
        # the run's experiment events (seeded below), sits in the initial journal, and goes
        # into the log's header and the creation request as it is (``orjson.Fragment``).
        experiment_text, clean = self._encode(run.experiment)
        self._experiment_text = (run.experiment, _shape(run.experiment), experiment_text)
        if clean:  # so is every activity it declares, as it is now (tested without encoding again)
            self._clean_activities = {_fingerprint(a) for a in _activities(run.experiment)}
        journal = _initial_journal(run.experiment)
        rest = self._redacted_json({k: v for k, v in journal.items() if k != "experiment"})
        self._experiment = orjson.Fragment(experiment_text)
        self._journal = orjson.Fragment(_with_members(rest, {"experiment": experiment_text}))
        try:
            self.log = RunLog.create(run.id, self._log_dir)
        except Exception as exc:
            logger.warning("chaosiq: cannot open the outbox (%s): unsent events will be lost", exc)
            self.log = None
        self.sender.log = self.log
        if self.log is not None:
            self.log.append(
                {
                    "op": "run",
                    "run_id": run.id,
                    "kind": run.kind,
                    "url": run.client.url,
                    "org_id": scope.org_id if scope else None,
                    "team_id": scope.team_id if scope else None,
                    "created": ev.now_iso(),
                    "experiment": self._experiment,
                    "journal": self._journal,
                }
            )

    def _try_create(self) -> bool:
        t = self._timeout()
        if t is None:
            return False
        try:
            known = (chaosiq_extension(self.run.experiment) or {}).get("experiment_id")
            eid, xid, _location = self.sender.create_execution(
                self._experiment, self._journal, t, experiment_id=known
            )
        except ApiError as exc:
            self.sender.last_error = str(exc)
            logger.debug("chaosiq: creating the execution failed: %s", exc)
            self._backoff.failed()
            return False
        self._backoff.succeeded()
        self.run.set_execution(experiment_id=eid, execution_id=xid)
        logger.debug(
            "chaosiq: execution %s of experiment %s created %.3f s after the run was configured",
            xid,
            eid,
            time.monotonic() - self._started,
        )
        from chaosiq_publisher import workspace

        workspace.remember(self.run, eid)
        return True

    def _send(self) -> None:
        if self._creating is not None:
            if self._creating.is_alive():
                return  # the first attempt is still under way: it wakes this thread when done
            self._creating = None
        if not self.sender.has_execution and (not self.sender.pending or not self._try_create()):
            return
        s = self.sender
        try:
            if s.in_flight is not None:
                if s.settle():
                    self._backoff.succeeded()
                elif not self._stopping.is_set():
                    return  # still being sent: its helper wakes this thread when it is done
            if s.in_flight is None and not self._stopping.is_set():
                # during the run, a batch goes on a helper thread: should the run end
                # while the server answers, the last events need not wait behind it
                t = self._timeout()
                if t is not None and s.post_async(t, self._wake.set):
                    return
            s.send_pending(self._timeout)
            if s.in_flight is not None:  # the run is over: the rest went beside it
                s.settle((self._deadline or time.monotonic()) - time.monotonic())
            self._backoff.succeeded()
        except AuthError as exc:
            self.sender.last_error = str(exc)
            self._backoff.failed()
        except ApiError as exc:
            self.sender.last_error = str(exc)
            logger.debug("chaosiq: sending failed, will retry: %s", exc)
            self._backoff.failed()

    # ------------------------------------------------- serialise + log

    def _take_all(self) -> None:
        """Move everything queued into the log and the pending list (caller holds the lock)."""
        items = []
        while True:
            try:
                items.append(self._items.popleft())
            except IndexError:
                break
        if items and self._stopping.is_set():
            items = self._journal_first(items)
        if items:
            self._write(items)
        spilled = []
        while True:
            try:
                spilled.append(self._spilled.popleft())
            except IndexError:
                break
        if spilled:
            self.sender.add(spilled)

    def _journal_first(self, items: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """At the end of the run: log the final journal and start its PUT before the last
        events are encoded, so the server stores it meanwhile. Returns the other items.

        The journal still counts as sent after the events (``Sender.add`` keeps it last).
        """
        s = self.sender
        if not (s.parallel_journal and s.has_execution):
            return items
        for i, item in enumerate(items):
            if item[0] == "journal":
                t = self._timeout()
                if t is None:
                    return items
                self._write([item])
                s.start_journal_job(t)
                return items[:i] + items[i + 1 :]
        return items

    def _write(self, items: list[tuple[Any, ...]]) -> None:
        records = []
        since = time.perf_counter()
        for item in items:
            records.append(self._record(item))
            if time.perf_counter() - since > YIELD_EVERY:
                _yield()  # hand the GIL back to the run thread now and then
                since = time.perf_counter()
        s = self.sender
        if self._stopping.is_set() and self.log is not None and s.in_flight is None:
            # the end of the run: the events go out first, and this thread writes them to
            # the log while the server stores them (before the batch is settled, so a
            # failure still leaves them pending in the log)
            s.add(records)
            t = self._timeout()
            if t is not None:
                s.post_async(t, self._wake.set)
            self.log.append(*records)
            return
        if self.log is not None:
            self.log.append(*records)
        s.add(records)

    def _redacted_json(self, obj: Any) -> str:
        """The redacted JSON text of ``obj`` (see :meth:`_encode`)."""
        return "null" if obj is None else self._encode(obj)[0]

    def _encode(self, obj: Any) -> tuple[str, bool]:
        """:meth:`Redactor.encode` of ``obj``, retried if another thread changes it meanwhile.

        It encodes once and walks the document only when the text holds
        something to redact (a sensitive key, a secret value).
        """
        for _ in range(3):
            try:
                return self.redact.encode(obj)
            except RuntimeError:  # "dictionary changed size during iteration"
                time.sleep(0.001)
        return self.redact.encode(_snapshot(obj))

    def _redacted_activity(self, activity: Any) -> tuple[Any, str, bool]:
        """``(activity, its redacted JSON, clean)``; *clean*: nothing in it needed redacting.

        Activity definitions do not change during a run: each is encoded and
        tested once (by identity).
        """
        hit = self._activity_cache.get(id(activity))
        if hit is not None and hit[0] is activity:
            return hit
        if type(activity) is dict and _fingerprint(activity) in self._clean_activities:
            text, clean = dumps(activity), True  # tested with the experiment, before the run
        else:
            text, clean = self._encode(activity)
        if len(self._activity_cache) >= 512:
            self._activity_cache.clear()
        entry = (activity, text, clean)
        self._activity_cache[id(activity)] = entry  # keeps ``activity`` alive: ids stay unique
        return entry

    def _redacted_experiment(self, experiment: dict[str, Any]) -> str:
        """The run's experiment is the context of several events: encode it again only if it
        changed (as :func:`_shape` sees it)."""
        shape = _shape(experiment)
        cached = self._experiment_text
        if cached is not None and cached[0] is experiment and cached[1] == shape:
            return cached[2]
        text = self._redacted_json(experiment)
        self._experiment_text = (experiment, shape, text)
        return text

    def _context_json(self, context: Any) -> str:
        if context is self.run.experiment and isinstance(context, dict):
            return self._redacted_experiment(context)
        return self._redacted_json(context)

    def _data(self, event_type: str, context: Any, state: Any) -> str:
        """The event's ``data`` string: ``{"context": ..., "state": ...}``, redacted."""
        if event_type in _ACTIVITY_EVENTS and isinstance(context, dict):
            _, ctx, clean = self._redacted_activity(context)
            if clean:  # the hot path: one encoding, no walk, no splicing
                # ``dumps({"context": context, "state": state})``, spliced
                st = "null" if state is None else None
                if st is None and _plain_run(state, context):
                    st = self._run_text(state, checked=True)
                if st is not None:
                    text = f'{{"context":{ctx},"state":{st}}}'
                    if not self.redact.holds_secret_value(text):
                        return text
            if isinstance(state, dict) and state.get("activity") in (context,):  # the same, or an equal copy
                rest = self._redacted_json({k: v for k, v in state.items() if k != "activity"})
                st = _with_members(rest, {"activity": ctx})
            else:
                st = self._redacted_json(state)
        else:
            ctx = self._context_json(context)
            runs = self._runs_text(state) if event_type in _RUN_LIST_EVENTS else None
            st = runs if runs is not None else self._redacted_json(state)
        return f'{{"context": {ctx}, "state": {st}}}'

    def _run_text(self, run: Any, *, checked: bool = False) -> str | None:
        """The text of a run record that needs no redaction, or ``None`` (then encode it in full).

        Such a record (chaostoolkit-lib's own members, plain values, the copy of an
        activity without secrets) is encoded once: the method's, the rollbacks' and the
        journal's lists hold it again. ``checked``: ``run`` is known to be such a record.
        """
        if type(run) is not dict:
            return None
        members = tuple(run.items())  # compared member by member: by identity first
        hit = self._run_texts.get(id(run))
        if hit is not None and hit[0] is run and hit[1] == members:
            return hit[2]
        if not checked:
            activity = run.get("activity")
            if type(activity) is not dict or not _plain_run(run, activity):
                return None
            clean = _fingerprint(activity) in self._clean_activities
            if not (clean or self._redacted_activity(activity)[2]):
                return None
        text = dumps(run)
        if self.redact.holds_secret_value(text):
            return None
        if len(self._run_texts) >= RUN_CACHE_MAX:
            self._run_texts.clear()
        self._run_texts[id(run)] = (run, members, text)  # keeps ``run`` alive: ids stay unique
        return text

    def _runs_text(self, runs: Any) -> str | None:
        """The text of a list of run records that need no redaction, or ``None``."""
        if type(runs) is not list:
            return None
        parts = []
        for run in runs:
            text = self._run_text(run)
            if text is None:
                return None
            parts.append(text)
        text = f"[{','.join(parts)}]"
        return None if self.redact.holds_secret_value(text) else text  # one across two records

    def _journal_json(self, journal: Any) -> str:
        """A journal's redacted text; its experiment, runs and rollbacks from the texts made
        for the run's events when they need no redaction (they come last in the text)."""
        if type(journal) is not dict:
            return self._redacted_json(journal)
        parts = {}
        cached, experiment = self._experiment_text, journal.get("experiment")
        if cached is not None and type(experiment) is dict and _shape(experiment) == cached[1]:
            parts["experiment"] = cached[2]  # the run's experiment, or the shallow copy chaostoolkit-lib made
        for key in ("run", "rollbacks"):
            if (text := self._runs_text(journal.get(key))) is not None:
                parts[key] = text
        if not parts:
            return self._redacted_json(journal)
        rest = self._redacted_json({k: v for k, v in journal.items() if k not in parts})
        text = _with_members(rest, parts)
        return self._redacted_json(journal) if self.redact.holds_secret_value(text) else text

    def _journal_text(self, journal: dict[str, Any]) -> tuple[str, list[str] | None]:
        """The final journal's redacted JSON, encoded once for the log and the PUT.

        When the execution exists already its ids go into the journal's
        ``chaosiq`` extension first (the plugin writes them there at the end of
        the run anyway), so the PUT can send this text as it is.
        """
        eid, xid = self.sender.experiment_id, self.sender.execution_id
        ids = None
        if eid and xid and isinstance(journal, dict):
            ext = chaosiq_extension(journal, create=True)
            if ext is not None:
                ext["experiment_id"], ext["execution_id"] = eid, xid
                ids = [eid, xid]
        return self._journal_json(journal), ids

    def _encode_data(self, event_type: str, context: Any, state: Any) -> str:
        try:
            return self._data(event_type, context, state)
        except Exception as exc:  # e.g. recursion: the original's error form
            logger.debug("chaosiq: cannot encode a %s event: %s", event_type, exc)
            return ev.error_data(exc)

    def _record(self, item: tuple[Any, ...]) -> dict[str, Any]:
        kind = item[0]
        if kind in ("event", "encoded"):
            if kind == "event":
                _, event_type, context, state, when = item
                data = self._encode_data(event_type, context, state)
            else:  # encoded on the calling thread already (enqueue_snapshot, finish)
                _, event_type, data, when = item
            event_id = self._new_id()
            text = ev.envelope_text(event_type, data, event_id, self._clock(when))
            # "_text": the event's JSON, encoded once for the request body; "_line": its log line
            return {"op": "msg", "key": event_id, "kind": "event", "method": "POST", "json": None,
                    "_text": text, "_line": _EVENT_LINE.format(event_id, text)}  # fmt: skip
        if kind == "journal":
            # "json" is spliced in from "_text" in the log; "ids": the execution ids it already holds
            return {"op": "msg", "key": f"journal:{self.run.id}", "kind": "journal", "method": "PUT",
                    "json": None, "_text": item[1], "ids": item[2]}  # fmt: skip
        _, message, key = item
        return {
            "op": "msg",
            "key": message.key or key,
            "kind": message.kind or "request",
            "method": message.method,
            "path": message.path,
            "json": self.redact(message.json),
            "headers": dict(message.headers or {}),
            "with_execution": bool(getattr(message, "with_execution", False)),
        }

    # ----------------------------------------------------------- report

    @property
    def pending_count(self) -> int:
        return len(self.sender.pending) + len(self._items)

    def _pending_kinds(self) -> list[str]:
        for _ in range(3):  # the worker may still be changing it
            try:
                return [m.get("kind") or "" for m in list(self.sender.pending.values())]
            except RuntimeError:
                continue
        return []

    def _report(self) -> None:
        alive = self._thread is not None and self._thread.is_alive()
        kinds = self._pending_kinds() + [str(i[0]) for i in list(self._items)]
        kinds += [str(r.get("kind")) for r in list(self._spilled)]
        url = self.sender.console_url
        if kinds:
            n_events = kinds.count("event")
            parts = [f"{n_events} event(s)"]
            if "journal" in kinds:
                parts.append("the final journal")
            others = len(kinds) - n_events - kinds.count("journal")
            if others:
                parts.append(f"{others} other message(s)")
            reason = self.sender.last_error
            if reason is None:
                reason = f"the ChaosIQ server at {self.run.client.url} did not answer in time"
            where = f"; they are kept in {self.log.path}" if self.log is not None else ""
            logger.warning(
                "chaosiq: %s of this run not published yet (%s)%s; send them with `chaos publish`",
                " and ".join(parts),
                reason,
                where,
            )
        if self.log is not None:
            self.log.close(delete=not kinds and not alive)
        if url:
            logger.info("Execution available at %s", url)
