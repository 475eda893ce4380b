"""Publishing a verification run to the ChaosIQ server: its record, events and results.

* ``POST {team}/verifications/{vid}/runs`` — one synchronous call with a
  timeout, once the publisher created the execution (``run.execution_ready``,
  waited for with a bound). When the server cannot be reached (or answers
  5xx), the run gets an id chosen here and ``PUT …/runs/{id}`` is queued
  instead (chaosiq-server's ``verification-run-put``): nothing is lost;
* every verification-run event and the final ``…/finished`` go through
  ``chaosiq_deliver`` (the publisher's non-blocking queue, kept on disk when
  the server is down). When no plugin takes them, nothing is sent and the
  verification still runs and reports locally.

Payloads are made JSON-safe and redacted (secret values, tokens) before they
leave the run.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from chaosiq_core.errors import ApiError, AuthError
from chaosiq_core.redaction import Redactor
from chaosiq_core.run import Run
from chaosiq_core.serialize import to_jsonable
from chaosiq_core.types import Outgoing
from chaosiq_verification.spec import VerificationSpec

logger = logging.getLogger("chaostoolkit.chaosiq.verification")

_NO_PAYLOAD = object()


def has_delivery(run: Run) -> bool:
    """``True`` when a plugin (the publisher) implements ``chaosiq_deliver``."""
    try:
        return run.hooks.can_deliver()
    except AttributeError:
        return False


class ServerReporter:
    """Sends one verification run's record, events and results; a no-op when it cannot."""

    def __init__(
        self,
        run: Run | None,
        spec: VerificationSpec,
        *,
        execution_wait: float = 10.0,
        request_timeout: float = 5.0,
    ) -> None:
        self.run = run
        self.spec = spec
        self.execution_wait = execution_wait
        self.request_timeout = request_timeout
        self.run_id: str | None = None
        self.offline = False
        """The run was started under an id chosen here, its creation queued (server down)."""
        self.reason: str | None = None
        self._redactor: Redactor | None = None

    # ------------------------------------------------------------- state

    @property
    def active(self) -> bool:
        return self.run_id is not None

    def _why_not(self) -> str | None:
        run = self.run
        if not self.spec.id:
            return "the verification has no id"
        if run is None:
            return "not signed in to a ChaosIQ server (run `chaos signin`)"
        if run.client is None or run.client.scope is None:
            return "no ChaosIQ server or default team in the settings"
        if not has_delivery(run):
            return "the publish feature is not enabled (`chaos enable publish`)"
        return None

    def _redact(self, payload: Any) -> Any:
        doc = to_jsonable(payload)
        if self._redactor is None and self.run is not None:
            run = self.run
            self._redactor = Redactor.for_run(
                run.experiment,
                secrets=run.secrets,
                configuration=run.configuration,
                settings=run.settings,
            )
        return self._redactor(doc) if self._redactor is not None else doc

    # ------------------------------------------------------------ calls

    def start(self, journal: dict[str, Any], wait: Callable[[Any, float], bool]) -> None:
        """Create the verification run on the server (once).

        :param wait: ``wait(event, seconds) -> bool``, an interruptible wait.
        """
        self.reason = self._why_not()
        if self.reason is not None:
            logger.info("Verification reported locally only: %s", self.reason)
            return
        run = self.run
        assert run is not None and run.client is not None
        if not wait(run.execution_ready, self.execution_wait):
            logger.warning(
                "chaosiq: no execution was created within %g s; creating the verification run without it",
                self.execution_wait,
            )
        body = {
            "journal": self._redact(journal),
            "status": "started",
            "experiment_id": run.experiment_id or self.spec.experiment_id,
            "execution_id": run.execution_id,
        }
        try:
            resp = run.client.request(
                "POST",
                f"/verifications/{self.spec.id}/runs",
                json=body,
                timeout=(3.05, self.request_timeout),
            )
            run_id = resp.json().get("id")
        except ApiError as exc:
            if isinstance(exc, AuthError) or (exc.status is not None and exc.status < 500):
                self.reason = f"the verification run could not be created: {exc}"
                logger.warning("chaosiq: %s; results are reported locally only", self.reason)
                return
            self._start_offline(body, exc)
            return
        except (ValueError, AttributeError) as exc:
            self.reason = f"the verification run could not be created: {exc}"
            logger.warning("chaosiq: %s; results are reported locally only", self.reason)
            return
        if not run_id:
            self.reason = "the server did not return a verification run id"
            logger.warning("chaosiq: %s; results are reported locally only", self.reason)
            return
        self.run_id = str(run_id)
        logger.info("Verification run %s started", self.run_id)

    def _start_offline(self, body: dict[str, Any], exc: ApiError) -> None:
        """The server cannot be reached now: start the run under an id chosen here.

        ``PUT …/runs/{id}`` (chaosiq-server's ``verification-run-put``) goes
        through the publisher's queue like the events after it, so all of
        them are kept in the outbox and sent in order when the server is back
        (or by ``chaos publish``). An original server refuses the PUT; the
        verification is then reported locally only, as before.
        """
        self.run_id = str(uuid.uuid4())
        self.offline = True
        logger.warning(
            "chaosiq: the ChaosIQ server cannot be reached (%s); verification run %s and its events "
            "are queued and sent when it answers",
            exc,
            self.run_id,
        )
        self._deliver("", body, "verification-run", method="PUT")

    def _deliver(
        self, suffix: str, body: dict[str, Any], kind: str, method: str = "POST", with_execution: bool = False
    ) -> None:
        if not self.active or self.run is None:
            return
        message = Outgoing(
            method,
            f"/verifications/{self.spec.id}/runs/{self.run_id}{suffix}",
            json=body,
            kind=kind,
            key=uuid.uuid4().hex,
            with_execution=with_execution,
        )
        if not self.run.hooks.deliver(self.run, message):
            logger.debug("chaosiq: no plugin took the verification message %s", kind)

    def event(self, category: str, payload: Any = _NO_PAYLOAD) -> None:
        """Send one verification-run event (``{"category", "payload"?}``), without blocking."""
        if not self.active:
            return
        body: dict[str, Any] = {"category": category}
        if payload is not _NO_PAYLOAD:
            body["payload"] = self._redact(payload)
        self._deliver("/events", body, "verification-event")

    def finished(self, journal: dict[str, Any], results: dict[str, Any]) -> None:
        """``verification-completed`` with the journal, then ``…/finished`` with the results."""
        if not self.active:
            return
        self.event("verification-completed", journal)
        body = {
            "journal": self._redact(journal),
            "status": journal.get("status") or "unknown",
            "results": results,
        }
        # started offline: the execution may only be created later (by `chaos publish`)
        self._deliver("/finished", body, "verification-finished", with_execution=self.offline)
