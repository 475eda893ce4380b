"""What ``chaos safeguards`` shows: every safeguard of an experiment and its verdict now."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from chaosiq_core.api import ApiClient
from chaosiq_core.errors import UsageError
from chaosiq_core.experiment import configuration_and_secrets
from chaosiq_core.journal import extension_value
from chaosiq_core.run import Run
from chaosiq_core.types import Verdict
from chaosiq_safeguards.options import Options
from chaosiq_safeguards.probes import declared_probes, evaluate, probe_name, probe_problem
from chaosiq_safeguards.server import no_retry_client, verdict_from_policies

if TYPE_CHECKING:  # pragma: no cover
    from chaosiq_core.hooks import Hooks


def _load(source: str, settings: dict[str, Any]) -> dict[str, Any]:
    from chaoslib.exceptions import ChaosException
    from chaoslib.loader import load_experiment

    try:
        experiment = load_experiment(source, settings)
    except (ChaosException, OSError, ValueError) as exc:
        raise UsageError(f"cannot load the experiment '{source}': {exc}") from None
    if not isinstance(experiment, dict):
        raise UsageError(f"'{source}' is not an experiment")
    return experiment


def _row(verdict: Verdict, kind: str) -> dict[str, Any]:
    return {"source": verdict.source, "kind": kind, "decision": verdict.decision, "reason": verdict.reason}


def check_experiment(
    source: str,
    settings: dict[str, Any],
    hooks: Hooks,
    *,
    execution_id: str | None = None,
    experiment_id: str | None = None,
) -> list[dict[str, Any]]:
    """Every safeguard of ``source`` with its verdict, without running the experiment."""
    experiment = _load(source, settings)
    options = Options.for_settings(settings)
    configuration, secrets = configuration_and_secrets(experiment)
    rows: list[dict[str, Any]] = []

    client = ApiClient.for_settings(settings, hooks)
    if client is None:
        rows.append({"source": "server", "kind": "server", "decision": "none", "reason": "not signed in"})
    elif execution_id:
        eid = experiment_id or extension_value(experiment, "experiment_id")
        if not eid:
            raise UsageError("give --experiment-id: the experiment has no chaosiq experiment_id")
        body = no_retry_client(client).get_json(
            f"/experiments/{eid}/executions/{execution_id}/policies",
            timeout=(1.0, options.request_timeout),
        )
        rows.append(_row(verdict_from_policies(body), "server"))
    else:
        rows.append(
            {
                "source": "server",
                "kind": "server",
                "decision": "during run",
                "reason": "the policies of the run's execution are checked while it runs "
                "(give --execution to check an existing one)",
            }
        )

    for probe in declared_probes(experiment, options.probes):
        problem = probe_problem(probe)
        if problem:
            rows.append(_row(Verdict.stop(probe_name(probe), f"invalid safeguard probe: {problem}"), "probe"))
        else:
            rows.append(_row(evaluate(probe, configuration, secrets), "probe"))

    run = Run(
        settings=settings,
        experiment=experiment,
        hooks=hooks,
        client=client,
        source=source,
        configuration=configuration,
        secrets=secrets,
        kind="check",
    )
    run._defaults = hooks.settings_defaults()
    for verdict in hooks.safeguard_verdicts(run):
        rows.append(_row(verdict, "plugin"))
    return rows


def render(rows: list[dict[str, Any]], *, as_json: bool = False) -> str:
    """A table (or JSON) of the verdicts."""
    if as_json:
        return json.dumps(rows, indent=2)
    width = max([len(r["source"]) for r in rows] + [6])
    lines = [f"{'SOURCE'.ljust(width)}  {'VERDICT'.ljust(10)}  REASON"]
    for r in rows:
        lines.append(f"{r['source'].ljust(width)}  {r['decision'].ljust(10)}  {r['reason']}")
    return "\n".join(lines)
