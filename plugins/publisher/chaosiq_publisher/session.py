"""The publisher's keep-alive HTTP session: the core's settings, minus urllib3 retries.

The worker has its own backoff and a flush deadline; urllib3's blocking
retries (up to ~1.2 s per refused connection, 3 read timeouts per PUT) would
hold the single worker thread instead. Every other property of the core's
client is kept: same host-bound bearer token, timeouts, TLS choice and scope.
"""

from __future__ import annotations

import copy
import threading

import requests
from requests.adapters import HTTPAdapter

from chaosiq_core.api import USER_AGENT, ApiClient

_session: requests.Session | None = None
_lock = threading.Lock()


def publisher_session() -> requests.Session:
    """The process-wide keep-alive session of the publisher (created on first use)."""
    global _session
    with _lock:
        if _session is None:
            s = requests.Session()
            adapter = HTTPAdapter(max_retries=0, pool_connections=2, pool_maxsize=4)
            s.mount("http://", adapter)
            s.mount("https://", adapter)
            s.headers["User-Agent"] = USER_AGENT
            s.headers["Accept"] = "application/json"
            s.trust_env = False
            _session = s
        return _session


def publisher_client(client: ApiClient) -> ApiClient:
    """A copy of ``client`` that sends over :func:`publisher_session`."""
    c = copy.copy(client)
    c.session = publisher_session()
    return c
