"""``chaoscloud.probes.http``: served by :mod:`chaosiq_verification.probes.http` (same names, fixed)."""

from chaoscloud._moved import moved

_new = moved(__name__, "chaosiq_verification.probes.http")
read_http_status_code = _new.read_http_status_code
time_http_call = _new.time_http_call

__all__ = ["read_http_status_code", "time_http_call"]
