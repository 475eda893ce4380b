"""Cost per event of the redactor: today's code against a baseline, side by side.

Usage::

    uv run --all-packages python benchmarks/redaction_bench.py [--baseline REV] [--reps 20000]

The baseline is ``chaosiq_core/redaction.py`` as of git revision ``REV``
(default: the last one before redaction caught transformed forms), loaded from
``git show`` into its own module. Both redactors are built by
``Redactor.for_run`` from the same run: three secret values of different shapes
(one with a backslash or a slash, one with a space and ``&`` filled into a
URL, a 3-character one) and a settings token; then the same with ten more
16-character tokens. Each case times what the publisher's
worker does per event, in batches of baseline and now alternated (best of 7
batches each: the machine is shared), and prints microseconds per call and the
ratio:

* ``encode`` of a small clean event (an activity and its run record, ~600
  bytes of JSON): the path of nearly every event;
* ``encode`` of the same event with a secret in its output (the full walk);
* ``encode`` of the same event with a sensitive key in its output (walked, no
  secret value in it);
* ``encode`` of a 10 kB journal (its experiment has a ``secrets`` block: walked).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import types
from pathlib import Path
from typing import Any

from chaosiq_core import redaction

BASELINE_REV = "0088ee3"
ROOT = Path(__file__).resolve().parent.parent


def baseline(rev: str) -> types.ModuleType:
    source = subprocess.run(
        ["git", "show", f"{rev}:chaosiq_core/redaction.py"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    module = types.ModuleType("baseline_redaction")
    exec(compile(source, f"{rev}:chaosiq_core/redaction.py", "exec"), module.__dict__)
    return module


def run_inputs(backslash: bool, more: int = 0) -> dict[str, Any]:
    """A run's redaction inputs; ``backslash``: one secret holds a backslash (the baseline then
    walks every document: its one-pass test held only for values JSON writes as they are)."""
    vault = r"C:\vault\Key-777" if backslash else "C:/vault/Key-777"
    activity = {
        "type": "action",
        "name": "call-the-api",
        "provider": {
            "type": "http",
            "url": "https://api.example.com/v1/items?key=${code}&x=1",
            "method": "GET",
            "timeout": 3,
        },
    }
    experiment = {
        "title": "benchmark",
        "secrets": {"app": {"vault_path": vault, "pin": "987"}},
        "method": [activity],
    }
    secrets = {"app": {"vault_path": vault, "pin": "987", "code": "p@ss word!&x=1"}}
    secrets["more"] = {f"token{i}": f"tk-{i:02d}-Zq8Lm3Xw9Rt" for i in range(more)}
    settings = {"auths": {"chaosiq.example.com": {"type": "bearer", "value": "tok-" + "a1b2c3d4" * 8}}}
    return {"experiment": experiment, "secrets": secrets, "settings": settings, "activity": activity}


def event(activity: dict[str, Any], output: Any) -> dict[str, Any]:
    return {
        "context": activity,
        "state": {
            "activity": activity,
            "output": output,
            "status": "succeeded",
            "start": "2026-11-27T10:00:00.123456+00:00",
            "end": "2026-11-27T10:00:00.223456+00:00",
            "duration": 0.1,
        },
    }


def per_call(old: Any, new: Any, reps: int, rounds: int = 7) -> tuple[float, float]:
    """Microseconds per call of ``old()`` and ``new()``: batches alternated, best batch of each."""
    best = [float("inf"), float("inf")]
    for _ in range(rounds):
        for i, fn in enumerate((old, new)):
            start = time.perf_counter()
            for _ in range(reps):
                fn()
            best[i] = min(best[i], (time.perf_counter() - start) / reps)
    return best[0] * 1e6, best[1] * 1e6


def compare(module: types.ModuleType, backslash: bool, reps: int, more: int = 0) -> None:
    inputs = run_inputs(backslash, more)
    kwargs = {"secrets": inputs["secrets"], "settings": inputs["settings"]}
    old = module.Redactor.for_run(inputs["experiment"], **kwargs)
    new = redaction.Redactor.for_run(inputs["experiment"], **kwargs)
    activity = inputs["activity"]
    clean = event(activity, {"status": 200, "body": "ok: 42 items, next page 3"})
    dirty = event(activity, "error: Max retries exceeded with url: /v1/items?key=p@ss%20word!&x=1")
    keyed = event(activity, {"status": 200, "headers": {"Set-Cookie": "session=abc"}, "body": "ok"})
    journal = {"status": "completed", "run": [clean["state"]] * 30, "experiment": inputs["experiment"]}
    text = redaction.dumps(clean)
    assert new.encode(clean)[1], "the clean event must need no redaction"
    assert "p@ss" not in new.encode(dirty)[0]
    cases = [
        (f"encode, small clean event ({len(text)} B)", lambda r: r.encode(clean), reps),
        ("encode, event with a secret", lambda r: r.encode(dirty), reps // 4),
        ("encode, event with a cookie", lambda r: r.encode(keyed), reps // 4),
        (
            f"encode, journal ({len(redaction.dumps(journal)) // 1000} kB)",
            lambda r: r.encode(journal),
            reps // 20,
        ),
    ]
    what = "with a backslash (the baseline walks everything)" if backslash else "without a backslash"
    print(f"{len(new._whole_texts)} secret values, {what}")
    for label, fn, n in cases:
        before, after = per_call(lambda fn=fn: fn(old), lambda fn=fn: fn(new), n)  # type: ignore[misc]
        print(f"  {label:32} {before:12.2f} {after:10.2f} {after / before:7.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default=BASELINE_REV)
    parser.add_argument("--reps", type=int, default=20_000)
    args = parser.parse_args()
    module = baseline(args.baseline)
    print(f"python {sys.version.split()[0]}; baseline {args.baseline}; alternated batches, best of 7 each")
    print(f"{'case':34} {'baseline µs':>12} {'now µs':>10} {'ratio':>7}")
    for backslash in (False, True):
        compare(module, backslash, args.reps)
    compare(module, False, args.reps, more=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
