"""A third party's plugin (a real distribution on PYTHONPATH) is listed, called and toggled."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from recorder import CONTROL_SETTINGS, install, read_log, write_experiment

from chaosiq_core.testing import run_chaos

OTHER_FEATURES = "publish,safeguards,verification"


def _env(home: Path, site: Path, log: Path) -> dict[str, str]:
    return {
        "HOME": str(home),
        "PYTHONPATH": str(site),
        "RECORDER_LOG": str(log),
        "CHAOSIQ_DISABLE_PLUGINS": OTHER_FEATURES,
    }


def _features(settings: Path, env: dict[str, str]) -> dict[str, dict]:
    result = run_chaos("features", "--json", settings=settings, env=env)
    assert result.returncode == 0, result.stderr
    return {f["name"]: f for f in json.loads(result.stdout)}


def test_listed_called_and_toggled(tmp_path: Path, chaos_home: Path) -> None:
    site = install(tmp_path / "site")
    log = tmp_path / "hooks.jsonl"
    env = _env(chaos_home, site, log)
    settings = tmp_path / "settings.yaml"
    settings.write_text(CONTROL_SETTINGS)
    experiment = write_experiment(tmp_path)

    recorder = _features(settings, env)["recorder"]
    assert recorder["distribution"] == "chaosiq-recorder" and recorder["version"] == "0.3.0"
    assert recorder["enabled"] is True and recorder["state"] == "loaded"

    def run() -> list[dict]:
        log.unlink(missing_ok=True)
        result = run_chaos("run", str(experiment), settings=settings, env=env, cwd=tmp_path, timeout=60)
        assert result.returncode == 0, result.stderr
        return read_log(log)

    assert {"run_configured", "before_activity", "run_finished"} <= {e["hook"] for e in run()}

    result = run_chaos("disable", "recorder", settings=settings, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"Feature 'recorder' disabled ({settings})"
    assert yaml.safe_load(settings.read_text())["controls"]["chaosiq-cloud"]["features"]["recorder"] == "off"
    assert _features(settings, env)["recorder"]["state"] == "disabled"
    assert run() == []  # not called, not even imported

    result = run_chaos("disable", "recorder", settings=settings, env=env)
    assert result.returncode == 0 and "already disabled" in result.stdout

    result = run_chaos("enable", "recorder", settings=settings, env=env)
    assert result.returncode == 0 and result.stdout.strip() == f"Feature 'recorder' enabled ({settings})"
    assert _features(settings, env)["recorder"]["state"] == "loaded"
    assert "before_activity" in {e["hook"] for e in run()}


def test_features_table_names_the_third_party(tmp_path: Path, chaos_home: Path) -> None:
    site = install(tmp_path / "site")
    env = _env(chaos_home, site, tmp_path / "log")
    result = run_chaos("features", env=env)
    assert result.returncode == 0, result.stderr
    header, *rows = result.stdout.splitlines()
    assert header.split() == ["FEATURE", "DISTRIBUTION", "VERSION", "ENABLED", "STATE"]
    row = next(r.split() for r in rows if r.startswith("recorder"))
    assert row == ["recorder", "chaosiq-recorder", "0.3.0", "yes", "loaded"]


def test_a_plugin_that_fails_to_import_is_skipped_with_one_warning(tmp_path: Path, chaos_home: Path) -> None:
    site = install(tmp_path / "site")
    (site / "chaosiq_broken.py").write_text("import a_module_that_does_not_exist\n")
    info = site / "chaosiq_broken-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: chaosiq-broken\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[chaosiq]\nbroken = chaosiq_broken\n")
    log = tmp_path / "hooks.jsonl"
    env = _env(chaos_home, site, log)
    settings = tmp_path / "settings.yaml"
    settings.write_text(CONTROL_SETTINGS)
    result = run_chaos(
        "run", str(write_experiment(tmp_path)), settings=settings, env=env, cwd=tmp_path, timeout=60
    )
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "WARNING" in line]
    assert len(warnings) == 1, result.stderr
    assert "'broken' (chaosiq-broken) failed to load" in warnings[0]
    assert "No module named 'a_module_that_does_not_exist'" in warnings[0]
    assert "run_finished" in {e["hook"] for e in read_log(log)}  # the others still ran
    state = _features(settings, env)["broken"]
    assert state["state"] == "broken" and "a_module_that_does_not_exist" in state["error"]
