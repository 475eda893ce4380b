"""The outcome rules on journals of the shapes chaostoolkit-lib writes in the cases the real
runs of server/tests/console/test_outcomes.py do not reach (which outcome wins, odd input)."""

from __future__ import annotations

from typing import Any

from chaosiq_server.outcome import of_journal, of_verification_run


def probe(name: str, status: str = "succeeded", tolerance_met: bool | None = True) -> dict[str, Any]:
    return {"activity": {"type": "probe", "name": name}, "status": status, "tolerance_met": tolerance_met}


def steady(met: bool, *probes: dict[str, Any]) -> dict[str, Any]:
    return {"steady_state_met": met, "probes": list(probes)}


def test_a_gate_probe_that_raised_is_failed_whatever_the_status_line_writes() -> None:
    journal = {"status": "failed", "steady_states": {"before": steady(False, probe("db", "failed", None))}}
    found = of_journal("failed", journal)
    assert found.word == "failed"
    assert found.reasons == ("steady state before the method not met (probe 'db' failed)",)


def test_deviated_after_a_failed_after_probe_is_deviated_and_names_the_failed_action_too() -> None:
    journal = {
        "status": "failed",
        "deviated": True,
        "steady_states": {"before": steady(True), "after": steady(False, probe("db", "failed", None))},
        "run": [{"activity": {"type": "action", "name": "kill"}, "status": "failed"}],
    }
    found = of_journal("failed", journal)
    assert found.word == "deviated" and found.css == "outcome-deviated"
    assert found.reasons == (
        "steady state after the method not met (probe 'db' failed)",
        "action 'kill' failed",
    )


def test_a_continuous_hypothesis_that_failed_fast_is_deviated() -> None:
    during = [steady(True), steady(False, probe("p", tolerance_met=False)), steady(False)]
    found = of_journal("failed", {"status": "failed", "steady_states": {"during": during}})
    assert found.word == "deviated" and found.reasons == ("2 of 3 samples of the steady state not met",)


def test_a_failed_rollback_fails_the_run() -> None:
    journal = {"status": "completed", "rollbacks": [{"activity": {"name": "restore"}, "status": "failed"}]}
    assert of_journal("completed", journal).reasons == ("activity 'restore' failed (rollback)",)


def test_a_stopped_run_stays_interrupted_whatever_else_it_found() -> None:
    journal = {
        "status": "interrupted",
        "deviated": True,
        "interruption": {"kind": "signal", "name": "SIGTERM", "reason": "received SIGTERM"},
    }
    found = of_journal("interrupted", journal)
    assert found.word == "interrupted"
    assert found.reasons == ("stopped by the signal SIGTERM", "the journal says the steady state deviated")


def test_running_unknown_and_missing_journals() -> None:
    assert of_journal("running", {"status": "failed"}).word == "running"
    assert of_journal("weird", {}).word == "unknown"
    assert of_journal(None, None).word == "unknown"
    assert of_journal(None, {"status": "completed"}).word == "passed"
    assert of_journal("failed", {}).reasons == ("the journal's status is failed",)


def test_a_finished_status_with_an_unreadable_journal_is_unknown_not_passed() -> None:
    # a legacy row whose journal is not JSON: nothing says the run passed
    found = of_journal("completed", "not a journal")
    assert found.word == "unknown"
    assert found.reasons == ("status 'completed' but the journal could not be read",)
    assert of_journal("failed", None).word == "unknown"


def test_a_verification_run_takes_its_samples_from_its_results() -> None:
    run = {
        "state": "finished",
        "status": "completed",
        "journal": None,
        "results": {"deviated_samples": 2, "total_number_of_samples": 11},
    }
    assert of_verification_run(run).reasons == ("2 of 11 samples of the steady state not met",)
    assert of_verification_run({**run, "results": {"deviated_samples": 0}}).word == "passed"
    assert of_verification_run({**run, "state": "running"}).word == "running"
    assert of_verification_run({"state": "finished", "status": None, "journal": None}).word == "unknown"
