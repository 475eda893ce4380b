"""Running a verification owned by another team, without the original's crashes.

When the verification's ``chaosiq`` extension names a ``team_id`` that is not
the default team, the team is looked up on the server with the user's token
(``GET {api}/organizations/{org}/teams/{team}``) and, if the token may use it,
made the default team *in memory* for this run only (the settings file is not
changed). The ChaosIQ token only ever goes to the ChaosIQ server: SOURCE is
loaded by chaostoolkit-lib, which sends ``auths.<host>`` only to that host.
"""

from __future__ import annotations

import logging
from typing import Any

from chaosiq_core import settings as s
from chaosiq_core.api import ApiClient
from chaosiq_core.errors import ApiError, ChaosIQError, UnreachableError
from chaosiq_core.hooks import Hooks
from chaosiq_verification.spec import InvalidVerification

logger = logging.getLogger("chaostoolkit.chaosiq.verification")

NO_ACCESS = "You cannot access the team owning this verification. Please request them to join the team."
WRONG_ORG = (
    "You must be signed in to the appropriate organization to run this verification. "
    "Please run `chaos signin`."
)


def switch_team(settings: dict[str, Any], team_id: str | None, hooks: Hooks, timeout: float = 5.0) -> bool:
    """Make ``team_id`` the default team of ``settings`` in memory; ``True`` when switched.

    :raises InvalidVerification: the token may not use that team, or it belongs
        to another organization.
    """
    url = s.get_url(settings)
    if not team_id or not url:
        return False
    org = s.default_org(settings)
    if org is None or not org.get("id"):
        raise ChaosIQError("Please select a default organization and team with `chaos team`")
    current = s.default_team(org)
    if current and str(current.get("id")) == team_id:
        return False
    client = ApiClient.for_settings(settings, hooks)
    if client is None or not client.signed_in:
        raise ChaosIQError("Please signin to ChaosIQ services first with `chaos signin`")
    try:
        resp = client.request(
            "GET",
            f"/api/v1/organizations/{org['id']}/teams/{team_id}",
            ok=(200, 403, 404),
            timeout=(3.05, timeout),
        )
    except UnreachableError as exc:
        logger.warning("chaosiq: cannot check the verification's team (%s); staying in the active team", exc)
        return False
    except ApiError as exc:
        raise InvalidVerification(f"{NO_ACCESS} ({exc})") from None
    if resp.status_code != 200:
        raise InvalidVerification(NO_ACCESS)
    try:
        body = resp.json()
    except ValueError:
        body = {}
    owner = body.get("org_id") if isinstance(body, dict) else None
    if owner and str(owner) != str(org["id"]):
        raise InvalidVerification(WRONG_ORG)
    name = body.get("name") if isinstance(body, dict) else None
    s.set_default_team(org, {"id": team_id, "name": name, "default": True})
    logger.info("Running a verification of team '%s' (not the active one) for this run only", name or team_id)
    return True
