"""``chaoscloud.tolerances.http``: served by :mod:`chaosiq_verification.tolerances.http`."""

from chaoscloud._moved import moved

_new = moved(__name__, "chaosiq_verification.tolerances.http")
status_must_be = _new.status_must_be
status_in_range = _new.status_in_range
response_time_under = _new.response_time_under
response_time_above = _new.response_time_above

__all__ = ["response_time_above", "response_time_under", "status_in_range", "status_must_be"]
