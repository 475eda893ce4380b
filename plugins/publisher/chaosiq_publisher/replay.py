"""``chaos publish``: send what the outbox holds, or publish a journal file.

Both are idempotent: events are deduplicated by the server on their CloudEvent
id, the experiment on its content/id, and a journal that carries its
``execution_id`` updates that execution instead of creating another.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaosiq_core import settings as s
from chaosiq_core.api import ApiClient
from chaosiq_core.errors import ApiError, ChaosIQError, DroppedError, UsageError
from chaosiq_core.experiment import configuration_and_secrets
from chaosiq_core.files import LockTimeout, write_atomic
from chaosiq_core.hooks import Hooks
from chaosiq_core.journal import chaosiq_extension, extension_value
from chaosiq_core.redaction import Redactor
from chaosiq_core.serialize import to_jsonable
from chaosiq_core.types import Scope
from chaosiq_publisher.outbox import Message, RunLog, outbox_files, read_log
from chaosiq_publisher.sender import TEAM, Sender, within

logger = logging.getLogger("chaostoolkit.chaosiq.publish")
TIMEOUT = (3.05, 15.0)


@dataclass
class Replay:
    """``chaos publish`` sending the outbox, and what it did."""

    settings: dict[str, Any]
    hooks: Hooks
    deadline_s: float = 120.0
    """Per run log."""
    retarget: bool = False
    """Runs whose team the server refused go to the team of the settings first."""
    runs: int = 0
    delivered: int = 0
    rejected: int = 0
    remaining: int = 0
    busy: int = 0
    lines: list[str] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    """What the server refused for good (the token, a team), with what to do."""

    def outbox(self) -> Replay:
        """Send every pending message of every run log that no running ``chaos`` holds."""
        for path in outbox_files():
            self.run_log(path)
        return self

    def run_log(self, path: Path) -> None:
        """Send every pending message of a run log, unless a running ``chaos`` holds it."""
        try:
            log = RunLog(path, wait=0)
        except LockTimeout:
            self.busy += 1
            self.lines.append(f"{path.name}: skipped, a running `chaos` process is writing it")
            return
        state = read_log(path)
        header = state.header
        name = header.get("run_id") or path.stem
        if self.retarget and state.error.get("refusal") == TEAM and not state.ids.get("execution_id"):
            header = state.header = self._retargeted(log, header, name)
        journals = [m for m in state.messages.values() if m.get("kind") == "journal"]
        if not journals and isinstance(header.get("journal"), dict):
            # the `chaos` process died (kill -9, OOM, power) before it queued a final journal:
            # the execution would stay "running" for good
            journals = [record := _interrupted_journal(header, name)]
            log.append(record)
            state.messages[record["key"]] = record
            self.lines.append(
                f"run {name}: its `chaos` process ended without a final journal (killed?); "
                "the execution is marked interrupted"
            )
        pending = state.pending
        if not pending:
            if state.rejected:  # kept, never sent again: the user drops them
                self.lines.append(
                    f"run {name}: keeps {len(state.rejected)} message(s) the server refused for good "
                    f"({state.reason}); remove them with `chaos publish --drop {name}`"
                )
            log.close(delete=not state.rejected)
            return
        self.runs += 1
        if not header.get("url") or not header.get("org_id") or not header.get("team_id"):
            self.remaining += len(pending)
            self.lines.append(f"run {name}: the log has no server or team: cannot send it")
            log.close()
            return
        scope = Scope(str(header["org_id"]), str(header["team_id"]))
        client = ApiClient.for_settings(self.settings, self.hooks, url=header["url"], scope=scope)
        assert client is not None  # there is a URL
        sender = Sender(client.without_retries(), log, run_id=name)  # the sender retries itself
        sender.add([Message.from_record(m) for m in pending.values()])
        if (ids := state.ids).get("experiment_id") and ids.get("execution_id"):
            sender.set_ids(ids["experiment_id"], ids["execution_id"], ids.get("location"))
        journal = next((m["json"] for m in journals if m["key"] in pending), header.get("journal")) or {}
        self._send(sender, header.get("experiment") or {}, journal, name)
        self.delivered += sender.delivered
        self.rejected += len(sender.rejections)
        self.lines += [f"run {name}: the server refused {r} for good" for r in sender.rejections]
        left = len(sender.pending)
        self.remaining += left
        if left:
            log.append({"op": "error", "reason": sender.last_error, "refusal": sender.refusal})
        where = f" ({sender.console_url})" if sender.console_url else ""
        self.lines.append(f"run {name}: {sender.delivered} sent, {left} still pending{where}")
        log.close(delete=left == 0 and not state.rejected and not sender.rejections)

    def _send(self, sender: Sender, experiment: Any, journal: Any, name: str) -> None:
        """Create the execution if needed and send; a busy server (5xx, 429, a dropped connection)
        is tried again a few times, after its ``Retry-After`` when it gives one, within the deadline."""
        deadline = time.monotonic() + self.deadline_s
        for attempt in range(1, 5):
            try:
                if not sender.has_execution:
                    known = extension_value(experiment, "experiment_id")
                    sender.create_execution(experiment, journal, TIMEOUT, experiment_id=known)
                sender.send_pending(lambda: within(deadline, TIMEOUT))
                return
            except ApiError as exc:
                wait = max(sender.hold_until - time.monotonic(), 0.5 * 2**attempt)
                busy = exc.status in (429, 500, 502, 503, 504) or isinstance(exc, DroppedError)
                again = busy and sender.refusal is None and attempt < 4 and time.monotonic() + wait < deadline
                if not again:
                    self.lines.append(f"run {name}: {sender.last_error or exc}")
                    if sender.refusal is not None:
                        self.refusals.append(sender.last_error or str(exc))
                    return
                time.sleep(wait)

    def _retargeted(self, log: RunLog, header: dict[str, Any], name: str) -> dict[str, Any]:
        """The run's header aimed at the server, organization and team of the settings (logged)."""
        url, scope = s.get_url(self.settings), self.hooks.api_scope(self.settings)
        if not url or scope is None:
            raise ChaosIQError(
                "no ChaosIQ server or team in the settings: run `chaos signin` or `chaos team` first"
            )
        target = {"url": ApiClient(url).url, "org_id": scope.org_id, "team_id": scope.team_id}
        moved = {**header, **target, "retargeted_from": {k: header.get(k) for k in target}}
        log.append(moved)
        where = f"{_target(header, self.settings)} to {_target(moved, self.settings)}"
        self.lines.append(f"run {name}: moved from {where}")
        return moved


