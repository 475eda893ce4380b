"""Secrets of a run never reach the server (checked on what the real server stored)."""

from __future__ import annotations

import json
from pathlib import Path

from pubhelpers import events, executions_of, experiment, run, run_ids, write_experiment

MODULE = """
def echo(password: str = "", message: str = "") -> dict:
    return {"token": "out-s3cret-token-value", "message": message}

def leak(value: str = "") -> str:
    return "the key is " + value
"""


def test_a_run_with_secrets_publishes_none_of_them(
    team_settings, env: dict[str, str], tmp_path: Path
) -> None:
    team, settings = team_settings
    folder = tmp_path / "secret-place"
    folder.mkdir()
    (folder / "pubtestmod.py").write_text(MODULE)
    doc = experiment(0)
    doc["secrets"] = {
        "app": {
            "api_password": "inline-s3cret-value",
            "from_env": {"type": "env", "key": "PUB_TEST_SECRET"},
        }
    }
    doc["configuration"] = {"db_url": {"type": "env", "key": "PUB_TEST_DB"}}
    doc["method"] = [
        {"type": "action", "name": "with-password", "provider": {
            "type": "python", "module": "pubtestmod", "func": "echo",
            "arguments": {"password": "arg-s3cret-value", "message": "db is ${db_url}"}}},
        {"type": "action", "name": "leaky", "secrets": ["app"], "provider": {
            "type": "python", "module": "pubtestmod", "func": "leak",
            "arguments": {"value": "${from_env}"}}},
    ]  # fmt: skip
    exp = write_experiment(folder, doc)
    run_env = {
        **env,
        "PYTHONPATH": str(folder),
        "PUB_TEST_SECRET": "env-s3cret-value",
        "PUB_TEST_DB": "postgres://u:conf-s3cret-pw@db/x",
    }
    result = run(settings, exp, run_env)
    assert result.returncode == 0, result.stderr
    local_journal = (folder / "journal.json").read_text()
    assert "env-s3cret-value" in local_journal  # the run really produced them

    eid, _xid = run_ids(exp)
    (xn,) = executions_of(team, eid)
    stored = json.dumps(
        [
            team.api("GET", f"/experiments/{eid}").json(),
            team.api("GET", f"/executions/{xn['id']}").json(),
            events(team, xn),
        ]
    )
    assert "leaky" in stored and "activity-finished" in stored  # the run is there
    for secret in (
        "inline-s3cret-value",
        "env-s3cret-value",
        "conf-s3cret-pw",
        "arg-s3cret-value",
        "out-s3cret-token-value",
        team.token,
        str(exp),
    ):
        assert secret not in stored, secret
    assert "***REDACTED***" in stored


def test_chaos_publish_journal_redacts_the_secrets_the_experiment_loads(
    chaosiq_server, env: dict[str, str], tmp_path: Path
) -> None:
    """A journal published later by ``chaos publish JOURNAL``: the secrets and configuration the
    experiment loads from env are loaded as ``chaos run`` does, and redacted."""
    from pubhelpers import sign_in

    from chaosiq_core.testing import run_chaos

    folder = tmp_path / "later"
    folder.mkdir()
    (folder / "pubtestmod.py").write_text(MODULE)
    doc = experiment(0)
    doc["secrets"] = {"app": {"from_env": {"type": "env", "key": "PUB_TEST_SECRET"}}}
    doc["configuration"] = {"db_url": {"type": "env", "key": "PUB_TEST_DB"}}
    doc["method"] = [
        {"type": "action", "name": "leaky", "secrets": ["app"], "provider": {
            "type": "python", "module": "pubtestmod", "func": "leak",
            "arguments": {"value": "${from_env} and ${db_url}"}}},
    ]  # fmt: skip
    exp = write_experiment(folder, doc)
    secrets_env = {"PUB_TEST_SECRET": "env-s3cret-value", "PUB_TEST_DB": "postgres://u:conf-s3cret-pw@db/x"}
    # run with no server in the settings: nothing is published, the journal holds the values
    settings = tmp_path / "settings.yaml"
    settings.write_text("{}\n")
    result = run(settings, exp, {**env, "PYTHONPATH": str(folder), **secrets_env})
    assert result.returncode == 0, result.stderr
    journal = folder / "journal.json"
    assert "env-s3cret-value" in journal.read_text() and "conf-s3cret-pw" in journal.read_text()

    team = chaosiq_server.new_team()
    sign_in(settings, chaosiq_server.url, team, env)
    r = run_chaos("publish", str(journal), settings=settings, env={**env, **secrets_env})
    assert r.returncode == 0, r.stdout + r.stderr
    (xn,) = team.executions()
    stored = json.dumps(team.api("GET", f"/executions/{xn['id']}").json())
    assert "the key is" in stored and "***REDACTED***" in stored
    assert "env-s3cret-value" not in stored and "conf-s3cret-pw" not in stored

    # where they cannot be loaded (the variables unset here): one warning, published as before
    journal.write_text(journal.read_text())
    r = run_chaos("publish", str(journal), settings=settings, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "cannot load the experiment's configuration or secrets" in r.stdout + r.stderr
