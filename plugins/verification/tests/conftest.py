"""Fixtures of the verification tests: verification documents and a `chaos verify` runner."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from chaosiq_core.testing import executable, exists_activity, run_chaos, wait_until


def verification_doc(
    *,
    warm_up: float = 0.2,
    frequency: float = 0.2,
    conditions: float = 0.6,
    cool_down: float = 0.2,
    probe_path: str = "/",
    method: list[dict[str, Any]] | None = None,
    rollbacks: list[dict[str, Any]] | None = None,
    vid: str | None = "verif-1",
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A small verification whose steady state is 'probe_path exists'."""
    block: dict[str, Any] = {
        "warm-up-duration": warm_up,
        "frequency-of-measurement": frequency,
        "duration-of-conditions": conditions,
        "cool-down-duration": cool_down,
    }
    if vid is not None:
        block["id"] = vid
    ext: dict[str, Any] = {"name": "chaosiq", "verification": block, **(extra or {})}
    return {
        "version": "1.0.0",
        "title": "the flag file stays",
        "description": "verification test",
        "extensions": [ext],
        "steady-state-hypothesis": {
            "title": "flag exists",
            "probes": [
                exists_activity("flag-exists", probe_path, kind="probe"),
            ],
        },
        "method": method
        or [{"type": "action", "name": "noop", "provider": {"type": "process", "path": "true"}}],
        "rollbacks": rollbacks or [],
    }


def write_doc(path: Path, doc: dict[str, Any]) -> Path:
    if path.suffix in (".yaml", ".yml"):
        path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    else:
        path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def enable_features(settings: Path, *features: str) -> None:
    for feature in features:
        result = run_chaos("enable", feature, settings=settings)
        assert result.returncode == 0, result.stderr


def process_action(name: str, path: str, *arguments: str) -> dict[str, Any]:
    """An action running ``path arguments…`` as a process."""
    return {
        "type": "action",
        "name": name,
        "provider": {"type": "process", "path": path, "arguments": " ".join(arguments)},
    }


def stop_file_probe(path: Path) -> dict[str, Any]:
    """A local safeguard probe that says stop once ``path`` exists."""
    return exists_activity("no-stop-file", str(path), kind="probe", tolerance=False)


def local_settings(path: Path, **safeguards: Any) -> Path:
    """Settings declaring the chaosiq control without a server, with these safeguards options."""
    control: dict[str, Any] = {"provider": {"type": "python", "module": "chaosiq_core.control"}}
    if safeguards:
        control["options"] = {"safeguards": safeguards}
    path.write_text(yaml.safe_dump({"controls": {"chaosiq-cloud": control}}))
    os.chmod(path, 0o600)
    return path


def set_options(settings: Path, feature: str, **values: Any) -> None:
    data = yaml.safe_load(settings.read_text()) or {}
    opts = data["controls"]["chaosiq-cloud"].setdefault("options", {}).setdefault(feature, {})
    opts.update(values)
    settings.write_text(yaml.safe_dump(data))
    os.chmod(settings, 0o600)


class VerifyProcess:
    """A `chaos verify` running in the background, with its log file."""

    def __init__(self, args: list[str], cwd: Path, settings: Path | None) -> None:
        self.log = cwd / "chaostoolkit.log"
        self.journal = cwd / "journal.json"
        cmd = [executable("chaos"), "--no-version-check", "--log-file", str(self.log)]
        if settings is not None:
            cmd += ["--settings", str(settings)]
        cmd += ["verify", "--journal-path", str(self.journal), *args]
        self.proc = subprocess.Popen(
            cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL
        )

    def log_has(self, text: str) -> bool:
        return self.log.exists() and text in self.log.read_text(errors="replace")

    def wait_for_log(self, text: str, timeout: float = 30) -> None:
        wait_until(lambda: self.proc.poll() is not None or self.log_has(text), timeout=timeout, what=text)
        assert self.log_has(text), self.output()

    def signal_and_time(self, sig: int = signal.SIGTERM, timeout: float = 20) -> float:
        start = time.monotonic()
        self.proc.send_signal(sig)
        self.proc.wait(timeout=timeout)
        return time.monotonic() - start

    def output(self) -> str:
        if self.proc.poll() is None:
            return "(still running)"
        out, err = self.proc.communicate()
        return out + err

    def load_journal(self) -> dict[str, Any]:
        return json.loads(self.journal.read_text())

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def verify_bg(tmp_path: Path) -> Iterator[Callable[..., VerifyProcess]]:
    started: list[VerifyProcess] = []

    def start(*args: str, settings: Path | None = None) -> VerifyProcess:
        p = VerifyProcess(list(args), tmp_path, settings)
        started.append(p)
        return p

    yield start
    for p in started:
        p.kill()


def journal_ext(journal: dict[str, Any]) -> dict[str, Any]:
    for ext in journal.get("extensions") or []:
        if ext.get("name") == "chaosiq":
            return ext
    raise AssertionError("no chaosiq extension in the journal")
