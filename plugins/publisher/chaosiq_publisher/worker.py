"""The publisher of one run: hooks enqueue, the worker encodes, one helper thread sends.

The run thread only appends to a deque. The worker redacts and encodes each
event once into a :class:`~chaosiq_publisher.outbox.Message`, writes it to the
run's log (write-ahead) and hands it to the :class:`~chaosiq_publisher.sender.Sender`,
gathering a burst for up to ``linger`` seconds first (fewer, larger batches). The
helper thread creates the execution, then sends, retrying with backoff. At the
end the worker and the run thread, which would otherwise only wait, send beside
the helper, so the end does not wait behind a request in flight; what is left
after the flush deadline stays in the log for ``chaos publish``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import deque
from typing import Any

import orjson
from chaoslib.run import initialize_run_journal

from chaosiq_core.errors import ApiError
from chaosiq_core.journal import chaosiq_extension, extension_value
from chaosiq_core.redaction import Redactor
from chaosiq_core.run import Run
from chaosiq_core.types import Outgoing
from chaosiq_publisher import events as ev
from chaosiq_publisher import workspace
from chaosiq_publisher.outbox import Message, RunLog, outbox_dir
from chaosiq_publisher.sender import GONE, RUN_TIMEOUT, TEAM, Sender, Timeout, within

logger = logging.getLogger("chaostoolkit.chaosiq.publish")

FEATURE = "publish"
DEFAULTS: dict[str, Any] = {"flush_deadline": 5.0, "batch_size": 1000, "queue_size": 50000, "linger": 0.05}
FIRST_BACKOFF, MAX_BACKOFF = 0.2, 5.0
"""Seconds between attempts after a failure, doubling. Written out in ``_send_loop``: tenacity
and urllib3's ``Retry`` wrap one call, and this loop also waits for new messages and the deadline."""