def _target(header: dict[str, Any], settings: dict[str, Any]) -> str:
    """``team <name> (<id>) of organization <name> at <url>``, names from the settings."""
    org_id, team_id = header.get("org_id"), header.get("team_id")
    org = next((o for o in s.organizations(settings) if isinstance(o, dict) and o.get("id") == org_id), {})
    team = next((x for x in org.get("teams") or [] if isinstance(x, dict) and x.get("id") == team_id), {})

    def label(item: dict[str, Any], ident: Any) -> str:
        return f"'{item['name']}' ({ident})" if item.get("name") else f"'{ident}'"

    return f"team {label(team, team_id)} of organization {label(org, org_id)} at {header.get('url')}"


def entries(settings: dict[str, Any]) -> list[str]:
    """``chaos publish --list``: one block per run log of the outbox."""
    out = []
    for path in outbox_files():
        state = read_log(path)
        h = state.header
        experiment: dict[str, Any] = h["experiment"] if isinstance(h.get("experiment"), dict) else {}
        kinds = [m.get("kind") for m in state.pending.values()]
        try:
            RunLog(path, wait=0).close()
            busy = ""
        except LockTimeout:
            busy = " (a running `chaos` is writing it)"
        out += [
            f'{h.get("run_id") or path.stem}: "{experiment.get("title") or "(untitled)"}", '
            f"created {h.get('created') or '?'}{busy}",
            f"  to {_target(h, settings)}",
            f"  {len(kinds)} message(s) pending ({kinds.count('event')} event(s)"
            + (", the final journal" if "journal" in kinds else "")
            + f"), {len(state.rejected)} refused for good",
        ]
        if state.error.get("reason") and kinds:
            out.append(f"  last error: {state.error['reason']}")
        if state.rejected:
            out.append(f"  refused: {state.reason}")
    return out


def find_entry(ident: str) -> Path:
    """The run log whose run id is ``ident``, or the one run id that starts with it."""
    files = outbox_files()
    found = [p for p in files if p.stem == ident] or [p for p in files if ident and p.stem.startswith(ident)]
    if len(found) != 1:
        what = "no run" if not found else f"{len(found)} runs"
        raise UsageError(f"{what} in the outbox match '{ident}': see `chaos publish --list`")
    return found[0]


