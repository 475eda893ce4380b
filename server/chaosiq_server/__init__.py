"""chaosiq-server: a self-hostable, ChaosIQ-compatible API server."""

from __future__ import annotations

try:
    from importlib.metadata import version as _version

    __version__ = _version("chaosiq-server")
except Exception:  # pragma: no cover - running from a source tree without metadata
    __version__ = "0.0.0"

__all__ = ["__version__"]
