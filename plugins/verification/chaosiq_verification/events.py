"""Run events of a verification turned into the server's verification-run events and progress."""

from __future__ import annotations

from typing import Any

from chaoslib.run import RunEventHandler

from chaosiq_verification.progress import Progress
from chaosiq_verification.reporting import ServerReporter


class VerificationEvents(RunEventHandler):  # type: ignore[misc]  # chaostoolkit-lib has no type information
    """Turns run events into the verification-run event categories and progress."""

    def __init__(self, reporter: ServerReporter, progress: Progress) -> None:
        self.reporter = reporter
        self.progress = progress

    def start_hypothesis_before(self, experiment: Any) -> None:
        self.reporter.event("verification-hypothesis-before-method-started")

    def hypothesis_before_completed(self, experiment: Any, state: Any, journal: Any) -> None:
        self.reporter.event("verification-hypothesis-before-method-completed")

    def start_continuous_hypothesis(self, frequency: Any) -> None:
        self.reporter.event("verification-sample-started", {"frequency": frequency})

    def continuous_hypothesis_iteration(self, iteration_index: int, state: Any) -> None:
        self.progress.sample(iteration_index, state)
        self.reporter.event("verification-sample", {"iteration": iteration_index, "state": state})

    def continuous_hypothesis_completed(self, experiment: Any, journal: Any, exception: Any = None) -> None:
        self.reporter.event("verification-sampling-completed")

    def start_cooldown(self, duration: Any) -> None:
        self.reporter.event("verification-cooldown-started", {"duration": duration})

    def cooldown_completed(self) -> None:
        self.reporter.event("verification-cooldown-completed")

    def start_hypothesis_after(self, experiment: Any) -> None:
        self.reporter.event("verification-hypothesis-after-method-started")

    def hypothesis_after_completed(self, experiment: Any, state: Any, journal: Any) -> None:
        self.reporter.event("verification-hypothesis-after-method-completed")

    def start_rollbacks(self, experiment: Any) -> None:
        self.progress.enter("rollbacks")
        self.reporter.event("verification-rollbacks-started")

    def rollbacks_completed(self, experiment: Any, journal: Any) -> None:
        self.reporter.event("verification-rollbacks-completed")

    def interrupted(self, experiment: Any, journal: Any) -> None:
        self.reporter.event("verification-interrupted")

    def signal_exit(self) -> None:
        self.reporter.event("verification-exited-by-signal")
