"""Assertions shared by the core's CLI tests."""

from __future__ import annotations

import subprocess
from pathlib import Path


def one_error_line(result: subprocess.CompletedProcess[str], code: int, *needles: str) -> str:
    """Assert ``result`` failed with ``code``, one ``Error:`` line on stderr and no traceback."""
    out = result.stdout + result.stderr
    assert result.returncode == code, out
    assert "Traceback" not in out, out
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, out
    assert lines[0].startswith("Error: "), out
    for needle in needles:
        assert needle in lines[0], out
    return lines[0]


def snapshot(path: Path) -> tuple[bytes, int] | None:
    """Bytes and mode of a file (``None`` when missing), to prove it was not touched."""
    if not path.exists():
        return None
    return path.read_bytes(), path.stat().st_mode
