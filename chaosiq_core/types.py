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


@dataclass(frozen=True)
class Verdict:
    """One safeguard vote: ``allow`` or ``stop``, who said it and why."""

    decision: Literal["allow", "stop"]
    source: str
    """Who voted: ``server``, ``probe:<name>`` or a third party's name."""
    reason: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def stops(self) -> bool:
        return self.decision == "stop"

    @classmethod
    def allow(cls, source: str, reason: str = "") -> Verdict:
        return cls("allow", source, reason)

    @classmethod
    def stop(cls, source: str, reason: str, **details: Any) -> Verdict:
        return cls("stop", source, reason, dict(details))


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
