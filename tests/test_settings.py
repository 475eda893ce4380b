"""The settings file: original layout, flags, migration, atomic 0600 writes, other keys kept."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest
import yaml

from chaosiq_core import settings as s
from chaosiq_core.errors import SettingsError

ORIGINAL = """\
auths:
  console.chaosiq.io:
    type: bearer
    value: tok-123
controls:
  chaosiq-cloud:
    features:
      publish: 'on'
      safeguards: 'off'
      workspace: 'on'
    provider:
      arguments:
        organizations:
        - default: true
          id: org-1
          name: myorg
          teams:
          - default: true
            id: '123'
            name: myteam
        url: https://console.chaosiq.io
        verify_tls: true
      module: chaoscloud.controls
      type: python
  other-control:
    provider: {type: python, module: somewhere}
runtime:
  rollbacks: {strategy: always}
"""


def test_reads_the_original_layout(tmp_path: Path) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text(ORIGINAL)
    data = s.load(path)
    assert s.get_url(data) == "https://console.chaosiq.io"
    assert s.get_token(data, "https://console.chaosiq.io") == "tok-123"
    assert s.get_token(data, "https://other.example") is None
    assert s.get_verify_tls(data) is True
    assert s.default_org(data)["name"] == "myorg"
    assert s.default_team(s.default_org(data))["id"] == "123"
    assert s.is_feature_enabled(data, "publish") and not s.is_feature_enabled(data, "safeguards")


@pytest.mark.parametrize(
    ("raw", "enabled"),
    [("'on'", True), ("'off'", False), ("on", True), ("off", False), ("true", True), ("false", False),
     ("yes", True), ("no", False), ("'OFF'", False), ("'disabled'", False)],
)  # fmt: skip
def test_flags_quoted_strings_and_yaml_booleans(tmp_path: Path, raw: str, enabled: bool) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text(f"controls:\n  chaosiq-cloud:\n    features:\n      publish: {raw}\n")
    data = s.load(path)
    # An unquoted `off` is the YAML boolean false: the original took it as on.
    assert s.is_feature_enabled(data, "publish") is enabled
    assert ("publish" in s.disabled_features(data)) is (not enabled)


def test_missing_flag_or_block_means_enabled(tmp_path: Path) -> None:
    assert s.is_feature_enabled({}, "publish")
    assert s.is_feature_enabled({"controls": {"chaosiq-cloud": {}}}, "publish")
    data = {"controls": {"chaosiq-cloud": {"features": {"safeguards": "off"}}}}
    assert s.is_feature_enabled(data, "publish")
    assert s.feature_flag(data, "publish") is None


def test_verify_tls_off_only_when_said(tmp_path: Path) -> None:
    def with_verify(value: object) -> dict:
        return {"controls": {"chaosiq-cloud": {"provider": {"arguments": {"verify_tls": value}}}}}

    assert s.get_verify_tls({}) is True
    assert s.get_verify_tls(with_verify(False)) is False
    assert s.get_verify_tls(with_verify("off")) is False
    assert s.get_verify_tls(with_verify("garbage")) is True


def test_team_selection_accumulates_and_org_selection_replaces() -> None:
    data: dict = {}
    s.set_default_org(data, {"id": "o1", "name": "one"}, {"id": "t1", "name": "a"})
    # `chaos team`: the current org (with its teams) and another team → teams accumulate.
    s.set_default_org(data, s.default_org(data), {"id": "t2", "name": "b"})
    org = s.default_org(data)
    assert [(t["id"], t["default"]) for t in org["teams"]] == [("t1", False), ("t2", True)]
    # `chaos org`: a new org is appended with only the chosen team; the old one stays, not default.
    s.set_default_org(data, {"id": "o2", "name": "two"}, {"id": "t9", "name": "z"})
    orgs = s.organizations(data)
    assert [(o["id"], o["default"]) for o in orgs] == [("o1", False), ("o2", True)]
    assert orgs[1]["teams"] == [{"id": "t9", "name": "z", "default": True}]
    # Choosing a known org again from the API (no teams): its team list is *replaced*.
    s.set_default_org(data, {"id": "o1", "name": "one-renamed"}, {"id": "t3", "name": "c"})
    orgs = s.organizations(data)
    assert [(o["id"], o["default"]) for o in orgs] == [("o1", True), ("o2", False)]
    assert orgs[0]["name"] == "one-renamed"
    assert orgs[0]["teams"] == [{"id": "t3", "name": "c", "default": True}]
    assert sum(1 for o in orgs if o["default"]) == 1


def test_legacy_control_is_migrated_with_one_info_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text(ORIGINAL)
    data = s.load(path)
    assert s.is_legacy(data)
    with caplog.at_level(logging.INFO, logger="chaostoolkit.chaosiq"):
        assert s.migrate(data) is True
        assert s.migrate(data) is False
    infos = [r for r in caplog.records if r.levelno == logging.INFO]
    assert len(infos) == 1 and "chaoscloud.controls" in infos[0].getMessage()
    provider = s.get_control(data)["provider"]
    assert provider["module"] == "chaosiq_core.control"
    # Everything else of the original block is untouched.
    assert provider["arguments"]["organizations"][0]["id"] == "org-1"
    assert s.get_control(data)["features"]["workspace"] == "on"


def test_save_is_atomic_0600_and_keeps_other_keys(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "settings.yaml"
    path.parent.mkdir()
    path.write_text(ORIGINAL)
    os.chmod(path, 0o644)
    data = s.load(path)
    s.set_feature(data, "publish", False)
    s.save(data, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = yaml.safe_load(path.read_text())
    assert again["runtime"] == {"rollbacks": {"strategy": "always"}}
    assert again["controls"]["other-control"] == {"provider": {"type": "python", "module": "somewhere"}}
    assert again["auths"]["console.chaosiq.io"]["value"] == "tok-123"
    assert again["controls"]["chaosiq-cloud"]["features"]["publish"] == "off"
    assert "publish: 'off'" in path.read_text()  # the original's quoted strings
    assert [p.name for p in path.parent.iterdir()] == ["settings.yaml"]  # no temp file left


def test_a_failed_write_leaves_the_old_file_whole(tmp_path: Path) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text(ORIGINAL)
    before = path.read_bytes()

    class Unserialisable:
        pass

    with pytest.raises(yaml.YAMLError):
        s.save({"controls": {"x": Unserialisable()}}, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["settings.yaml"]


def test_save_creates_the_folder(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "settings.yaml"
    s.save({"auths": {}}, path)
    assert yaml.safe_load(path.read_text()) == {"auths": {}}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("controls: [1, 2]\n", "'controls' must be a mapping"),
        ("auths: nope\n", "'auths' must be a mapping"),
        ("controls:\n  chaosiq-cloud: 3\n", "'controls.chaosiq-cloud' must be a mapping"),
        ("controls:\n  chaosiq-cloud:\n    features: [publish]\n", "features' must be a mapping"),
        ("- a\n- b\n", "must hold a mapping"),
        ("a: [unclosed\n", "not valid YAML (line"),
    ],
)
def test_malformed_settings_give_one_clear_error(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "settings.yaml"
    path.write_text(text)
    with pytest.raises(SettingsError) as info:
        s.load(path)
    assert needle in str(info.value) and str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    assert s.load(tmp_path / "none.yaml") == {}
    with pytest.raises(SettingsError, match="does not exist"):
        s.load(tmp_path / "none.yaml", must_exist=True)
    with pytest.raises(SettingsError, match="is a directory"):
        s.load(tmp_path)
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert s.load(empty) == {}


def test_auth_replaces_another_type_and_strips() -> None:
    data = {"auths": {"h.example:8443": {"type": "digest", "value": "old"}}}
    s.set_auth(data, "https://h.example:8443/ignored/path", "  new-token \n")
    assert data["auths"]["h.example:8443"] == {"type": "bearer", "value": "new-token"}


def test_binary_garbage_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "settings.yaml"
    path.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(SettingsError, match="not UTF-8"):
        s.load(path)
