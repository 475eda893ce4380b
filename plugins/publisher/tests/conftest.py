"""Fixtures of the publisher tests: the core's public fixtures plus run helpers."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # for pubhelpers, fakes, mocked

from chaosiq_core.testing import (  # noqa: F401  (fixtures)
    chaos_home,
    chaosiq_hooks,
    chaosiq_server,
    chaosiq_team,
    signed_in,
)


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private chaosiq data directory (outbox, locks) for this test."""
    d = tmp_path / "chaosiq-data"
    monkeypatch.setenv("CHAOSIQ_DATA_DIR", str(d))
    return d


@pytest.fixture
def env(chaos_home: Path, data_dir: Path) -> dict[str, str]:  # noqa: F811
    """Environment for ``run_chaos``: temp HOME and data dir; other plugins not loaded."""
    return {
        "HOME": str(chaos_home),
        "CHAOSIQ_DATA_DIR": str(data_dir),
        "CHAOSIQ_DISABLE_PLUGINS": "safeguards,verification",
    }


@pytest.fixture(scope="module")
def shared_signin(chaosiq_server, tmp_path_factory: pytest.TempPathFactory):  # noqa: F811
    """One team and one real ``chaos signin`` for a whole test module (setup is slow)."""
    from pubhelpers import sign_in

    home = tmp_path_factory.mktemp("shared-home")
    (home / ".chaostoolkit").mkdir()
    team = chaosiq_server.new_team()
    settings = home / ".chaostoolkit" / "settings.yaml"
    sign_in(settings, team.server.url, team, {"HOME": str(home)})
    return team, settings


@pytest.fixture
def team_settings(shared_signin, tmp_path: Path):
    """``(team, settings path)``: the shared team, a private copy of its settings."""
    import shutil

    team, src = shared_signin
    dst = tmp_path / "settings.yaml"
    shutil.copy(src, dst)
    return team, dst


@pytest.fixture
def server(requests_mock):
    """A mocked ChaosIQ server (see ``mocked.mock_server``); the end-to-end modules have their own."""
    from mocked import mock_server

    return mock_server(requests_mock)
