"""Sending to the ChaosIQ server: experiment, execution, events, journal.

One :class:`Sender` per run log. It is used by the background worker during
``chaos run`` and by ``chaos publish`` for what was left in the outbox, so both
speak to the server the same way. Every request has a timeout; a message is
marked delivered in the log only after a 2xx answer.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlparse

import orjson

from chaosiq_core.api import ApiClient
from chaosiq_core.errors import ApiError, AuthError
from chaosiq_core.journal import chaosiq_extension
from chaosiq_core.serialize import dumps
from chaosiq_publisher.events import BATCH_CONTENT_TYPE, CONTENT_TYPE
from chaosiq_publisher.outbox import RunLog

logger = logging.getLogger("chaostoolkit.chaosiq.publish")

Timeout = tuple[float, float]
PERMANENT_STATUSES = frozenset({400, 405, 409, 410, 413, 415, 422})
"""Answers that will not change on a retry: the message is set aside (``rejected``)."""


RUN_TIMEOUT: Timeout = (3.05, 10.0)
JSON_HEADERS = {"Content-Type": "application/json"}
BATCH_HEADERS = {"Content-Type": BATCH_CONTENT_TYPE}
MAX_BATCH_CHARS = 4 * 1024 * 1024
"""A batch holds events up to this much JSON (chaosiq-server refuses bodies over 10 MiB by default)."""


def _text(message: dict[str, Any]) -> str:
    """The JSON of an event message (encoded by the worker, or now for a replayed one)."""
    text = message.get("_text")
    return text if text is not None else dumps(message["json"])


def _needs_execution(message: dict[str, Any]) -> bool:
    """Events, the journal and ``with_execution`` requests wait for the execution's ids."""
    return message.get("kind") in ("event", "journal") or bool(message.get("with_execution"))


class Batch:
    """A batch of events POSTed on a helper thread (:meth:`Sender.post_async`)."""

    def __init__(self, keys: list[str]) -> None:
        self.keys = keys
        self.key_set = frozenset(keys)
        self.done = threading.Event()
        self.error: ApiError | None = None


