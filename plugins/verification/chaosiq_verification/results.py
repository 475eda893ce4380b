"""Results of a verification: the sample counts, the outcome, the exit code, and how they are
written out (the journal file and the table printed at the end)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import click

from chaosiq_core.serialize import dumps
from chaosiq_verification.exitcodes import (  # noqa: F401 - re-exported
    EXIT_CODES_HELP,
    EXIT_DEVIATED,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_INVALID,
    EXIT_PASSED,
)

OUTCOME_EXIT = {
    "passed": EXIT_PASSED,
    "failed": EXIT_FAILED,
    "deviated": EXIT_DEVIATED,
    "interrupted": EXIT_INTERRUPTED,
}


@dataclass
class Results:
    """The ``results`` object sent to ``…/finished`` (the original's five keys)."""

    successful_samples: int
    deviated_samples: int
    not_run_samples: int
    total_number_of_samples: int
    total_duration: float

    def as_payload(self) -> dict[str, Any]:
        """The five keys of the original's ``results``."""
        return asdict(self)


def count_samples(samples: list[Any]) -> tuple[int, int, int]:
    """(successful, deviated, not run): ``steady_state_met`` True, False, anything else."""
    ok = bad = not_run = 0
    for sample in samples:
        met = sample.get("steady_state_met") if isinstance(sample, dict) else None
        if met is True:
            ok += 1
        elif met is False:
            bad += 1
        else:
            not_run += 1
    return ok, bad, not_run


def summarize(journal: dict[str, Any], total_duration: float) -> Results:
    """Count the samples of ``journal["steady_states"]["during"]``."""
    samples = (journal.get("steady_states") or {}).get("during") or []
    ok, bad, not_run = count_samples(samples)
    return Results(ok, bad, not_run, len(samples), round(float(total_duration), 3))


def gate_not_met(journal: dict[str, Any]) -> bool:
    """``True`` when the steady state before the conditions was evaluated and not met."""
    before = (journal.get("steady_states") or {}).get("before")
    return isinstance(before, dict) and before.get("steady_state_met") is False


def outcome(journal: dict[str, Any], results: Results) -> str:
    """``passed``, ``deviated``, ``failed`` or ``interrupted``."""
    status = journal.get("status")
    if status == "interrupted":
        return "interrupted"
    if status in ("failed", "aborted") or gate_not_met(journal):
        return "failed"
    if journal.get("deviated") or results.deviated_samples:
        return "deviated"
    if status != "completed":
        return "failed"
    return "passed"


def exit_code(result: str) -> int:
    """The process exit code of an outcome (documented in ``chaos verify --help``)."""
    return OUTCOME_EXIT.get(result, EXIT_FAILED)


def table_rows(results: Results, result: str, phases: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The rows of the table printed at the end of ``chaos verify``."""
    rows = [
        ("outcome", result),
        ("samples", str(results.total_number_of_samples)),
        ("  within tolerance", str(results.successful_samples)),
        ("  deviated", str(results.deviated_samples)),
        ("  not run", str(results.not_run_samples)),
    ]
    for phase in phases:
        if phase.get("duration") is not None:
            rows.append((f"{phase['name']}", f"{phase['duration']:.2f} s"))
    rows.append(("total duration", f"{results.total_duration:.2f} s"))
    return rows


def render_table(rows: list[tuple[str, str]]) -> str:
    """A plain two-column table (used when rich is not attached to a terminal)."""
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"  {k.ljust(width)}  {v}" for k, v in rows)


def write_journal(journal: dict[str, Any], path: str) -> None:
    """Write the journal as ``chaos run`` does (indented UTF-8 JSON, tolerant of odd types)."""
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(dumps(journal, indent=2))


def print_results(
    results: Results,
    result: str,
    phases: list[dict[str, Any]],
    journal_path: str,
    run_id: str | None = None,
) -> None:
    """The table printed (on stderr) once the verification is over."""
    rows = table_rows(results, result, phases)
    if run_id:
        rows.append(("verification run", run_id))
    rows.append(("journal", journal_path))
    colour = {"passed": "green", "deviated": "yellow"}.get(result, "red")
    click.secho(f"Verification {result}", fg=colour, bold=True, err=True)
    click.echo(render_table(rows), err=True)
