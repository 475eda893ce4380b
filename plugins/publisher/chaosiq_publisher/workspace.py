"""The ``.chaosiq`` workspace file: local experiment file → server experiment id.

``.chaosiq`` (YAML) lives beside the experiment file::

    experiments:
      <org_id>:
        <team_id>:
          <experiment file basename>:
            experiment_id: <id>

Rerunning the same local file attaches to the same server experiment. The file is read when
the experiment is loaded and written (atomically, under a lock in the chaosiq data directory)
once the server told us the id. URL sources never touch it; ``features.workspace: off`` (the
original's toggle) turns it off.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from chaosiq_core import settings as s
from chaosiq_core.defaults import chaosiq_api_scope
from chaosiq_core.files import FileLock, write_atomic
from chaosiq_core.journal import chaosiq_extension
from chaosiq_publisher.outbox import data_dir

if TYPE_CHECKING:  # pragma: no cover
    from chaosiq_core.run import Run

logger = logging.getLogger("chaostoolkit.chaosiq.publish")

FILENAME = ".chaosiq"


def local_file(source: str | None) -> Path | None:
    """The experiment file for a local ``source``, ``None`` for URLs and missing files."""
    if not source or "://" in source:
        return None
    p = Path(source).expanduser()
    return p.resolve() if p.is_file() else None


def _lock(path: Path) -> FileLock:
    d = data_dir() / "locks"
    d.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:16]
    return FileLock(d / f"workspace-{digest}.lock")


def load(path: Path) -> dict[str, Any]:
    """The workspace data (``{}`` when missing, empty or unreadable: never fatal)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, yaml.YAMLError) as exc:
        logger.warning("chaosiq: ignoring the workspace file %s: %s", path, exc)
        return {}
    return data if isinstance(data, dict) else {}


def lookup(experiment_file: Path, org_id: str, team_id: str) -> str | None:
    data = load(experiment_file.parent / FILENAME)
    entry = (((data.get("experiments") or {}).get(org_id) or {}).get(team_id) or {}).get(experiment_file.name)
    if isinstance(entry, dict) and entry.get("experiment_id"):
        return str(entry["experiment_id"])
    return None


def register(experiment_file: Path, org_id: str, team_id: str, experiment_id: str) -> None:
    """Record the id, atomically and under a lock (two ``chaos`` processes may race)."""
    path = experiment_file.parent / FILENAME
    with _lock(path).acquire(timeout=5):
        data = load(path)
        exps = data.setdefault("experiments", {})
        if not isinstance(exps, dict):
            exps = data["experiments"] = {}
        team = exps.setdefault(org_id, {}).setdefault(team_id, {})
        if (team.get(experiment_file.name) or {}).get("experiment_id") == experiment_id:
            return
        team[experiment_file.name] = {"experiment_id": experiment_id}
        write_atomic(path, yaml.safe_dump(data, default_flow_style=False))
    logger.debug("chaosiq: workspace %s: %s → %s", path, experiment_file.name, experiment_id)


def on_loaded(source: str, experiment: dict[str, Any] | None, settings: dict[str, Any]) -> None:
    """After loading a local file: put the known server id into the experiment's extension."""
    if not isinstance(experiment, dict) or not s.is_feature_enabled(settings, "workspace"):
        return
    f, scope = local_file(source), chaosiq_api_scope(settings)  # the settings' default team
    if f is None or scope is None:
        return
    if eid := lookup(f, scope.org_id, scope.team_id):
        ext = chaosiq_extension(experiment, create=True)
        if not ext.get("experiment_id"):
            ext["experiment_id"] = eid
            logger.debug("chaosiq: using experiment id %s from the workspace", eid)


def remember(run: Run, experiment_id: str) -> None:
    """After the server stored the experiment: write its id to the workspace."""
    f = local_file(run.source)
    scope = run.client.scope if run.client is not None else None
    if f is None or scope is None or not s.is_feature_enabled(run.settings, "workspace"):
        return
    try:
        register(f, scope.org_id, scope.team_id, experiment_id)
    except Exception as exc:
        logger.warning("chaosiq: cannot update the workspace file beside %s: %s", f, exc)
