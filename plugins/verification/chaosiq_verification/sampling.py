"""Sampling the steady state on its own thread, on a fixed schedule."""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import Any

from chaoslib.exceptions import InterruptExecution
from chaoslib.hypothesis import run_steady_state_hypothesis
from chaoslib.run import EventHandlerRegistry

from chaosiq_verification.stopping import Stopper

logger = logging.getLogger("chaostoolkit.chaosiq.verification")

SAMPLER_JOIN = 1.0
"""Seconds given to an in-flight sample to finish when sampling stops."""
TERMINAL = ("failed", "interrupted", "aborted")
"""Journal statuses after which nothing more is sampled or applied."""


class Sampler:
    """Takes a steady-state sample every ``frequency`` seconds on its own thread.

    Samples are scheduled at fixed times (``t0 + k * frequency``, monotonic
    clock), so the probes' own duration does not stretch the period; a sample
    that overruns its slot skips the slots it missed.
    """

    def __init__(
        self,
        frequency: float,
        experiment: dict[str, Any],
        journal: dict[str, Any],
        configuration: Any,
        secrets: Any,
        registry: EventHandlerRegistry,
        dry: Any,
        stopper: Stopper,
    ) -> None:
        self.frequency = frequency
        self.experiment = experiment
        self.journal = journal
        self.configuration = configuration
        self.secrets = secrets
        self.registry = registry
        self.dry = dry
        self.stopper = stopper
        self.stop_event = threading.Event()
        self.completed = threading.Event()
        self.sample_times: list[float] = []
        self.thread = threading.Thread(target=self._loop, name="chaosiq-verification-sampler", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self, join: float = SAMPLER_JOIN) -> None:
        """Stop sampling; give an in-flight sample ``join`` seconds to end."""
        self.stop_event.set()
        if self.thread.is_alive() and threading.current_thread() is not self.thread:
            self.thread.join(join)
            if self.thread.is_alive():
                logger.warning("A steady-state sample is still running; not waiting for it")

    def _loop(self) -> None:
        exc: BaseException | None = None
        self.registry.start_continuous_hypothesis(self.frequency)
        logger.info("Sampling the steady state every %g s", self.frequency)
        t0 = time.monotonic()
        iteration = 1
        try:
            while not self.stop_event.is_set():
                if self.journal.get("status") in TERMINAL:
                    break
                self.sample_times.append(time.time())
                state = run_steady_state_hypothesis(
                    self.experiment,
                    self.configuration,
                    self.secrets,
                    dry=self.dry,
                    event_registry=self.registry,
                )
                self.journal["steady_states"]["during"].append(state)
                self.registry.continuous_hypothesis_iteration(iteration, state)
                iteration += 1
                now = time.monotonic()
                slot = max(iteration - 1, math.ceil((now - t0) / self.frequency))
                self.stop_event.wait(max(0.0, t0 + slot * self.frequency - now))
        except InterruptExecution as e:
            exc = e
            self.stopper.request(str(e), "control")
        except Exception as e:
            exc = e
            logger.error("Sampling the steady state failed: %s", e)
            self.stopper.request(f"sampling the steady state failed: {e}", "error")
        finally:
            self.completed.set()
            self.registry.continuous_hypothesis_completed(self.experiment, self.journal, exc)