def drop(path: Path) -> None:
    """Delete a run log (``chaos publish --drop``); refused while a running ``chaos`` holds it."""
    try:
        RunLog(path, wait=0).close(delete=True)
    except LockTimeout:
        busy = f"{path.stem} is being written by a running `chaos`: drop it once it ends"
        raise ChaosIQError(busy) from None


def _interrupted_journal(header: dict[str, Any], name: str) -> dict[str, Any]:
    """The final journal of a run whose process died: its first journal, status ``interrupted``."""
    journal = to_jsonable(header["journal"])  # a copy: the header stays as it was read
    journal["status"] = "interrupted"
    reason = "the chaos process ended without a final journal"
    chaosiq_extension(journal, create=True).update(finalized_by="chaos publish", reason=reason)
    return {"op": "msg", "key": f"journal:{name}", "kind": "journal", "method": "PUT", "json": journal}


def publish_journal(path: Path, settings: dict[str, Any], hooks: Hooks) -> tuple[str, str, str | None]:
    """Publish a journal file as a complete execution; returns (experiment id, execution id, URL).
    Creates the execution, or updates the one the journal names, or its run's (``run_id``)
    when it has one, with the journal's status. The ids are written back into the file, so a
    second publish updates the same execution. The redactor knows the secrets the experiment
    loads from ``env``/``vault`` when they can be loaded here.
    """
    try:
        journal = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ChaosIQError(f"no journal at {path}") from None
    except (OSError, ValueError) as exc:
        raise ChaosIQError(f"{path} is not a JSON journal: {exc}") from None
    if not isinstance(journal, dict) or not isinstance(journal.get("experiment"), dict):
        raise ChaosIQError(f"{path} is not a Chaos Toolkit journal (no 'experiment')")
    client = ApiClient.for_settings(settings, hooks)
    if client is None:
        raise ChaosIQError("no ChaosIQ server in the settings: run `chaos signin` first")
    client.team()  # raises when there is no default organization and team
    experiment = journal["experiment"]
    configuration: dict[str, Any] | None = None
    secrets: dict[str, Any] | None = None
    try:
        configuration, secrets = configuration_and_secrets(experiment)
    except ChaosIQError as exc:
        logger.warning("chaosiq: %s here: its env or vault values are not known to the redaction", exc)
    redact = Redactor.for_run(experiment, secrets=secrets, configuration=configuration, settings=settings)
    jext, eext = chaosiq_extension(journal) or {}, chaosiq_extension(experiment) or {}
    run_id = jext.get("run_id") if isinstance(jext.get("run_id"), str) else None
    sender = Sender(client.without_retries(), None, run_id=run_id or None)  # the sender retries itself
    xid = jext.get("execution_id") or eext.get("execution_id")
    known_eid = jext.get("experiment_id") or eext.get("experiment_id")
    body_exp, body = redact(experiment), redact(journal)
    if known_eid:
        chaosiq_extension(body_exp, create=True)["experiment_id"] = known_eid
    if xid:  # published before: update that execution, if the server still knows it
        eid = sender.store_experiment(body_exp, TIMEOUT, experiment_id=known_eid)
    else:  # a new execution, or the run's (created by the run or `chaos publish`): then updated
        eid, xid, _ = sender.create_execution(body_exp, body, TIMEOUT, experiment_id=known_eid)
    if not sender.created:
        try:
            execution = f"/experiments/{eid}/executions/{xid}"
            r = sender.client.request("PUT", execution, json={"journal": body}, timeout=TIMEOUT)
            sender.set_ids(eid, str(xid), r.headers.get("Content-Location"))
        except ApiError as exc:
            if exc.status != 404:
                raise
            eid, xid, _ = sender.create_execution(body_exp, body, TIMEOUT, experiment_id=known_eid)
    ext = chaosiq_extension(journal, create=True)
    if ext.get("experiment_id") != eid or ext.get("execution_id") != xid:
        ext["experiment_id"], ext["execution_id"] = str(eid), str(xid)
        try:
            write_atomic(path, json.dumps(journal, indent=2, ensure_ascii=False))
        except OSError as exc:
            logger.warning("chaosiq: could not record the execution id in %s: %s", path, exc)
    return str(eid), str(xid), sender.console_url
