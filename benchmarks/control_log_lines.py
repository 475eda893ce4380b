"""Cost of one of chaostoolkit-lib's per-activity lines about our control, dropped.

Usage::

    uv run --all-packages python benchmarks/control_log_lines.py [--lines 200000]

Baseline: ``logging.Logger.debug`` on the ``chaostoolkit`` logger with the
filter of :mod:`chaosiq_core.control_log` (the record is made, then dropped);
ours: :class:`~chaosiq_core.control_log.QuietLogger` (dropped before a record
exists). Prints microseconds per line, best of 5 batches, and the ratio.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable

from chaosiq_core.control_log import ControlLineFilter, QuietLogger

LINE = "Applying before-control 'chaosiq-cloud' on 'activity'"


def per_line(debug: Callable[[str], None], lines: int) -> float:
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(lines // 5):
            debug(LINE)
        best = min(best, (time.perf_counter() - start) / (lines // 5))
    return best * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000)
    args = parser.parse_args()
    logger = logging.getLogger("chaostoolkit")
    logger.setLevel(logging.DEBUG)  # chaos run logs DEBUG to chaostoolkit.log
    flt = ControlLineFilter(frozenset({LINE}))
    logger.addFilter(flt)
    baseline = per_line(logger.debug, args.lines)
    ours = per_line(QuietLogger(logger, flt).debug, args.lines)
    print(f"python {sys.version.split()[0]}, {args.lines} lines per figure (best of 5 batches)")
    print(f"Logger.debug + filter   {baseline:6.2f} µs/line")
    print(f"QuietLogger.debug       {ours:6.2f} µs/line   ratio {baseline / ours:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
