"""Helpers for the ``chaosiq`` extension block of experiments and journals."""

from __future__ import annotations

from typing import Any, Literal, overload

EXTENSION_NAME = "chaosiq"


@overload
def chaosiq_extension(doc: dict[str, Any], *, create: Literal[True]) -> dict[str, Any]: ...
@overload
def chaosiq_extension(doc: dict[str, Any], *, create: bool = False) -> dict[str, Any] | None: ...
def chaosiq_extension(doc: dict[str, Any], *, create: bool = False) -> dict[str, Any] | None:
    """The first ``extensions`` entry named ``chaosiq`` of an experiment or journal.

    With ``create=True`` the list and the entry are created when missing.
    """
    extensions = doc.get("extensions")
    if not isinstance(extensions, list):
        if not create:
            return None
        extensions = doc["extensions"] = []
    for ext in extensions:
        if isinstance(ext, dict) and ext.get("name") == EXTENSION_NAME:
            return ext
    if not create:
        return None
    ext = {"name": EXTENSION_NAME}
    extensions.append(ext)
    return ext


def extension_value(doc: Any, key: str, default: Any = None) -> Any:
    """A value of the ``chaosiq`` extension of ``doc``, or ``default`` (also when ``doc`` is no mapping)."""
    ext = chaosiq_extension(doc) if isinstance(doc, dict) else None
    return ext.get(key, default) if ext else default
