"""The server source: the ChaosIQ server's policies for the run's execution."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from chaosiq_core.errors import ApiError
from chaosiq_core.types import Verdict
from chaosiq_safeguards.options import Options

if TYPE_CHECKING:  # pragma: no cover
    from chaosiq_core.api import ApiClient
    from chaosiq_core.run import Run

logger = logging.getLogger("chaostoolkit.chaosiq.safeguards")

SOURCE = "server"


def no_retry_client(client: ApiClient) -> ApiClient:
    """A copy of ``client`` (same host, token and TLS settings) whose session never retries.

    The poller asks again at its own interval; retries with backoff inside one
    check would only delay the next verdict.
    """
    return client.without_retries()


def expects_execution(run: Run) -> bool:
    """``True`` when a plugin (the publisher) will create the run's execution on the server."""
    if run.client is None:
        return False
    return run.hooks.can_deliver()


def verdict_from_policies(body: Any) -> Verdict:
    """Turn ``{"allowed": bool, "policies": [...]}`` into a verdict (``allowed`` missing → allowed)."""
    if not isinstance(body, dict):
        raise ApiError("the server answered policies that are not a JSON object")
    policies = [p for p in (body.get("policies") or []) if isinstance(p, dict)]
    if body.get("allowed", True) is not False:
        return _pause(policies) or Verdict.allow(SOURCE)
    denying = [p for p in policies if p.get("allowed") is False] or policies
    parts = []
    for policy in denying:
        name = str(policy.get("name") or policy.get("id") or "policy")
        parts.append(f"{name}: {policy['reason']}" if policy.get("reason") else name)
    reason = "; ".join(parts) or "the server does not allow this execution to continue"
    return Verdict.stop(SOURCE, reason, policies=denying)


def _pause(policies: list[dict[str, Any]]) -> Verdict | None:
    """A pause when the server lists a pausing policy (``"pause": true``, optional ``timeout`` s)."""
    pausing = [p for p in policies if p.get("pause") is True]
    if not pausing:
        return None
    timeouts = [
        float(t)
        for p in pausing
        if isinstance(t := p.get("timeout"), (int, float)) and not isinstance(t, bool) and t >= 0
    ]
    reason = "; ".join(
        f"{p.get('name') or 'pause'}: {p['reason']}" if p.get("reason") else str(p.get("name") or "pause")
        for p in pausing
    )
    return Verdict.pause(SOURCE, reason, timeout=min(timeouts) if timeouts else None, policies=pausing)


class ServerPolicies:
    """Asks ``GET {team}/experiments/{eid}/executions/{xid}/policies`` and tracks outages."""

    def __init__(self, run: Run, options: Options) -> None:
        self.run = run
        self.options = options
        self.client = no_retry_client(run.client) if run.client is not None else None
        self.expects_execution = expects_execution(run)
        self.created = time.monotonic()
        self.outage_since: float | None = None
        self.last_error: str | None = None

    @property
    def active(self) -> bool:
        """Whether this run has a server to ask at all."""
        return self.client is not None

    def _ids(self) -> tuple[str | None, str | None]:
        with self.run.lock:
            return self.run.experiment_id, self.run.execution_id

    def vote(self) -> Verdict | None:
        """One check; ``None`` means abstain (no server, no execution yet, fail-open outage)."""
        if self.client is None:
            return None
        eid, xid = self._ids()
        if not (eid and xid):
            if not self.expects_execution:
                return None
            waited = time.monotonic() - self.created
            if not self.run.execution_ready.is_set() and waited < self.options.start_timeout:
                return None
            return self._failed("the run has no execution on the ChaosIQ server")
        rt = self.options.request_timeout
        try:
            body = self.client.get_json(
                f"/experiments/{eid}/executions/{xid}/policies", timeout=(min(1.0, rt), rt)
            )
            verdict = verdict_from_policies(body)
        except ApiError as exc:
            return self._failed(str(exc))
        self._recovered()
        return verdict

    def _failed(self, message: str) -> Verdict | None:
        now = time.monotonic()
        self.last_error = message
        if self.outage_since is None:
            self.outage_since = now
            if self.options.on_error == "fail-closed":
                then = f"the run stops if this lasts {self.options.fail_closed_after:g} s (fail-closed)"
            else:
                then = "the run goes on without them (fail-open)"
            logger.warning("chaosiq safeguards: cannot get the server's policies: %s; %s", message, then)
        if self.options.on_error != "fail-closed":
            return None
        elapsed = now - self.outage_since
        if elapsed >= self.options.fail_closed_after:
            return Verdict.stop(
                SOURCE,
                f"the ChaosIQ server's policies could not be fetched for {elapsed:.1f} s "
                f"(on_error: fail-closed): {message}",
                error=message,
            )
        return None

    def _recovered(self) -> None:
        if self.outage_since is not None:
            logger.info(
                "chaosiq safeguards: the server answers again after %.1f s",
                time.monotonic() - self.outage_since,
            )
        self.outage_since = None
        self.last_error = None
