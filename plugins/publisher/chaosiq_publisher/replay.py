"""``chaos publish``: send what the outbox holds, or publish a journal file.

Both are idempotent: events are deduplicated by the server on their CloudEvent
id, the experiment on its content/id, and a journal that carries its
``execution_id`` updates that execution instead of creating another.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaosiq_core import settings as s
from chaosiq_core.api import ApiClient
from chaosiq_core.errors import ApiError, ChaosIQError
from chaosiq_core.hooks import Hooks
from chaosiq_core.journal import chaosiq_extension
from chaosiq_core.redaction import Redactor
from chaosiq_core.serialize import to_jsonable
from chaosiq_core.types import Scope
from chaosiq_publisher.outbox import Message, RunLog, outbox_files, read_log
from chaosiq_publisher.sender import Sender, within

logger = logging.getLogger("chaostoolkit.chaosiq.publish")
TIMEOUT = (3.05, 15.0)


@dataclass
class ReplayReport:
    """What ``chaos publish`` did with the outbox."""

    runs: int = 0
    delivered: int = 0
    rejected: int = 0
    remaining: int = 0
    busy: int = 0
    lines: list[str] = field(default_factory=list)


def _client(url: str, settings: dict[str, Any], hooks: Hooks, scope: Scope | None) -> ApiClient:
    configured = s.get_url(settings)
    verify = s.get_verify_tls(settings) if configured and s.host_of(configured) == s.host_of(url) else True
    token = hooks.token(url, settings)
    return ApiClient(url, token, verify_tls=verify, scope=scope, allow_insecure_http=not verify)


def replay_outbox(settings: dict[str, Any], hooks: Hooks, *, deadline_s: float = 120.0) -> ReplayReport:
    """Send every pending message of every run log that no running ``chaos`` holds."""
    report = ReplayReport()
    for path in outbox_files():
        log = RunLog.open_existing(path)
        if log is None:
            report.busy += 1
            report.lines.append(f"{path.name}: skipped, a running `chaos` process is writing it")
            continue
        _replay_one(path, log, settings, hooks, report, deadline_s)
    return report


def _replay_one(
    path: Path, log: RunLog, settings: dict[str, Any], hooks: Hooks, report: ReplayReport, deadline_s: float
) -> None:
    state = read_log(path)
    header = state.header
    name = header.get("run_id") or path.stem
    if _ended_without_journal(state.messages.values(), header):
        # the `chaos` process died (kill -9, OOM, power): nobody holds the log's lock and
        # no final journal was ever queued, so the execution would stay "running" for good
        record = _interrupted_journal(header, name)
        log.append(record)
        state.messages[record["key"]] = record
        report.lines.append(
            f"run {name}: its `chaos` process ended without a final journal (killed?); "
            "the execution is marked interrupted"
        )
    pending = state.pending
    if not pending:
        log.close(delete=True)
        return
    report.runs += 1
    if not header.get("url") or not header.get("org_id") or not header.get("team_id"):
        report.remaining += len(pending)
        report.lines.append(f"run {name}: the log has no server or team: cannot send it")
        log.close()
        return
    scope = Scope(str(header["org_id"]), str(header["team_id"]))
    sender = Sender(_client(header["url"], settings, hooks, scope), log)
    sender.add([Message.from_record(m) for m in pending.values()])
    try:
        if state.ids.get("experiment_id") and state.ids.get("execution_id"):
            sender.experiment_id = state.ids["experiment_id"]
            sender.execution_id = state.ids["execution_id"]
            sender.location = state.ids.get("location")
        else:
            journal = next(
                (m["json"] for m in pending.values() if m.get("kind") == "journal"), header.get("journal")
            )
            sender.create_execution(header.get("experiment") or {}, journal or {}, TIMEOUT)
        deadline = time.monotonic() + deadline_s
        sender.send_pending(lambda: within(deadline, TIMEOUT))
    except ApiError as exc:
        report.lines.append(f"run {name}: {exc}")
    report.delivered += sender.delivered
    report.rejected += sender.rejected
    left = len(sender.pending)
    report.remaining += left
    where = f" ({sender.console_url})" if sender.console_url else ""
    report.lines.append(f"run {name}: {sender.delivered} sent, {left} still pending{where}")
    log.close(delete=left == 0)


def _ended_without_journal(messages: Any, header: dict[str, Any]) -> bool:
    return isinstance(header.get("journal"), dict) and not any(m.get("kind") == "journal" for m in messages)


def _interrupted_journal(header: dict[str, Any], name: str) -> dict[str, Any]:
    """The final journal of a run whose process died: its first journal, status ``interrupted``."""
    journal = to_jsonable(header["journal"])  # a copy: the header stays as it was read
    journal["status"] = "interrupted"
    reason = "the chaos process ended without a final journal"
    (chaosiq_extension(journal, create=True) or {}).update(finalized_by="chaos publish", reason=reason)
    return {"op": "msg", "key": f"journal:{name}", "kind": "journal", "method": "PUT", "json": journal}


# ------------------------------------------------------------ journal file


def publish_journal(path: Path, settings: dict[str, Any], hooks: Hooks) -> tuple[str, str, str | None]:
    """Publish a journal file as a complete execution; returns (experiment id, execution id, URL).

    Creates the execution, or updates it when the journal names one the server
    knows. The journal's status is sent as it is. The ids are written back into
    the file's ``extensions[name=chaosiq]`` so a second publish updates the same
    execution.
    """
    try:
        journal = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ChaosIQError(f"no journal at {path}") from None
    except (OSError, ValueError) as exc:
        raise ChaosIQError(f"{path} is not a JSON journal: {exc}") from None
    if not isinstance(journal, dict) or not isinstance(journal.get("experiment"), dict):
        raise ChaosIQError(f"{path} is not a Chaos Toolkit journal (no 'experiment')")
    url = s.get_url(settings)
    if not url:
        raise ChaosIQError("no ChaosIQ server in the settings: run `chaos signin` first")
    scope = hooks.api_scope(settings)
    if scope is None:
        raise ChaosIQError("no default organization and team: run `chaos signin` (or `chaos team`)")
    sender = Sender(_client(url, settings, hooks, scope), None)
    experiment = journal["experiment"]
    redact = Redactor.for_run(
        experiment,
        settings=settings,
        extra_keys=s.options(settings, "redaction").get("keys") or (),
    )
    jext = chaosiq_extension(journal) or {}
    eext = chaosiq_extension(experiment) or {}
    xid = jext.get("execution_id") or eext.get("execution_id")
    known_eid = jext.get("experiment_id") or eext.get("experiment_id")
    body_exp = redact(experiment)
    if known_eid:
        chaosiq_extension(body_exp, create=True)["experiment_id"] = known_eid  # type: ignore[index]
    body = redact(journal)
    if xid:  # published before: update that execution, if the server still knows it
        eid = sender.store_experiment(body_exp, TIMEOUT, experiment_id=known_eid)
        try:
            r = sender.client.request(
                "PUT", f"/experiments/{eid}/executions/{xid}", json={"journal": body}, timeout=TIMEOUT
            )
            sender.set_ids(eid, str(xid), r.headers.get("Content-Location"))
        except ApiError as exc:
            if exc.status != 404:
                raise
            xid = None
    if not xid:
        eid, xid, _ = sender.create_execution(body_exp, body, TIMEOUT, experiment_id=known_eid)
    ext = chaosiq_extension(journal, create=True)
    assert ext is not None
    if ext.get("experiment_id") != eid or ext.get("execution_id") != xid:
        ext["experiment_id"], ext["execution_id"] = str(eid), str(xid)
        _write_json(path, journal)
    return str(eid), str(xid), sender.console_url


def _write_json(path: Path, doc: Any) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=str(path.parent))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, indent=2, ensure_ascii=False)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        logger.warning("chaosiq: could not record the execution id in %s: %s", path, exc)
