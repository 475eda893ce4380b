"""Generate ``docs/hooks.md`` from the hookspec docstrings.

Run ``python -m chaosiq_core.docs > docs/hooks.md``; a test fails when the
committed file differs from what this prints, or when a spec has no docstring.
"""

from __future__ import annotations

import inspect
import re
import sys
from collections.abc import Callable
from typing import Any

from chaosiq_core import PROJECT_NAME, hookspecs

SECTIONS: list[tuple[str, list[str]]] = [
    ("Settings", ["chaosiq_settings_loaded", "chaosiq_settings_defaults"]),
    ("Authentication", ["chaosiq_token", "chaosiq_signin_completed"]),
    ("Organization and team", ["chaosiq_api_scope", "chaosiq_select_scope"]),
    ("Loading the experiment", ["chaosiq_loading_experiment", "chaosiq_experiment_loaded"]),
    (
        "Run lifecycle",
        [
            "chaosiq_run_configured",
            "chaosiq_run_started",
            "chaosiq_before_experiment",
            "chaosiq_before_hypothesis",
            "chaosiq_after_hypothesis",
            "chaosiq_continuous_hypothesis_started",
            "chaosiq_continuous_hypothesis_iteration",
            "chaosiq_continuous_hypothesis_completed",
            "chaosiq_before_method",
            "chaosiq_before_activity",
            "chaosiq_after_activity",
            "chaosiq_after_method",
            "chaosiq_before_rollback",
            "chaosiq_after_rollback",
            "chaosiq_run_interrupted",
            "chaosiq_run_signal_exit",
            "chaosiq_after_experiment",
            "chaosiq_run_finished",
        ],
    ),
    (
        "Safeguards",
        [
            "chaosiq_safeguard_verdicts",
            "chaosiq_safeguard_triggered",
            "chaosiq_run_paused",
            "chaosiq_run_resumed",
        ],
    ),
    ("Delivery to the server", ["chaosiq_deliver"]),
    ("Commands", ["chaosiq_feature_status"]),
]
"""Order of the reference; a spec missing here is listed under "Other hooks"."""

LIFECYCLE = """\
```
chaos run experiment.json
│
├─ chaosiq_loading_experiment ─ chaosiq_experiment_loaded        (no Run yet)
├─ chaosiq_run_configured                                        (configure_control: Run created)
├─ chaosiq_run_started                                           (event: running)
├─ chaosiq_before_experiment
│   ├─ chaosiq_before_hypothesis ─ [activities] ─ chaosiq_after_hypothesis     (before the method)
│   ├─ chaosiq_continuous_hypothesis_started                     (--hypothesis-strategy continuously,
│   │     chaosiq_continuous_hypothesis_iteration (n times)             hypothesis pool thread)
│   │     chaosiq_continuous_hypothesis_completed
│   ├─ chaosiq_before_method
│   │   ├─ [chaosiq_run_paused ─ chaosiq_run_resumed]            (while a pause verdict stands)
│   │   ├─ chaosiq_before_activity ─ chaosiq_after_activity      (each probe/action; background
│   │   └─ …                                                      activities on pool threads)
│   ├─ chaosiq_after_method
│   ├─ chaosiq_before_hypothesis ─ [activities] ─ chaosiq_after_hypothesis     (after the method)
│   ├─ chaosiq_before_rollback ─ [activities] ─ chaosiq_after_rollback
│   └─ chaosiq_run_interrupted / chaosiq_run_signal_exit         (only when it happens)
├─ chaosiq_after_experiment                                      (journal final; write run.journal_extension)
└─ chaosiq_run_finished                                          (event: finish; last hook)
```
"""


def specs() -> dict[str, Callable[..., Any]]:
    """Every hook specification of :mod:`chaosiq_core.hookspecs`, in source order."""
    found = {
        name: fn
        for name, fn in vars(hookspecs).items()
        if name.startswith("chaosiq_") and callable(fn) and hasattr(fn, f"{PROJECT_NAME}_spec")
    }
    return dict(sorted(found.items(), key=lambda kv: inspect.getsourcelines(kv[1])[1]))


def _rst_to_md(text: str) -> str:
    text = re.sub(r":(?:class|meth|func|mod|attr):`~?([\w.]+)`", lambda m: f"`{m.group(1)}`", text)
    text = text.replace("``", "`")
    text = re.sub(r"^:param (\w+):", r"- `\1`:", text, flags=re.M)
    text = re.sub(r"^:return:", "- returns:", text, flags=re.M)
    text = re.sub(r"^\.\. versionadded:: ([\w.]+)", r"*Added in \1.*", text, flags=re.M)
    return text


def _flags(fn: Callable[..., Any]) -> str:
    opts = getattr(fn, f"{PROJECT_NAME}_spec", {}) or {}
    flags = [name for name in ("firstresult", "historic") if opts.get(name)]
    return f" *({', '.join(flags)})*" if flags else ""


def render_hook(name: str, fn: Callable[..., Any]) -> str:
    """One hook's section: heading, signature, flags and its docstring."""
    doc = inspect.getdoc(fn)
    if not doc:
        raise ValueError(f"hookspec {name} has no docstring")
    signature = str(inspect.signature(fn)).replace("'", "")
    return f"### `{name}`{_flags(fn)}\n\n```python\ndef {name}{signature}\n```\n\n{_rst_to_md(doc)}\n"


def render() -> str:
    """The whole ``docs/hooks.md``."""
    all_specs = specs()
    intro = _rst_to_md(inspect.getdoc(hookspecs) or "")
    parts = [
        "# chaosiq hooks\n",
        "<!-- Generated by `python -m chaosiq_core.docs > docs/hooks.md`; do not edit by hand. -->\n",
        intro + "\n",
        "Implement a hook with `from chaosiq_core import hookimpl` and a function of the same name "
        "that takes any subset of the arguments (see [writing-plugins.md](writing-plugins.md)).\n",
        "## The lifecycle of a run\n",
        LIFECYCLE,
    ]
    listed: set[str] = set()
    for title, names in [*SECTIONS, ("Other hooks", [n for n in all_specs if not _in_sections(n)])]:
        present = [n for n in names if n in all_specs]
        if not present:
            continue
        parts.append(f"## {title}\n")
        for name in present:
            parts.append(render_hook(name, all_specs[name]))
            listed.add(name)
    return "\n".join(parts).rstrip() + "\n"


def _in_sections(name: str) -> bool:
    return any(name in names for _, names in SECTIONS)


def main() -> int:
    sys.stdout.write(render())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
