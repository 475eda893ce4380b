"""Bad input to the real `chaos` commands: one clear line, the right exit code, settings untouched."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from core_helpers import Terminal, one_error_line, snapshot

from chaosiq_core import manager
from chaosiq_core.testing import FakeServer, SilentServer, run_chaos, self_signed_cert

SIGNED_IN = """\
auths:
  127.0.0.1:9:
    type: bearer
    value: old-token
controls:
  chaosiq-cloud:
    features:
      publish: 'on'
    provider:
      arguments:
        organizations:
        - default: true
          id: o-0
          name: old
          teams:
          - {default: true, id: t-0, name: old-team}
        url: http://127.0.0.1:9
        verify_tls: true
      module: chaosiq_core.control
      type: python
runtime: {rollbacks: {strategy: always}}
"""


@pytest.fixture
def settings(chaos_home: Path) -> Path:
    path = chaos_home / ".chaostoolkit" / "settings.yaml"
    path.write_text(SIGNED_IN)
    os.chmod(path, 0o600)
    return path


MALFORMED_YAML = ("controls: [oops\n", "is not valid YAML (line")
CONTROLS_NOT_A_MAPPING = ("controls: 12\n", "'controls' must be a mapping")
CONTROL_NOT_A_MAPPING = ("controls:\n  chaosiq-cloud: [a]\n", "'controls.chaosiq-cloud' must be a mapping")
NOT_A_MAPPING = ("- just\n- a list\n", "must hold a mapping")
SIGNIN = ("signin", "--url", "http://127.0.0.1:9", "--token", "t")


@pytest.mark.parametrize(
    ("content", "needle", "command"),
    [
        *[(*MALFORMED_YAML, c) for c in [("features",), ("enable", "teams"), ("disable", "teams"), SIGNIN,
                                          ("org", "--org", "x"), ("team", "--team", "x")]],
        *[(*CONTROLS_NOT_A_MAPPING, c) for c in [("disable", "teams"), SIGNIN, ("team",)]],
        *[(*CONTROL_NOT_A_MAPPING, c) for c in [("enable", "teams"), ("org",)]],
        (*NOT_A_MAPPING, ("features",)),
    ],
)  # fmt: skip
def test_malformed_settings(settings: Path, cli_env: dict, content: str, needle: str, command: tuple) -> None:
    settings.write_text(content)
    before = snapshot(settings)
    result = run_chaos(*command, settings=settings, env=cli_env)
    one_error_line(result, 1, needle, str(settings))
    assert snapshot(settings) == before


def test_settings_path_is_a_directory(tmp_path: Path, cli_env: dict) -> None:
    result = run_chaos("enable", "teams", settings=tmp_path, env=cli_env)
    one_error_line(result, 1, "is a directory")


def test_binary_settings_file(settings: Path, cli_env: dict) -> None:
    settings.write_bytes(b"\xff\xfe\xfa binary")
    before = snapshot(settings)
    one_error_line(run_chaos("features", settings=settings, env=cli_env), 1, "not UTF-8")
    assert snapshot(settings) == before


@pytest.mark.parametrize("command", [("org",), ("team",), ("org", "--org", "a", "--team", "b")])
def test_missing_settings_file_for_org_and_team(chaos_home: Path, cli_env: dict, command: tuple) -> None:
    path = chaos_home / ".chaostoolkit" / "settings.yaml"
    result = run_chaos(*command, settings=path, env=cli_env)
    one_error_line(result, 1, "not signed in", "chaos signin")
    assert not path.exists()


def test_unknown_feature(settings: Path, cli_env: dict) -> None:
    before = snapshot(settings)
    for verb in ("enable", "disable"):
        line = one_error_line(run_chaos(verb, "nosuch", settings=settings, env=cli_env), 2)
        # what `chaos features` lists, and the original's `workspace` flag as what it is
        assert line == (
            "Error: unknown feature 'nosuch' (installed features: publish, safeguards, teams, "
            "verification, publish's workspace toggle)"
        )
    one_error_line(run_chaos("disable", "core", settings=settings, env=cli_env), 2, "cannot be toggled")
    assert snapshot(settings) == before


def test_known_feature_not_installed_says_what_to_install(
    settings: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chaosiq_core.cli import enable

    monkeypatch.setattr(manager, "entry_points", lambda: [])
    before = snapshot(settings)
    result = CliRunner().invoke(enable, ["publish"], obj={"settings_path": str(settings)})
    assert result.exit_code == 2
    assert (
        result.output.strip()
        == "Error: the 'publish' feature is not installed: pip install chaosiq-publisher"
    )
    assert snapshot(settings) == before


def test_unknown_feature_when_none_is_installed(settings: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No installed feature, so no toggle of one either: the line says what to install."""
    from chaosiq_core.cli import disable

    monkeypatch.setattr(manager, "entry_points", lambda: [])
    result = CliRunner().invoke(disable, ["nosuch"], obj={"settings_path": str(settings)})
    assert result.exit_code == 2
    assert result.output.strip() == (
        "Error: unknown feature 'nosuch' (no feature is installed: pip install 'chaosiq-core[all]')"
    )


def _signin(server_url: str, token: str, settings: Path, env: dict, *extra: str):
    return run_chaos("signin", "--url", server_url, "--token", token, *extra, settings=settings, env=env)


@pytest.mark.parametrize("status", [401, 403])
def test_refused_token(settings: Path, cli_env: dict, fake_chaosiq: FakeServer, status: int) -> None:
    if status == 403:
        fake_chaosiq.routes[("HEAD", "/")] = (403, {"detail": "forbidden"})
    before = snapshot(settings)
    result = _signin(fake_chaosiq.url, "wrong-token-123", settings, cli_env)
    one_error_line(result, 1, f"refused the token (HTTP {status})")
    assert "wrong-token-123" not in result.stdout + result.stderr
    assert snapshot(settings) == before


