"""Install the third-party test plugins of ``third_party_plugin/`` on a temp path, and read their log."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import tomllib

from chaosiq_core.testing import exists_activity, small_experiment

HERE = Path(__file__).parent / "third_party_plugin"

EXPERIMENT: dict[str, Any] = small_experiment(
    "core lifecycle",
    [
        {
            "type": "action",
            "name": "bg-sleep",
            "background": True,
            "provider": {"type": "process", "path": "sleep", "arguments": "0.3"},
        },
        exists_activity("fg-exists", "/tmp"),
    ],
    rollbacks=[exists_activity("rb-exists")],
    description="one probe, a background action, a foreground action, one rollback",
)

MAIN_THREAD_HOOKS: list[tuple[str, str | None]] = [
    ("imported", None),
    ("settings_loaded", None),
    ("loading_experiment", None),
    ("experiment_loaded", None),
    ("run_configured", None),
    ("run_started", None),
    ("before_experiment", None),
    ("before_hypothesis", None),
    ("before_activity", "root-exists"),
    ("after_activity", "root-exists"),
    ("after_hypothesis", None),
    ("before_method", None),
    ("before_activity", "fg-exists"),
    ("after_activity", "fg-exists"),
    ("after_method", None),
    ("before_hypothesis", None),
    ("before_activity", "root-exists"),
    ("after_activity", "root-exists"),
    ("after_hypothesis", None),
    ("before_rollback", None),
    ("before_activity", "rb-exists"),
    ("after_activity", "rb-exists"),
    ("after_rollback", None),
    ("after_experiment", None),
    ("run_finished", None),
]
"""What the recorder logs on the main thread for EXPERIMENT (the background action's
hooks fire on a pool thread): the same with or without the experiment's own controls."""

CONTROL_SETTINGS = """\
controls:
  chaosiq-cloud:
    features:
      recorder: 'on'
    provider:
      type: python
      module: chaosiq_core.control
runtime:
  hypothesis:
    strategy: default
"""


def install(site: Path, *plugins: str | Path) -> Path:
    """Install the plugins of ``third_party_plugin/<name>/`` (default: ``recorder``), or of
    the folders given as paths, in ``site``.

    ``site`` is a ``PYTHONPATH`` entry: each plugin's modules are copied there
    with the ``.dist-info`` its own ``pyproject.toml`` describes (name,
    version, entry points), which is what ``importlib.metadata`` reads of an
    installed distribution.
    """
    site.mkdir(parents=True, exist_ok=True)
    for plugin in plugins or ("recorder",):
        folder = plugin if isinstance(plugin, Path) else HERE / plugin
        project = tomllib.loads((folder / "pyproject.toml").read_text())["project"]
        for module in folder.glob("*.py"):
            shutil.copy(module, site / module.name)
        info = site / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
        info.mkdir(exist_ok=True)
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n"
        )
        groups = project.get("entry-points", {})
        (info / "entry_points.txt").write_text(
            "".join(
                f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items())
                for group, eps in groups.items()
            )
        )
        (info / "RECORD").write_text("")
    return site


def read_log(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def write_experiment(folder: Path, **changes: Any) -> Path:
    experiment = {**json.loads(json.dumps(EXPERIMENT)), **changes}
    path = folder / "experiment.json"
    path.write_text(json.dumps(experiment))
    return path