class Publisher:
    """Everything the ``publish`` feature does for one run."""

    def __init__(self, run: Run) -> None:
        assert run.client is not None
        self.run = run

        def opt(name: str) -> Any:
            return run.option(FEATURE, name, DEFAULTS[name])

        self.flush_deadline = float(opt("flush_deadline"))
        self.max_queue = int(opt("queue_size"))
        self.linger = float(opt("linger"))
        self.redact = Redactor.for_run(
            run.experiment, secrets=run.secrets, configuration=run.configuration, settings=run.settings
        )
        # a client that never retries: the helper backs off itself, within the flush deadline
        client = run.client.without_retries()
        self.sender = Sender(client, None, batch_size=int(opt("batch_size")), run_id=run.id)
        self.log: RunLog | None = None
        self._creation: tuple[orjson.Fragment, orjson.Fragment] | None = None
        """The redacted experiment and initial journal, encoded: the execution's creation request."""
        self._items: deque[tuple[Any, ...]] = deque()
        self._final: tuple[Any, Any, float] | None = None
        self._lock = threading.Lock()
        """Held while queued items become logged messages (by the worker, or the run thread)."""
        self._queued = threading.Event()
        self._logged = threading.Event()
        """New messages for the helper to send (or the run ended)."""
        self._stopping = threading.Event()
        self._deadline: float | None = None
        self._started = time.monotonic()
        self._worker = threading.Thread(target=self._work, name="chaosiq-publisher", daemon=True)
        self._helper = threading.Thread(target=self._send_loop, name="chaosiq-sender", daemon=True)
        self.finished = False

    def start(self) -> None:
        self._worker.start()

    def enqueue(self, event_type: str, context: Any = None, state: Any = None) -> None:
        """Queue one lifecycle event (any thread): the worker encodes it later."""
        self._put(("event", event_type, context, state, time.time()))

    def enqueue_final(self, experiment: Any, journal: Any) -> None:
        """Keep ``experiment-finished`` for :meth:`finish`, which brings the same journal: it is then
        redacted and encoded once for the event and the final PUT. The event keeps this call's time;
        should ``finish`` come with another journal, or none, the event holds its own."""
        self._final = (experiment, journal, time.time())

    def deliver(self, message: Outgoing) -> bool:
        """Queue another plugin's request (``chaosiq_deliver``); ``False`` once the run is finished."""
        with self._lock:
            if self.finished:
                return False
            self._items.append(("request", message, ev.new_id()))
        self._queued.set()
        return True

    def _put(self, item: tuple[Any, ...]) -> None:
        self._items.append(item)
        if len(self._items) > self.max_queue:  # the worker is far behind: this thread logs them
            with self._lock:
                self._drain()
        elif not self._queued.is_set():  # once per wake-up of the worker: set() takes locks
            self._queued.set()

    def finish(self, journal: dict[str, Any] | None) -> None:
        """The run is over: log the final journal and what is still queued, send until the flush
        deadline, report. This thread would only wait: it encodes them itself, then sends beside
        the others."""
        flush_started = time.monotonic()
        self._deadline = flush_started + self.flush_deadline
        final, self._final = self._final, None
        with self._lock:
            self._open_log()
            put, finished = self._final_messages(final, journal)
            if put is not None:  # alone first: the helper may send it while the last events are encoded
                self._log([put])
            self._drain(finished)  # experiment-finished after the last events, in their batch
        self._stopping.set()
        self._queued.set()
        self._logged.set()
        if journal is not None and self.run.execution_ready.wait(self._left()):
            self._send_pending()
        self._worker.join(self._left())
        with self._lock:  # what was queued since goes to the log now; later requests are refused
            self._drain()
            self.finished = True
        if self.sender.pending and self._helper.is_alive():
            self._helper.join(self._left())
        logger.debug(
            "chaosiq: publisher flushed in %.3f s (deadline %.1f s); %d requests",
            time.monotonic() - flush_started,
            self.flush_deadline,
            self.sender.requests,
        )
        self._report()

    def _work(self) -> None:
        try:
            with self._lock:
                self._open_log()
            with contextlib.suppress(ApiError):  # asked beside the helper creating the execution
                self.sender.batch_supported(RUN_TIMEOUT)
            while self._items or not self._stopping.is_set():
                if not self._items:
                    self._queued.wait(1.0)
                self._queued.clear()
                if self.linger and self._items and not self._stopping.is_set():
                    self._stopping.wait(self.linger)  # gather a burst into one batch
                with self._lock:
                    self._drain()
            self._send_pending()
        except Exception as exc:
            self._stopped(exc)
        finally:
            self._logged.set()

    def _stopped(self, exc: Exception) -> None:
        """A thread of the publisher failed: never silently."""
        logger.warning("chaosiq: the publisher stopped: %s: %s", type(exc).__name__, exc)
        logger.debug("traceback", exc_info=exc)
        self.sender.last_error = f"{type(exc).__name__}: {exc}"

    def _drain(self, last: Message | None = None) -> None:
        """Encode what is queued, log it, then ``last``, and hand them to the sender (the caller
        holds the lock)."""
        self._open_log()
        items = [self._items.popleft() for _ in range(len(self._items))]  # others may append meanwhile
        messages = [m for item in items for m in self._messages(item)]
        self._log([*messages, last] if last else messages)

    def _log(self, messages: list[Message]) -> None:
        if not messages:
            return
        if self.log is not None:
            self.log.append(*messages)
        self.sender.add(messages)
        self._logged.set()

    def _open_log(self) -> None:
        """Encode the experiment and the initial journal (the execution's creation request),
        open the run's log and start the helper (once; the caller holds the lock)."""
        if self._creation is not None:
            return
        run, scope = self.run, self.sender.client.scope
        initial = {**initialize_run_journal(run.experiment), "status": "running"}
        experiment, journal = (orjson.Fragment(self._redacted(d)) for d in (run.experiment, initial))
        self._creation = (experiment, journal)
        try:
            self.log = self.sender.log = RunLog(outbox_dir() / f"{run.id}.jsonl")
            header = {"op": "run", "run_id": run.id, "kind": run.kind, "url": self.sender.client.url,
                      "org_id": scope.org_id if scope else None, "team_id": scope.team_id if scope else None,
                      "created": ev.iso_time(time.time()), "experiment": experiment,
                      "journal": journal}  # fmt: skip
            self.log.append(header)
        except Exception as exc:
            logger.warning("chaosiq: cannot open the outbox (%s): unsent events will be lost", exc)
        self._helper.start()

    def _redacted(self, doc: Any) -> str:
        """``doc`` redacted, as JSON text (encoded once; walked only when it holds something to redact).
        A lone surrogate (undecodable bytes in an output or a file name) is not UTF-8: it is written
        as its JSON escape, so that the text can be stored and sent."""
        text = self.redact.encode(doc)[0]
        return text if text.isascii() else text.encode("utf-8", "backslashreplace").decode()

    def _data(self, context: Any, state: Any) -> str:
        """An event's ``data``: ``{"context", "state"}`` redacted, or the original's error form."""
        try:
            return self._redacted({"context": context, "state": state})
        except Exception as exc:  # e.g. a cycle
            logger.debug("chaosiq: cannot encode an event: %s: %s", type(exc).__name__, exc)
            return ev.error_data(exc)

    def _event(self, event_type: str, data: str, when: float) -> Message:
        event_id = ev.new_id()
        return Message(event_id, "event", "POST", ev.envelope(event_type, data, event_id, when))

    def _messages(self, item: tuple[Any, ...]) -> list[Message]:
        """What a queued item is sent as: an event, or another plugin's request."""
        if item[0] == "event":
            _, event_type, context, state, when = item
            return [self._event(event_type, self._data(context, state), when)]
        _, out, key = item
        try:
            body = self._redacted(out.json)
        except Exception as exc:  # a cycle, say: another plugin's message costs one warning
            logger.warning("chaosiq: cannot encode a %s request to %s, not sent: %s: %s",
                           out.kind or "request", out.path, type(exc).__name__, exc)  # fmt: skip
            return []
        message = Message(
            key=out.key or key,
            kind=out.kind or "request",
            method=out.method,
            body=body,
            path=out.path,
            headers=dict(out.headers or {}),
            with_execution=bool(out.with_execution),
        )
        return [message]

    def _final_messages(self, final: Any, journal: Any) -> tuple[Message | None, Message | None]:
        """The final journal's PUT and the ``experiment-finished`` event: the journal is redacted
        and encoded once for both. With the execution's ids when they are known (the plugin
        writes them into the journal after the run anyway)."""
        put = None
        if isinstance(journal, dict):
            if self.sender.has_execution:
                ids = {"experiment_id": self.sender.experiment_id, "execution_id": self.sender.execution_id}
                chaosiq_extension(journal, create=True).update(ids)
            try:
                put = Message(f"journal:{self.run.id}", "journal", "PUT", self._redacted(journal))
            except Exception as exc:
                logger.warning("chaosiq: cannot encode the final journal: %s: %s", type(exc).__name__, exc)
        if final is None:
            return put, None
        experiment, state, when = final
        if state is journal and put is not None:
            context = orjson.Fragment(self._redacted(experiment))
            data = orjson.dumps({"context": context, "state": orjson.Fragment(put.body)}).decode()
        else:
            data = self._data(experiment, state)
        return put, self._event("experiment-finished", data, when)

    def _send_loop(self) -> None:
        """The helper thread: creates the execution, then sends until the run is over and
        nothing is left, the flush deadline passes, or the server refuses the token or team."""
        delay = 0.0
        try:
            while (t := within(self._deadline)) is not None and self.sender.refusal is None:
                if (hold := self.sender.hold_until - time.monotonic()) > 0:  # the server's Retry-After
                    self._pause(hold)
                    continue
                self._logged.clear()
                try:
                    sent, delay = self._send_once(t), 0.0
                except ApiError as exc:  # a refusal ends the loop: the rest stays in the outbox
                    logger.debug("chaosiq: sending failed: %s", exc)
                    sent, delay = False, min(MAX_BACKOFF, delay * 2 or FIRST_BACKOFF)
                if self.sender.blocked:
                    continue
                if delay:
                    self._pause(delay)
                elif not sent:
                    if self._stopping.is_set() and not self._worker.is_alive() and not self.sender.pending:
                        return
                    self._logged.wait(min(1.0, self._left()) if self._deadline else 1.0)
        except Exception as exc:
            self._stopped(exc)
        finally:  # refused before the first attempt: whoever waits for the execution learns it now
            if not self.run.execution_ready.is_set():
                self.run.set_execution(experiment_id=None, execution_id=None)

    def _pause(self, seconds: float) -> None:
        """Wait; the end of the run cuts it short (the last messages go at once), then the deadline."""
        if self._stopping.is_set():
            time.sleep(min(seconds, self._left()))
        else:
            self._stopping.wait(seconds)

    def _send_once(self, t: Timeout) -> bool:
        """Create the execution if needed, then make the next request; ``False`` if there is none."""
        failed = None
        if not self.sender.has_execution:
            assert self._creation is not None
            known = extension_value(self.run.experiment, "experiment_id")
            try:
                eid, xid, _ = self.sender.create_execution(*self._creation, t, experiment_id=known)
                self.run.set_execution(experiment_id=eid, execution_id=xid)
                since = time.monotonic() - self._started
                logger.debug("chaosiq: execution %s created %.3f s after the run was configured", xid, since)
                workspace.remember(self.run, eid)
            except ApiError as exc:
                failed = exc
            if not self.run.execution_ready.is_set():  # the first attempt failed: say so
                self.run.set_execution(experiment_id=None, execution_id=None)
        if self.sender.send_next(t):  # requests that need no execution go ahead meanwhile
            return True
        if failed is not None:
            raise failed
        return False

    def _send_pending(self) -> None:
        with contextlib.suppress(ApiError):  # noted by the sender; the helper retries
            self.sender.send_pending(lambda: within(self._deadline))

    def _left(self) -> float:
        return max(0.0, self._deadline - time.monotonic()) if self._deadline is not None else 0.0

    def _report(self) -> None:
        kinds = self.sender.pending_kinds()
        where = f"; they are kept in {self.log.path}" if self.log is not None else ""
        if kinds:
            events, journals = kinds.count("event"), kinds.count("journal")
            parts = [f"{events} event(s)"] + ["the final journal"] * bool(journals)
            if others := len(kinds) - events - journals:
                parts.append(f"{others} other message(s)")
            url = self.sender.client.url
            reason = self.sender.last_error or f"the ChaosIQ server at {url} did not answer in time"
            if self.log is not None:
                self.log.append({"op": "error", "reason": reason, "refusal": self.sender.refusal})
            then = "" if self.sender.refusal in (TEAM, GONE) else "; send them with `chaos publish`"
            logger.warning(
                "chaosiq: %s of this run not published yet (%s)%s%s", " and ".join(parts), reason, where, then
            )
        # the final journal first: without it the execution stays "running" on the server
        if refused := sorted(self.sender.rejections, key=lambda r: not r.startswith("the final journal")):
            what = refused[0] if len(refused) == 1 else f"{refused[0]} and {len(refused) - 1} more"
            logger.warning("chaosiq: the server refused %d message(s) of this run for good: %s%s; see "
                           "`chaos publish --list`", len(refused), what, where)  # fmt: skip
        if self.log is not None:
            self.log.close(delete=not kinds and not refused and not self._worker.is_alive())
        if self.sender.console_url:
            logger.info("Execution available at %s", self.sender.console_url)
