"""Helpers of the safeguards tests: experiments, settings options, fake plugins, running chaos."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import textwrap
import time
from pathlib import Path
from typing import Any

import yaml

from chaosiq_core.testing import executable, exists_activity


def action(name: str, seconds: float, background: bool = False) -> dict[str, Any]:
    act: dict[str, Any] = {
        "type": "action",
        "name": name,
        "provider": {"type": "process", "path": "sleep", "arguments": str(seconds)},
    }
    if background:
        act["background"] = True
    return act


def file_probe(path: Path, name: str = "no-stop-file") -> dict[str, Any]:
    """A safeguard probe that says stop once ``path`` exists."""
    return exists_activity(name, str(path), kind="probe", tolerance=False)


def experiment(
    tmp: Path,
    method: list[dict[str, Any]],
    rollbacks: list[dict[str, Any]] | None = None,
    hypothesis: list[dict[str, Any]] | None = None,
    probes: list[dict[str, Any]] | None = None,
) -> Path:
    doc: dict[str, Any] = {"title": "safeguards test", "description": "d", "method": method}
    doc["rollbacks"] = (
        rollbacks
        if rollbacks is not None
        else [{"type": "action", "name": "rb", "provider": {"type": "process", "path": "true"}}]
    )
    if hypothesis:
        doc["steady-state-hypothesis"] = {"title": "ok", "probes": hypothesis}
    if probes:
        doc["extensions"] = [{"name": "chaosiq", "safeguards": {"probes": probes}}]
    path = tmp / "experiment.json"
    path.write_text(json.dumps(doc))
    return path


def local_settings(tmp: Path, **options: Any) -> Path:
    """Settings declaring the chaosiq control without a server, with safeguards options."""
    path = tmp / "settings.yaml"
    control: dict[str, Any] = {"provider": {"type": "python", "module": "chaosiq_core.control"}}
    settings = {"controls": {"chaosiq-cloud": control}}
    path.write_text(yaml.safe_dump(settings))
    return set_options(path, **options)


def set_options(path: Path, **options: Any) -> Path:
    settings = yaml.safe_load(path.read_text()) or {}
    control = settings.setdefault("controls", {}).setdefault("chaosiq-cloud", {})
    control.setdefault("options", {}).setdefault("safeguards", {}).update(options)
    path.write_text(yaml.safe_dump(settings))
    return path


def fake_plugin(tmp: Path, name: str, code: str) -> Path:
    """A third-party chaosiq plugin importable from ``tmp/plugins`` (a dist-info with an entry point)."""
    root = tmp / "plugins"
    root.mkdir(exist_ok=True)
    (root / f"{name}.py").write_text(textwrap.dedent(code))
    dist = root / f"{name}-0.0.1.dist-info"
    dist.mkdir(exist_ok=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.0.1\n")
    (dist / "entry_points.txt").write_text(f"[chaosiq]\n{name} = {name}\n")
    return root


def chaos_cmd(settings: Path, *args: str) -> list[str]:
    return [executable("chaos"), "--no-version-check", "--settings", str(settings), *args]


class ChaosRun:
    """A ``chaos run`` in the background, to act on while it runs."""

    def __init__(self, settings: Path, exp: Path, cwd: Path, env: dict[str, str] | None = None, *args: str):
        self.cwd = cwd
        self.journal_path = cwd / "journal.json"
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            chaos_cmd(settings, "run", "--journal-path", str(self.journal_path), *args, str(exp)),
            cwd=cwd,
            env={**os.environ, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        self.output = ""
        self.ended: float | None = None

    def wait(self, timeout: float = 60) -> int:
        try:
            self.output, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.output, _ = self.proc.communicate()
            raise
        self.ended = time.monotonic()
        return self.proc.returncode

    def interrupt(self) -> None:
        self.proc.send_signal(signal.SIGINT)

    @property
    def journal(self) -> dict[str, Any]:
        return json.loads(self.journal_path.read_text())


def chaosiq_ext(journal: dict[str, Any]) -> dict[str, Any]:
    for ext in journal.get("extensions") or []:
        if ext.get("name") == "chaosiq":
            return ext
    return {}
