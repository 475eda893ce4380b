"""Holding a run before its next activity while a ``pause`` verdict stands.

Whoever polls the verdicts (the safeguards plugin, at its ``interval``) sets
:meth:`Run.set_pause`; the control bridge calls :func:`hold` at every
before-activity control point on the main thread. The hold ends when the pause
is lifted, a stop is requested, or the pause's timeout passes (then the run is
stopped as if by a safeguard, in the pause's source's name).
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timezone
from typing import Any

from chaosiq_core.run import Run
from chaosiq_core.types import Verdict

logger = logging.getLogger("chaostoolkit.chaosiq")

WAKE_EVERY = 1.0
"""Longest wait between two checks of a held run's state (the pollers notify sooner)."""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _record(verdict: Verdict) -> dict[str, Any]:
    return {
        "start": _now(),
        "end": None,
        "by": verdict.source,
        "reason": verdict.reason,
        "timeout": verdict.pause_timeout,
        "ended": None,
    }


def _timed_out(verdict: Verdict, record: dict[str, Any]) -> Verdict:
    return Verdict.stop(
        verdict.source,
        f"paused for {verdict.pause_timeout:g} s without being resumed "
        f"({verdict.reason or 'no reason given'})",
        pause=dict(record),
    )


def hold(run: Run) -> None:
    """Hold the calling (main) thread while a pause stands; see the module docstring.

    Returns when the run may go on or must stop (the caller then checks
    ``run.stop_verdict``). A ``KeyboardInterrupt`` during the hold is recorded
    and passed on to Chaos Toolkit unchanged.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    verdict = run.pause_verdict
    if verdict is None or run.stop_verdict is not None or run.finished.is_set():
        return
    record = _record(verdict)
    with run.lock:
        run.pauses.append(record)
        run.journal_extension["pauses"] = run.pauses
    logger.warning(
        "chaosiq: the run is paused by '%s': %s (it goes on when resumed, and is stopped after %g s)",
        verdict.source,
        verdict.reason,
        verdict.pause_timeout,
    )
    run.hooks.run_paused(run, verdict)
    deadline = time.monotonic() + verdict.pause_timeout
    ended = "interrupted"
    try:
        with run.changed:
            while True:
                if run.stop_verdict is not None or run.finished.is_set():
                    ended = "stopped"
                    break
                if run.pause_verdict is None:
                    ended = "resumed"
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    ended = "timeout"
                    break
                run.changed.wait(min(WAKE_EVERY, left))
    finally:
        record["end"] = _now()
        record["ended"] = ended
        if ended == "timeout":
            stop = _timed_out(verdict, record)
            if run.request_stop(stop):
                logger.critical("Safeguard '%s' stops the run: %s", stop.source, stop.reason)
                run.hooks.safeguard_triggered(run, stop)
        elif ended == "resumed":
            logger.warning("chaosiq: the run goes on (the pause by '%s' was lifted)", verdict.source)
        run.hooks.run_resumed(run, dict(record))
