"""The outcome of an execution or a verification run: what a user means by "how did it go".

A journal's ``status`` is not that. chaostoolkit-lib (1.44 and the newer lines
alike) writes ``completed`` when the steady state before the method is not met
(``failed`` only when one of its probes raised), ``completed`` when an action
failed, and ``completed`` with ``deviated: true`` when the steady state after
the method is not met. Every page, list and API answer that shows how a run
went takes its word from here, so that they cannot disagree:

==============  =============================================================
``running``     the execution has no final journal yet / the run is going on
``interrupted`` the journal says ``interrupted`` (a stop, a safeguard, a signal)
``aborted``     the journal says ``aborted`` (an unexpected error in the run)
``failed``      the steady state before the method was not met, an activity
                (method or rollback) failed, or the journal says ``failed``
                with nothing else to explain it
``deviated``    the steady state after the method was not met
                (``deviated: true``), or a sample taken during the method or a
                verification's conditions was not met
``passed``      ``completed`` and none of the above
``unknown``     any other status (a journal from another tool), or a journal
                that could not be read (nothing to tell how the run went)
==============  =============================================================

The first that applies wins, in the order of the table (a failed steady state
before the method comes before a deviation: the method never ran); every
finding is kept in :attr:`Outcome.reasons`, the first one explaining the word.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

RUNNING = "running"
INTERRUPTED = "interrupted"
ABORTED = "aborted"
FAILED = "failed"
DEVIATED = "deviated"
PASSED = "passed"
UNKNOWN = "unknown"
WORDS = (RUNNING, INTERRUPTED, ABORTED, FAILED, DEVIATED, PASSED, UNKNOWN)


@dataclass(frozen=True)
class Outcome:
    """An outcome word and the findings behind it (the first explains the word)."""

    word: str
    reasons: tuple[str, ...] = ()

    @property
    def css(self) -> str:
        """The console's CSS class for the word (its colour)."""
        return f"outcome-{self.word}"

    @property
    def summary(self) -> str:
        return "; ".join(self.reasons)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _name(run: dict[str, Any]) -> str:
    activity = _dict(run.get("activity"))
    kind = activity.get("type") if activity.get("type") in ("action", "probe") else "activity"
    return f"{kind} '{activity.get('name') or 'unnamed'}'"


def _steady_probes(state: dict[str, Any]) -> str:
    """`` (probe 'x' out of tolerance)``: which probes of a steady state did not hold."""
    bad = []
    for probe in _list(state.get("probes")):
        probe = _dict(probe)
        name = _dict(probe.get("activity")).get("name") or "unnamed"
        if probe.get("status") not in (None, "succeeded"):
            bad.append(f"probe '{name}' failed")
        elif probe.get("tolerance_met") is False:
            bad.append(f"probe '{name}' out of tolerance")
    return f" ({', '.join(bad)})" if bad else ""


def _interruption(journal: dict[str, Any]) -> str:
    record = _dict(journal.get("interruption"))
    kind, name, reason = (str(record.get(k) or "") for k in ("kind", "name", "reason"))
    if kind == "safeguard":
        return f"stopped by the safeguard {name}" + (f": {reason}" if reason else "")
    if kind == "signal":
        return f"stopped by the signal {name}" if name else "stopped by a signal"
    if name or reason:
        return "stopped" + (f" by {name}" if name else "") + (f": {reason}" if reason else "")
    return "the run was stopped before its end (a stop request, a safeguard or a signal)"


def _findings(journal: dict[str, Any], samples: tuple[int, int | None] | None) -> dict[str, list[str]]:
    """What went wrong, by kind: ``before`` (gate not met), ``deviated``, ``failed`` and
    ``unfinished`` (activities). ``samples``: (deviated, total) as a verification counted them."""
    found: dict[str, list[str]] = {"before": [], "deviated": [], "failed": [], "unfinished": []}
    steady = _dict(journal.get("steady_states"))
    before = _dict(steady.get("before"))
    if before.get("steady_state_met") is False:
        found["before"].append("steady state before the method not met" + _steady_probes(before))
    after = _dict(steady.get("after"))
    if after.get("steady_state_met") is False:
        found["deviated"].append("steady state after the method not met" + _steady_probes(after))
    if samples is None:
        during = [_dict(s) for s in _list(steady.get("during"))]
        samples = (sum(1 for s in during if s.get("steady_state_met") is False), len(during))
    deviated, total = samples
    if deviated:
        of = f" of {total}" if total else ""
        found["deviated"].append(f"{deviated}{of} samples of the steady state not met")
    if journal.get("deviated") is True and not found["deviated"]:
        found["deviated"].append("the journal says the steady state deviated")
    for where, runs in (("", journal.get("run")), (" (rollback)", journal.get("rollbacks"))):
        for run in _list(runs):
            run = _dict(run)
            if run.get("status") == "failed":
                found["failed"].append(f"{_name(run)} failed{where}")
            elif run and "status" not in run:
                found["unfinished"].append(f"{_name(run)} did not finish{where}")
    return found


def of_journal(status: str | None, journal: Any, samples: tuple[int, int | None] | None = None) -> Outcome:
    """The outcome of a run whose stored status is ``status`` and journal is ``journal``.

    ``status`` is the execution's status (the journal's own when absent);
    ``samples``: a verification's (deviated, total) sample counts, when it reported
    them (else the journal's ``steady_states.during`` samples are counted).
    """
    readable = isinstance(journal, dict)
    journal = _dict(journal)
    status = status or journal.get("status")
    if status == RUNNING:
        return Outcome(RUNNING, ("the run is going on",))
    if not readable and status in ("completed", "failed"):
        return Outcome(UNKNOWN, (f"status {status!r} but the journal could not be read",))
    found = _findings(journal, samples)
    others = found["before"] + found["deviated"] + found["failed"]
    if status == INTERRUPTED:
        return Outcome(INTERRUPTED, (_interruption(journal), *found["unfinished"], *others))
    if status == ABORTED:
        cause = "the run ended on an unexpected error"
        if found["unfinished"]:
            cause += " in " + found["unfinished"][0].removesuffix(" did not finish")
        return Outcome(ABORTED, (cause, *others))
    if status not in ("completed", "failed"):
        return Outcome(UNKNOWN, (f"status {status!r}" if status else "no status",))
    if found["before"]:
        return Outcome(FAILED, tuple(others))
    if found["deviated"]:
        return Outcome(DEVIATED, tuple(others))
    if found["failed"]:
        return Outcome(FAILED, tuple(others))
    if status == "failed":
        return Outcome(FAILED, ("the journal's status is failed",))
    return Outcome(PASSED)


def of_execution(execution: Mapping[str, Any]) -> Outcome:
    """The outcome of a stored execution (``status`` and ``journal``)."""
    return of_journal(execution.get("status"), execution.get("journal"))


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def of_verification_run(run: Mapping[str, Any]) -> Outcome:
    """The outcome of a stored verification run (``state``, ``status``, ``journal``, ``results``)."""
    if run.get("state") == RUNNING:
        return Outcome(RUNNING, ("the verification is going on",))
    journal = _dict(run.get("journal"))
    results = _dict(run.get("results"))
    deviated = _count(results.get("deviated_samples"))
    samples = (deviated, _count(results.get("total_number_of_samples"))) if deviated is not None else None
    status = journal.get("status") or run.get("status")
    return of_journal(status if isinstance(status, str) else None, journal, samples)
