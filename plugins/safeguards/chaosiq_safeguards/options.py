"""The options of the ``safeguards`` feature and their defaults.

Users set them in the settings under
``controls.chaosiq-cloud.options.safeguards.<name>``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from chaosiq_core.run import Run

FEATURE = "safeguards"
logger = logging.getLogger("chaostoolkit.chaosiq.safeguards")

DEFAULTS: dict[str, Any] = {
    "interval": 1.0,
    "grace": 0.3,
    "rollbacks": "play",
    "on_error": "fail-open",
    "fail_closed_after": 10.0,
    "start_timeout": 5.0,
    "request_timeout": 2.0,
    "probes": [],
}
"""Every option and its default (see docs/safeguards.md)."""


def _number(value: Any, default: float, minimum: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        logger.warning("chaosiq safeguards: '%s' is not a number, using %g", value, default)
        return default
    return max(number, minimum)


def _choice(value: Any, choices: tuple[str, ...], default: str, name: str) -> str:
    text = str(value).strip().lower()
    if text in choices:
        return text
    logger.warning(
        "chaosiq safeguards: option %s must be one of %s, not '%s': using '%s'",
        name,
        ", ".join(choices),
        value,
        default,
    )
    return default


class Options:
    """The validated options of one run (read-only by convention).

    A plain class rather than a dataclass: ``@dataclass`` generates its methods
    with ``exec`` at import time (about 1 ms on every ``chaos run``).
    """

    __slots__ = (
        "fail_closed_after",
        "grace",
        "interval",
        "on_error",
        "probes",
        "request_timeout",
        "rollbacks",
        "start_timeout",
    )

    def __init__(
        self,
        interval: float = 1.0,
        grace: float = 0.3,
        rollbacks: str = "play",
        on_error: str = "fail-open",
        fail_closed_after: float = 10.0,
        start_timeout: float = 5.0,
        request_timeout: float = 2.0,
        probes: list[dict[str, Any]] | None = None,
    ) -> None:
        self.interval = interval
        self.grace = grace
        self.rollbacks = rollbacks
        self.on_error = on_error
        self.fail_closed_after = fail_closed_after
        self.start_timeout = start_timeout
        self.request_timeout = request_timeout
        self.probes: list[dict[str, Any]] = list(probes) if probes else []

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Options) and self._values() == other._values()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        args = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"Options({args})"

    @classmethod
    def from_values(cls, get: Any) -> Options:
        """Build from ``get(name) -> value`` (settings value, else default)."""
        probes = get("probes")
        return cls(
            interval=_number(get("interval"), 1.0, 0.05),
            grace=_number(get("grace"), 0.3, 0.0),
            rollbacks=_choice(get("rollbacks"), ("play", "skip"), "play", "rollbacks"),
            on_error=_choice(get("on_error"), ("fail-open", "fail-closed"), "fail-open", "on_error"),
            fail_closed_after=_number(get("fail_closed_after"), 10.0, 0.0),
            start_timeout=_number(get("start_timeout"), 5.0, 0.0),
            request_timeout=_number(get("request_timeout"), 2.0, 0.1),
            probes=list(probes) if isinstance(probes, list) else [],
        )

    @classmethod
    def for_run(cls, run: Run) -> Options:
        return cls.from_values(lambda name: run.option(FEATURE, name, DEFAULTS[name]))

    @classmethod
    def for_settings(cls, settings: dict[str, Any]) -> Options:
        from chaosiq_core import settings as s

        user = s.options(settings, FEATURE)
        return cls.from_values(lambda name: user.get(name, DEFAULTS[name]))
