"""The examples run as the README and docs/verification.md say: the real `chaos verify`, the real server."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import requests

from chaosiq_core.testing import Team, run_chaos, wait_until

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def _finished_runs(team: Team, vid: str) -> list[dict[str, Any]]:
    resp = team.api("GET", f"/verifications/{vid}/runs")
    if resp.status_code == 404:
        return []
    resp.raise_for_status()
    return [r for r in resp.json()["items"] if r.get("state") == "finished"]


def _verify(source: Path, settings: Path, tmp_path: Path, env: dict[str, str]) -> tuple[Any, dict[str, Any]]:
    journal = tmp_path / "journal.json"
    result = run_chaos(
        "verify", "--journal-path", str(journal), str(source), settings=settings, cwd=ROOT, env=env
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Verification passed" in result.stdout + result.stderr, result.stderr
    return result, json.loads(journal.read_text())


def test_the_local_verification_runs_as_it_is(tmp_path: Path, signed_in: Path, chaosiq_team: Team) -> None:
    """Nothing prepared beforehand: the gate holds, the method makes its folder, the rollback removes it."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    scratch = tmp / "scratch"  # the example's own default is /tmp/chaosiq-verification-scratch
    env = {"TMPDIR": str(tmp), "SCRATCH_DIR": str(scratch)}
    _, journal = _verify(EXAMPLES / "verification-local.yaml", signed_in, tmp_path, env)
    assert journal["status"] == "completed"
    made = [r for r in journal["run"] if r["activity"]["name"] == "make-a-scratch-folder"]
    assert [r["status"] for r in made] == ["succeeded"]
    assert [r["status"] for r in journal["rollbacks"]] == ["succeeded"]
    assert not scratch.exists()  # the rollback removed it
    assert len(journal["measurements"]) > 10 and all(m["steady_state_met"] for m in journal["measurements"])
    runs = wait_until(lambda: _finished_runs(chaosiq_team, "example-local-verification"), what="the run")
    assert runs[0]["status"] == "completed"


def _readme_verify_line() -> list[str]:
    for line in (ROOT / "README.md").read_text().splitlines():
        if "chaos verify examples/verification.json" in line:
            return shlex.split(line.split("#", 1)[0])
    raise AssertionError("the README no longer shows `chaos verify examples/verification.json`")


def test_the_readme_says_what_the_http_verification_needs(
    tmp_path: Path, signed_in: Path, chaosiq_team: Team
) -> None:
    """The README's line sets ENDPOINT_URL (the example's default port has nothing on it)."""
    words = _readme_verify_line()
    assignments = dict(w.split("=", 1) for w in words if "=" in w and not w.startswith("-"))
    assert list(assignments) == ["ENDPOINT_URL"], words
    assert words[len(assignments) :] == ["chaos", "verify", "examples/verification.json"]
    # the README's server is on port 8787; this test's is wherever it started
    url = assignments["ENDPOINT_URL"].replace("http://127.0.0.1:8787", chaosiq_team.server.url)
    assert requests.get(url, timeout=5).status_code == 200
    _, journal = _verify(EXAMPLES / "verification.json", signed_in, tmp_path, {"ENDPOINT_URL": url})
    assert journal["status"] == "completed"
    assert {m["steady_state_met"] for m in journal["measurements"]} == {True}
    runs = wait_until(lambda: _finished_runs(chaosiq_team, "example-verification"), what="the run")
    assert runs[0]["status"] == "completed"
