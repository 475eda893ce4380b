"""`chaos signin`: non-interactive and interactive, against a fake server and the real chaosiq-server."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import yaml
from core_helpers import Terminal, one_error_line, snapshot

from chaosiq_core.testing import FakeServer, Team, run_chaos


def _signin(fake: FakeServer, settings: Path, env: dict, *extra: str, token: str | None = None):
    return run_chaos(
        "signin", "--url", fake.url, "--token", token or fake.token, *extra, settings=settings, env=env
    )


def _args(settings: Path) -> dict:
    return yaml.safe_load(settings.read_text())["controls"]["chaosiq-cloud"]["provider"]["arguments"]


def test_single_org_and_team_are_chosen_without_asking(
    fake_chaosiq: FakeServer, chaos_home: Path, cli_env: dict
) -> None:
    settings = chaos_home / ".chaostoolkit" / "settings.yaml"
    settings.write_text("runtime:\n  rollbacks: {strategy: always}\n")
    result = _signin(fake_chaosiq, settings, cli_env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "Experiments and executions will be published to team 'ops' in organization 'acme'",
        f"ChaosIQ details saved at {settings}",
    ]
    assert fake_chaosiq.token not in result.stdout + result.stderr
    data = yaml.safe_load(settings.read_text())
    assert data["runtime"] == {"rollbacks": {"strategy": "always"}}  # kept
    host = fake_chaosiq.url.split("//")[1]
    assert data["auths"] == {host: {"type": "bearer", "value": fake_chaosiq.token}}
    control = data["controls"]["chaosiq-cloud"]
    assert control["provider"]["module"] == "chaosiq_core.control"
    assert control["provider"]["type"] == "python"
    assert control["provider"]["arguments"] == {
        "url": fake_chaosiq.url,
        "verify_tls": True,
        "organizations": [
            {
                "id": "o-1",
                "name": "acme",
                "default": True,
                "teams": [{"id": "t-1", "name": "ops", "default": True}],
            }
        ],
    }
    assert control["features"]["teams"] == "on"
    assert stat.S_IMODE(settings.stat().st_mode) == 0o600
    methods = [(m, p) for m, p, _ in fake_chaosiq.requests]
    assert methods == [
        ("HEAD", "/"),
        ("GET", "/api/v1/organizations"),
        ("GET", "/api/v1/organizations/o-1/teams"),
    ]
    assert all(h.get("User-Agent", "").startswith("chaosiq-core/") for _, _, h in fake_chaosiq.requests)


@pytest.fixture
def two_orgs(fake_chaosiq: FakeServer) -> FakeServer:
    fake_chaosiq.orgs.append({"id": "o-2", "name": "Beta"})
    fake_chaosiq.teams["o-2"] = [{"id": "t-2", "name": "dev"}, {"id": "t-3", "name": "qa"}]
    return fake_chaosiq


@pytest.mark.parametrize(
    ("org", "team", "expected"),
    [("Beta", "qa", ("o-2", "t-3")), ("o-2", "t-2", ("o-2", "t-2")), ("beta", "QA", ("o-2", "t-3")),
     ("acme", None, ("o-1", "t-1"))],
)  # fmt: skip
def test_org_and_team_by_name_or_id(
    two_orgs: FakeServer, chaos_home: Path, cli_env: dict, org: str, team: str | None, expected: tuple
) -> None:
    settings = chaos_home / "s.yaml"
    extra = ["--org", org] + (["--team", team] if team else [])
    result = _signin(two_orgs, settings, cli_env, *extra)
    assert result.returncode == 0, result.stderr
    [chosen] = _args(settings)["organizations"]
    assert (chosen["id"], chosen["teams"][0]["id"]) == expected


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        ([], "you belong to several organizations (acme, Beta): choose one with --org NAME|ID"),
        (
            ["--org", "Beta"],
            "you belong to several teams in organization 'Beta' (dev, qa): choose one with --team",
        ),
        (["--org", "gamma"], "no organization 'gamma' (yours: Beta, acme)"),
        (["--org", "Beta", "--team", "ops"], "no team 'ops' in organization 'Beta' (yours: dev, qa)"),
    ],
)
def test_choices_that_cannot_be_made_fail_clearly(
    two_orgs: FakeServer, chaos_home: Path, cli_env: dict, extra: list, needle: str
) -> None:
    settings = chaos_home / "s.yaml"
    one_error_line(_signin(two_orgs, settings, cli_env, *extra), 1, needle)
    assert not settings.exists()


def test_no_organization_at_all(fake_chaosiq: FakeServer, chaos_home: Path, cli_env: dict) -> None:
    """The original prompted forever on an empty list."""
    fake_chaosiq.orgs.clear()
    settings = chaos_home / "s.yaml"
    one_error_line(
        _signin(fake_chaosiq, settings, cli_env), 1, "you belong to no organization on this server"
    )
    assert not settings.exists()


def test_no_team_in_the_organization(fake_chaosiq: FakeServer, chaos_home: Path, cli_env: dict) -> None:
    fake_chaosiq.teams["o-1"] = []
    settings = chaos_home / "s.yaml"
    one_error_line(
        _signin(fake_chaosiq, settings, cli_env), 1, "you belong to no team in organization 'acme'"
    )
    assert not settings.exists()


def test_token_from_env_and_from_file(fake_chaosiq: FakeServer, chaos_home: Path, cli_env: dict) -> None:
    settings = chaos_home / "s.yaml"
    result = run_chaos(
        "signin",
        "--url",
        fake_chaosiq.url,
        settings=settings,
        env={**cli_env, "CHAOSIQ_TOKEN": fake_chaosiq.token},
    )
    assert result.returncode == 0, result.stderr
    token_file = chaos_home / "token.txt"
    token_file.write_text(f"  {fake_chaosiq.token}\n")
    settings.unlink()
    result = run_chaos(
        "signin", "--url", fake_chaosiq.url, "--token-file", str(token_file), settings=settings, env=cli_env
    )
    assert result.returncode == 0, result.stderr
    assert fake_chaosiq.token in settings.read_text()


def test_a_settings_file_of_the_original_is_migrated(
    fake_chaosiq: FakeServer, chaos_home: Path, cli_env: dict
) -> None:
    settings = chaos_home / "s.yaml"
    settings.write_text(
        "controls:\n  chaosiq-cloud:\n    features: {publish: 'off', workspace: 'on'}\n"
        "    provider:\n      type: python\n      module: chaoscloud.controls\n"
        "      arguments: {url: 'https://console.chaosiq.io', verify_tls: true, organizations: []}\n"
    )
    result = _signin(fake_chaosiq, settings, cli_env)
    assert result.returncode == 0, result.stderr
    migrated = [line for line in result.stderr.splitlines() if "Migrated" in line]
    assert len(migrated) == 1 and "chaoscloud.controls" in migrated[0]
    control = yaml.safe_load(settings.read_text())["controls"]["chaosiq-cloud"]
    assert control["provider"]["module"] == "chaosiq_core.control"
    assert control["features"]["publish"] == "off"  # the user's choice is kept
    assert control["features"]["workspace"] == "on"


def test_interactive_signin_with_numbered_prompts(
    two_orgs: FakeServer, chaos_home: Path, cli_env: dict
) -> None:
    settings = chaos_home / "s.yaml"
    term = Terminal(["--settings", str(settings), "signin"], cli_env)
    term.expect("ChaosIQ url [https://console.chaosiq.io]: ")
    term.send(two_orgs.url)
    term.expect("ChaosIQ token: ")
    term.send(two_orgs.token)
    term.expect("Here are your known organizations:")
    term.expect("Default organization to use")
    assert "1) acme" in term.output and "2) Beta" in term.output
    term.send("7")
    term.expect("Please, select a valid organization (1 to 2).")
    term.send("2")
    term.expect("Here are the teams you belong to in organization 'Beta':")
    term.expect("Default team to publish to")
    term.send("2")
    assert term.finish() == 0, term.output
    assert two_orgs.token not in term.output  # hidden input
    assert "will be published to team 'qa' in organization 'Beta'" in term.output
    [org] = _args(settings)["organizations"]
    assert (org["id"], org["teams"][0]["id"]) == ("o-2", "t-3")


# ------------------------------------------------------- real chaosiq-server


def test_signin_against_the_real_server(signed_in: Path, chaosiq_team: Team) -> None:
    args = _args(signed_in)
    assert args["url"] == chaosiq_team.server.url
    [org] = args["organizations"]
    assert (org["id"], org["name"], org["default"]) == (chaosiq_team.org_id, chaosiq_team.org_name, True)
    assert org["teams"] == [{"id": chaosiq_team.team_id, "name": chaosiq_team.team_name, "default": True}]
    host = chaosiq_team.server.url.split("//")[1]
    assert yaml.safe_load(signed_in.read_text())["auths"][host]["value"] == chaosiq_team.token
    assert stat.S_IMODE(signed_in.stat().st_mode) == 0o600


def test_signin_by_id_against_the_real_server(chaos_home: Path, chaosiq_team: Team, cli_env: dict) -> None:
    settings = chaos_home / "s.yaml"
    result = run_chaos(
        "signin", "--url", chaosiq_team.server.url, "--token", chaosiq_team.token,
        "--org", chaosiq_team.org_id, "--team", chaosiq_team.team_id, settings=settings, env=cli_env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"team '{chaosiq_team.team_name}' in organization '{chaosiq_team.org_name}'" in result.stdout


def test_real_server_refuses_a_bad_token(chaos_home: Path, chaosiq_team: Team, cli_env: dict) -> None:
    settings = chaos_home / "s.yaml"
    settings.write_text("runtime: {}\n")
    before = snapshot(settings)
    result = run_chaos(
        "signin",
        "--url",
        chaosiq_team.server.url,
        "--token",
        "not-a-real-token",
        settings=settings,
        env=cli_env,
    )
    one_error_line(result, 1, "refused the token (HTTP 401)")
    assert snapshot(settings) == before


def test_signin_with_teams_disabled_says_how_to_enable_it(
    fake_chaosiq: FakeServer, chaos_home: Path, cli_env: dict
) -> None:
    settings = chaos_home / "s.yaml"
    settings.write_text("controls:\n  chaosiq-cloud:\n    features: {teams: 'off'}\n")
    before = snapshot(settings)
    result = _signin(fake_chaosiq, settings, cli_env)
    one_error_line(result, 1, "the teams feature is disabled: run `chaos enable teams`")
    assert snapshot(settings) == before
