"""Sending to the ChaosIQ server: experiment, execution, events, journal.

One :class:`Sender` per run log, used by ``chaos run`` and by ``chaos publish``, so both speak
to the server the same way. A message is marked delivered in the log only after a 2xx answer.
Several threads may send at once: each request's messages are claimed first.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

import orjson

from chaosiq_core.api import ApiClient
from chaosiq_core.errors import ApiError, AuthError, DroppedError
from chaosiq_core.journal import chaosiq_extension
from chaosiq_core.serialize import dumps, loads
from chaosiq_publisher.events import BATCH_CONTENT_TYPE, CONTENT_TYPE
from chaosiq_publisher.outbox import Message, RunLog

logger = logging.getLogger("chaostoolkit.chaosiq.publish")

Timeout = tuple[float, float]
RUN_TIMEOUT: Timeout = (3.05, 10.0)
"""(connect, read) seconds of a request during a run."""
PERMANENT_STATUSES = frozenset({400, 405, 409, 410, 413, 415, 422})
"""Answers that will not change on a retry: the message is set aside (``rejected``)."""
TOKEN, TEAM, GONE = "token", "team", "execution"
"""Refusals that no retry mends (:attr:`Sender.refusal`): the token, the run's team, or
its execution, gone from the server (deleted or pruned)."""
MAX_BATCH_CHARS = 4 * 1024 * 1024
"""A batch holds events up to this much JSON (chaosiq-server refuses bodies over 10 MiB by default)."""


def within(deadline: float | None, timeout: Timeout = RUN_TIMEOUT) -> Timeout | None:
    """``timeout``, shortened to what is left before ``deadline`` (``None`` once it has passed)."""
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    return None if left <= 0.05 else (min(timeout[0], left), min(timeout[1], left))


def id_from_location(location: str | None) -> str | None:
    """The last path segment of a ``Content-Location`` (``…/experiments/<id>``)."""
    return urlparse(location or "").path.rstrip("/").rsplit("/", 1)[-1] or None


def _body(resp: Any) -> dict[str, Any]:
    try:
        return body if isinstance(body := resp.json(), dict) else {}
    except ValueError:
        return {}


def _answer_id(resp: Any) -> str | None:
    """The ``id`` of a JSON answer, or the id its ``Content-Location`` ends with."""
    value = _body(resp).get("id")
    return str(value) if value else id_from_location(resp.headers.get("Content-Location"))


def _json(doc: Any, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """A JSON body (a lone surrogate written as its escape) and its headers; ``None``: no body."""
    if doc is None:
        return {"headers": headers}
    data = dumps(doc).encode("utf-8", "backslashreplace")
    return {"data": data, "headers": {"Content-Type": "application/json", **(headers or {})}}


class Sender:
    """Delivers the pending messages of one run log, in order."""

    def __init__(
        self, client: ApiClient, log: RunLog | None, *, batch_size: int = 1000, run_id: str | None = None
    ) -> None:
        self.client = client
        self.log = log
        self.batch_size = max(1, int(batch_size))
        self.run_id = run_id
        """The client's id of the run, sent with the execution's creation: one run, one execution."""
        self.pending: OrderedDict[str, Message] = OrderedDict()
        self.experiment_id: str | None = None
        self.execution_id: str | None = None
        self.location: str | None = None
        self.delivered = 0
        self.requests = 0
        self.last_error: str | None = None
        self.refusal: str | None = None
        """:data:`TOKEN`, :data:`TEAM` or :data:`GONE` once the server refused it: nothing more is sent."""
        self.hold_until = 0.0
        """Nothing is sent before this ``time.monotonic()`` (the server's ``Retry-After``)."""
        self.rejections: list[str] = []
        """What the server refused for good: one line per message (its kind and the reason)."""
        self.created = False
        """The last :meth:`create_execution` made a new execution (not the run's existing one)."""
        self._lock = threading.Lock()
        self._claimed: set[str] = set()
        """Keys of the messages a request is being made for (by any thread)."""
        self._journal_key: str | None = None
        self._batch: bool | None = None
        """The server takes batches of events (its ``events-batch`` capability); unknown until asked."""
        self._capabilities_lock = threading.Lock()
        self._combined: bool | None = None
        """``POST {team}/executions`` (experiment + execution at once) works: unknown until tried."""

    @property
    def has_execution(self) -> bool:
        return bool(self.experiment_id and self.execution_id)

    @property
    def console_url(self) -> str | None:
        return self.client.console_url(self.location) if self.location else None

    @property
    def blocked(self) -> bool:
        """Nothing may be sent now: the server refused the token or team, or asked to wait."""
        return self.refusal is not None or time.monotonic() < self.hold_until

    def _request(self, method: str, path: str, timeout: Timeout, **kw: Any) -> Any:
        """One request; a connection the server closed before answering (a keep-alive one it
        dropped after a 500, say) is tried once more on a new one: every message is idempotent."""
        self.requests += 1
        try:
            try:
                return self.client.request(method, path, timeout=timeout, **kw)
            except DroppedError:
                self.requests += 1
                return self.client.request(method, path, timeout=timeout, **kw)
        except ApiError as exc:
            self.failed(exc, path)
            raise

    def failed(self, exc: ApiError, path: str = "") -> None:
        """Note a failed request to ``path``: its line, the server's ``Retry-After``, and a refusal
        no retry mends: the token's; the team's (``POST {team}/experiments`` exists on every
        server: a 404 there is the team's); the execution's, once created (chaosiq-server's 404
        "execution not found" under it; another 404 may be a route an older replica lacks)."""
        self.last_error = str(exc)
        if exc.retry_after is not None:
            self.hold_until = max(self.hold_until, time.monotonic() + exc.retry_after)
            self.last_error += f"; it asked to retry after {exc.retry_after:g} s"
        if isinstance(exc, AuthError):
            self.refusal = TOKEN
            self.last_error += (
                ": sign in with a token whose role may publish (`chaos signin`)"
                if exc.status == 403
                else ": sign in again with `chaos signin`"
            )
        elif exc.status == 404 and path == "/experiments":
            scope = self.client.scope
            team = f"'{scope.team_name or scope.team_id}'" if scope else ""
            self.refusal = TEAM
            self.last_error = (
                f"the ChaosIQ server at {self.client.url} does not know team {team} of this "
                "organization, or the token may not use it (HTTP 404): choose a team with `chaos team` "
                "(or correct CHAOSIQ_TEAM), then move the run there with `chaos publish --retarget`"
            )
        elif exc.detail == "execution not found" and path.startswith(self._execution_path()):
            self.refusal = GONE
            self.last_error = (
                f"the ChaosIQ server at {self.client.url} no longer has execution {self.execution_id} "
                f"of this run (HTTP 404: deleted or pruned); what was not sent cannot go there: "
                f"remove the run with `chaos publish --drop {self.run_id or 'RUN_ID'}`"
            )

    def store_experiment(self, experiment: Any, timeout: Timeout, *, experiment_id: str | None = None) -> str:
        """``POST {team}/experiments``: the server stores (201/200) or matches (204) it; its id.
        ``experiment_id``: the id when a 204 does not say where."""
        resp = self._request("POST", "/experiments", timeout, json={"experiment": experiment})
        eid = _answer_id(resp) or (experiment_id if resp.status_code == 204 else None)
        if not eid:
            raise ApiError("the server did not say which experiment it stored (no id, no Content-Location)")
        return str(eid)

    def create_execution(
        self, experiment: Any, journal: Any, timeout: Timeout, *, experiment_id: str | None = None
    ) -> tuple[str, str, str]:
        """Create the execution (and store or match its experiment); ``(eid, xid, location)``.
        ``POST {team}/executions`` first; after its 404/405 (an original server), the original's
        two requests. ``experiment`` and ``journal`` may be encoded already (``orjson.Fragment``)."""
        run = {"run_id": self.run_id} if self.run_id else {}
        if self._combined is not False:
            body = {"experiment": experiment, "journal": journal, **run}
            resp = self._request("POST", "/executions", timeout, json=body, ok=(200, 201, 404, 405))
            if resp.status_code in (200, 201):
                self._combined = True
                answer = _body(resp)
                eid, xid = answer.get("experiment_id"), answer.get("id")
                if not (eid and xid):
                    raise ApiError("the server did not return the execution's and experiment's ids")
                self.created = resp.status_code == 201
                return self.set_ids(str(eid), str(xid), resp.headers.get("Content-Location"))
            self._combined = False  # an original server: the two-step protocol from now on
        eid = self.store_experiment(experiment, timeout, experiment_id=experiment_id)
        body = {"journal": journal, **run}
        resp = self._request("POST", f"/experiments/{eid}/executions", timeout, json=body)
        xid = _answer_id(resp)
        if not xid:
            raise ApiError("the server did not return the execution's id")
        self.created = resp.status_code != 200  # 200: the run's execution, which the server knew
        eid = str(_body(resp).get("experiment_id") or eid)
        return self.set_ids(eid, xid, resp.headers.get("Content-Location"))

    def set_ids(self, eid: str, xid: str, location: str | None) -> tuple[str, str, str]:
        location = location or self.client.team(f"/experiments/{eid}/executions/{xid}")
        self.experiment_id, self.execution_id, self.location = eid, xid, location
        if self.log is not None:
            self.log.append({"op": "ids", "experiment_id": eid, "execution_id": xid, "location": location})
        return eid, xid, location

    def _execution_path(self, suffix: str = "") -> str:
        return f"/experiments/{self.experiment_id}/executions/{self.execution_id}{suffix}"

    def batch_supported(self, timeout: Timeout) -> bool:
        """Whether the server takes event batches (asked once; raises ApiError when it cannot be asked)."""
        with self._capabilities_lock:  # another thread asking now: its answer is ours
            if self._batch is None:
                self._batch = "events-batch" in self.client.capabilities(timeout=timeout)
            return self._batch

    def add(self, messages: list[Message]) -> None:
        """Queue ``messages`` after what is pending; a final journal stays behind every event
        (the run's last events may be queued after it)."""
        with self._lock:
            for m in messages:
                self.pending[m.key] = m
                if m.kind == "journal":
                    self._journal_key = m.key
            if self._journal_key is not None and self._journal_key in self.pending:
                self.pending.move_to_end(self._journal_key)

    def pending_kinds(self) -> list[str]:
        with self._lock:
            return [m.kind for m in self.pending.values()]

    def _claim(self) -> list[Message]:
        """The messages of the next request, claimed: the events at the head (a batch when the
        server takes one), or one other message. Messages that need the execution wait for it.
        Events may go in parallel (the server orders an execution's events by their time), but
        other plugins' requests (a verification run's events, listed in arrival order) wait
        behind an earlier one in flight or waiting."""
        size = 1  # the batch's "[" and "]", and one "," per event after the first
        claim: list[Message] = []
        requests_held = False
        with self._lock:
            for key, m in self.pending.items():
                ordered = m.kind not in ("event", "journal")
                waiting = (m.needs_execution and not self.has_execution) or (ordered and requests_held)
                if key in self._claimed or (waiting and not claim):
                    requests_held = requests_held or ordered
                    continue
                size += len(m.body) + 1
                if claim and (m.kind != "event" or len(claim) >= self.batch_size or size > MAX_BATCH_CHARS):
                    break
                claim.append(m)
                if m.kind != "event" or self._batch is False:
                    break
            self._claimed.update(m.key for m in claim)
        return claim

    def _release(self, messages: list[Message]) -> None:
        with self._lock:
            self._claimed.difference_update(m.key for m in messages)

    def send_next(self, timeout: Timeout) -> bool:
        """Make the next request; ``False`` when nothing can be sent now. Raises :class:`ApiError`
        on a failure worth retrying later; a message the server refuses for good is set aside
        (``rejected``); a batch refused for good is sent again one by one."""
        if self.blocked:
            return False
        messages = self._claim()
        if not messages:
            return False
        try:
            if len(messages) > 1 and not self.batch_supported(timeout):
                self._release(messages[1:])
                messages = messages[:1]
            self._send(messages, timeout)
        except ApiError as exc:
            batch_refused = len(messages) > 1 and exc.status == 404 and self.refusal is None
            if exc.status not in PERMANENT_STATUSES and not batch_refused:  # a 404: a replica without batches
                raise
            if len(messages) > 1:
                self._batch = False
            else:
                self._mark("rejected", messages, str(exc))
                what = {"journal": "the final journal", "event": "an event"}.get(messages[0].kind)
                self.rejections.append(f"{what or 'a message'} ({exc})")
        finally:
            self._release(messages)
        return True

    def send_pending(self, timeout: Callable[[], Timeout | None]) -> None:
        """Send until nothing more can be sent now (``timeout()``: ``None`` when time is up), or
        raise :class:`ApiError`."""
        while (t := timeout()) is not None and self.send_next(t):
            pass

    def _send(self, messages: list[Message], t: Timeout) -> None:
        first = messages[0]
        if len(messages) > 1:
            batch = orjson.dumps([orjson.Fragment(m.body) for m in messages])
            self._request("POST", self._execution_path("/events/batch"), t, data=batch,
                          headers={"Content-Type": BATCH_CONTENT_TYPE})  # fmt: skip
        elif first.kind == "event":
            self._request("POST", self._execution_path("/events"), t, data=first.body.encode(),
                          headers={"Content-Type": CONTENT_TYPE})  # fmt: skip
        else:
            body = loads(first.body)
            ids = {"experiment_id": self.experiment_id, "execution_id": self.execution_id}
            if first.kind == "journal":
                if isinstance(body, dict):
                    chaosiq_extension(body, create=True).update(ids)
                self._request("PUT", self._execution_path(), t, **_json({"journal": body}))
            else:
                body = {**(body or {}), **ids} if first.with_execution else body
                self._request(first.method, first.path or "", t, **_json(body, first.headers))
        self._mark("done", messages)

    def _mark(self, op: str, messages: list[Message], reason: str | None = None) -> None:
        keys = [m.key for m in messages]
        with self._lock:
            for k in keys:
                self.pending.pop(k, None)
            if op == "done":
                self.delivered += len(keys)
        if self.log is not None:
            self.log.append({"op": op, "keys": keys, **({"reason": reason} if reason else {})})
