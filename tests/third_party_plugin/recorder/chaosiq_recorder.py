"""A third-party chaosiq plugin used by the tests: it records every lifecycle hook.

Installed by the tests as the distribution its ``pyproject.toml`` declares
(``chaosiq-recorder`` 0.3.0, entry point ``recorder`` in the ``chaosiq``
group) on ``PYTHONPATH`` of a real ``chaos`` subprocess. Its activity and
end-of-run hooks return a line, for wrappers of other plugins to see.

Environment: ``RECORDER_LOG`` — JSON-lines file to append to;
``RECORDER_FAIL_IN`` — comma-separated hook names that raise on purpose.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

from chaosiq_core import hookimpl

_lock = threading.Lock()


def _record(hook: str, **extra: Any) -> None:
    log = os.environ.get("RECORDER_LOG")
    if log:
        thread = threading.current_thread()
        line = {"hook": hook, "main": thread is threading.main_thread(), "thread": thread.ident, **extra}
        with _lock, open(log, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(line) + "\n")
    if hook in os.environ.get("RECORDER_FAIL_IN", "").split(","):
        raise RuntimeError(f"recorder fails in {hook} on purpose")


def _names(runs: Any) -> list[str] | None:
    """The activity names of a list of activity runs (``None`` when there is no list)."""
    if not isinstance(runs, list):
        return None
    return sorted(str(r.get("activity", {}).get("name")) for r in runs if isinstance(r, dict))


_record("imported")


@hookimpl
def chaosiq_settings_loaded(settings: dict[str, Any]) -> None:
    _record("settings_loaded")


@hookimpl
def chaosiq_loading_experiment(source: str) -> None:
    _record("loading_experiment")


@hookimpl
def chaosiq_experiment_loaded(experiment: dict[str, Any] | None) -> None:
    _record("experiment_loaded")


@hookimpl
def chaosiq_run_configured(run: Any) -> None:
    _record("run_configured", kind=run.kind, client=run.client is not None)


@hookimpl
def chaosiq_run_started(run: Any, journal: dict[str, Any]) -> None:
    _record("run_started")


@hookimpl
def chaosiq_before_experiment(run: Any) -> None:
    _record("before_experiment")


@hookimpl
def chaosiq_after_experiment(run: Any, journal: dict[str, Any]) -> None:
    run.journal_extension["recorded_by"] = "recorder"
    _record("after_experiment", status=journal.get("status"))


@hookimpl
def chaosiq_before_hypothesis(run: Any) -> None:
    _record("before_hypothesis")


@hookimpl
def chaosiq_after_hypothesis(run: Any, state: Any) -> None:
    _record("after_hypothesis", met=(state or {}).get("steady_state_met"))


@hookimpl
def chaosiq_before_method(run: Any) -> None:
    _record("before_method")


@hookimpl
def chaosiq_after_method(run: Any, state: Any) -> None:
    _record("after_method", runs=_names(state))


@hookimpl
def chaosiq_before_rollback(run: Any) -> None:
    _record("before_rollback")


@hookimpl
def chaosiq_after_rollback(run: Any, state: Any) -> None:
    _record("after_rollback", runs=_names(state))


@hookimpl
def chaosiq_before_activity(run: Any, activity: dict[str, Any]) -> str:
    _record("before_activity", name=activity.get("name"))
    return f"recorder saw {activity.get('name')} start"


@hookimpl
def chaosiq_after_activity(run: Any, activity: dict[str, Any], state: Any) -> str:
    status = (state or {}).get("status")
    _record("after_activity", name=activity.get("name"), status=status)
    return f"recorder saw {activity.get('name')} {status}"


@hookimpl
def chaosiq_continuous_hypothesis_started(run: Any, frequency: float) -> None:
    _record("continuous_started", frequency=frequency)


@hookimpl
def chaosiq_continuous_hypothesis_iteration(run: Any, iteration: int) -> None:
    _record("continuous_iteration", iteration=iteration)


@hookimpl
def chaosiq_continuous_hypothesis_completed(run: Any) -> None:
    _record("continuous_completed")


@hookimpl
def chaosiq_run_interrupted(run: Any) -> None:
    _record("run_interrupted")


@hookimpl
def chaosiq_run_finished(run: Any, journal: dict[str, Any]) -> str:
    _record("run_finished", status=journal.get("status"))
    return f"recorder saw the run {journal.get('status')}"


@hookimpl
def chaosiq_feature_status(settings: dict[str, Any]) -> list[tuple[str, str]]:
    if "feature_status" in os.environ.get("RECORDER_FAIL_IN", "").split(","):
        raise RuntimeError("recorder fails in feature_status on purpose")
    return [("log", os.environ.get("RECORDER_LOG") or "-")]
