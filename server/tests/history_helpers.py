"""Helpers of the history tests: executions made through the API as `chaos run` makes
them (created running, then the final journal PUT), of a chosen outcome."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from server_helpers import experiment, journal
from sqlalchemy import create_engine, text


def final_journal(exp: dict[str, Any], kind: str, duration: float) -> dict[str, Any]:
    """A final journal of ``kind`` (the outcome it must get) as chaostoolkit-lib writes it."""
    doc = journal(exp, "completed")
    doc["duration"] = duration
    probe = {"activity": {"type": "probe", "name": "p"}, "status": "succeeded", "tolerance_met": True}
    doc["steady_states"] = {
        "before": {"steady_state_met": True, "probes": [probe]},
        "after": {"steady_state_met": True, "probes": [probe]},
        "during": [],
    }
    if kind == "deviated":
        doc["deviated"] = True
        doc["steady_states"]["after"] = {
            "steady_state_met": False,
            "probes": [{**probe, "tolerance_met": False}],
        }
    elif kind == "failed":
        doc["run"] = [{"activity": {"type": "action", "name": "break-it"}, "status": "failed"}]
    elif kind == "interrupted":
        doc["status"] = "interrupted"
    return doc


class Team:
    def __init__(self, env: Any, tenant: Any) -> None:
        self.c, self.t = env.client, tenant
        self.url = env.url

    def get(self, path: str, status: int = 200) -> Any:
        resp = self.c.get(self.t.base + path, headers=self.t.headers)
        assert resp.status_code == status, (path, resp.status_code, resp.text)
        return resp.json()

    def experiment(self, title: str, tags: list[str] | None = None) -> tuple[str, dict[str, Any]]:
        exp = experiment(title)
        if tags is not None:
            exp["tags"] = tags
        resp = self.c.post(f"{self.t.base}/experiments", json={"experiment": exp}, headers=self.t.headers)
        assert resp.status_code in (200, 201, 204), resp.text
        eid = (
            resp.json()["id"] if resp.status_code != 204 else resp.headers["Content-Location"].split("/")[-1]
        )
        return eid, exp

    def execution(self, eid: str, exp: dict[str, Any], kind: str | None, duration: float = 1.0) -> str:
        """An execution as ``chaos run`` makes it: created running, then its final journal PUT."""
        base = f"{self.t.base}/experiments/{eid}/executions"
        xid = self.c.post(base, json={"journal": journal(exp)}, headers=self.t.headers).json()["id"]
        if kind is not None:
            body = {"journal": final_journal(exp, kind, duration)}
            assert self.c.put(f"{base}/{xid}", json=body, headers=self.t.headers).status_code == 204
        return xid


def backdate(url: str, xid: str, days: float) -> None:
    """Make an execution look received ``days`` ago (the server stamps created_at itself)."""
    moment = datetime.now(timezone.utc) - timedelta(days=days)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE executions SET created_at = :t WHERE id = :x"),
            {"t": moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "x": xid},
        )
    engine.dispose()
