"""Fixtures of the teams plugin tests (the public ones of chaosiq_core.testing)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaosiq_core.testing import (  # noqa: F401  (fixtures)
    chaos_home,
    chaosiq_hooks,
    chaosiq_server,
    chaosiq_team,
    fake_chaosiq,
    signed_in,
)


@pytest.fixture
def teams_env(chaos_home: Path) -> dict[str, str]:  # noqa: F811
    """Environment for ``run_chaos``: temp HOME, only the teams feature loaded."""
    return {"HOME": str(chaos_home), "CHAOSIQ_DISABLE_PLUGINS": "publish,safeguards,verification"}
