"""The real `chaos verify` against the real chaosiq-server (publish, safeguards, team, token host)."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chaosiq_core.testing import Team, run_chaos, sign_in, start_server, wait_until

from .conftest import enable_features, journal_ext, process_action, set_options, verification_doc, write_doc

EXPECTED_ORDER = [
    "verification-hypothesis-before-method-started",
    "verification-hypothesis-before-method-completed",
    "verification-sample-started",
    "verification-condition-started",
    "verification-condition-completed",
    "verification-sampling-completed",
    "verification-cooldown-started",
    "verification-cooldown-completed",
    "verification-hypothesis-after-method-started",
    "verification-hypothesis-after-method-completed",
    "verification-completed",
]


def _runs(team: Team, vid: str) -> list[dict[str, Any]]:
    resp = team.api("GET", f"/verifications/{vid}/runs")
    if resp.status_code == 404:
        return []
    resp.raise_for_status()
    return resp.json()["items"]


def _run_events(team: Team, vid: str, rid: str) -> list[str]:
    resp = team.api("GET", f"/verifications/{vid}/runs/{rid}/events?limit=500")
    resp.raise_for_status()
    return [e["category"] for e in resp.json()["items"]]


@pytest.fixture
def published(signed_in: Path) -> Path:
    enable_features(signed_in, "publish", "verification")
    return signed_in


def _verify(tmp_path: Path, settings: Path, doc: dict, *args: str):
    src = write_doc(tmp_path / "verification.json", doc)
    journal_path = tmp_path / "journal.json"
    result = run_chaos(
        "verify", "--journal-path", str(journal_path), *args, str(src), settings=settings, cwd=tmp_path
    )
    journal = json.loads(journal_path.read_text()) if journal_path.exists() else None
    return result, journal


def test_passing_verification_is_published(tmp_path: Path, published: Path, chaosiq_team: Team) -> None:
    result, journal = _verify(tmp_path, published, verification_doc(vid="v-pass"))
    assert result.returncode == 0, result.stderr
    ext = journal_ext(journal)
    rid = ext["verification"]["run_id"]
    assert rid and "not_published" not in ext["verification"]
    runs = wait_until(
        lambda: [r for r in _runs(chaosiq_team, "v-pass") if r.get("state") == "finished"],
        what="finished run",
    )
    run = runs[0]
    assert run["id"] == rid
    assert run["execution_id"] == ext["execution_id"] and run["experiment_id"] == ext["experiment_id"]
    assert run["status"] == "completed"
    assert run["results"]["total_number_of_samples"] == len(journal["measurements"]) > 1
    assert run["results"]["successful_samples"] == len(journal["measurements"])
    events = _run_events(chaosiq_team, "v-pass", rid)
    assert [e for e in events if e in EXPECTED_ORDER] == EXPECTED_ORDER
    assert events.count("verification-sample") == len(journal["measurements"])
    # the ordinary execution of the run was published too
    assert any(x["id"] == ext["execution_id"] for x in chaosiq_team.executions())
    assert chaosiq_team.token not in json.dumps(run)


def test_deviating_verification_results_on_server(
    tmp_path: Path, published: Path, chaosiq_team: Team
) -> None:
    flag = tmp_path / "flag"
    flag.write_text("x")
    doc = verification_doc(
        vid="v-dev",
        probe_path=str(flag),
        method=[
            {
                "type": "action",
                "name": "rm",
                "provider": {"type": "process", "path": "rm", "arguments": str(flag)},
            }
        ],
    )
    result, journal = _verify(tmp_path, published, doc)
    assert result.returncode == 3, result.stderr
    run = wait_until(lambda: [r for r in _runs(chaosiq_team, "v-dev") if r.get("state") == "finished"])[0]
    assert run["results"]["deviated_samples"] >= 1
    assert (
        run["results"]["deviated_samples"]
        == journal_ext(journal)["verification"]["results"]["deviated_samples"]
    )


def test_safeguard_stop_during_conditions(
    tmp_path: Path, published: Path, chaosiq_team: Team, verify_bg
) -> None:
    enable_features(published, "safeguards")
    set_options(published, "safeguards", interval=0.2)
    src = write_doc(tmp_path / "v.json", verification_doc(vid="v-stop", conditions=30))
    proc = verify_bg(str(src), settings=published)
    proc.wait_for_log("Verification phase: conditions held")
    xid = wait_until(lambda: [x["id"] for x in chaosiq_team.executions()], what="execution")[0]
    start = time.monotonic()
    assert chaosiq_team.stop(xid, "stop the verification").status_code < 300
    proc.proc.wait(timeout=20)
    assert time.monotonic() - start < 3.0
    assert proc.proc.returncode == 4, proc.output()
    journal = proc.load_journal()
    assert journal["status"] == "interrupted"
    assert journal["interruption"]["kind"] == "safeguard"
    run = wait_until(lambda: [r for r in _runs(chaosiq_team, "v-stop") if r.get("state") == "finished"])[0]
    assert run["status"] == "interrupted"
    assert "verification-interrupted" in _run_events(chaosiq_team, "v-stop", run["id"])


def test_server_policy_stop_plays_the_rollbacks_and_reports_them(
    tmp_path: Path, published: Path, chaosiq_team: Team, verify_bg
) -> None:
    """A denying policy on the server stops the verification during its conditions: the rollback
    runs (`safeguards.rollbacks: play`), the journal records it and the server's run says interrupted."""
    enable_features(published, "safeguards")
    set_options(published, "safeguards", interval=0.2)
    flag = tmp_path / "FLAG"
    flag.write_text("x")
    doc = verification_doc(
        vid="v-policy",
        conditions=30,
        method=[process_action("remove-flag", "rm", "-f", str(flag))],
        rollbacks=[process_action("restore-flag", "touch", str(flag))],
    )
    proc = verify_bg(str(write_doc(tmp_path / "v.json", doc)), settings=published)
    proc.wait_for_log("Verification phase: conditions held")
    execution = wait_until(chaosiq_team.executions, what="execution")[0]
    policy = chaosiq_team.api(
        "POST",
        f"/experiments/{execution['experiment_id']}/executions/{execution['id']}/policies",
        json={"name": "freeze", "reason": "change freeze"},
    )
    assert policy.status_code == 201, policy.text
    proc.proc.wait(timeout=30)
    assert proc.proc.returncode == 4, proc.output()
    journal = proc.load_journal()
    assert journal["status"] == "interrupted"
    assert journal["interruption"] == {
        "kind": "safeguard",
        "name": "server",
        "reason": "freeze: change freeze",
    }
    assert [(r["activity"]["name"], r["status"]) for r in journal["rollbacks"]] == [
        ("restore-flag", "succeeded")
    ]
    assert flag.exists(), "the rollback did not put FLAG back"
    run = wait_until(lambda: [r for r in _runs(chaosiq_team, "v-policy") if r.get("state") == "finished"])[0]
    assert run["status"] == "interrupted"
    assert [r["activity"]["name"] for r in run["journal"]["rollbacks"]] == ["restore-flag"]
    events = _run_events(chaosiq_team, "v-policy", run["id"])
    interrupted = events.index("verification-interrupted")
    assert events.index("verification-rollbacks-started") > interrupted
    assert events.index("verification-rollbacks-completed") < events.index("verification-completed")


