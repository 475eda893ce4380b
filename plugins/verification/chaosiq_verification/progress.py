"""What the user sees while a verification runs.

On a terminal: a live line (rich) with the phase, its elapsed and remaining
time, the samples so far and how many deviated. Otherwise (CI, pipes): plain
log lines at each phase change and for every deviated sample.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import Any

logger = logging.getLogger("chaostoolkit.chaosiq.verification")


class Progress:
    """Counts samples and tracks the current phase; subclasses show them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.phase = "starting"
        self.planned: float | None = None
        self.phase_started = time.monotonic()
        self.samples = 0
        self.deviated = 0

    def start(self) -> None:
        """Begin showing progress."""

    def stop(self) -> None:
        """Stop showing progress (idempotent)."""

    def enter(self, phase: str, planned: float | None = None) -> None:
        with self.lock:
            self.phase = phase
            self.planned = planned
            self.phase_started = time.monotonic()
        self._phase_changed(phase, planned)

    def sample(self, iteration: int, state: Any) -> None:
        met = state.get("steady_state_met") if isinstance(state, dict) else None
        with self.lock:
            self.samples += 1
            if met is False:
                self.deviated += 1
        if met is False:
            logger.warning("Sample %d is out of tolerance", iteration)

    def snapshot(self) -> tuple[str, float, float | None, int, int]:
        """(phase, elapsed, remaining or None, samples, deviated)."""
        with self.lock:
            elapsed = time.monotonic() - self.phase_started
            remaining = None if self.planned is None else max(0.0, self.planned - elapsed)
            return self.phase, elapsed, remaining, self.samples, self.deviated

    def _phase_changed(self, phase: str, planned: float | None) -> None:
        """Hook for subclasses."""


class LogProgress(Progress):
    """Plain log lines (not attached to a terminal)."""

    def _phase_changed(self, phase: str, planned: float | None) -> None:
        _, _, _, samples, deviated = self.snapshot()
        length = f" for {planned:g} s" if planned is not None else ""
        logger.info(
            "Verification phase: %s%s (samples so far: %d, deviated: %d)", phase, length, samples, deviated
        )


class RichProgress(LogProgress):
    """A live status line on a terminal, refreshed four times a second."""

    def __init__(self) -> None:
        super().__init__()
        self._live: Any = None
        self._moved: list[tuple[logging.StreamHandler[Any], Any]] = []

    def _render(self) -> Any:
        from rich.text import Text

        phase, elapsed, remaining, samples, deviated = self.snapshot()
        rest = f" / {remaining:.1f} s left" if remaining is not None else ""
        text = Text()
        text.append("verification ", style="bold")
        text.append(f"{phase:<22}", style="cyan")
        text.append(f" {elapsed:5.1f} s{rest}   samples {samples}  ")
        text.append(f"deviated {deviated}", style="red" if deviated else "green")
        return text

    def start(self) -> None:
        try:
            from rich.console import Console
            from rich.live import Live

            class _Renderable:
                def __init__(self, owner: RichProgress) -> None:
                    self.owner = owner

                def __rich__(self) -> Any:
                    return self.owner._render()

            self._live = Live(
                _Renderable(self),
                console=Console(stderr=True),
                refresh_per_second=4,
                transient=True,
                redirect_stdout=True,
                redirect_stderr=True,
            )
            original = sys.stderr
            self._live.start()
            # Chaos Toolkit's console handler keeps the stream it was created with:
            # point it at rich's proxy so log lines print above the live line.
            for handler in logging.getLogger("chaostoolkit").handlers:
                if not isinstance(handler, logging.StreamHandler) or isinstance(handler, logging.FileHandler):
                    continue
                if handler.stream is original and sys.stderr is not original:
                    handler.setStream(sys.stderr)
                    self._moved.append((handler, original))
        except Exception as exc:  # never let the display break a run
            logger.debug("live progress unavailable: %s", exc)
            self._live = None

    def stop(self) -> None:
        live, self._live = self._live, None
        for handler, stream in self._moved:
            handler.setStream(stream)
        self._moved.clear()
        if live is not None:
            try:
                live.stop()
            except Exception:
                logger.debug("failed to stop the live progress", exc_info=True)


def make_progress(force_tty: bool | None = None) -> Progress:
    """A live display on a terminal, log lines otherwise."""
    tty = sys.stderr.isatty() if force_tty is None else force_tty
    return RichProgress() if tty else LogProgress()
