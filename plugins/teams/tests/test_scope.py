"""The teams plugin's scope override (CHAOSIQ_ORG / CHAOSIQ_TEAM and the teams options)."""

from __future__ import annotations

import logging

import pytest
from chaosiq_teams import plugin

from chaosiq_core.manager import make_hooks
from chaosiq_core.types import Scope

SETTINGS = {
    "controls": {
        "chaosiq-cloud": {
            "provider": {
                "arguments": {
                    "organizations": [
                        {
                            "id": "o1",
                            "name": "one",
                            "default": False,
                            "teams": [{"id": "t9", "name": "solo"}],
                        },
                        {
                            "id": "o2",
                            "name": "two",
                            "default": True,
                            "teams": [
                                {"id": "t1", "name": "ops", "default": True},
                                {"id": "t2", "name": "dev", "default": False},
                            ],
                        },
                    ]
                }
            }
        }
    }
}


@pytest.fixture
def hooks(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("CHAOSIQ_ORG", raising=False)
    monkeypatch.delenv("CHAOSIQ_TEAM", raising=False)
    return make_hooks({}, load_entrypoints=False, plugins={"teams": plugin})


def test_without_override_the_defaults_answer(hooks) -> None:
    assert hooks.api_scope(SETTINGS) == Scope("o2", "t1", "two", "ops")


def test_team_from_the_environment_by_name(hooks, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAOSIQ_TEAM", "dev")
    assert hooks.api_scope(SETTINGS) == Scope("o2", "t2", "two", "dev")


def test_org_and_team_from_the_environment(hooks, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAOSIQ_ORG", "one")
    assert hooks.api_scope(SETTINGS) == Scope("o1", "t9", "one", "solo")  # its only team
    monkeypatch.setenv("CHAOSIQ_TEAM", "0000-unknown-id")
    assert hooks.api_scope(SETTINGS) == Scope("o1", "0000-unknown-id", "one", None)


def test_options_in_memory_settings(hooks) -> None:
    """What `chaos verify` does to run against another team without touching the file."""
    settings = {**SETTINGS, "controls": {"chaosiq-cloud": {**SETTINGS["controls"]["chaosiq-cloud"]}}}
    settings["controls"]["chaosiq-cloud"]["options"] = {"teams": {"team": "t2"}}
    assert hooks.api_scope(settings) == Scope("o2", "t2", "two", "dev")


def test_environment_wins_over_options(hooks, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = {**SETTINGS, "controls": {"chaosiq-cloud": {**SETTINGS["controls"]["chaosiq-cloud"]}}}
    settings["controls"]["chaosiq-cloud"]["options"] = {"teams": {"team": "t2"}}
    monkeypatch.setenv("CHAOSIQ_TEAM", "ops")
    assert hooks.api_scope(settings).team_id == "t1"


def test_team_without_any_organization_warns(
    hooks, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("CHAOSIQ_TEAM", "dev")
    with caplog.at_level(logging.WARNING, logger="chaostoolkit.chaosiq"):
        assert hooks.api_scope({}) is None
    assert "no organization is known" in caplog.text


def test_feature_status_names_the_defaults() -> None:
    assert plugin.chaosiq_feature_status(SETTINGS) == [("organization", "two"), ("team", "ops")]
    assert plugin.chaosiq_feature_status({}) == [("organization", "-"), ("team", "-")]