def test_server_down_at_the_start_loses_nothing(tmp_path: Path, chaos_home: Path) -> None:
    """Down when the verification starts: it runs and reports locally, its run (under an id
    chosen by the client), events and results are kept and published once the server is back."""
    server = start_server(tmp_path / "srv")
    try:
        team = server.new_team()
        settings = sign_in(team, chaos_home / ".chaostoolkit" / "settings.yaml")
        enable_features(settings, "publish", "verification")
    finally:
        server.stop()
    start = time.monotonic()
    result, journal = _verify(tmp_path, settings, verification_doc(vid="v-down"))
    elapsed = time.monotonic() - start
    assert result.returncode == 0, result.stderr
    assert elapsed < 25, elapsed
    assert "Traceback" not in result.stderr
    block = journal_ext(journal)["verification"]
    rid = block["run_id"]
    assert rid and "not_published" not in block
    assert "queued and sent when it answers" in result.stdout + result.stderr
    assert "chaos publish" in result.stdout + result.stderr
    server.start()  # the same database and port
    try:
        sent = run_chaos("publish", settings=settings)
        assert sent.returncode == 0, sent.stderr
        (run,) = _runs(team, "v-down")
        assert run["id"] == rid and run["state"] == "finished" and run["status"] == "completed"
        assert run["results"]["total_number_of_samples"] == len(journal["measurements"]) > 1
        assert run["execution_id"] is not None  # created by `chaos publish`, filled in at the end
        events = _run_events(team, "v-down", rid)
        assert [e for e in events if e in EXPECTED_ORDER] == EXPECTED_ORDER
        # a second `chaos publish` has nothing left to send, and nothing is stored twice
        again = run_chaos("publish", settings=settings)
        assert again.returncode == 0, again.stderr
        assert _run_events(team, "v-down", rid) == events and len(_runs(team, "v-down")) == 1
    finally:
        server.stop()


class _Recorder(http.server.BaseHTTPRequestHandler):
    body = b""
    seen: list[dict[str, str]] = []

    def do_GET(self) -> None:
        type(self).seen.append(dict(self.headers))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def other_host() -> Iterator[tuple[str, type[_Recorder]]]:
    handler = type("Handler", (_Recorder,), {"seen": []})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", handler
    httpd.shutdown()


def test_token_never_sent_to_a_source_on_another_host(
    tmp_path: Path, published: Path, chaosiq_team: Team, other_host
) -> None:
    url, handler = other_host
    handler.body = json.dumps(verification_doc(vid="v-url")).encode()
    journal_path = tmp_path / "journal.json"
    result = run_chaos(
        "verify",
        "--journal-path",
        str(journal_path),
        f"{url}/verification.json",
        settings=published,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert handler.seen, "the SOURCE was not fetched"
    for headers in handler.seen:
        assert "Authorization" not in headers and chaosiq_team.token not in json.dumps(headers)


def test_verification_of_a_team_the_token_cannot_use(tmp_path: Path, published: Path, chaosiq_server) -> None:
    other = chaosiq_server.new_team()
    doc = verification_doc(vid="v-team", extra={"team_id": other.team_id})
    result, journal = _verify(tmp_path, published, doc)
    assert result.returncode == 2
    assert "You cannot access the team owning this verification" in result.stderr
    assert "Traceback" not in result.stderr and journal is None
