"""The run context handed to every lifecycle hook."""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chaosiq_core import settings as settings_mod
from chaosiq_core.types import Verdict

if TYPE_CHECKING:  # pragma: no cover
    from chaosiq_core.api import ApiClient
    from chaosiq_core.hooks import Hooks

logger = logging.getLogger("chaostoolkit.chaosiq")


@dataclass(eq=False)
class Run:
    """Everything plugins share about one ``chaos run`` (or ``chaos verify``).

    Created by the control bridge in ``configure_control``; the same object is
    passed to every hook of the run, on every thread. Attributes that change
    during the run are guarded by ``lock``; plugins keep their own state in
    ``data[<feature name>]``.
    """

    settings: dict[str, Any]
    experiment: dict[str, Any]
    hooks: Hooks
    client: ApiClient | None = None
    """API client scoped to the team, or ``None`` when not signed in."""
    source: str | None = None
    """The path or URL the experiment was loaded from, when known."""
    configuration: dict[str, Any] | None = None
    secrets: dict[str, Any] | None = None
    journal: dict[str, Any] | None = None
    kind: str = "run"
    """``run`` for ``chaos run``, ``verification`` for ``chaos verify``."""
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    data: dict[str, Any] = field(default_factory=dict, repr=False)
    journal_extension: dict[str, Any] = field(default_factory=dict)
    """Keys written into the journal's ``extensions[name=chaosiq]`` after the run."""
    execution_ready: threading.Event = field(default_factory=threading.Event, repr=False)
    """Set once the server-side execution exists (or could not be created)."""
    finished: threading.Event = field(default_factory=threading.Event, repr=False)
    """Set after ``chaosiq_after_experiment``: no interruption may be sent after it."""
    experiment_id: str | None = None
    execution_id: str | None = None
    stop_verdict: Verdict | None = None
    pause_verdict: Verdict | None = None
    """The pause that stands now (set by whoever polls the verdicts: the safeguards plugin)."""
    pauses: list[dict[str, Any]] = field(default_factory=list)
    """The pauses the run held for (``start``, ``end``, ``by``, ``reason``, ``timeout``, ``ended``)."""
    changed: threading.Condition = field(default_factory=threading.Condition, repr=False)
    """Notified when a pause is set or lifted, or a stop is requested (a held run waits on it)."""
    _defaults: dict[str, Any] = field(default_factory=dict, repr=False)
    _interrupt_claimed: bool = field(default=False, repr=False)
    _points_seen: set[str] = field(default_factory=set, repr=False)
    _phases: dict[str, bool] = field(default_factory=dict, repr=False)
    _started: threading.local = field(default_factory=threading.local, repr=False)

    # ------------------------------------------------------------ options

    def option(self, feature: str, name: str, default: Any = None) -> Any:
        """A plugin option: the settings' value, else the plugin's default, else ``default``."""
        user = settings_mod.options(self.settings, feature)
        if name in user:
            return user[name]
        return self._defaults.get(feature, {}).get(name, default)

    # ---------------------------------------------------------------- ids

    def set_execution(self, *, experiment_id: str | None, execution_id: str | None) -> None:
        """Record the server ids of this run and wake whoever waits for them."""
        with self.lock:
            self.experiment_id = experiment_id
            self.execution_id = execution_id
            self.journal_extension["experiment_id"] = experiment_id
            self.journal_extension["execution_id"] = execution_id
        self.execution_ready.set()

    # ---------------------------------------------------------- stopping

    def request_stop(self, verdict: Verdict) -> bool:
        """Ask the bridge to interrupt the run at its next control point.

        Returns ``True`` for the first request (the one that counts), ``False``
        when a stop was already requested or the run is over.
        """
        with self.lock:
            if self.stop_verdict is not None or self.finished.is_set():
                return False
            self.stop_verdict = verdict
        with self.changed:
            self.changed.notify_all()
        return True

    def set_pause(self, verdict: Verdict | None) -> None:
        """The pause that stands now (``None``: none); a run held by the core wakes up to re-check."""
        with self.changed:
            if verdict == self.pause_verdict:
                return
            before, self.pause_verdict = self.pause_verdict, verdict
            self.changed.notify_all()
        if verdict is not None and before is None:
            logger.info(
                "chaosiq: '%s' pauses the run: %s (it holds before its next activity)",
                verdict.source,
                verdict.reason,
            )
        elif verdict is None:
            logger.info("chaosiq: the pause by '%s' is lifted", before.source if before else "?")

    def claim_interrupt(self) -> bool:
        """``True`` once per run, for whoever raises the interruption of a requested stop.

        The bridge and ``chaos verify``'s waits both turn a stop verdict into an
        ``InterruptExecution``; only the first of them may raise it.
        """
        with self.lock:
            if self._interrupt_claimed:
                return False
            self._interrupt_claimed = True
            return True

    def first_time(self, point: str) -> bool:
        """``True`` the first time ``point`` is reached (chaostoolkit-lib may call a control twice)."""
        with self.lock:
            if point in self._points_seen:
                return False
            self._points_seen.add(point)
            return True

    # ------------------------------------------------- what really started

    def begin_phase(self, phase: str) -> bool:
        """``True`` the first time ``phase`` (``method``, ``rollback``) is said to start.

        chaostoolkit-lib announces a phase twice (its run event, then the
        control): whichever comes first starts it.
        """
        with self.lock:
            if phase in self._phases:
                return False
            self._phases[phase] = True
            return True

    def in_phase(self, phase: str) -> bool:
        """``True`` while ``phase`` has started and not ended."""
        with self.lock:
            return bool(self._phases.get(phase))

    def end_phase(self, phase: str) -> bool:
        """``True`` once for a phase that started and has not ended yet."""
        with self.lock:
            if not self._phases.get(phase):
                return False
            self._phases[phase] = False
            return True

    def began(self, level: str, context: object) -> None:
        """``context`` (an activity, a hypothesis) started on this thread."""
        started = getattr(self._started, "items", None)
        if started is None:
            started = self._started.items = []
        started.append((level, context))

    def ends(self, level: str, context: object) -> bool:
        """``True`` when ``context`` started on this thread (and forget it); ``False`` if it never did.

        chaostoolkit-lib calls the after-control of every control even when an
        earlier before-control (the experiment's own) interrupted the step
        before ours was called: that step never started.
        """
        started: list[tuple[str, object]] = getattr(self._started, "items", None) or []
        for i in range(len(started) - 1, -1, -1):
            if started[i][1] is context and started[i][0] == level:
                del started[i:]
                return True
        return False
