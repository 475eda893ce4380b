"""The roles a token carries, in one place: what each may do and the refusal's words.

* ``viewer`` sees everything of its teams' runs (experiments, executions, events,
  verifications, policies);
* ``member`` also publishes runs (experiments, executions, events, verifications),
  stops runs and reads the audit log;
* ``owner`` also manages tokens and policies.

Each role includes the ones before it. The API declares the role a route needs
(``routes/deps.py``: ``Viewer``, ``Member``, ``Owner``); the console checks the same
roles with :func:`allows`.
"""

from __future__ import annotations

from typing import Literal

Role = Literal["viewer", "member", "owner"]
ROLES: tuple[Role, ...] = ("viewer", "member", "owner")
VIEWER: Role = "viewer"
MEMBER: Role = "member"
OWNER: Role = "owner"

DEFAULT_CLI_ROLE: Role = MEMBER
"""The role of ``chaosiq-server token create`` without ``--role``: the least that lets
``chaos run`` publish (what most tokens are made for); owner must be asked for."""


def parse(value: str) -> Role | None:
    """``value`` as a role, or None when it is none."""
    return next((r for r in ROLES if r == value), None)


def rank(role: str) -> int:
    """0 viewer, 1 member, 2 owner; an unknown role ranks below viewer."""
    return ROLES.index(role) if role in ROLES else -1  # type: ignore[comparison-overlap]


def allows(role: str, needed: Role) -> bool:
    """Whether a token of ``role`` may do what needs ``needed``."""
    return rank(role) >= rank(needed)


def enough(needed: Role) -> str:
    """``member or owner``: the roles that may do what needs ``needed``."""
    return " or ".join(ROLES[rank(needed) :])


def refusal(role: str, doing: str, needed: Role) -> str:
    """The 403's message: ``this token's role is viewer; publishing needs member or owner``."""
    return f"this token's role is {role}; {doing} needs {enough(needed)}"
