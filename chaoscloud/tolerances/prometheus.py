"""``chaoscloud.tolerances.prometheus``: served by :mod:`chaosiq_verification.tolerances.prometheus`."""

from chaoscloud._moved import moved

_new = moved(__name__, "chaosiq_verification.tolerances.prometheus")
result_value_under = _new.result_value_under
result_value_above = _new.result_value_above
result_value_between = _new.result_value_between

__all__ = ["result_value_above", "result_value_between", "result_value_under"]
