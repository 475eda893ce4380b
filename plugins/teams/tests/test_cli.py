"""`chaos org` and `chaos team` with the real CLI, against a fake server and the real chaosiq-server."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from chaosiq_core.testing import FakeServer, Team, run_chaos


def _orgs(settings: Path) -> list[dict]:
    args = yaml.safe_load(settings.read_text())["controls"]["chaosiq-cloud"]["provider"]["arguments"]
    return args["organizations"]


def _one_error(result, code: int, needle: str) -> None:
    assert result.returncode == code, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.stderr
    assert len(lines) == 1 and lines[0].startswith("Error: ") and needle in lines[0], result.stderr


@pytest.fixture
def server(fake_chaosiq: FakeServer) -> FakeServer:
    fake_chaosiq.orgs.append({"id": "o-2", "name": "beta"})
    fake_chaosiq.teams["o-2"] = [{"id": "t-2", "name": "dev"}, {"id": "t-3", "name": "qa"}]
    return fake_chaosiq


@pytest.fixture
def settings(server: FakeServer, chaos_home: Path, teams_env: dict) -> Path:
    path = chaos_home / ".chaostoolkit" / "settings.yaml"
    path.write_text("runtime: {hypothesis: {strategy: default}}\n")
    result = run_chaos(
        "signin", "--url", server.url, "--token", server.token, "--org", "acme", settings=path, env=teams_env
    )
    assert result.returncode == 0, result.stderr
    return path


def test_org_switch_keeps_the_old_org_and_team_accumulates(settings: Path, teams_env: dict) -> None:
    result = run_chaos("org", "--org", "beta", "--team", "qa", settings=settings, env=teams_env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "Using organization 'beta'",
        "Experiments and executions will be published to team 'qa' in organization 'beta'",
        f"ChaosIQ details saved at {settings}",
    ]
    result = run_chaos("team", "--team", "dev", settings=settings, env=teams_env)
    assert result.returncode == 0, result.stderr
    assert (
        result.stdout.splitlines()[0]
        == "Experiments and executions will be published to team 'dev' in organization 'beta'"
    )
    assert _orgs(settings) == [
        {
            "id": "o-1",
            "name": "acme",
            "default": False,
            "teams": [{"id": "t-1", "name": "ops", "default": True}],
        },
        {
            "id": "o-2",
            "name": "beta",
            "default": True,
            "teams": [
                {"id": "t-3", "name": "qa", "default": False},
                {"id": "t-2", "name": "dev", "default": True},
            ],
        },
    ]
    # Back to the first org: its team list is replaced by the chosen team (original semantics).
    result = run_chaos("org", "--org", "o-1", settings=settings, env=teams_env)
    assert result.returncode == 0, result.stderr
    orgs = _orgs(settings)
    assert [(o["id"], o["default"]) for o in orgs] == [("o-1", True), ("o-2", False)]
    assert yaml.safe_load(settings.read_text())["runtime"] == {"hypothesis": {"strategy": "default"}}


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["org", "--org", "zeta"], "no organization 'zeta' (yours: acme, beta)"),
        (["org"], "you belong to several organizations (acme, beta): choose one with --org NAME|ID"),
        (["org", "--org", "beta"], "you belong to several teams in organization 'beta' (dev, qa)"),
        (["team", "--team", "qa"], "no team 'qa' in organization 'acme' (yours: ops)"),
    ],
)
def test_failed_selection_is_one_line_and_changes_nothing(
    settings: Path, teams_env: dict, args: list, needle: str
) -> None:
    before = settings.read_bytes()
    _one_error(run_chaos(*args, settings=settings, env=teams_env), 1, needle)
    assert settings.read_bytes() == before


def test_team_without_a_default_org(settings: Path, teams_env: dict) -> None:
    """The original crashed with a TypeError here."""
    data = yaml.safe_load(settings.read_text())
    data["controls"]["chaosiq-cloud"]["provider"]["arguments"]["organizations"] = []
    settings.write_text(yaml.safe_dump(data))
    before = settings.read_bytes()
    _one_error(run_chaos("team", settings=settings, env=teams_env), 1, "no default organization")
    assert settings.read_bytes() == before


def test_a_revoked_token(settings: Path, server: FakeServer, teams_env: dict) -> None:
    server.token = "rotated"
    before = settings.read_bytes()
    _one_error(run_chaos("org", "--org", "beta", settings=settings, env=teams_env), 1, "refused the token")
    _one_error(run_chaos("team", "--team", "ops", settings=settings, env=teams_env), 1, "refused the token")
    assert settings.read_bytes() == before


def test_disabled_teams_feature_says_how_to_enable_it(settings: Path, teams_env: dict) -> None:
    assert run_chaos("disable", "teams", settings=settings, env=teams_env).returncode == 0
    help_text = run_chaos("--help", settings=settings, env=teams_env).stdout
    assert "org " in help_text and "team " in help_text  # still listed
    before = settings.read_bytes()
    for command in (["org", "--org", "beta"], ["team"]):
        _one_error(run_chaos(*command, settings=settings, env=teams_env), 1, "run `chaos enable teams`")
    assert settings.read_bytes() == before


def test_not_signed_in_without_a_terminal(chaos_home: Path, teams_env: dict) -> None:
    path = chaos_home / "s.yaml"
    _one_error(run_chaos("org", settings=path, env=teams_env), 1, "not signed in")
    assert not path.exists()


def test_org_and_team_against_the_real_server(signed_in: Path, chaosiq_team: Team, chaos_home: Path) -> None:
    env = {"HOME": str(chaos_home), "CHAOSIQ_DISABLE_PLUGINS": "publish,safeguards,verification"}
    result = run_chaos("team", "--team", chaosiq_team.team_name, settings=signed_in, env=env)
    assert result.returncode == 0, result.stderr
    result = run_chaos("org", settings=signed_in, env=env)  # one org, one team: no question
    assert result.returncode == 0, result.stderr
    assert f"Using organization '{chaosiq_team.org_name}'" in result.stdout
    [org] = _orgs(signed_in)
    assert org["id"] == chaosiq_team.org_id
    assert org["teams"] == [{"id": chaosiq_team.team_id, "name": chaosiq_team.team_name, "default": True}]
    _one_error(run_chaos("team", "--team", "nope", settings=signed_in, env=env), 1, "no team 'nope'")


def test_not_signed_in_at_a_terminal_runs_signin_first(
    server: FakeServer, chaos_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the original: `chaos org` without a token runs the whole sign-in."""
    from chaosiq_teams import cli
    from click.testing import CliRunner

    import chaosiq_core.cli

    monkeypatch.setenv("CHAOSIQ_DISABLE_PLUGINS", "publish,safeguards,verification")
    for module in (cli, chaosiq_core.cli):
        monkeypatch.setattr(module, "is_interactive", lambda: True)
    path = chaos_home / "s.yaml"
    result = CliRunner().invoke(
        cli.org,
        ["--org", "beta"],
        obj={"settings_path": str(path)},
        input=f"{server.url}\n{server.token}\n1\n",
    )
    assert result.exit_code == 0, result.output
    assert "You are not signed in yet: let's do that first." in result.output
    assert "Default team to publish to" in result.output
    assert "will be published to team 'dev' in organization 'beta'" in result.output
    [org] = _orgs(path)
    assert (org["id"], org["teams"][0]["id"]) == ("o-2", "t-2")
