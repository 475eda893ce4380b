"""The original's Prometheus tolerances (``value`` is the HTTP API's JSON answer), fixed.

Every tolerance is ``False`` when there is nothing to judge: an error
response, a missing ``data`` block, an empty result, or a result type that is
not supported. ``vector`` (instant ``value`` or ``values`` lists), ``matrix``
(every point of every series), ``scalar`` and ``string`` are read.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["extract_values", "result_value_above", "result_value_between", "result_value_under"]


def _point(pair: Any) -> Any:
    if isinstance(pair, (list, tuple)) and len(pair) == 2:
        return pair[1]
    return None


def extract_values(result: Any) -> list[Any] | None:
    """The sample values of a Prometheus answer, as given (strings); ``None`` when unusable."""
    if not isinstance(result, dict) or result.get("status") != "success":
        return None
    data = result.get("data")
    if not isinstance(data, dict):
        return None
    kind = data.get("resultType")
    res = data.get("result")
    values: list[Any] = []
    if kind in ("vector", "matrix"):
        if not isinstance(res, list):
            return None
        for item in res:
            if not isinstance(item, dict):
                return None
            if "value" in item:
                values.append(_point(item["value"]))
            for pair in item.get("values") or []:
                values.append(_point(pair))
    elif kind in ("scalar", "string"):
        values.append(_point(res))
    else:
        return None
    if not values or any(v is None for v in values):
        return None
    return values


def _floats(value: Any) -> list[float] | None:
    raw = extract_values(value)
    if raw is None:
        return None
    out: list[float] = []
    for v in raw:
        try:
            out.append(float(v))  # "NaN", "Inf", "+Inf", "-Inf" are understood by float()
        except (TypeError, ValueError):
            return None
    return out


def result_value_under(value: Any = None, upper: float = 1.0) -> bool:
    """``True`` when every value is ``<= upper``; NaN, +Inf and unusable answers are ``False``."""
    values = _floats(value)
    if not values:
        return False
    return all(not math.isnan(v) and v <= upper for v in values)


def result_value_above(value: Any = None, lower: float = 0.0) -> bool:
    """``True`` when every value is ``>= lower``; NaN, -Inf and unusable answers are ``False``."""
    values = _floats(value)
    if not values:
        return False
    return all(not math.isnan(v) and v >= lower for v in values)


def result_value_between(value: Any = None, lower: float = 0, upper: float = 1.0) -> bool:
    """``True`` when every value is within ``[lower, upper]``; NaN/±Inf and unusable answers are ``False``."""
    values = _floats(value)
    if not values:
        return False
    return all(math.isfinite(v) and lower <= v <= upper for v in values)
