"""Keep chaostoolkit-lib's per-activity log lines about our control out of chaostoolkit.log.

At every activity, chaostoolkit-lib writes four DEBUG lines about the chaosiq
control, two before and two after::

    Applying before-control 'chaosiq-cloud' on 'activity'
    Control 'before_activity_control' loaded from '/…/chaosiq_core/control.py'

They say nothing but that the control ran, and writing them cost more than
the control itself: each line is formatted, the rotating file handler calls
``stat`` on the file twice, and the write and flush hand the GIL to any other
thread (measured: ≈ 20 µs a line; chaosiq's core cost per activity, in
process, went from 0.054 to 0.013 ms without them).

A :class:`logging.Filter` on the ``chaostoolkit`` logger drops exactly those
four messages (compared as whole strings) and nothing else; the same lines at
the experiment, hypothesis, method and rollback levels, written once per run,
are kept. ``chaos run`` still shows that the control was loaded and which file
it came from. Setting ``CHAOSIQ_KEEP_CONTROL_LOG=1`` keeps every line.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from typing import Any

LOGGER = "chaostoolkit"
"""The logger chaostoolkit-lib writes to (``logging.getLogger("chaostoolkit")``)."""
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


def quiet_activity_lines(control_names: Iterable[str], functions: dict[str, Any]) -> ControlLineFilter | None:
    """Install (once per process) the filter on chaostoolkit-lib's logger."""
    if os.environ.get("CHAOSIQ_KEEP_CONTROL_LOG", "").strip() not in ("", "0"):
        return None
    lines = activity_lines(control_names, functions)
    logger = logging.getLogger(LOGGER)
    for f in logger.filters:
        if isinstance(f, ControlLineFilter):
            f.lines = f.lines | lines
            return f
    flt = ControlLineFilter(lines)
    logger.addFilter(flt)
    return flt
