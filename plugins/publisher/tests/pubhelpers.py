"""Helpers of the publisher's end-to-end tests: experiments, settings, server queries."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from chaosiq_core.testing import Team, executable, run_chaos


def experiment(
    actions: int = 2, *, sleep: float | None = None, extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """1 steady-state probe, ``actions`` no-op actions (one ``sleep`` in the middle), 1 rollback."""
    method: list[dict[str, Any]] = [
        {"type": "action", "name": f"noop-{i}", "provider": {"type": "python", "module": "os.path",
                                                              "func": "exists", "arguments": {"path": "/"}}}
        for i in range(actions)
    ]  # fmt: skip
    if sleep is not None:
        method.insert(
            len(method) // 2,
            {"type": "action", "name": "sleep", "provider": {"type": "process", "path": "sleep",
                                                              "arguments": str(sleep)}},
        )  # fmt: skip
    doc = {
        "title": "publisher test",
        "description": "exercise the publisher",
        "steady-state-hypothesis": {
            "title": "root exists",
            "probes": [
                {"type": "probe", "name": "root-exists", "tolerance": True,
                 "provider": {"type": "python", "module": "os.path", "func": "exists",
                              "arguments": {"path": "/"}}}
            ],
        },
        "method": method,
        "rollbacks": [{"type": "action", "name": "rollback",
                       "provider": {"type": "process", "path": "true"}}],
    }  # fmt: skip
    doc.update(extra or {})
    return doc


def write_experiment(folder: Path, doc: dict[str, Any], name: str = "experiment.json") -> Path:
    """Write ``doc`` (made unique, so the server never merges two tests' experiments)."""
    import uuid

    folder.mkdir(parents=True, exist_ok=True)
    doc = {**doc, "title": f"{doc.get('title', 'experiment')} {uuid.uuid4().hex[:8]}"}
    path = folder / name
    path.write_text(json.dumps(doc))
    return path


def set_options(settings: Path, feature: str, **values: Any) -> None:
    """Write ``controls.chaosiq-cloud.options.<feature>.<name>`` into a settings file."""
    data = yaml.safe_load(settings.read_text())
    opts = data["controls"]["chaosiq-cloud"].setdefault("options", {}).setdefault(feature, {})
    opts.update(values)
    settings.write_text(yaml.safe_dump(data))


def sign_in(settings: Path, url: str, team: Team, env: dict[str, str]) -> None:
    """The real ``chaos signin`` (against ``url``, which may be a proxy of the team's server)."""
    r = run_chaos(
        "signin", "--url", url, "--token", team.token, "--org", team.org_name, "--team", team.team_name,
        settings=settings, env=env,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr


def run(settings: Path, exp: Path, env: dict[str, str], *args: str, timeout: float = 60) -> Any:
    journal = exp.parent / "journal.json"
    return run_chaos(
        "run", "--journal-path", str(journal), *args, str(exp),
        settings=settings, env=env, cwd=exp.parent, timeout=timeout,
    )  # fmt: skip


def executions(team: Team) -> list[dict[str, Any]]:
    return team.executions()


def events(team: Team, execution: dict[str, Any]) -> list[dict[str, Any]]:
    """Every event the server stored for an execution, in timeline order."""
    items: list[dict[str, Any]] = []
    cursor = None
    base = f"/experiments/{execution['experiment_id']}/executions/{execution['id']}/events"
    while True:
        q = f"?limit=500&cursor={cursor}" if cursor else "?limit=500"
        resp = team.api("GET", base + q)
        resp.raise_for_status()
        body = resp.json()
        items.extend(body["items"])
        cursor = body.get("next_cursor")
        if not cursor:
            return items


def run_ids(exp: Path) -> tuple[str | None, str | None]:
    """``(experiment_id, execution_id)`` the run wrote into its journal file."""
    journal = json.loads((exp.parent / "journal.json").read_text())
    ext = next((e for e in journal.get("extensions") or [] if e.get("name") == "chaosiq"), {})
    return ext.get("experiment_id"), ext.get("execution_id")


def executions_of(team: Team, experiment_id: str | None) -> list[dict[str, Any]]:
    return [x for x in team.executions() if x["experiment_id"] == experiment_id]


def execution(team: Team, xid: str) -> dict[str, Any]:
    resp = team.api("GET", f"/executions/{xid}")
    resp.raise_for_status()
    return resp.json()


def warnings(output: str) -> list[str]:
    return [line for line in output.splitlines() if "WARNING" in line and "chaosiq" in line]


def outbox_files(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "outbox").glob("*.jsonl")) if (data_dir / "outbox").is_dir() else []


def expected_types(actions: int, sleep: bool = False) -> list[str]:
    """The event types of :func:`experiment` in order (no background activity)."""
    n = actions + (1 if sleep else 0)
    probe = ["starting-activity", "activity-finished"]
    hyp = ["starting-hypothesis", *probe, "hypothesis-finished"]
    return [
        "starting-experiment", *hyp,
        "starting-method", *(probe * n), "method-finished",
        *hyp,
        "starting-rollback", *probe, "rollback-finished",
        "experiment-finished",
    ]  # fmt: skip


def revoke(team: Team) -> None:
    team.server.cli("token", "revoke", str(team.token_id))


def new_token(team: Team) -> str:
    out = team.server.cli("token", "create", "--team", team.team_id, "--name", "again", "--json").stdout
    return json.loads(out)["token"]


def python() -> str:
    return sys.executable


__all__ = ["executable", "subprocess"]
