"""Read and write the Chaos Toolkit settings file in the original ChaosIQ layout.

The layout the original's ``chaos signin`` wrote, kept so that either reads the other's file::

    auths:
      <host[:port]>: {type: bearer, value: <token>}
    controls:
      chaosiq-cloud:
        features: {publish: 'on', safeguards: 'off', ...}
        options: {<feature>: {<option>: <value>}}      # ours, optional
        provider:
          type: python
          module: chaosiq_core.control
          arguments:
            url: https://host
            verify_tls: true
            organizations: [{id, name, default, teams: [{id, name, default}]}]

Writes are atomic (temporary file in the same folder, then rename), the file
is 0600 and every key we do not own is kept as it was.
"""

from __future__ import annotations

import copy
import logging
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import yaml

from chaosiq_core import CONTROL_NAME
from chaosiq_core.errors import SettingsError
from chaosiq_core.files import write_atomic

logger = logging.getLogger("chaostoolkit.chaosiq")

CONTROL_MODULE = "chaosiq_core.control"
LEGACY_CONTROL_MODULES = ("chaoscloud.controls",)
DEFAULT_URL = "https://console.chaosiq.io"

_ON = {"on", "true", "yes", "1", "enabled"}
_OFF = {"off", "false", "no", "0", "disabled"}

Settings = dict[str, Any]


def default_settings_path() -> Path:
    """``~/.chaostoolkit/settings.yaml``, resolved now (tests change ``HOME``)."""
    return Path(os.path.expanduser("~/.chaostoolkit/settings.yaml"))


# ------------------------------------------------------------------ file I/O


