"""Which safeguard stopped a run, its source and its reason, for the execution page.

The safeguards plugin says it twice: a ``safeguard-triggered`` event as the stop
happens (``data.context`` = ``{source, reason, details}``: live, with its time)
and, in the final journal, ``interruption`` (``{kind: "safeguard", name, reason}``)
and the ``chaosiq`` extension's ``safeguards`` list (the server's policy objects,
one entry per other source). A source is ``server`` (a policy of this server),
``probe:<name>`` (a safeguard probe run by ``chaos`` itself) or the name of a
third-party plugin; a stop said by several at once names them all and carries
each vote in ``details.verdicts``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .timefmt import show_time

REASON_MAX = 500


@dataclass(frozen=True)
class Stop:
    """One safeguard that said stop."""

    name: str
    source: str  # "server policy", "local safeguard probe", "plugin"
    reason: str
    by: str = ""
    when: str = ""


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= REASON_MAX else text[: REASON_MAX - 1] + "…"


def _policy(policy: dict[str, Any], when: str) -> Stop:
    return Stop(
        name=_text(policy.get("name") or policy.get("id") or "policy"),
        source="server policy",
        reason=_text(policy.get("reason")),
        by=_text(policy.get("created_by")),
        when=when,
    )


def _vote(source: str, reason: Any, details: dict[str, Any], when: str) -> list[Stop]:
    """The stops of one verdict (a combined one is expanded into its votes)."""
    verdicts = [v for v in details.get("verdicts") or [] if isinstance(v, dict)]
    if verdicts:
        out: list[Stop] = []
        for v in verdicts:
            out.extend(_vote(str(v.get("source") or ""), v.get("reason"), _dict(v.get("details")), when))
        return out
    policies = [p for p in details.get("policies") or [] if isinstance(p, dict)]
    if source == "server" and policies:
        return [_policy(p, when) for p in policies]
    if source == "server":
        return [Stop("server", "server policy", _text(reason), when=when)]
    if source.startswith("probe:"):
        return [Stop(_text(source.removeprefix("probe:")), "local safeguard probe", _text(reason), when=when)]
    return [Stop(_text(source or "unnamed"), "plugin", _text(reason), when=when)]


def _from_events(events: list[dict[str, Any]]) -> list[Stop]:
    out: list[Stop] = []
    for event in events:
        if event.get("type") != "safeguard-triggered":
            continue
        context = _dict(_dict(event.get("data")).get("context"))
        source = str(context.get("source") or "")
        out.extend(
            _vote(source, context.get("reason"), _dict(context.get("details")), show_time(event.get("time")))
        )
    return out


def _chaosiq_extension(journal: dict[str, Any]) -> dict[str, Any]:
    for ext in journal.get("extensions") or []:
        if isinstance(ext, dict) and ext.get("name") == "chaosiq":
            return ext
    return {}


def _from_journal(journal: dict[str, Any]) -> list[Stop]:
    out: list[Stop] = []
    for entry in _chaosiq_extension(journal).get("safeguards") or []:
        if not isinstance(entry, dict) or entry.get("allowed") is not False:
            continue
        if entry.get("source") == "server" and "decision" not in entry:
            out.append(_policy(entry, show_time(entry.get("created_at"))))
        else:
            source = str(entry.get("source") or entry.get("name") or "")
            out.extend(_vote(source, entry.get("reason"), _dict(entry.get("details")), ""))
    if not out:
        interruption = _dict(journal.get("interruption"))
        if interruption.get("kind") == "safeguard":
            out.extend(_vote(str(interruption.get("name") or ""), interruption.get("reason"), {}, ""))
    return out


def safeguard_stops(journal: dict[str, Any], events: list[dict[str, Any]]) -> list[Stop]:
    """Every safeguard that said stop: from the events (with their time) while there are
    some, else from the final journal."""
    return _from_events(events) or _from_journal(journal)
