"""A feature the settings turn on but this environment lacks is never silent.

The environment is a real virtual environment made from the lock file
without chaosiq-safeguards, as ``uv sync --locked`` leaves ``.venv`` after a
plugin was installed into it by hand: the settings still say
``safeguards: 'on'``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from core_helpers import one_error_line

from chaosiq_core.testing import small_experiment

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bare_venv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A virtual environment of the locked packages minus chaosiq-safeguards."""
    uv = shutil.which("uv") or shutil.which("uv", path=str(Path.home() / ".local" / "bin"))
    if uv is None:
        pytest.skip("uv is needed to build an environment from the lock file")
    folder = tmp_path_factory.mktemp("bare") / "venv"
    # `uv sync` from the lock file, as scripts/bootstrap.sh does: offline, it installs from the
    # wheels the development environment was built with (no index is asked)
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(folder), "UV_PYTHON_DOWNLOADS": "never"}
    done = subprocess.run(
        [uv, "sync", "--quiet", "--locked", "--offline", "--all-packages", "--all-extras",
         "--no-install-package", "chaosiq-safeguards", "--python", sys.executable],
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, (
        f"cannot build an environment from the lock file: {done.stderr.strip()[-500:]}"
    )
    yield folder


def chaos(venv: Path, *args: str, settings: Path, cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    """The real ``chaos`` of ``venv``."""
    env = {
        **os.environ,
        "HOME": str(home),
        # not signed in: publishing would warn that there is no server; not what this is about
        "CHAOSIQ_DISABLE_PLUGINS": "publish",
    }
    env.pop("CHAOSIQ_TOKEN", None)
    return subprocess.run(
        [str(venv / "bin" / "chaos"), "--no-version-check", "--settings", str(settings), *args],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def write_settings(folder: Path, features: dict[str, Any], options: dict[str, Any] | None = None) -> Path:
    control: dict[str, Any] = {
        "features": features,
        "provider": {"type": "python", "module": "chaosiq_core.control"},
    }
    if options:
        control["options"] = options
    path = folder / "settings.yaml"
    path.write_text(yaml.safe_dump({"controls": {"chaosiq-cloud": control}}))
    return path


def experiment(folder: Path) -> Path:
    """An experiment whose one action leaves a file behind: whether it ran shows."""
    marker = folder / "the-action-ran"
    action = {"type": "action", "name": "touch", "provider": {"type": "process", "path": "touch",
                                                              "arguments": str(marker)}}  # fmt: skip
    path = folder / "experiment.json"
    path.write_text(json.dumps(small_experiment("missing features", [action])))
    return path


def verification(folder: Path) -> Path:
    """The experiment of :func:`experiment` as a short verification."""
    doc = json.loads(experiment(folder).read_text())
    doc["extensions"] = [
        {
            "name": "chaosiq",
            "verification": {"id": "v", "frequency-of-measurement": 0.2, "duration-of-conditions": 0},
        }
    ]
    path = folder / "verification.json"
    path.write_text(json.dumps(doc))
    return path


def warnings(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if "WARNING" in line]


def test_each_missing_feature_is_one_warning_at_every_run(bare_venv: Path, tmp_path: Path) -> None:
    settings = write_settings(tmp_path, {"safeguards": "on", "slack": True, "teams": "on", "workspace": "on"})
    exp = experiment(tmp_path)
    for _ in range(2):  # every run, not once
        result = chaos(bare_venv, "run", str(exp), settings=settings, cwd=tmp_path, home=tmp_path)
        assert result.returncode == 0, result.stderr
        lines = warnings(result)
        assert len(lines) == 2, result.stderr
        safeguards, slack = sorted(lines, key=lambda line: "slack" in line)
        assert "the 'safeguards' feature is on in your settings but is not installed" in safeguards
        assert "pip install chaosiq-safeguards" in safeguards and "chaos disable safeguards" in safeguards
        assert "the 'slack' feature is on in your settings but is not installed" in slack
        assert "no installed distribution provides it" in slack and "chaos disable slack" in slack
        assert (tmp_path / "the-action-ran").exists()  # the run itself went on
        (tmp_path / "the-action-ran").unlink()


def test_fail_closed_refuses_to_start(bare_venv: Path, tmp_path: Path) -> None:
    settings = write_settings(tmp_path, {"safeguards": "on"}, {"safeguards": {"on_error": "fail-closed"}})
    result = chaos(
        bare_venv, "run", str(experiment(tmp_path)), settings=settings, cwd=tmp_path, home=tmp_path
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    errors = [line for line in result.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1, result.stderr
    assert "'safeguards' feature is on in your settings but is not installed" in errors[0]
    assert "pip install chaosiq-safeguards" in errors[0] and "fail-closed" in errors[0]
    assert not (tmp_path / "the-action-ran").exists()  # nothing of the experiment ran
    assert not (tmp_path / "journal.json").exists()


def test_verify_warns_too(bare_venv: Path, tmp_path: Path) -> None:
    settings = write_settings(tmp_path, {"safeguards": "on", "verification": "on"})
    source = verification(tmp_path)
    result = chaos(bare_venv, "verify", str(source), settings=settings, cwd=tmp_path, home=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = warnings(result)
    assert len(lines) == 1 and "'safeguards' feature is on in your settings" in lines[0], result.stderr


def test_fail_closed_refuses_to_verify(bare_venv: Path, tmp_path: Path) -> None:
    """`chaos verify` is held to `on_error: fail-closed` like `chaos run` (docs/safeguards.md)."""
    settings = write_settings(
        tmp_path, {"safeguards": "on", "verification": "on"}, {"safeguards": {"on_error": "fail-closed"}}
    )
    source = verification(tmp_path)
    result = chaos(bare_venv, "verify", str(source), settings=settings, cwd=tmp_path, home=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    errors = [line for line in result.stderr.splitlines() if "ERROR" in line]
    assert len(errors) == 1, result.stderr
    assert "'safeguards' feature is on in your settings but is not installed" in errors[0]
    assert "fail-closed" in errors[0]
    assert not (tmp_path / "the-action-ran").exists()  # the conditions were never applied


def test_a_missing_feature_can_be_disabled_and_is_listed(bare_venv: Path, tmp_path: Path) -> None:
    settings = write_settings(tmp_path, {"safeguards": "on", "slack": "on"})

    listed = chaos(bare_venv, "features", settings=settings, cwd=tmp_path, home=tmp_path)
    assert listed.returncode == 0, listed.stderr
    rows = {line.split()[0]: line.split() for line in listed.stdout.splitlines()[1:]}
    assert rows["safeguards"] == ["safeguards", "-", "-", "yes", "not", "installed"]
    assert "pip install chaosiq-safeguards" in listed.stderr

    for name in ("safeguards", "slack"):
        result = chaos(bare_venv, "disable", name, settings=settings, cwd=tmp_path, home=tmp_path)
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == f"Feature '{name}' disabled ({settings})"
    assert yaml.safe_load(settings.read_text())["controls"]["chaosiq-cloud"]["features"] == {
        "safeguards": "off",
        "slack": "off",
    }
    result = chaos(
        bare_venv, "run", str(experiment(tmp_path)), settings=settings, cwd=tmp_path, home=tmp_path
    )
    assert result.returncode == 0 and warnings(result) == [], result.stderr
    # enabling what is not installed is still refused, and an unknown name is still unknown
    result = chaos(bare_venv, "enable", "safeguards", settings=settings, cwd=tmp_path, home=tmp_path)
    one_error_line(result, 2, "not installed: pip install chaosiq-safeguards")
    result = chaos(bare_venv, "disable", "nonesuch", settings=settings, cwd=tmp_path, home=tmp_path)
    one_error_line(
        result,
        2,
        "unknown feature 'nonesuch' (installed features: publish, teams, verification, "
        "publish's workspace toggle)",
    )


def test_fail_closed_holds_when_the_control_is_declared_in_the_experiment_only(
    bare_venv: Path, tmp_path: Path
) -> None:
    """No global control (nothing checked at loading): the run is stopped before its first step."""
    settings = tmp_path / "settings.yaml"
    settings.write_text(
        yaml.safe_dump(
            {"controls": {"chaosiq-cloud": {"features": {"safeguards": "on"},
                                            "options": {"safeguards": {"on_error": "fail-closed"}}}}}
        )
    )  # fmt: skip
    exp = experiment(tmp_path)
    doc = json.loads(exp.read_text())
    doc["controls"] = [
        {"name": "chaosiq-cloud", "provider": {"type": "python", "module": "chaosiq_core.control"}}
    ]
    exp.write_text(json.dumps(doc))
    result = chaos(bare_venv, "run", str(exp), settings=settings, cwd=tmp_path, home=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "'safeguards' feature is on in your settings but is not installed" in result.stderr
    assert json.loads((tmp_path / "journal.json").read_text())["status"] == "interrupted"
    assert not (tmp_path / "the-action-ran").exists()
