"""A third-party chaosiq plugin made of pluggy wrappers, used by the tests.

Each wrapper writes what the other implementations of its hook returned (or
raised) to ``RECORDER_LOG``, as ``{"hook": "wrapped_<hook>", ...}``.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Generator
from typing import Any

from chaosiq_core import hookimpl

_lock = threading.Lock()


def _record(hook: str, **extra: Any) -> None:
    log = os.environ.get("RECORDER_LOG")
    if log:
        line = {"hook": hook, "main": threading.current_thread() is threading.main_thread(), **extra}
        with _lock, open(log, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(line) + "\n")


@hookimpl(wrapper=True)
def chaosiq_after_activity(activity: dict[str, Any]) -> Generator[None, list[Any], list[Any]]:
    try:
        results = yield
    except Exception as exc:
        _record("wrapped_after_activity", name=activity.get("name"), raised=repr(exc))
        raise
    _record("wrapped_after_activity", name=activity.get("name"), results=results)
    return results


@hookimpl(wrapper=True)
def chaosiq_run_finished(journal: dict[str, Any]) -> Generator[None, list[Any], list[Any]]:
    results = yield
    _record("wrapped_run_finished", results=results, status=journal.get("status"))
    return results


@hookimpl(hookwrapper=True)
def chaosiq_before_activity(activity: dict[str, Any]) -> Generator[None, Any, None]:
    outcome = yield  # an old-style wrapper: pluggy's Result
    _record("wrapped_before_activity", name=activity.get("name"), results=outcome.get_result())
