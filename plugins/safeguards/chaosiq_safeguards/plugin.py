"""The hook implementations of the ``safeguards`` feature (entry point ``chaosiq:safeguards``)."""

from __future__ import annotations

import logging
from typing import Any

from chaosiq_core import hookimpl
from chaosiq_core.run import Run
from chaosiq_core.types import Verdict
from chaosiq_safeguards.guard import Guard
from chaosiq_safeguards.options import DEFAULTS, FEATURE, Options

logger = logging.getLogger("chaostoolkit.chaosiq.safeguards")


def guard_of(run: Run) -> Guard | None:
    """The guard of ``run``, if the safeguards feature started one."""
    guard = run.data.get(FEATURE)
    return guard if isinstance(guard, Guard) else None


@hookimpl
def chaosiq_settings_defaults() -> dict[str, Any]:
    return {FEATURE: dict(DEFAULTS)}


@hookimpl(trylast=True)
def chaosiq_run_configured(run: Run) -> None:
    # last: the publisher starts creating the server execution (which the pre-start
    # check waits for) before the guard starts its threads
    if guard_of(run) is not None:
        return
    guard = Guard(run)
    run.data[FEATURE] = guard
    guard.start()
    sources = ["server"] if guard.server.active else []
    sources += [loop.name for loop in guard.probes.loops]
    logger.info(
        "chaosiq safeguards: checking every %g s (%s)",
        guard.options.interval,
        ", ".join(sources) if sources else "plugins only",
    )


@hookimpl
def chaosiq_safeguard_verdicts(run: Run) -> list[Verdict] | None:
    guard = guard_of(run)
    if guard is None:
        return None
    votes = guard.probes.votes()
    server = guard.server.vote()
    if server is not None:
        votes.append(server)
    return votes


@hookimpl
def chaosiq_before_experiment(run: Run, experiment: dict[str, Any]) -> None:
    guard = guard_of(run)
    if guard is None:
        return
    guard.gate()
    guard.point("experiment")


@hookimpl
def chaosiq_before_hypothesis(run: Run) -> None:
    guard = guard_of(run)
    if guard is not None:
        guard.enter()


@hookimpl
def chaosiq_after_hypothesis(run: Run) -> None:
    guard = guard_of(run)
    if guard is not None:
        guard.leave()


@hookimpl
def chaosiq_before_method(run: Run) -> None:
    guard = guard_of(run)
    if guard is not None:
        guard.enter("method")


@hookimpl
def chaosiq_after_method(run: Run) -> None:
    guard = guard_of(run)
    if guard is not None:
        guard.leave()


@hookimpl
def chaosiq_before_rollback(run: Run) -> None:
    guard = guard_of(run)
    if guard is not None:
        guard.enter("rollbacks")


@hookimpl
def chaosiq_after_rollback(run: Run) -> None:
    guard = guard_of(run)
    if guard is not None:
        guard.leave()


@hookimpl
def chaosiq_before_activity(run: Run) -> None:
    guard = guard_of(run)
    if guard is not None:
        guard.enter()


@hookimpl
def chaosiq_after_activity(run: Run) -> None:
    guard = guard_of(run)
    if guard is not None:
        guard.leave()


@hookimpl(tryfirst=True)
def chaosiq_after_experiment(run: Run, journal: dict[str, Any]) -> None:
    guard = guard_of(run)
    if guard is None:
        return
    guard.close()
    guard.restore_strategy()
    guard.record(journal)


@hookimpl
def chaosiq_run_finished(run: Run) -> None:
    guard = guard_of(run)
    if guard is not None:
        guard.close()
        guard.restore_strategy()
        if guard.stop_interrupts:
            _end_leftover_processes()


def _end_leftover_processes() -> None:
    """A safeguard stopped the run: background activities still running must not keep ``chaos`` alive."""
    from chaosiq_safeguards.leftovers import end_leftovers

    ended = end_leftovers()
    if ended:
        logger.warning(
            "chaosiq safeguards: ended %d process(es) of background activities still running "
            "after the stop: %s",
            len(ended),
            ", ".join(f"{name} ({pid})" for pid, name in ended.items()),
        )


@hookimpl
def chaosiq_feature_status(settings: dict[str, Any]) -> list[tuple[str, str]]:
    options = Options.for_settings(settings)
    return [
        ("interval", f"{options.interval:g} s"),
        ("on_error", options.on_error),
        ("rollbacks after a stop", options.rollbacks),
        ("probes in settings", str(len(options.probes))),
    ]