def test_token_refused_when_listing_organizations(
    settings: Path, cli_env: dict, fake_chaosiq: FakeServer
) -> None:
    fake_chaosiq.routes[("GET", "/api/v1/organizations")] = (403, {"detail": "no"})
    before = snapshot(settings)
    one_error_line(_signin(fake_chaosiq.url, fake_chaosiq.token, settings, cli_env), 1, "refused the token")
    assert snapshot(settings) == before


def test_server_that_never_answers(settings: Path, cli_env: dict) -> None:
    silent = SilentServer()
    before = snapshot(settings)
    try:
        started = time.monotonic()
        result = _signin(silent.url, "tok", settings, {**cli_env, "CHAOSIQ_HTTP_TIMEOUT": "0.3"})
        elapsed = time.monotonic() - started
    finally:
        silent.close()
    one_error_line(result, 1, f"the ChaosIQ server at {silent.url} did not answer within 0.3 s")
    assert elapsed < 15
    assert snapshot(settings) == before


def test_server_that_refuses_connections(settings: Path, cli_env: dict) -> None:
    from chaosiq_core.testing import free_port

    url = f"http://127.0.0.1:{free_port()}"
    before = snapshot(settings)
    one_error_line(_signin(url, "tok", settings, cli_env), 1, f"cannot reach the ChaosIQ server at {url}")
    assert snapshot(settings) == before


def test_tls_failure_and_explicit_insecure(settings: Path, cli_env: dict, tmp_path: Path) -> None:
    server = FakeServer(tls=self_signed_cert(tmp_path))
    try:
        before = snapshot(settings)
        result = _signin(server.url, server.token, settings, cli_env)
        one_error_line(result, 1, "TLS certificate of 127.0.0.1", "--insecure")
        assert snapshot(settings) == before
        result = _signin(server.url, server.token, settings, cli_env, "--insecure")
        assert result.returncode == 0, result.stderr
    finally:
        server.close()
    import yaml

    args = yaml.safe_load(settings.read_text())["controls"]["chaosiq-cloud"]["provider"]["arguments"]
    assert args["url"] == server.url and args["verify_tls"] is False


@pytest.mark.parametrize("url", ["chaosiq.example.com", "127.0.0.1:8080", "ftp://x.example"])
def test_url_without_scheme(settings: Path, cli_env: dict, url: str) -> None:
    before = snapshot(settings)
    one_error_line(_signin(url, "tok", settings, cli_env), 1, "is not a server URL", "https://")
    assert snapshot(settings) == before


def test_plain_http_to_a_remote_host_is_refused(settings: Path, cli_env: dict) -> None:
    before = snapshot(settings)
    result = _signin("http://chaosiq.example.com", "tok-abc", settings, cli_env)
    one_error_line(result, 1, "refusing to send your token over plain HTTP", "--insecure")
    assert "tok-abc" not in result.stderr
    assert snapshot(settings) == before


def test_missing_options_when_not_interactive(settings: Path, cli_env: dict) -> None:
    before = snapshot(settings)
    one_error_line(run_chaos("signin", settings=settings, env=cli_env), 2, "no server URL: pass --url")
    one_error_line(
        run_chaos("signin", "--url", "http://127.0.0.1:9", settings=settings, env=cli_env), 2, "no token"
    )
    token_file = settings.parent / "missing-token"
    result = run_chaos(
        "signin",
        "--url",
        "http://127.0.0.1:9",
        "--token-file",
        str(token_file),
        settings=settings,
        env=cli_env,
    )
    one_error_line(result, 1, "cannot read the token file", "No such file")
    assert snapshot(settings) == before


def test_ctrl_c_at_a_prompt(settings: Path, cli_env: dict) -> None:
    """Interactive signin on a terminal; the user presses Ctrl-C while it asks for the URL."""
    before = snapshot(settings)
    term = Terminal(["--settings", str(settings), "signin"], cli_env)
    term.expect("ChaosIQ url [http://127.0.0.1:9]: ")
    term.wait_reading()
    term.type(b"\x03")
    code = term.finish()
    after_prompt = term.output.split("]: ", 1)[1]
    plain = re.sub(r"\x1b\[[0-9;]*m", "", after_prompt.replace("^C", ""))  # colours on a terminal
    lines = [line.strip() for line in plain.splitlines() if line.strip()]
    assert code == 130, term.output
    assert lines == ["Error: interrupted, nothing was changed"], term.output
    assert snapshot(settings) == before


def test_enable_on_a_file_of_the_original_migrates_it(chaos_home: Path, cli_env: dict) -> None:
    path = chaos_home / "legacy.yaml"
    path.write_text(
        "controls:\n  chaosiq-cloud:\n    features: {publish: 'on', workspace: 'on'}\n"
        "    provider:\n      type: python\n      module: chaoscloud.controls\n"
        "      arguments: {url: 'http://127.0.0.1:9', verify_tls: true, organizations: []}\n"
    )
    result = run_chaos("enable", "teams", settings=path, env=cli_env)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Migrated the ChaosIQ control from chaoscloud.controls" in lines[0], (
        result.stderr
    )
    import yaml

    control = yaml.safe_load(path.read_text())["controls"]["chaosiq-cloud"]
    assert control["provider"]["module"] == "chaosiq_core.control"
    assert control["features"] == {"publish": "on", "workspace": "on", "teams": "on"}
    # Already enabled, already migrated: nothing to write, nothing logged.
    before = snapshot(path)
    result = run_chaos("enable", "teams", settings=path, env=cli_env)
    assert result.returncode == 0 and "already enabled" in result.stdout and result.stderr.strip() == ""
    assert snapshot(path) == before
