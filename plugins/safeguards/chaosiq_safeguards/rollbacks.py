"""Make the ``safeguards.rollbacks`` option (``play`` | ``skip``) hold for a safeguard stop.

chaostoolkit-lib (1.44 and 1.45.x, ``chaoslib/run.py::Runner._run``) reads the
rollback strategy once, from ``settings["runtime"]["rollbacks"]["strategy"]``,
right after the global controls were configured, and ``run_rollback`` then
compares it with ``"always"``, ``"never"``, ``"default"`` and ``"deviated"``.
Under ``default`` an interrupted run plays no rollback. A safeguard stop is
known only later, so the strategy is replaced, in ``configure_control``, by a
string equal to the user's strategy that compares as ``"always"`` (``play``) or
``"never"`` (``skip``) once a safeguard stopped the run. Nothing else changes:
without a safeguard stop it behaves exactly as the user's strategy. ``chaos verify``
reads the strategy the same way (put in the settings before the controls are
configured, read back after), so a verification obeys the option too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class SafeguardAwareStrategy(str):
    """A rollback strategy string that turns into ``always``/``never`` after a safeguard stop."""

    _stopped: Callable[[], bool]
    _on_stop: str

    def __new__(cls, value: str, stopped: Callable[[], bool], on_stop: str) -> SafeguardAwareStrategy:
        obj = super().__new__(cls, value)
        obj._stopped = stopped
        obj._on_stop = on_stop
        return obj

    def effective(self) -> str:
        """The strategy chaostoolkit-lib should apply right now."""
        if self._stopped():
            return self._on_stop
        return str.__str__(self)

    def __eq__(self, other: object) -> bool:
        return self.effective() == other

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    __hash__ = str.__hash__

    def __reduce__(self) -> tuple[Any, ...]:  # copies and pickles become plain strings
        return (str, (str.__str__(self),))


def install(settings: dict[str, Any], rollbacks: str, stopped: Callable[[], bool]) -> str | None:
    """Wrap the run's rollback strategy; return the user's value to restore later.

    ``rollbacks`` is ``play`` (rollbacks are played after a safeguard stop,
    unless the user's strategy is ``never``) or ``skip`` (never played after a
    safeguard stop, even with ``always``).
    """
    runtime = settings.setdefault("runtime", {})
    if not isinstance(runtime, dict):
        return None
    block = runtime.setdefault("rollbacks", {})
    if not isinstance(block, dict):
        return None
    current = str(block.get("strategy") or "default")
    if isinstance(block.get("strategy"), SafeguardAwareStrategy):
        current = str.__str__(block["strategy"])
    on_stop = "never" if rollbacks == "skip" else "never" if current == "never" else "always"
    block["strategy"] = SafeguardAwareStrategy(current, stopped, on_stop)
    return current


def restore(settings: dict[str, Any], value: str | None) -> None:
    """Put the user's plain strategy back (after the rollbacks were decided)."""
    if value is None:
        return
    block = (settings.get("runtime") or {}).get("rollbacks")
    if isinstance(block, dict) and isinstance(block.get("strategy"), SafeguardAwareStrategy):
        block["strategy"] = value
