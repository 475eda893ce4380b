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


def install_broken(site: Path) -> Path:
    """Add to ``site`` the distribution chaosiq-broken, whose feature `broken` fails to import."""
    (site / "chaosiq_broken.py").write_text("import a_module_that_does_not_exist\n")
    info = site / "chaosiq_broken-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: chaosiq-broken\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[chaosiq]\nbroken = chaosiq_broken\n")
    return site


def test_a_plugin_that_fails_to_import_is_skipped_with_one_warning(tmp_path: Path, chaos_home: Path) -> None:
    site = install_broken(install(tmp_path / "site"))
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
    assert "reinstall chaosiq-broken, or turn it off: chaos disable broken" in warnings[0]
    assert "run_finished" in {e["hook"] for e in read_log(log)}  # the others still ran
    state = _features(settings, env)["broken"]
    assert state["state"] == "broken" and "a_module_that_does_not_exist" in state["error"]


def test_a_third_partys_wrappers_wrap_the_other_plugins(tmp_path: Path, chaos_home: Path) -> None:
    """pluggy's wrappers (``wrapper=True`` and the old ``hookwrapper=True``) under the real `chaos run`."""
    site = install(tmp_path / "site", "recorder", "wrapper")
    log = tmp_path / "hooks.jsonl"
    env = _env(chaos_home, site, log)
    settings = tmp_path / "settings.yaml"
    settings.write_text(CONTROL_SETTINGS)
    experiment = write_experiment(tmp_path)

    result = run_chaos("run", str(experiment), settings=settings, env=env, cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "WARNING" not in result.stderr, result.stderr
    entries = read_log(log)
    wrapped = [(e["name"], e["results"]) for e in entries if e["hook"] == "wrapped_after_activity"]
    # Each wrapper call saw what the recorder's implementation returned for that very call.
    assert sorted(wrapped) == sorted(
        [
            ("root-exists", ["recorder saw root-exists succeeded"]),
            ("bg-sleep", ["recorder saw bg-sleep succeeded"]),
            ("fg-exists", ["recorder saw fg-exists succeeded"]),
            ("root-exists", ["recorder saw root-exists succeeded"]),
            ("rb-exists", ["recorder saw rb-exists succeeded"]),
        ]
    )
    # ...after the implementation it wraps ran.
    hooks = [(e["hook"], e.get("name")) for e in entries if e["main"]]
    assert hooks.index(("after_activity", "fg-exists")) + 1 == hooks.index(
        ("wrapped_after_activity", "fg-exists")
    )
    old_style = [(e["name"], e["results"]) for e in entries if e["hook"] == "wrapped_before_activity"]
    assert ("fg-exists", ["recorder saw fg-exists start"]) in old_style and len(old_style) == 5
    (finished,) = [e for e in entries if e["hook"] == "wrapped_run_finished"]
    assert finished["results"] == ["recorder saw the run completed"] and finished["status"] == "completed"
    assert entries[-1]["hook"] == "wrapped_run_finished"  # it wraps the last hook of the run


def test_a_wrapper_sees_no_exception_from_a_failing_plugin(tmp_path: Path, chaos_home: Path) -> None:
    """A failing implementation is one WARNING and no result; the wrapper and the run go on."""
    site = install(tmp_path / "site", "recorder", "wrapper")
    log = tmp_path / "hooks.jsonl"
    env = {**_env(chaos_home, site, log), "RECORDER_FAIL_IN": "after_activity"}
    settings = tmp_path / "settings.yaml"
    settings.write_text(CONTROL_SETTINGS)

    result = run_chaos(
        "run", str(write_experiment(tmp_path)), settings=settings, env=env, cwd=tmp_path, timeout=60
    )
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "WARNING" in line]
    assert len(warnings) == 1 and "'recorder' failed in chaosiq_after_activity" in warnings[0], result.stderr
    wrapped = [e for e in read_log(log) if e["hook"] == "wrapped_after_activity"]
    assert len(wrapped) == 5 and all(e["results"] == [] for e in wrapped)


def test_a_broken_plugin_the_settings_require_stops_the_run_before_it_starts(
    tmp_path: Path, chaos_home: Path
) -> None:
    site = install_broken(install(tmp_path / "site"))
    log = tmp_path / "hooks.jsonl"
    settings = tmp_path / "settings.yaml"
    data = yaml.safe_load(CONTROL_SETTINGS)
    data["controls"]["chaosiq-cloud"]["features"]["broken"] = "on"
    data["controls"]["chaosiq-cloud"]["options"] = {"broken": {"on_error": "fail-closed"}}
    settings.write_text(yaml.safe_dump(data))
    result = run_chaos(
        "run",
        str(write_experiment(tmp_path)),
        settings=settings,
        env=_env(chaos_home, site, log),
        cwd=tmp_path,
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1 and "the 'broken' feature is on in your settings but failed to load" in errors[0]
    assert "fail-closed" in errors[0]
    assert "run_configured" not in {e["hook"] for e in read_log(log)}  # nothing of the run happened


def test_features_verbose_shows_hooks_and_status_lines(tmp_path: Path, chaos_home: Path) -> None:
    site = install(tmp_path / "site")
    log = tmp_path / "hooks.jsonl"
    env = _env(chaos_home, site, log)
    result = run_chaos("features", "--verbose", env=env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    at = lines.index("recorder (chaosiq-recorder)")
    hooks_text = ""
    for line in lines[at + 1 :]:
        if not line.startswith("  ") or line.startswith("  log:"):
            break
        hooks_text += line.strip() + " "
    assert hooks_text.startswith("hooks: after_activity, after_experiment, after_hypothesis,")
    assert "feature_status" in hooks_text and "run_finished" in hooks_text
    assert f"  log: {log}" in lines
    listing = run_chaos("features", "--json", "--verbose", env=env)
    recorder = next(f for f in json.loads(listing.stdout) if f["name"] == "recorder")
    assert recorder["status"] == [["log", str(log)]]
    assert "before_activity" in recorder["hooks"] and "settings_loaded" in recorder["hooks"]

    failing = run_chaos("features", "--verbose", env={**env, "RECORDER_FAIL_IN": "feature_status"})
    assert failing.returncode == 0, failing.stderr
    warnings = [line for line in failing.stderr.splitlines() if "WARNING" in line]
    assert len(warnings) == 1 and "'recorder' failed in chaosiq_feature_status" in warnings[0]
    assert "recorder (chaosiq-recorder)" in failing.stdout  # still listed, with its hooks
