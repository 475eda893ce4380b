"""The original's HTTP probes, fixed: the timeout is honoured and timings use a monotonic clock.

Names and signatures are the original's (``chaoscloud.probes.http``), so
console-generated verifications only need their module path changed.
"""

from __future__ import annotations

import time
from typing import Any

import requests
from chaoslib.exceptions import ActivityFailed

__all__ = ["read_http_status_code", "time_http_call"]


def _request(
    url: str,
    headers: dict[str, Any] | None,
    method: str,
    params: dict[str, Any] | None,
    json: Any,
    verify_tls: bool,
    timeout: float,
) -> requests.Response:
    return requests.request(
        method,
        url,
        headers=headers,
        params=params,
        json=json,
        verify=verify_tls,
        timeout=timeout,
    )


def read_http_status_code(
    url: str,
    headers: dict[str, Any] | None = None,
    method: str = "GET",
    params: dict[str, Any] | None = None,
    json: Any = None,
    verify_tls: bool = True,
    timeout: float = 30.0,
) -> int:
    """The HTTP status code of a request to ``url``, within ``timeout`` seconds.

    :raises ActivityFailed: when the request fails or times out.
    """
    try:
        return _request(url, headers, method, params, json, verify_tls, timeout).status_code
    except requests.RequestException as exc:
        raise ActivityFailed(f"Failed to request {url}: {type(exc).__name__}") from None


def time_http_call(
    url: str,
    headers: dict[str, Any] | None = None,
    method: str = "GET",
    params: dict[str, Any] | None = None,
    json: Any = None,
    verify_tls: bool = True,
    timeout: float = 30.0,
) -> float:
    """How long a request to ``url`` took, in milliseconds (monotonic clock).

    :raises ActivityFailed: when the request fails or times out.
    """
    start = time.perf_counter()
    try:
        _request(url, headers, method, params, json, verify_tls, timeout)
    except requests.RequestException as exc:
        raise ActivityFailed(f"Failed to time request {url}: {type(exc).__name__}") from None
    return (time.perf_counter() - start) * 1000.0
