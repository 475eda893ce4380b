"""Keeps chaostoolkit-lib's four per-activity DEBUG lines about our control out of the log, unmade."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable
from typing import Any

LOGGER = "chaostoolkit"
"""The logger chaostoolkit-lib writes to (``logging.getLogger("chaostoolkit")``)."""
MODULES = ("chaoslib.control", "chaoslib.control.python")
"""chaostoolkit-lib's modules that write the per-activity lines, through a module-level ``logger``."""
_FUNCTIONS = ("before_activity_control", "after_activity_control")


def activity_lines(control_names: Iterable[str], functions: dict[str, Any]) -> frozenset[str]:
    """The exact messages chaostoolkit-lib writes at each activity for these controls."""
    lines = set()
    for name in control_names:
        for scope in ("before", "after"):
            lines.add(f"Applying {scope}-control '{name}' on 'activity'")
    for fn_name in _FUNCTIONS:
        fn = functions.get(fn_name)
        code = getattr(fn, "__code__", None)
        if code is not None:
            lines.add(f"Control '{fn_name}' loaded from '{code.co_filename}'")
    return frozenset(lines)


class ControlLineFilter(logging.Filter):
    """Drops records whose message is one of ``lines`` (whole-string match)."""

    def __init__(self, lines: frozenset[str]) -> None:
        super().__init__()
        self.lines = lines

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.msg
        return not (msg.__class__ is str and msg in self.lines and not record.args)


class QuietLogger:
    """A logger as a chaostoolkit-lib module sees it, minus the lines of ``flt``, dropped unmade.

    Everything but ``debug`` is the logger's own; ``debug`` passes every other
    message on with ``stacklevel`` one higher, so a record still names
    chaostoolkit-lib's function and line, not this one.
    """

    def __init__(self, logger: logging.Logger, flt: ControlLineFilter) -> None:
        self.logger = logger
        self._filter = flt

    def debug(self, msg: object, *args: Any, **kwargs: Any) -> None:
        if msg.__class__ is str and not args and msg in self._filter.lines:
            return
        kwargs["stacklevel"] = kwargs.get("stacklevel", 1) + 1
        self.logger.debug(msg, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.logger, name)


def _quiet_modules(logger: logging.Logger, flt: ControlLineFilter) -> None:
    for name in MODULES:
        module = sys.modules.get(name)
        current = getattr(module, "logger", None)
        if isinstance(current, QuietLogger):
            current._filter = flt
        elif module is not None and current is logger:
            vars(module)["logger"] = QuietLogger(logger, flt)


def restore_modules() -> None:
    """Give chaostoolkit-lib's modules their own logger back (tests, ``CHAOSIQ_KEEP_CONTROL_LOG``)."""
    for name in MODULES:
        module = sys.modules.get(name)
        quiet = getattr(module, "logger", None)
        if isinstance(quiet, QuietLogger):
            vars(module)["logger"] = quiet.logger


def quiet_activity_lines(control_names: Iterable[str], functions: dict[str, Any]) -> ControlLineFilter | None:
    """Install (once per process) the filter on chaostoolkit-lib's logger, and :class:`QuietLogger`."""
    if os.environ.get("CHAOSIQ_KEEP_CONTROL_LOG", "").strip() not in ("", "0"):
        restore_modules()
        return None
    lines = activity_lines(control_names, functions)
    logger = logging.getLogger(LOGGER)
    flt = next((f for f in logger.filters if isinstance(f, ControlLineFilter)), None)
    if flt is None:
        flt = ControlLineFilter(lines)
        logger.addFilter(flt)
    else:
        flt.lines = flt.lines | lines
    _quiet_modules(logger, flt)
    return flt
