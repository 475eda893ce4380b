"""The ``.chaosiq`` workspace file: lookup, atomic locked writes, legacy toggle."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import yaml
from chaosiq_publisher import workspace


def test_register_then_lookup(tmp_path: Path, data_dir: Path) -> None:
    exp = tmp_path / "exp.json"
    exp.write_text("{}")
    assert workspace.lookup(exp, "o", "t") is None
    workspace.register(exp, "o", "t", "E1")
    assert workspace.lookup(exp, "o", "t") == "E1"
    assert workspace.lookup(exp, "o", "other") is None
    data = yaml.safe_load((tmp_path / ".chaosiq").read_text())
    assert data == {"experiments": {"o": {"t": {"exp.json": {"experiment_id": "E1"}}}}}


def test_two_processes_registering_at_once_keep_both_entries(tmp_path: Path, data_dir: Path) -> None:
    code = textwrap.dedent("""
        import sys
        from pathlib import Path
        from chaosiq_publisher import workspace
        folder, name = Path(sys.argv[1]), sys.argv[2]
        for i in range(30):
            f = folder / f"{name}-{i}.json"
            f.write_text("{}")
            workspace.register(f, "o", "t", f"{name}-{i}")
    """)
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(tmp_path), name]) for name in ("left", "right")
    ]  # fmt: skip
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    entries = yaml.safe_load((tmp_path / ".chaosiq").read_text())["experiments"]["o"]["t"]
    assert len(entries) == 60


def test_a_broken_workspace_file_is_ignored(tmp_path: Path, data_dir: Path) -> None:
    exp = tmp_path / "exp.json"
    exp.write_text("{}")
    (tmp_path / ".chaosiq").write_text("experiments: [unclosed")
    assert workspace.lookup(exp, "o", "t") is None
    workspace.register(exp, "o", "t", "E2")  # rewritten cleanly
    assert workspace.lookup(exp, "o", "t") == "E2"


def test_loading_puts_the_known_id_into_the_experiment(tmp_path: Path, data_dir: Path) -> None:
    exp = tmp_path / "exp.json"
    exp.write_text("{}")
    workspace.register(exp, "o", "t", "E3")
    settings = {"controls": {"chaosiq-cloud": {"provider": {"arguments": {"organizations": [
        {"id": "o", "name": "O", "default": True, "teams": [{"id": "t", "name": "T", "default": True}]}
    ]}}}}}  # fmt: skip
    doc: dict = {}
    workspace.on_loaded(str(exp), doc, settings)
    assert doc["extensions"] == [{"name": "chaosiq", "experiment_id": "E3"}]
    settings["controls"]["chaosiq-cloud"]["features"] = {"workspace": "off"}
    doc = {}
    workspace.on_loaded(str(exp), doc, settings)
    assert doc == {}
    workspace.on_loaded("https://example.com/exp.json", doc, settings)
    assert doc == {}
