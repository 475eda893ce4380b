"""Cost of one lifecycle hook dispatch through the control bridge with 4 plugins loaded.

Usage::

    uv run --all-packages python benchmarks/core_dispatch.py [--calls 200000]

Calls ``chaosiq_core.control.before_activity_control`` and
``after_activity_control`` (what Chaos Toolkit calls around every activity)
with a run configured and four plugins that each implement both hooks with a
trivial body, and prints microseconds per control point (half a pair); the
same for ``Hooks.before_activity`` alone and for the bridge with no plugin.
The baseline is pluggy alone: the same plugins on a plain
``pluggy.PluginManager`` called as ``pm.hook.chaosiq_before_activity(...)``
(no facade, no guard against a failing plugin); the ratios are to it.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import pluggy

from chaosiq_core import PROJECT_NAME, control, hookimpl, hookspecs
from chaosiq_core.manager import make_hooks
from chaosiq_core.run import Run


def plugin(name: str) -> object:
    class Plugin:
        def __init__(self) -> None:
            self.count = 0

        @hookimpl
        def chaosiq_before_activity(self, run: Run, activity: dict[str, Any]) -> None:
            self.count += 1

        @hookimpl
        def chaosiq_after_activity(self, run: Run, activity: dict[str, Any], state: Any) -> None:
            self.count += 1

    Plugin.__name__ = name
    return Plugin()


def per_call(fn: Any, calls: int) -> float:
    """Best of 5 batches, in microseconds per call."""
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(calls // 5):
            fn()
        best = min(best, (time.perf_counter() - start) / (calls // 5))
    return best * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200_000)
    args = parser.parse_args()
    activity = {
        "type": "action",
        "name": "noop",
        "provider": {"type": "python", "module": "os", "func": "getcwd"},
    }
    state = {"activity": activity, "status": "succeeded", "output": "/"}
    results = {}
    for label, count in (("4 plugins", 4), ("no plugin", 0)):
        bare = pluggy.PluginManager(PROJECT_NAME)
        bare.add_hookspecs(hookspecs)
        for i in range(count):
            bare.register(plugin(f"B{i}"), name=f"b{i}")
        results[f"pluggy alone, {label}"] = per_call(
            lambda c=bare.hook.chaosiq_before_activity: c(run=None, activity=activity), args.calls
        )
        plugins = {f"p{i}": plugin(f"P{i}") for i in range(count)}
        hooks = make_hooks({}, load_entrypoints=False, plugins=plugins)
        run = Run(settings={}, experiment={}, hooks=hooks)
        control.reset()
        control._state.run = run

        def pair() -> None:
            control.before_activity_control(activity)
            control.after_activity_control(activity, state)

        results[f"bridge, {label}"] = per_call(pair, args.calls // 2) / 2
        results[f"Hooks.before_activity, {label}"] = per_call(
            lambda h=hooks, r=run: h.before_activity(r, activity), args.calls
        )
        if count:
            assert all(p.count > 0 for p in plugins.values())
        control.reset()
    print(f"python {sys.version.split()[0]}, {args.calls} calls per figure (best of 5 batches)")
    for name, us in results.items():
        base = results["pluggy alone, " + name.split(", ", 1)[1]]
        print(f"{name:34s} {us:6.2f} µs/call   ratio {us / base:4.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
