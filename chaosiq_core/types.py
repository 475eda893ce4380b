"""Small value types shared by the core and plugins through hooks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class Scope:
    """The organization and team every runtime call of the API is scoped to."""

    org_id: str
    team_id: str
    org_name: str | None = None
    team_name: str | None = None

    @property
    def path(self) -> str:
        """The ``/organizations/{org}/teams/{team}`` part of a runtime URL."""
        return f"/organizations/{self.org_id}/teams/{self.team_id}"


DEFAULT_PAUSE_TIMEOUT = 600.0
"""Seconds a pause holds a run when its verdict names no timeout (then the run is stopped)."""


@dataclass(frozen=True)
class Verdict:
    """One safeguard vote: ``allow``, ``stop`` or ``pause``, who said it and why.

    A ``pause`` holds the run before its next activity while the vote stands, for
    at most ``timeout`` seconds (:data:`DEFAULT_PAUSE_TIMEOUT` when ``None``); then
    the run is stopped as if by a safeguard. Any stop wins over a pause.
    """

    decision: Literal["allow", "stop", "pause"]
    source: str
    """Who voted: ``server``, ``probe:<name>`` or a third party's name."""
    reason: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    timeout: float | None = None
    """A pause's longest hold in seconds (``None``: :data:`DEFAULT_PAUSE_TIMEOUT`)."""

    @property
    def stops(self) -> bool:
        return self.decision == "stop"

    @property
    def pauses(self) -> bool:
        return self.decision == "pause"

    @property
    def pause_timeout(self) -> float:
        """How long this pause may hold the run, in seconds."""
        return DEFAULT_PAUSE_TIMEOUT if self.timeout is None else max(0.0, float(self.timeout))

    @classmethod
    def allow(cls, source: str, reason: str = "") -> Verdict:
        return cls("allow", source, reason)

    @classmethod
    def stop(cls, source: str, reason: str, **details: Any) -> Verdict:
        return cls("stop", source, reason, dict(details))

    @classmethod
    def pause(cls, source: str, reason: str, timeout: float | None = None, **details: Any) -> Verdict:
        """Hold the run before its next activity while this vote stands (at most ``timeout`` s)."""
        return cls("pause", source, reason, dict(details), timeout)


@dataclass(frozen=True)
class Outgoing:
    """A request a plugin wants delivered to the ChaosIQ server off the run thread.

    ``path`` is relative to the team base URL (``{api}/organizations/{org}/teams/{team}``)
    unless it starts with ``/api/``. ``key`` identifies the message for
    idempotent replays (a CloudEvent id, for example). ``with_execution``: the
    message waits until the run's execution exists on the server, and its
    ``json`` (a mapping) is sent with the execution's ``experiment_id`` and
    ``execution_id`` added (for requests made while the server was down).
    """

    method: str
    path: str
    json: Any = None
    kind: str = "request"
    key: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    with_execution: bool = False
