"""The real ``chaos run`` publishing to the real chaosiq-server."""

from __future__ import annotations

import json
from pathlib import Path

from pubhelpers import (
    events,
    executions_of,
    expected_types,
    experiment,
    outbox_files,
    run,
    run_ids,
    warnings,
    write_experiment,
)

from chaosiq_core.testing import run_chaos


def test_run_publishes_experiment_execution_events_and_journal(
    team_settings, env: dict[str, str], tmp_path: Path, data_dir: Path
) -> None:
    team, settings = team_settings
    exp = write_experiment(tmp_path / "exp", experiment(3))
    result = run(settings, exp, env)
    assert result.returncode == 0, result.stderr
    out = result.stdout + result.stderr
    assert not warnings(out), out

    eid, xid = run_ids(exp)  # ids in the journal file
    (xn,) = executions_of(team, eid)
    assert xn["id"] == xid
    assert xn["status"] == "completed"
    evs = events(team, xn)
    assert [e["type"] for e in evs] == expected_types(3)
    assert {e["source"] for e in evs} == {"chaosiq-cloud"}
    assert len({e["id"] for e in evs}) == len(evs)
    assert evs[-1]["data"]["state"]["status"] == "completed"
    act = next(e for e in evs if e["type"] == "activity-finished")
    assert act["data"]["context"]["name"] == "root-exists"
    assert act["data"]["state"]["status"] == "succeeded"

    # console link in the log, nothing left in the outbox
    links = [line for line in out.splitlines() if "Execution available at" in line]
    assert len(links) == 1 and f"/executions/{xid}" in links[0] and "/api/v1/" not in links[0]
    assert outbox_files(data_dir) == []

    # chaostoolkit.log: chaostoolkit-lib's per-activity lines about our control are left out,
    # its once-per-run lines are kept
    log = (exp.parent / "chaostoolkit.log").read_text()
    assert "Applying before-control 'chaosiq-cloud' on 'experiment'" in log
    assert "control 'chaosiq-cloud' on 'activity'" not in log
    assert "Control 'after_activity_control' loaded from" not in log
    assert "Action: " in log or "Probe: root-exists" in log


def test_rerunning_a_file_attaches_to_the_same_experiment(
    team_settings, env: dict[str, str], tmp_path: Path
) -> None:
    team, settings = team_settings
    exp = write_experiment(tmp_path / "ws", experiment(1))
    assert run(settings, exp, env).returncode == 0
    first, _ = run_ids(exp)
    workspace = (exp.parent / ".chaosiq").read_text()
    assert first in workspace and team.org_id in workspace and "experiment.json" in workspace
    # change the experiment: without the workspace this would be a new server experiment
    doc = json.loads(exp.read_text())
    doc["description"] = "edited"
    exp.write_text(json.dumps(doc))
    assert run(settings, exp, env).returncode == 0
    second, _ = run_ids(exp)
    assert second == first
    assert len(executions_of(team, first)) == 2


def test_workspace_off_writes_no_workspace_file(team_settings, env: dict[str, str], tmp_path: Path) -> None:
    import yaml

    _team, settings = team_settings
    data = yaml.safe_load(settings.read_text())
    data["controls"]["chaosiq-cloud"]["features"]["workspace"] = False  # legacy flag, YAML boolean
    settings.write_text(yaml.safe_dump(data))
    exp = write_experiment(tmp_path / "nows", experiment(1))
    assert run(settings, exp, env).returncode == 0
    assert run_ids(exp)[1] is not None
    assert not (exp.parent / ".chaosiq").exists()


def test_background_and_continuous_hypothesis_are_published(
    team_settings, env: dict[str, str], tmp_path: Path
) -> None:
    team, settings = team_settings
    doc = experiment(1, sleep=0.8)
    doc["method"].insert(0, {"type": "action", "name": "in-background", "background": True,
                             "provider": {"type": "process", "path": "true"}})  # fmt: skip
    exp = write_experiment(tmp_path / "bg", doc)
    result = run(settings, exp, env, "--hypothesis-strategy", "continuously", "--hypothesis-frequency", "0.2")
    assert result.returncode == 0, result.stderr
    (xn,) = executions_of(team, run_ids(exp)[0])
    evs = events(team, xn)
    types = [e["type"] for e in evs]
    names = [e["data"]["context"].get("name") for e in evs if e["type"] == "starting-activity"]
    assert "in-background" in names
    assert "continuous-hypothesis-started" in types
    assert types.count("continuous-hypothesis-iteration") >= 2
    assert "continuous-hypothesis-finished" in types


def test_publish_journal_creates_then_updates_with_the_journal_status(
    team_settings, env: dict[str, str], tmp_path: Path
) -> None:
    team, settings = team_settings
    exp = write_experiment(tmp_path / "pj", experiment(1))
    quiet = {**env, "CHAOSIQ_DISABLE_PLUGINS": "publish,safeguards,verification"}
    assert run(settings, exp, quiet).returncode == 0
    assert run_ids(exp) == (None, None)
    journal = exp.parent / "journal.json"

    r = run_chaos("publish", str(journal), settings=settings, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    eid, xid = run_ids(exp)  # written back into the file
    (xn,) = executions_of(team, eid)
    assert xn["id"] == xid and xid in r.stdout
    assert xn["status"] == "completed"  # the original's `chaos publish` left "running"
    # a second publish updates the same execution
    r = run_chaos("publish", str(journal), settings=settings, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert [x["id"] for x in executions_of(team, eid)] == [xid]


def test_publish_errors_are_one_line(team_settings, env: dict[str, str], tmp_path: Path) -> None:
    _team, settings = team_settings
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    for target in (bad, tmp_path / "missing.json"):
        r = run_chaos("publish", str(target), settings=settings, env=env)
        assert r.returncode == 1
        assert r.stderr.strip().startswith("Error:") and "Traceback" not in r.stderr
    r = run_chaos("publish", settings=settings, env=env)
    assert r.returncode == 0 and "outbox is empty" in r.stdout
    assert run_chaos("disable", "publish", settings=settings, env=env).returncode == 0
    r = run_chaos("publish", settings=settings, env=env)
    assert r.returncode == 1 and "chaos enable publish" in r.stderr
