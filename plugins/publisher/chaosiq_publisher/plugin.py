"""The ``publish`` feature's hook implementations.

Every lifecycle hook only appends one CloudEvent type (the original's, or one for what the
original lost) to the run's :class:`~chaosiq_publisher.worker.Publisher` queue; encoding and
the network are the business of the publisher's own threads.
"""

from __future__ import annotations

import logging
from typing import Any

from chaosiq_core import hookimpl
from chaosiq_core.journal import chaosiq_extension
from chaosiq_core.run import Run
from chaosiq_core.types import Outgoing, Verdict
from chaosiq_publisher import workspace
from chaosiq_publisher.worker import DEFAULTS, FEATURE, Publisher

logger = logging.getLogger("chaostoolkit.chaosiq.publish")


def _pub(run: Run) -> Publisher | None:
    return run.data.get(FEATURE)


def _enqueue(run: Run, event_type: str, context: Any, state: Any = None) -> None:
    if (p := _pub(run)) is not None:
        p.enqueue(event_type, context, state)


@hookimpl
def chaosiq_settings_defaults() -> dict[str, Any]:
    return {FEATURE: dict(DEFAULTS)}


@hookimpl
def chaosiq_experiment_loaded(
    source: str, experiment: dict[str, Any] | None, settings: dict[str, Any]
) -> None:
    workspace.on_loaded(source, experiment, settings)


@hookimpl
def chaosiq_run_configured(run: Run) -> None:
    if FEATURE in run.data:
        return
    # the journal names its run: `chaos publish JOURNAL` then finds the run's execution
    run.journal_extension["run_id"] = run.id
    if run.client is None or run.client.scope is None:
        why = "no default organization and team (run `chaos signin` or `chaos team`)"
        if run.client is None:
            why = "no ChaosIQ server in the settings (run `chaos signin`)"
        logger.warning("chaosiq: not publishing this run: %s", why)
        run.set_execution(experiment_id=None, execution_id=None)
        return
    run.data[FEATURE] = pub = Publisher(run)
    pub.start()


@hookimpl
def chaosiq_before_experiment(run: Run, experiment: dict[str, Any]) -> None:
    _enqueue(run, "starting-experiment", experiment)


@hookimpl
def chaosiq_after_experiment(run: Run, experiment: dict[str, Any], journal: dict[str, Any]) -> None:
    if (p := _pub(run)) is not None:
        p.enqueue_final(experiment, journal)


@hookimpl
def chaosiq_before_hypothesis(run: Run, hypothesis: dict[str, Any]) -> None:
    _enqueue(run, "starting-hypothesis", hypothesis)


@hookimpl
def chaosiq_after_hypothesis(run: Run, hypothesis: dict[str, Any], state: Any) -> None:
    _enqueue(run, "hypothesis-finished", hypothesis, state)


@hookimpl
def chaosiq_before_method(run: Run, experiment: dict[str, Any]) -> None:
    _enqueue(run, "starting-method", experiment)


@hookimpl
def chaosiq_after_method(run: Run, experiment: dict[str, Any], state: Any) -> None:
    _enqueue(run, "method-finished", experiment, state)


@hookimpl
def chaosiq_before_rollback(run: Run, experiment: dict[str, Any]) -> None:
    _enqueue(run, "starting-rollback", experiment)


@hookimpl
def chaosiq_after_rollback(run: Run, experiment: dict[str, Any], state: Any) -> None:
    _enqueue(run, "rollback-finished", experiment, state)


@hookimpl
def chaosiq_before_activity(run: Run, activity: dict[str, Any]) -> None:
    _enqueue(run, "starting-activity", activity)


@hookimpl
def chaosiq_after_activity(run: Run, activity: dict[str, Any], state: Any) -> None:
    _enqueue(run, "activity-finished", activity, state)


@hookimpl
def chaosiq_continuous_hypothesis_started(run: Run, frequency: float) -> None:
    _enqueue(run, "continuous-hypothesis-started", {"frequency": frequency})


@hookimpl
def chaosiq_continuous_hypothesis_iteration(run: Run, iteration: int, state: Any) -> None:
    _enqueue(run, "continuous-hypothesis-iteration", {"iteration": iteration}, state)


@hookimpl
def chaosiq_continuous_hypothesis_completed(run: Run, journal: Any, exception: Any) -> None:
    error = f"{type(exception).__name__}: {exception}" if exception is not None else None
    _enqueue(run, "continuous-hypothesis-finished", {"error": error})


@hookimpl
def chaosiq_run_interrupted(run: Run, journal: Any) -> None:
    status = journal.get("status") if isinstance(journal, dict) else None
    _enqueue(run, "experiment-interrupted", {"status": status})


@hookimpl
def chaosiq_run_signal_exit(run: Run) -> None:
    _enqueue(run, "experiment-signal-exit", None)


@hookimpl
def chaosiq_safeguard_triggered(run: Run, verdict: Verdict) -> None:
    details = {"source": verdict.source, "reason": verdict.reason, "details": verdict.details}
    _enqueue(run, "safeguard-triggered", details)


@hookimpl
def chaosiq_run_paused(run: Run, verdict: Verdict) -> None:
    pause = {"source": verdict.source, "reason": verdict.reason, "timeout": verdict.pause_timeout}
    _enqueue(run, "run-paused", pause)


@hookimpl
def chaosiq_run_resumed(run: Run, pause: dict[str, Any]) -> None:
    _enqueue(run, "run-resumed", dict(pause))


@hookimpl(trylast=True)
def chaosiq_run_finished(run: Run, journal: dict[str, Any]) -> None:
    if (p := _pub(run)) is not None and not p.finished:
        p.finish(journal)
        # the execution may have been created after after_experiment: the ids go in now
        if isinstance(journal, dict):
            with run.lock:
                ids = {"experiment_id": run.experiment_id, "execution_id": run.execution_id}
            chaosiq_extension(journal, create=True).update(ids)


@hookimpl
def chaosiq_deliver(run: Run, message: Outgoing) -> bool | None:
    if (p := _pub(run)) is None:
        return None
    return p.deliver(message) or None  # refused once the run is finished: another plugin may take it


@hookimpl
def chaosiq_feature_status(settings: dict[str, Any]) -> list[tuple[str, str]]:
    from chaosiq_publisher.outbox import outbox_dir, outbox_files, read_log

    pending = sum(len(read_log(f).pending) for f in outbox_files())
    return [("outbox", str(outbox_dir())), ("pending messages", str(pending))]
