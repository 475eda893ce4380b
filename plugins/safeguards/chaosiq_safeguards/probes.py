"""Local safeguard probes: any Chaos Toolkit probe with a tolerance, run in the background.

Declared in the experiment::

    "extensions": [{"name": "chaosiq", "safeguards": {"probes": [ <probe>, ... ]}}]

or in the settings option ``safeguards.probes``. Each probe runs in its own
daemon thread every ``frequency`` seconds (default: the safeguards interval)
with chaostoolkit-lib's provider machinery (no controls are applied, so the
probe does not show up as an activity of the run). Out of tolerance, or
raising, is a stop verdict.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from chaosiq_core.journal import extension_value
from chaosiq_core.types import Verdict

if TYPE_CHECKING:  # pragma: no cover
    from chaosiq_core.run import Run

logger = logging.getLogger("chaostoolkit.chaosiq.safeguards")


def declared_probes(experiment: dict[str, Any] | None, settings_probes: list[Any]) -> list[dict[str, Any]]:
    """The safeguard probes of an experiment (extension block) and of the settings."""
    found: list[dict[str, Any]] = []
    block = extension_value(experiment or {}, "safeguards") or {}
    if isinstance(block, dict):
        found.extend(p for p in (block.get("probes") or []) if isinstance(p, dict))
    found.extend(p for p in settings_probes if isinstance(p, dict))
    return found


def probe_problem(probe: dict[str, Any]) -> str | None:
    """Why ``probe`` cannot be used as a safeguard, or ``None`` when it is valid."""
    if "tolerance" not in probe:
        return "a safeguard probe needs a tolerance"
    try:
        from chaoslib.activity import ensure_activity_is_valid
        from chaoslib.hypothesis import ensure_hypothesis_tolerance_is_valid

        ensure_activity_is_valid({**probe, "type": probe.get("type", "probe")})
        ensure_hypothesis_tolerance_is_valid(probe["tolerance"])
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def probe_name(probe: dict[str, Any]) -> str:
    return f"probe:{probe.get('name') or 'unnamed'}"


def evaluate(probe: dict[str, Any], configuration: Any, secrets: Any) -> Verdict:
    """Run ``probe`` once and judge its output against its tolerance."""
    from chaoslib.activity import run_activity
    from chaoslib.hypothesis import within_tolerance

    name = probe_name(probe)
    try:
        output = run_activity(probe, configuration or {}, secrets or {})
    except Exception as exc:
        return Verdict.stop(name, f"the safeguard probe failed: {type(exc).__name__}: {exc}")
    try:
        ok = within_tolerance(probe["tolerance"], output, configuration or {}, secrets or {})
    except Exception as exc:
        return Verdict.stop(name, f"the tolerance could not be checked: {type(exc).__name__}: {exc}")
    if ok:
        return Verdict.allow(name)
    shown = repr(output)
    shown = shown if len(shown) <= 200 else shown[:197] + "..."
    return Verdict.stop(name, f"output {shown} is out of tolerance", output=_json_safe(output))


def _json_safe(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    return repr(value)


class ProbeLoop:
    """One safeguard probe evaluated repeatedly in its own daemon thread."""

    def __init__(self, run: Run, probe: dict[str, Any], interval: float, stop: threading.Event) -> None:
        self.run = run
        self.probe = probe
        self.name = probe_name(probe)
        try:
            self.frequency = max(float(probe.get("frequency", interval)), 0.05)
        except (TypeError, ValueError):
            self.frequency = interval
        self.stop = stop
        self.verdict: Verdict | None = None
        self.first = threading.Event()
        self.thread = threading.Thread(target=self._loop, name=f"chaosiq-safeguard-{self.name}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _loop(self) -> None:
        while not self.stop.is_set():
            started = time.monotonic()
            verdict = evaluate(self.probe, self.run.configuration, self.run.secrets)
            self.verdict = verdict
            self.first.set()
            if verdict.stops:
                return  # one stop is enough; the verdict stays
            self.stop.wait(max(0.0, self.frequency - (time.monotonic() - started)))


class ProbeRunner:
    """Every local safeguard probe of a run."""

    def __init__(self, run: Run, probes: list[dict[str, Any]], interval: float) -> None:
        self.stop = threading.Event()
        self.loops: list[ProbeLoop] = []
        self.invalid: list[Verdict] = []
        for probe in probes:
            problem = probe_problem(probe)
            if problem:
                logger.error("chaosiq safeguards: %s is not usable: %s", probe_name(probe), problem)
                self.invalid.append(Verdict.stop(probe_name(probe), f"invalid safeguard probe: {problem}"))
                continue
            self.loops.append(ProbeLoop(run, probe, interval, self.stop))

    def start(self) -> None:
        for loop in self.loops:
            loop.start()

    def wait_first(self, deadline: float) -> None:
        """Wait (until the monotonic ``deadline``) for every probe's first result."""
        for loop in self.loops:
            loop.first.wait(max(0.0, deadline - time.monotonic()))

    def all_first(self) -> bool:
        """Whether every probe has a first result."""
        return all(loop.first.is_set() for loop in self.loops)

    def votes(self) -> list[Verdict]:
        """The latest verdict of every probe (probes still running their first time abstain)."""
        out = list(self.invalid)
        out.extend(loop.verdict for loop in self.loops if loop.verdict is not None)
        return out

    def close(self) -> None:
        self.stop.set()
