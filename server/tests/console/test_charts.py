"""The timeline and verification chart models, from events alone."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from chaosiq_server.console.timeline import COLOURS, build_timeline, render_timeline
from chaosiq_server.console.vchart import build_chart, render_chart, sample_outcome

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)


def ev(etype: str, seconds: float, name: str | None = None, state: object = None) -> dict:
    ctx = {"name": name, "type": "action"} if name else {}
    return {
        "type": etype,
        "time": (T0 + timedelta(seconds=seconds)).isoformat(),
        "data": {"context": ctx, "state": state},
    }


def test_an_unfinished_activity_is_running_while_the_run_runs_then_did_not_finish() -> None:
    events = [ev("starting-method", 0), ev("starting-activity", 0.5, "sleep-20")]
    now = T0 + timedelta(seconds=3)
    live = build_timeline(events, [], running=True, now=now)
    assert [b.outcome for b in live.bars] == ["running"] and live.end == now
    ended = build_timeline(events, [], running=False)
    assert [b.outcome for b in ended.bars] == ["interrupted"]


def test_an_activity_cut_by_a_stop_did_not_finish_and_ends_where_it_was_cut() -> None:
    # SIGUSR1 (a safeguard's grace ran out) cuts the activity: chaostoolkit-lib reports it
    # finished with no status (the control gets no run record)
    cut = [ev("starting-activity", 0, "sleep-20"), ev("activity-finished", 1.3, "sleep-20", None)]
    (bar,) = build_timeline(cut, [], running=False).bars
    assert (bar.outcome, bar.duration) == ("interrupted", 1.3)
    no_status = [ev("starting-activity", 0, "sleep-20"), ev("activity-finished", 2, "sleep-20", {"end": "x"})]
    assert build_timeline(no_status, [], running=False).bars[0].outcome == "interrupted"


def test_an_activity_never_reported_finished_is_cut_at_the_interruption_not_at_the_end() -> None:
    events = [
        ev("starting-method", 0),
        ev("starting-activity", 0.2, "sleep-20"),
        ev("experiment-interrupted", 1.5),
        ev("starting-rollback", 1.6),
        ev("starting-activity", 1.6, "settle"),
        ev("activity-finished", 4, "settle", {"status": "succeeded"}),
        ev("experiment-finished", 4.1, state={"status": "interrupted"}),
    ]
    # the execution still says "running" (its final journal is not in yet): the cut is known
    for running in (False, True):
        tl = build_timeline(events, [], running=running, now=T0 + timedelta(seconds=5))
        sleep, settle = tl.bars
        assert (sleep.outcome, sleep.duration) == ("interrupted", 1.3)
        assert settle.outcome == "ok"
    svg = str(render_timeline(tl))
    assert "sleep-20 (action) — did not finish, cut after 1.3 s" in svg
    assert 'class="bar bar-interrupted"' in svg and 'fill="#8a8f98"' in svg


def test_repeated_activity_names_pair_in_order_and_local_offsets_are_utc() -> None:
    local = timezone(timedelta(hours=2))
    events = [
        ev("starting-activity", 0, "probe"),
        ev("activity-finished", 1, "probe", {"status": "succeeded", "tolerance_met": False}),
        {
            "type": "starting-activity",
            "time": (T0 + timedelta(seconds=2)).astimezone(local).isoformat(),
            "data": {"context": {"name": "probe"}},
        },
        ev("activity-finished", 4, "probe", {"status": "failed"}),
    ]
    tl = build_timeline(events, [], running=False)
    assert [(b.outcome, b.duration) for b in tl.bars] == [("deviated", 1.0), ("failed", 2.0)]


def test_a_denying_policy_is_a_stop_marker_with_who_set_it() -> None:
    policy = {
        "name": "stopped-by-user",
        "allowed": False,
        "created_by": "alice",
        "created_at": (T0 + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
    }
    tl = build_timeline(
        [ev("starting-activity", 0, "a")], [policy], running=True, now=T0 + timedelta(seconds=2)
    )
    (marker,) = tl.markers
    assert marker.kind == "stop" and "alice" in marker.label
    svg = str(render_timeline(tl))
    assert 'class="marker marker-stop"' in svg and "alice" in svg


def test_names_are_escaped_in_the_svg() -> None:
    tl = build_timeline([ev("starting-activity", 0, "<script>x</script>")], [], running=False)
    svg = str(render_timeline(tl))
    assert "<script>" not in svg and "&lt;script&gt;" in svg


def test_sample_outcomes_follow_the_spec() -> None:
    assert sample_outcome({"steady_state_met": True}) == "met"
    assert sample_outcome({"steady_state_met": False}) == "deviated"
    assert sample_outcome(None) == "not-run" and sample_outcome({"steady_state_met": None}) == "not-run"


def test_warm_up_is_inferred_from_the_verification_block_when_no_event_says_it() -> None:
    run = {
        "state": "finished",
        "created_at": T0.isoformat(),
        "finished_at": (T0 + timedelta(seconds=10)).isoformat(),
        "journal": json.loads(
            json.dumps(
                {
                    "experiment": {
                        "extensions": [
                            {
                                "name": "chaosiq",
                                "verification": {"warm-up-duration": 2, "duration-of-conditions": 3},
                            }
                        ]
                    }
                }
            )
        ),
    }

    def rev(category: str, s: float, payload: object = None) -> dict:
        return {
            "category": category,
            "created_at": (T0 + timedelta(seconds=s)).isoformat(),
            "payload": payload,
        }

    events = [
        rev("verification-sample-started", 0.5),
        rev("verification-condition-started", 2.5),
        rev("verification-sample", 3, {"iteration": 1, "state": {"steady_state_met": False}}),
        rev("verification-condition-completed", 4),
    ]
    chart = build_chart(run, events)
    kinds = {p.kind: (p.start, p.end) for p in chart.phases}
    assert kinds["warm-up"] == (T0 + timedelta(seconds=0.5), T0 + timedelta(seconds=2.5))
    assert kinds["conditions"][1] == T0 + timedelta(seconds=7)  # completed + duration-of-conditions
    assert chart.count("deviated") == 1


def test_a_deviated_sample_has_the_colour_of_a_deviated_run_not_of_a_failed_one() -> None:
    # the badge of a deviated run is amber: a red sample would claim a failure
    run = {
        "state": "finished",
        "created_at": T0.isoformat(),
        "finished_at": (T0 + timedelta(seconds=4)).isoformat(),
    }
    sample = {
        "category": "verification-sample",
        "created_at": (T0 + timedelta(seconds=1)).isoformat(),
        "payload": {"iteration": 1, "state": {"steady_state_met": False}},
    }
    drawn = str(render_chart(build_chart(run, [sample])))
    assert f'fill="{COLOURS["deviated"]}"' in drawn
    assert COLOURS["failed"] not in drawn
