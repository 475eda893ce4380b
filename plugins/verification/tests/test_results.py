"""Sample counts, outcomes and exit codes."""

from __future__ import annotations

import pytest
from chaosiq_verification import results as res


def _journal(status: str = "completed", during: list | None = None, **kw: object) -> dict:
    return {
        "status": status,
        "deviated": kw.get("deviated", False),
        "steady_states": {"before": kw.get("before", {"steady_state_met": True}), "during": during or []},
    }


def test_counts_met_deviated_and_not_run() -> None:
    during = [{"steady_state_met": True}] * 3 + [{"steady_state_met": False}] * 2 + [None, {"probes": []}]
    r = res.summarize(_journal(during=during), 4.5)
    assert r.as_payload() == {
        "successful_samples": 3,
        "deviated_samples": 2,
        "not_run_samples": 2,
        "total_number_of_samples": 7,
        "total_duration": 4.5,
    }


@pytest.mark.parametrize(
    ("journal", "expected", "code"),
    [
        (_journal(during=[{"steady_state_met": True}]), "passed", 0),
        (_journal(during=[{"steady_state_met": False}]), "deviated", 3),
        (_journal(deviated=True), "deviated", 3),
        (_journal(status="failed"), "failed", 1),
        (_journal(status="aborted"), "failed", 1),
        (_journal(before={"steady_state_met": False}), "failed", 1),
        (_journal(status="interrupted", during=[{"steady_state_met": False}]), "interrupted", 4),
    ],
)
def test_outcome_and_exit_code(journal: dict, expected: str, code: int) -> None:
    outcome = res.outcome(journal, res.summarize(journal, 1.0))
    assert outcome == expected
    assert res.exit_code(outcome) == code


def test_exit_codes_are_distinct_and_documented() -> None:
    codes = [res.EXIT_PASSED, res.EXIT_FAILED, res.EXIT_INVALID, res.EXIT_DEVIATED, res.EXIT_INTERRUPTED]
    assert len(set(codes)) == 5
    for code, word in zip(codes, ["passed", "failed", "invalid", "deviated", "interrupted"], strict=True):
        assert f"{code} {word}" in res.EXIT_CODES_HELP