class _Job:
    """The final journal's PUT running beside the event batches."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.thread: threading.Thread | None = None
        self.error: ApiError | None = None


def id_from_location(location: str | None) -> str | None:
    """The last path segment of a ``Content-Location`` (``…/experiments/<id>``)."""
    if not location:
        return None
    path = urlparse(location).path.rstrip("/")
    return path.rsplit("/", 1)[-1] or None


class Sender:
    """Delivers the pending messages of one run log, in order."""

    def __init__(self, client: ApiClient, log: RunLog | None, *, batch_size: int = 1000) -> None:
        self.client = client
        self.log = log
        self.batch_size = max(1, int(batch_size))
        self.pending: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.experiment_id: str | None = None
        self.execution_id: str | None = None
        self.location: str | None = None
        self.delivered = 0
        self.rejected = 0
        self.requests = 0
        self.last_error: str | None = None
        self._batch: bool | None = None
        self._combined: bool | None = None
        """``POST {team}/executions`` (experiment + execution at once) works: unknown until tried."""
        self._caps_thread: threading.Thread | None = None
        self._caps_done = threading.Event()
        self._journal_job: _Job | None = None
        self._journal_key: str | None = None
        self.in_flight: Batch | None = None
        """The batch :meth:`post_async` is sending; its events are skipped by every other send."""
        self.parallel_journal = False
        """Send the final journal alongside the last events (set when flushing)."""

    # ------------------------------------------------------------ ids

    @property
    def has_execution(self) -> bool:
        return bool(self.experiment_id and self.execution_id)

    @property
    def console_url(self) -> str | None:
        return self.client.console_url(self.location) if self.location else None

    def _request(self, method: str, path: str, timeout: Timeout, **kw: Any) -> Any:
        self.requests += 1
        return self.client.request(method, path, timeout=timeout, **kw)

    def create_execution(
        self,
        experiment: dict[str, Any] | orjson.Fragment,
        journal: dict[str, Any] | orjson.Fragment,
        timeout: Timeout,
        *,
        experiment_id: str | None = None,
    ) -> tuple[str, str, str]:
        """Create the execution (and store or match its experiment).

        One request where the server offers ``execution-with-experiment``
        (``POST {team}/executions``, tried first); otherwise, after its 404/405,
        the original's two: POST the experiment (201/200, or 204 when
        unchanged), then the execution. Raises :class:`ApiError`; on success
        records the ids in the log. ``experiment`` and ``journal`` may be
        encoded already (``orjson.Fragment``); ``experiment_id``: the id the
        workspace knows for the experiment (read from the experiment's
        ``chaosiq`` extension when not given), used when the server answers 204
        without saying where.
        """
        if self._combined is not False:
            resp = self._request(
                "POST",
                "/executions",
                timeout,
                json={"experiment": experiment, "journal": journal},
                ok=(200, 201, 404, 405),
            )
            if resp.status_code in (200, 201):
                self._combined = True
                try:
                    body = resp.json() or {}
                except ValueError:
                    body = {}
                eid, xid = body.get("experiment_id"), body.get("id")
                location = resp.headers.get("Content-Location")
                if not (eid and xid):
                    raise ApiError("the server did not return the execution's and experiment's ids")
                eid, xid = str(eid), str(xid)
                location = location or self.client.team(f"/experiments/{eid}/executions/{xid}")
                self.set_ids(eid, xid, location)
                return eid, xid, location
            self._combined = False  # an original server: the two-step protocol from now on
        known = experiment_id
        if known is None and isinstance(experiment, dict):
            known = (chaosiq_extension(experiment) or {}).get("experiment_id")
        resp = self._request("POST", "/experiments", timeout, json={"experiment": experiment})
        eid: str | None
        if resp.status_code == 204:
            eid = id_from_location(resp.headers.get("Content-Location")) or known
        else:
            try:
                eid = (resp.json() or {}).get("id")
            except ValueError:
                eid = None
            eid = eid or id_from_location(resp.headers.get("Content-Location"))
        if not eid:
            raise ApiError("the server did not say which experiment it stored (no id, no Content-Location)")
        eid = str(eid)
        resp = self._request("POST", f"/experiments/{eid}/executions", timeout, json={"journal": journal})
        try:
            xid = (resp.json() or {}).get("id")
        except ValueError:
            xid = None
        location = resp.headers.get("Content-Location")
        xid = xid or id_from_location(location)
        if not xid:
            raise ApiError("the server did not return the execution's id")
        xid = str(xid)
        location = location or self.client.team(f"/experiments/{eid}/executions/{xid}")
        self.set_ids(eid, xid, location)
        return eid, xid, location

    def set_ids(self, eid: str, xid: str, location: str | None) -> None:
        self.experiment_id, self.execution_id, self.location = eid, xid, location
        if self.log is not None:
            self.log.append({"op": "ids", "experiment_id": eid, "execution_id": xid, "location": location})

    # ------------------------------------------------------- messages

    def add(self, records: list[dict[str, Any]]) -> None:
        """Queue ``records`` after what is pending; a final journal stays behind every event
        (it may be logged, and its PUT started, before the run's last events are encoded)."""
        journal = None
        for rec in records:
            self.pending[rec["key"]] = rec
            if rec.get("kind") == "journal":
                journal = rec["key"]
        if journal is not None:
            self._journal_key = journal
        if self._journal_key in self.pending:
            self.pending.move_to_end(self._journal_key)

    def _mark(self, op: str, keys: list[str], reason: str | None = None) -> None:
        for k in keys:
            self.pending.pop(k, None)
        if op == "done":
            self.delivered += len(keys)
        else:
            self.rejected += len(keys)
        if self.log is not None:
            rec: dict[str, Any] = {"op": op, "keys": keys}
            if reason:
                rec["reason"] = reason
            self.log.append(rec)

    def _execution_path(self, suffix: str = "") -> str:
        return f"/experiments/{self.experiment_id}/executions/{self.execution_id}{suffix}"

    def prefetch_capabilities(self) -> None:
        """Ask for the server's extensions on a helper thread, while the execution is created."""
        self._caps_thread = threading.Thread(
            target=self._fetch_capabilities, args=(RUN_TIMEOUT,), name="chaosiq-capabilities", daemon=True
        )
        self._caps_thread.start()

    def _fetch_capabilities(self, t: Timeout) -> None:
        try:
            resp = self._request("GET", "/api/v1/capabilities", t, ok=(200, 404, 405))
            body = resp.json() if resp.status_code == 200 else {}
            self._batch = "events-batch" in (body.get("capabilities") or ())
        except ApiError as exc:  # unreachable: ask again later, do not assume
            logger.debug("chaosiq: capabilities unknown yet: %s", exc)
        except (ValueError, AttributeError):
            self._batch = False
        finally:
            self._caps_done.set()

    def batch_supported(self, t: Timeout = RUN_TIMEOUT) -> bool:
        if self._batch is None and self._caps_thread is not None and not self._caps_done.is_set():
            self._caps_done.wait(t[0] + t[1])
        if self._batch is None:
            self._fetch_capabilities(t)
        return bool(self._batch)

    def _put_journal(self, message: dict[str, Any], t: Timeout) -> None:
        text = message.get("_text")
        if text is not None and message.get("ids") == [self.experiment_id, self.execution_id]:
            # encoded once by the worker, with these ids in it: sent as it is
            body = ('{"journal": ' + text + "}").encode("utf-8")
            self._request("PUT", self._execution_path(), t, data=body, headers=JSON_HEADERS)
            return
        journal = message.get("json") if text is None else json.loads(text)
        journal = journal or {}
        ext = chaosiq_extension(journal, create=True)
        if ext is not None:
            ext["experiment_id"] = self.experiment_id
            ext["execution_id"] = self.execution_id
        self._request("PUT", self._execution_path(), t, json={"journal": journal})

    def start_journal_job(self, t: Timeout) -> bool:
        """Flushing: PUT the final journal on a helper thread while the events go (one RTT less).

        ``False`` when there is no journal to send, or its PUT is under way already.
        """
        key = self._journal_key
        if self._journal_job is not None or key not in self.pending:
            return False
        job = _Job(key)
        message = self.pending[key]

        def put() -> None:
            try:
                self._put_journal(message, t)
            except ApiError as exc:
                job.error = exc

        job.thread = threading.Thread(target=put, name="chaosiq-journal", daemon=True)
        self._journal_job = job
        job.thread.start()
        return True

    def send_pending(self, timeout: Callable[[], Timeout | None]) -> bool:
        """Send pending messages in order until done or one fails.

        :param timeout: gives the timeout of the next request, ``None`` when time is up.
        :return: ``True`` when everything that can be sent now was sent. Raises
            :class:`ApiError` on a failure worth retrying later.
        """
        while True:
            first = next(self._sendable(), None)
            if first is None:
                return True
            t = timeout()
            if t is None:
                return False
            key, head = first
            kind = head.get("kind")
            if _needs_execution(head) and not self.has_execution:
                # no execution yet: other plugins' requests that need none may go ahead
                other = next(((k, m) for k, m in self._sendable() if not _needs_execution(m)), None)
                if other is None:
                    return False
                key, head = other
                kind = head.get("kind")
            try:
                if kind == "event":
                    if self.parallel_journal:
                        self.start_journal_job(t)
                    self._send_events(t)
                elif kind == "journal":
                    job, self._journal_job = self._journal_job, None
                    if job is not None and job.key == key and job.thread is not None:
                        job.thread.join(t[0] + t[1])
                        if job.thread.is_alive():
                            self._journal_job = job
                            return False
                        if job.error is not None:
                            raise job.error
                    else:
                        self._put_journal(head, t)
                    self._mark("done", [key])
                else:
                    body = head.get("json")
                    if head.get("with_execution"):
                        body = {**(body or {}), "experiment_id": self.experiment_id,
                                "execution_id": self.execution_id}  # fmt: skip
                    self._request(
                        head.get("method") or "POST",
                        head["path"],
                        t,
                        json=body,
                        headers=head.get("headers") or None,
                    )
                    self._mark("done", [key])
            except AuthError:
                raise
            except ApiError as exc:
                if exc.status in PERMANENT_STATUSES:
                    if kind == "event" and self._batch and self._batch_len() > 1:
                        self._batch = False  # find the culprit one by one
                        continue
                    self._mark("rejected", [key], str(exc))
                    logger.warning("chaosiq: the server refused a %s message for good: %s", kind, exc)
                    continue
                raise

    def _sendable(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """The pending messages, in order, minus the batch in flight."""
        skip = self.in_flight.key_set if self.in_flight is not None else frozenset()
        for key, message in self.pending.items():
            if key not in skip:
                yield key, message

    def _batch_len(self) -> int:
        n = 0
        for _, m in self._sendable():
            if m.get("kind") != "event" or n >= self.batch_size:
                break
            n += 1
        return n

    def _head_batch(self) -> tuple[list[str], bytes]:
        """The keys and the request body of the next batch: the events at the head of the queue."""
        keys: list[str] = []
        texts: list[str] = []
        size = 0
        for k, m in self._sendable():
            if m.get("kind") != "event" or len(keys) >= self.batch_size:
                break
            text = _text(m)
            size += len(text) + 1
            if keys and size > MAX_BATCH_CHARS:  # stay well under the server's body limit
                break
            keys.append(k)
            texts.append(text)
        return keys, ("[" + ",".join(texts) + "]").encode("utf-8")

    def _post_batch(self, body: bytes, t: Timeout) -> None:
        self._request("POST", self._execution_path("/events/batch"), t, data=body, headers=BATCH_HEADERS)

    def post_async(self, t: Timeout, on_done: Callable[[], None]) -> bool:
        """Start POSTing the events at the head of the queue as one batch, on a helper thread.

        The worker is then free while the server answers: when the run ends
        meanwhile, the last events go at once on another connection instead of
        waiting behind this request (one round trip less at the end of a run).
        At the end of the run the last batch goes this way too, while the worker
        writes it to the log. For a server with ``events-batch``, one batch at a
        time; ``False`` when this does not apply. ``on_done`` is
        called from the helper thread; :meth:`settle` takes the result.
        """
        if self.in_flight is not None or not self.has_execution or not self._batch:
            return False
        keys, body = self._head_batch()
        if not keys:  # nothing pending, or another kind of message first
            return False
        batch = Batch(keys)

        def post() -> None:
            try:
                self._post_batch(body, t)
            except ApiError as exc:
                batch.error = exc
            except Exception as exc:  # never lose the reason on a helper thread
                batch.error = ApiError(f"{type(exc).__name__}: {exc}")
            finally:
                batch.done.set()
                on_done()

        self.in_flight = batch
        threading.Thread(target=post, name="chaosiq-batch", daemon=True).start()
        return True

    def settle(self, wait: float = 0.0) -> bool:
        """Take the result of the batch in flight, waiting up to ``wait`` s for it.

        :return: ``False`` while it is still being sent. Its events are marked
            delivered on a 2xx. On an error they are pending again: a batch the
            server refused for good switches this run to single events, for
            :meth:`send_pending` to find the bad one; any other error is raised.
        """
        batch = self.in_flight
        if batch is None:
            return True
        if not batch.done.wait(max(0.0, wait)):
            return False
        self.in_flight = None
        if batch.error is not None:
            if batch.error.status in PERMANENT_STATUSES and len(batch.keys) > 1:
                self._batch = False  # as send_pending does: find the culprit one by one
                return True
            raise batch.error
        self._mark("done", batch.keys)
        return True

    def _send_events(self, t: Timeout) -> None:
        if self.batch_supported(t):
            keys, body = self._head_batch()
            if len(keys) > 1:
                self._post_batch(body, t)
                self._mark("done", keys)
                return
        key, head = next(self._sendable())
        self._request(
            "POST",
            self._execution_path("/events"),
            t,
            data=_text(head).encode("utf-8"),
            headers={"Content-Type": CONTENT_TYPE},
        )
        self._mark("done", [key])


class Backoff:
    """Exponential backoff between attempts: 0.2 s doubling up to ``cap``."""

    def __init__(self, first: float = 0.2, cap: float = 5.0) -> None:
        self.first, self.cap = first, cap
        self.delay = 0.0
        self.next_at = 0.0

    def failed(self) -> None:
        self.delay = self.first if self.delay == 0 else min(self.cap, self.delay * 2)
        self.next_at = time.monotonic() + self.delay

    def succeeded(self) -> None:
        self.delay = 0.0
        self.next_at = 0.0

    def wait_left(self) -> float:
        return max(0.0, self.next_at - time.monotonic())
