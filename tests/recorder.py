"""Install the third-party test plugin ``chaosiq-recorder`` on a temp path, and read its log."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

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


def install(site: Path) -> Path:
    """Put ``chaosiq_recorder`` and its ``.dist-info`` in ``site`` (a ``PYTHONPATH`` entry)."""
    site.mkdir(parents=True, exist_ok=True)
    shutil.copy(HERE / "chaosiq_recorder.py", site / "chaosiq_recorder.py")
    info = site / "chaosiq_recorder-0.3.0.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: chaosiq-recorder\nVersion: 0.3.0\n")
    (info / "entry_points.txt").write_text("[chaosiq]\nrecorder = chaosiq_recorder\n")
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
