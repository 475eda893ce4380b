"""The admin CLI contract other components rely on."""

from __future__ import annotations

import json
import subprocess

from chaosiq_server.cli import main
from click.testing import CliRunner
from server_helpers import server_cmd


def run(*args: str, url: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, [*args], env={"CHAOSIQ_SERVER_DATABASE_URL": url})
    return r.exit_code, r.stdout, r.stderr


def test_init_json_contract(db_url: str):
    code, out, _ = run("init", "--json", url=db_url)
    assert code == 0, out
    data = json.loads(out)
    assert set(data) == {"organization", "team", "token", "token_id"}
    assert data["organization"]["name"] == "default" and data["team"]["name"] == "default"
    # Second init reuses org and team, makes a new token.
    code, out, _ = run("init", "--json", url=db_url)
    again = json.loads(out)
    assert again["organization"] == data["organization"] and again["team"] == data["team"]
    assert again["token"] != data["token"]
    code, out, _ = run("init", "--json", "--org", "acme", "--team", "sre", "--token-name", "ci", url=db_url)
    other = json.loads(out)
    assert other["organization"]["name"] == "acme" and other["team"]["name"] == "sre"


def test_org_team_token_commands(sqlite_url: str):
    url = sqlite_url
    code, out, _ = run("org", "create", "acme", "--json", url=url)
    org = json.loads(out)
    code, out, _ = run("team", "create", "--org", org["id"], "sre", "--json", url=url)
    team = json.loads(out)
    assert team["org_id"] == org["id"]
    code, out, _ = run("team", "list", "--org", "acme", "--json", url=url)
    assert [t["id"] for t in json.loads(out)] == [team["id"]]
    code, out, _ = run("token", "create", "--team", team["id"], "--name", "bot", "--json", url=url)
    tok = json.loads(out)
    assert tok["token"].startswith("ciq_") and tok["teams"] == [team["id"]]
    code, out, _ = run("token", "list", "--json", url=url)
    listed = json.loads(out)
    assert listed[0]["id"] == tok["id"] and "token" not in listed[0]
    assert tok["token"] not in out
    code, out, _ = run("token", "revoke", tok["id"], url=url)
    assert code == 0
    code, out, _ = run("token", "revoke", tok["id"], url=url)
    assert code == 1
    code, out, _ = run("org", "list", "--json", url=url)
    assert [o["name"] for o in json.loads(out)] == ["acme"]


def test_bad_input_is_one_clear_line(sqlite_url: str):
    for args in (
        ["token", "create", "--team", "missing"],
        ["team", "create", "--org", "missing", "x"],
        ["org", "create", ""],
        ["token", "revoke", "missing"],
    ):
        r = subprocess.run(
            [*server_cmd(), *args, "--database-url", sqlite_url], capture_output=True, text=True, timeout=60
        )
        assert r.returncode != 0, args
        assert "Traceback" not in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    run("org", "create", "dup", url=sqlite_url)
    r = subprocess.run(
        [*server_cmd(), "org", "create", "dup", "--database-url", sqlite_url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 1 and "conflict" in r.stderr and "Traceback" not in r.stderr
