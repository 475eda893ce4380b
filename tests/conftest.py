"""Fixtures of the core tests: the public ones of chaosiq_core.testing plus CLI helpers."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # for core_helpers

from chaosiq_core.testing import (  # noqa: F401  (fixtures)
    chaos_home,
    chaosiq_hooks,
    chaosiq_server,
    chaosiq_team,
    fake_chaosiq,
    signed_in,
)

OTHER_FEATURES = "publish,safeguards,verification"
"""Plugins built in parallel by others: kept out of the core's CLI tests."""


@pytest.fixture
def cli_env(chaos_home: Path) -> dict[str, str]:  # noqa: F811
    """Environment for ``run_chaos``: temp HOME, the other features not loaded."""
    return {"HOME": str(chaos_home), "CHAOSIQ_DISABLE_PLUGINS": OTHER_FEATURES}
