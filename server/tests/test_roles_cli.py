"""Roles with the real commands: ``chaosiq-server token create --role`` against a real
``chaosiq-server serve`` on SQLite and on PostgreSQL, and the real ``chaos run`` /
``chaos publish`` with a viewer token: refused in one clear line that names the role."""

from __future__ import annotations

import json
import re
from pathlib import Path

from chaosiq_core.testing import (
    ServerProcess,
    Team,
    chaosiq_server_each_database,
    exists_activity,
    run_chaos,
    sign_in,
    small_experiment,
)

ROLE_LINE = "refused the token (HTTP 403): this token's role is viewer; publishing needs member or owner"


server = chaosiq_server_each_database  # roles are read by each database's store


def _token(team: Team, *role: str) -> dict[str, str]:
    args = ["token", "create", "--team", team.team_id, "--name", f"cli-{'-'.join(role) or 'default'}"]
    out = team.server.cli(*args, *(["--role", *role] if role else []), "--json").stdout
    return json.loads(out)


def test_token_create_role_default_member_and_refusals(server: ServerProcess) -> None:
    team = server.new_team()
    made = {role: _token(team, role) for role in ("viewer", "member", "owner")}
    default = _token(team)
    assert default["role"] == "member"  # the least that lets `chaos run` publish
    assert {r: m["role"] for r, m in made.items()} == {
        "viewer": "viewer",
        "member": "member",
        "owner": "owner",
    }
    listed = server.cli("token", "list").stdout
    assert re.search(rf"{made['viewer']['id']}  cli-viewer  viewer  active  last-used=never", listed)
    # the server applies the role at once
    for role, expected in (("viewer", 403), ("member", 201), ("owner", 201)):
        r = team.api(
            "POST",
            "/experiments",
            json={"experiment": small_experiment(f"by {role}", [exists_activity("a")])},
            headers={"Authorization": f"Bearer {made[role]['token']}"},
        )
        assert r.status_code == expected, (role, r.text)
        if expected == 403:
            assert r.json() == {"detail": "this token's role is viewer; publishing needs member or owner"}
    # the admin CLI's creations and a revocation are in the team's audit log, by the CLI
    server.cli("token", "revoke", made["owner"]["id"])
    log = team.api("GET", "/audit?limit=5").json()["items"]
    assert [(e["action"], e["target_id"], e["token_name"]) for e in log[:2]] == [
        ("token.revoke", made["owner"]["id"], "chaosiq-server (admin CLI)"),
        ("token.create", default["id"], "chaosiq-server (admin CLI)"),
    ]
    # a role that is none: one line, no traceback
    bad = server.cli("token", "create", "--team", team.team_id, "--role", "admin", check=False)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "Invalid value for '--role': 'admin' is not one of 'viewer', 'member', 'owner'." in bad.stderr


def test_chaos_run_with_a_viewer_token_is_refused_in_one_clear_line(
    server: ServerProcess, chaos_home: Path, tmp_path: Path
) -> None:
    team = server.new_team()
    viewer = _token(team, "viewer")
    settings = sign_in(
        Team(server, team.org_id, team.org_name, team.team_id, team.team_name, viewer["token"]),
        chaos_home / ".chaostoolkit" / "settings.yaml",
    )
    exp = tmp_path / "experiment.json"
    exp.write_text(json.dumps(small_experiment("viewer run", [exists_activity("a")])))
    result = run_chaos("run", str(exp), settings=settings, cwd=tmp_path)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out  # the experiment itself ran; only publishing was refused
    assert "Traceback" not in out
    refused = [line for line in out.splitlines() if "refused the token" in line]
    assert len(refused) == 1, out
    assert ROLE_LINE in refused[0] and "sign in with a token whose role may publish" in refused[0]
    assert team.executions() == []  # nothing was published
    # chaos publish later: the same reason, the command fails
    again = run_chaos("publish", settings=settings, cwd=tmp_path)
    assert again.returncode == 1 and "Traceback" not in again.stdout + again.stderr
    assert ROLE_LINE in again.stderr.strip().splitlines()[-1]
