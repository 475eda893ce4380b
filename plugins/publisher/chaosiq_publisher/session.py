"""The publisher's HTTP client: the core's client, minus urllib3 retries.

The worker has its own backoff and a flush deadline; urllib3's blocking
retries would hold the single worker thread instead. Every other property of
the core's client is kept: same host-bound bearer token, timeouts, TLS choice
and scope (:meth:`chaosiq_core.api.ApiClient.without_retries`).
"""

from __future__ import annotations

from chaosiq_core.api import ApiClient


def publisher_client(client: ApiClient) -> ApiClient:
    """A copy of ``client`` on a keep-alive session of its own that never retries."""
    return client.without_retries()
