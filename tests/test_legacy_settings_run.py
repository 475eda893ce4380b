"""A settings file written by the original chaosiq-cloud keeps working with `chaos run`."""

from __future__ import annotations

import json
from pathlib import Path

from chaosiq_core.testing import Team, exists_activity, run_chaos, small_experiment

EXPERIMENT = small_experiment("legacy settings still publish", [exists_activity("noop")])


def legacy_settings(team: Team) -> str:
    """The layout `chaos signin` of chaosiq-cloud 0.16 wrote, keys sorted as yaml.dump does."""
    host = team.server.url.split("://", 1)[1]
    return f"""auths:
  {host}:
    type: bearer
    value: {team.token}
controls:
  chaosiq-cloud:
    features:
      publish: 'on'
      safeguards: 'on'
      workspace: 'on'
    provider:
      arguments:
        organizations:
        - default: true
          id: {team.org_id}
          name: {team.org_name}
          teams:
          - default: true
            id: {team.team_id}
            name: {team.team_name}
        url: {team.server.url}
        verify_tls: true
      module: chaoscloud.controls
      type: python
"""


def test_chaos_run_with_the_originals_settings_publishes_and_says_how_to_migrate(
    chaos_home: Path, chaosiq_team: Team, tmp_path: Path
) -> None:
    settings = chaos_home / ".chaostoolkit" / "settings.yaml"
    settings.write_text(legacy_settings(chaosiq_team))
    before = settings.read_bytes()
    exp = tmp_path / "experiment.json"
    exp.write_text(json.dumps(EXPERIMENT))
    journal = tmp_path / "journal.json"

    result = run_chaos("run", "--journal-path", str(journal), str(exp), settings=settings, cwd=tmp_path)

    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "chaoscloud.controls" in line]
    assert len(warnings) == 1 and "chaos enable publish" in warnings[0]
    ext = next(e for e in json.loads(journal.read_text())["extensions"] if e["name"] == "chaosiq")
    (execution,) = chaosiq_team.executions()
    assert execution["id"] == ext["execution_id"]
    assert execution["status"] == "completed"
    assert settings.read_bytes() == before  # a run never rewrites the settings file


def test_enable_migrates_the_file_and_the_warning_goes_away(
    chaos_home: Path, chaosiq_team: Team, tmp_path: Path
) -> None:
    settings = chaos_home / ".chaostoolkit" / "settings.yaml"
    settings.write_text(legacy_settings(chaosiq_team))
    assert run_chaos("enable", "publish", settings=settings).returncode == 0
    assert "module: chaosiq_core.control" in settings.read_text()
    exp = tmp_path / "experiment.json"
    exp.write_text(json.dumps(EXPERIMENT))

    result = run_chaos(
        "run", "--journal-path", str(tmp_path / "j.json"), str(exp), settings=settings, cwd=tmp_path
    )

    assert result.returncode == 0, result.stderr
    assert "chaoscloud.controls" not in result.stderr
    assert len(chaosiq_team.executions()) == 1