def load(path: str | os.PathLike[str] | None = None, *, must_exist: bool = False) -> Settings:
    """Read the settings file; a missing file is ``{}`` unless ``must_exist``.

    Raises :class:`SettingsError` with one clear line when the file cannot be
    read, is not valid YAML, or is not shaped as Chaos Toolkit expects.
    """
    p = Path(path) if path else default_settings_path()
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        if must_exist:
            raise SettingsError(f"settings file {p} does not exist: run `chaos signin` first") from None
        return {}
    except IsADirectoryError:
        raise SettingsError(f"settings file {p} is a directory") from None
    except OSError as exc:
        raise SettingsError(f"cannot read settings file {p}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise SettingsError(f"settings file {p} is not UTF-8 text") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = ""
        mark = getattr(exc, "problem_mark", None)
        if mark is not None:
            where = f" (line {mark.line + 1}, column {mark.column + 1})"
        raise SettingsError(f"settings file {p} is not valid YAML{where}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise SettingsError(f"settings file {p} must hold a mapping, not a {type(data).__name__}")
    check(data, p)
    return data


def check(settings: Settings, path: os.PathLike[str] | str = "settings") -> None:
    """Raise :class:`SettingsError` when a key we rely on has the wrong shape."""
    for key in ("controls", "auths"):
        value = settings.get(key)
        if value is not None and not isinstance(value, dict):
            raise SettingsError(f"settings file {path}: '{key}' must be a mapping")
    control = (settings.get("controls") or {}).get(CONTROL_NAME)
    if control is not None and not isinstance(control, dict):
        raise SettingsError(f"settings file {path}: 'controls.{CONTROL_NAME}' must be a mapping")
    if control:
        for key in ("features", "provider", "options"):
            value = control.get(key)
            if value is not None and not isinstance(value, dict):
                raise SettingsError(
                    f"settings file {path}: 'controls.{CONTROL_NAME}.{key}' must be a mapping"
                )


def save(settings: Settings, path: str | os.PathLike[str] | None = None) -> Path:
    """Write the settings atomically, mode 0600, creating the folder if needed.

    The previous file stays intact until the new one is complete: a crash or
    a full disk never leaves a truncated settings file.
    """
    p = Path(path) if path else default_settings_path()
    p.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(p, yaml.safe_dump(settings, default_flow_style=False, sort_keys=True))
    return p


# ------------------------------------------------------------------ control


def get_control(settings: Settings) -> dict[str, Any] | None:
    """The ``controls.chaosiq-cloud`` block, or ``None``."""
    return (settings.get("controls") or {}).get(CONTROL_NAME)


def ensure_control(settings: Settings) -> dict[str, Any]:
    """Return the control block, creating it (and its provider) if missing."""
    controls = settings.setdefault("controls", {})
    found = controls.get(CONTROL_NAME)
    control: dict[str, Any] = found if isinstance(found, dict) else {}
    controls[CONTROL_NAME] = control
    provider = control.setdefault("provider", {})
    provider["type"] = "python"
    provider["module"] = CONTROL_MODULE
    provider.setdefault("arguments", {})
    control.setdefault("features", {})
    return control


def is_legacy(settings: Settings) -> bool:
    """``True`` when the control still points at the original ``chaoscloud.controls``."""
    control = get_control(settings) or {}
    return (control.get("provider") or {}).get("module") in LEGACY_CONTROL_MODULES


def migrate(settings: Settings) -> bool:
    """Point a settings file written by chaosiq-cloud at our control module.

    Everything else (auths, organizations, features) is already in the right
    layout. Returns ``True`` when something changed, and says so in one line.
    """
    if not is_legacy(settings):
        return False
    ensure_control(settings)
    logger.info(
        "Migrated the ChaosIQ control from chaoscloud.controls to %s in your settings",
        CONTROL_MODULE,
    )
    return True


def arguments(settings: Settings) -> dict[str, Any]:
    """``provider.arguments`` of the control (``{}`` if absent)."""
    control = get_control(settings) or {}
    return ((control.get("provider") or {}).get("arguments")) or {}


def get_url(settings: Settings) -> str | None:
    """The configured server URL (``scheme://host[:port]``), or ``None``."""
    url = arguments(settings).get("url")
    return str(url).rstrip("/") if url else None


def get_verify_tls(settings: Settings) -> bool:
    """TLS verification for the server: on unless explicitly turned off."""
    value = arguments(settings).get("verify_tls", True)
    return parse_flag(value) is not False


def parse_flag(value: Any) -> bool | None:
    """Read ``'on'``/``'off'``, YAML booleans and friends; ``None`` when unset."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _ON:
        return True
    if text in _OFF:
        return False
    return None


# ----------------------------------------------------------------- features


def feature_flag(settings: Settings, name: str) -> bool | None:
    """``True``/``False`` when the settings say so, ``None`` when they are silent."""
    control = get_control(settings) or {}
    return parse_flag((control.get("features") or {}).get(name))


def is_feature_enabled(settings: Settings, name: str) -> bool:
    """A feature is on unless the settings turn it off (an installed plugin is active)."""
    return feature_flag(settings, name) is not False


def disabled_features(settings: Settings) -> set[str]:
    """Names of the features turned off in the settings."""
    control = get_control(settings) or {}
    return {str(k) for k, v in (control.get("features") or {}).items() if parse_flag(v) is False}


def enabled_features(settings: Settings) -> set[str]:
    """Names of the features the settings explicitly turn on."""
    control = get_control(settings) or {}
    return {str(k) for k, v in (control.get("features") or {}).items() if parse_flag(v) is True}


FAIL_CLOSED = "fail-closed"


def fails_closed(settings: Settings, feature: str) -> bool:
    """``options.<feature>.on_error`` is ``fail-closed``: no run without this feature."""
    value = options(settings, feature).get("on_error")
    return isinstance(value, str) and value.strip().lower() == FAIL_CLOSED


def set_feature(settings: Settings, name: str, enabled: bool) -> bool:
    """Write ``'on'``/``'off'`` (the original's quoted strings). Returns whether it changed."""
    before = feature_flag(settings, name)
    control = ensure_control(settings)
    control.setdefault("features", {})[name] = "on" if enabled else "off"
    return before is not enabled


def options(settings: Settings, feature: str) -> dict[str, Any]:
    """The user's options for ``feature`` (``controls.chaosiq-cloud.options.<feature>``)."""
    control = get_control(settings) or {}
    value = (control.get("options") or {}).get(feature) or {}
    return value if isinstance(value, dict) else {}


# ------------------------------------------------------------------- auths


def host_of(url: str) -> str:
    """``host[:port]`` of a URL: the key of ``auths``."""
    return urlparse(url).netloc


def get_token(settings: Settings, url: str) -> str | None:
    """The token stored for ``url``'s host, or ``None``."""
    entry = (settings.get("auths") or {}).get(host_of(url))
    if isinstance(entry, dict) and entry.get("value"):
        return str(entry["value"]).strip()
    return None


def set_auth(settings: Settings, url: str, token: str) -> None:
    """Store a bearer token for ``url``'s host (replacing any other type)."""
    auths = settings.get("auths")
    if not isinstance(auths, dict):
        auths = settings["auths"] = {}
    auths[host_of(url)] = {"type": "bearer", "value": token.strip()}


def set_server(settings: Settings, url: str, verify_tls: bool) -> None:
    """Record the server URL and TLS choice in the control's arguments."""
    control = ensure_control(settings)
    args = control["provider"].setdefault("arguments", {})
    args["url"] = url
    args["verify_tls"] = bool(verify_tls)
    args.setdefault("organizations", [])


# -------------------------------------------------------- organizations/teams


def organizations(settings: Settings) -> list[dict[str, Any]]:
    """The ``organizations`` list (a live list; ``[]`` when absent)."""
    control = get_control(settings)
    if not control:
        return []
    args = (control.get("provider") or {}).get("arguments")
    if not isinstance(args, dict):
        return []
    orgs = args.get("organizations")
    return orgs if isinstance(orgs, list) else []


def default_org(settings: Settings) -> dict[str, Any] | None:
    """The organization marked ``default: true``, or ``None``."""
    for org in organizations(settings):
        if isinstance(org, dict) and org.get("default"):
            return org
    return None


def default_team(org: dict[str, Any] | None) -> dict[str, Any] | None:
    """The team of ``org`` marked ``default: true``, or ``None``."""
    if not org:
        return None
    for team in org.get("teams") or []:
        if isinstance(team, dict) and team.get("default"):
            return team
    return None


def set_default_team(org: dict[str, Any], team: dict[str, Any]) -> None:
    """Mark ``team`` default inside ``org`` (the original's accumulate semantics)."""
    teams = org.setdefault("teams", [])
    found = False
    for t in teams:
        if t.get("id") == team["id"]:
            t["default"] = True
            t["name"] = team.get("name")
            found = True
        else:
            t["default"] = False
    if not found:
        teams.append({"id": team["id"], "name": team.get("name"), "default": True})


def set_default_org(settings: Settings, org: dict[str, Any], team: dict[str, Any]) -> None:
    """Make ``org``/``team`` the defaults, as chaosiq-cloud's ``set_settings`` does.

    The previous default organization is kept with ``default: false``; a known
    organization gets its name updated and its teams *replaced* by the ones of
    the selection; a new one is appended.
    """
    control = ensure_control(settings)
    args = control["provider"].setdefault("arguments", {})
    orgs = args.get("organizations")
    if not isinstance(orgs, list):
        orgs = args["organizations"] = []
    existing = next((o for o in orgs if o.get("id") == org["id"]), None)
    # The teams of ``org`` are kept when it came from the settings (``chaos team``
    # accumulates) and start empty when it came from the API (``chaos org``).
    chosen = {"id": org["id"], "name": org.get("name"), "teams": copy.deepcopy(org.get("teams") or [])}
    set_default_team(chosen, team)
    for o in orgs:
        o["default"] = False
    if existing is not None:
        existing.clear()
        existing.update(chosen)
        existing["default"] = True
    else:
        chosen["default"] = True
        orgs.append(chosen)
