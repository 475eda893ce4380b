"""How the original's probe and tolerance modules find their new home."""

from __future__ import annotations

import importlib
from types import ModuleType


def moved(old: str, new: str) -> ModuleType:
    """Import ``new`` for a module once named ``old``; a clear ImportError when it is not installed."""
    try:
        return importlib.import_module(new)
    except ImportError:
        raise ImportError(
            f"{old} is now {new}, in the chaosiq-verification distribution: "
            "pip install chaosiq-verification (or chaosiq-core[all])"
        ) from None
