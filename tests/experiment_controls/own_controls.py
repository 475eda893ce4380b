"""Controls an experiment declares itself (``controls`` of the experiment), as in chaostoolkit-lib's tests.

* ``own_controls`` with no argument does nothing at every level: an
  experiment that has controls of its own;
* with ``interrupt: <activity name>`` (or ``"*"``) it raises
  ``InterruptExecution`` before that activity (every activity): the activity
  never starts.
"""

from __future__ import annotations

from typing import Any

from chaoslib.exceptions import InterruptExecution


def before_activity_control(context: dict[str, Any], interrupt: str | None = None, **kwargs: Any) -> None:
    if interrupt is not None and interrupt in ("*", context.get("name")):
        raise InterruptExecution(f"the experiment's own control stops before '{context.get('name')}'")


def after_activity_control(context: dict[str, Any], **kwargs: Any) -> None:
    pass


def before_method_control(context: dict[str, Any], **kwargs: Any) -> None:
    pass


def after_method_control(context: dict[str, Any], **kwargs: Any) -> None:
    pass
