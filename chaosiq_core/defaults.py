"""The core's default hook implementations (registered as plugin ``core``).

They are ``trylast`` so that any installed plugin answering the same
``firstresult`` hook wins.
"""

from __future__ import annotations

import os
from typing import Any

from chaosiq_core import hookimpl
from chaosiq_core import settings as s
from chaosiq_core.types import Scope

TOKEN_ENV = "CHAOSIQ_TOKEN"


@hookimpl(trylast=True)
def chaosiq_token(url: str, settings: dict[str, Any]) -> str | None:
    """``CHAOSIQ_TOKEN`` for the configured server, else ``auths.<host>``."""
    env = os.environ.get(TOKEN_ENV, "").strip()
    configured = s.get_url(settings)
    if env and (configured is None or s.host_of(configured) == s.host_of(url)):
        return env
    return s.get_token(settings, url)


@hookimpl(trylast=True)
def chaosiq_api_scope(settings: dict[str, Any]) -> Scope | None:
    """The default organization and team recorded in the settings."""
    org = s.default_org(settings)
    team = s.default_team(org)
    if not org or not team or not org.get("id") or not team.get("id"):
        return None
    return Scope(str(org["id"]), str(team["id"]), org.get("name"), team.get("name"))
