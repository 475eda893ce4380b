"""The publisher of one run, in-process: enqueue cost, flush deadline, delivery hook."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests_mock as rm
from chaosiq_publisher.outbox import outbox_files, read_log
from chaosiq_publisher.worker import Publisher
from mocked import EXEC, TEAM, make_run, sent_events

from chaosiq_core.testing import SilentServer, wait_until
from chaosiq_core.types import Outgoing


def test_enqueue_costs_the_run_thread_under_10_microseconds_of_cpu(server: rm.Mocker, data_dir: Path) -> None:
    """The run thread's CPU time per event (not wall time: it does not count waiting for the GIL
    or a core, so a busy machine does not change it)."""
    run = make_run(flush_deadline=10)
    pub = Publisher(run)
    pub.start()
    activity = {"type": "action", "name": "a", "provider": {"type": "python", "module": "os", "func": "x"}}
    state = {"status": "succeeded", "output": None, "duration": 0.001}
    cpu = time.thread_time()
    for _ in range(2000):
        pub.enqueue("activity-finished", activity, state)
    per_event = (time.thread_time() - cpu) / 2000
    pub.finish({"status": "completed"})
    assert per_event < 10e-6, f"{per_event * 1e6:.1f} µs of CPU per enqueue"
    assert len(sent_events(server)) == 2000
    assert outbox_files() == []


def test_events_and_journal_arrive_in_order_redacted(server: rm.Mocker, data_dir: Path) -> None:
    run = make_run()
    pub = Publisher(run)
    pub.start()
    pub.enqueue("starting-experiment", run.experiment, None)
    pub.enqueue("starting-activity", {"name": "a", "provider": {"arguments": {"password": "arg-pw"}}}, None)
    pub.enqueue("activity-finished", {"name": "a"}, {"output": "inline-pw-value leaked"})
    assert run.execution_ready.wait(5) and run.execution_id == "X"
    pub.finish({"status": "failed", "experiment": run.experiment})
    sent = sent_events(server)
    assert [e["type"] for e in sent] == ["starting-experiment", "starting-activity", "activity-finished"]
    text = str(server.request_history)
    everything = "".join(r.text or "" for r in server.request_history)
    assert "inline-pw-value" not in everything and "arg-pw" not in everything, text
    put = [r for r in server.request_history if r.method == "PUT"][-1]
    assert put.json()["journal"]["status"] == "failed"
    assert run.journal_extension == {"experiment_id": "E", "execution_id": "X"}
    ext = [e for e in put.json()["journal"]["extensions"] if e["name"] == "chaosiq"]
    assert ext == [{"name": "chaosiq", "experiment_id": "E", "execution_id": "X"}]


def test_the_final_journal_is_on_its_way_before_the_last_events_are_encoded(
    server: rm.Mocker, data_dir: Path
) -> None:
    """At the end of a run the server stores the journal while the worker encodes the last
    events (they used to be encoded first, and the journal's PUT waited for them)."""
    put_seen = threading.Event()

    def put(request: Any, context: Any) -> str:
        put_seen.set()
        context.status_code = 204
        return ""

    server.put(EXEC, text=put)

    class SlowToEncode:  # an argument the encoder has to turn into text: it waits for the PUT
        saw_put: bool | None = None

        def __str__(self) -> str:
            SlowToEncode.saw_put = put_seen.wait(5)
            return "slow"

    run = make_run(flush_deadline=10, linger=5)  # the last event is taken at the end of the run
    pub = Publisher(run)
    pub.start()
    assert run.execution_ready.wait(5) and run.execution_id == "X"
    pub.enqueue("starting-activity", {"type": "action", "name": "a", "arguments": {"x": SlowToEncode()}})
    started = time.monotonic()
    pub.finish({"status": "completed", "experiment": run.experiment})
    assert SlowToEncode.saw_put is True
    assert time.monotonic() - started < 4
    assert [e["type"] for e in sent_events(server)] == ["starting-activity"]
    assert [r.method for r in server.request_history if r.url.startswith(EXEC)] == ["PUT", "POST"]
    assert pub.sender.delivered == 2 and not pub.sender.pending
    assert outbox_files() == []


def test_the_end_of_a_run_costs_the_journal_and_one_batch(server: rm.Mocker, data_dir: Path) -> None:
    """The run's last events and ``experiment-finished`` leave in one batch beside the journal's
    PUT: the end of a run adds two requests, not a third for ``experiment-finished`` alone."""
    run = make_run(flush_deadline=10, linger=5)  # the last events are taken at the end of the run
    pub = Publisher(run)
    pub.start()
    assert run.execution_ready.wait(5)
    for name in ("a", "b", "c"):
        pub.enqueue("activity-finished", {"type": "action", "name": name}, {"status": "succeeded"})
    journal = {"status": "completed", "run": []}
    pub.enqueue_final(run.experiment, journal)
    before = len(server.request_history)
    pub.finish(journal)
    end = [r for r in server.request_history[before:] if r.url.startswith(EXEC)]
    assert sorted((r.method, r.path.rsplit("/", 1)[-1]) for r in end) == [("POST", "batch"), ("PUT", "x")]
    (batch,) = [r.json() for r in end if r.path.endswith("/batch")]
    assert [e["type"] for e in batch] == ["activity-finished"] * 3 + ["experiment-finished"]


def test_another_plugins_request_after_the_run_is_refused_not_lost(server: rm.Mocker, data_dir: Path) -> None:
    """Once the run is finished nothing more reaches the outbox: a late request is refused,
    so that its sender knows, rather than accepted and never sent."""
    from chaosiq_publisher import plugin

    run = make_run()
    run.data["publish"] = pub = Publisher(run)
    pub.start()
    pub.finish({"status": "completed"})
    late = Outgoing("POST", "/verifications/V/runs/R/events", json={"category": "late"})
    assert pub.deliver(late) is False
    assert plugin.chaosiq_deliver(run, late) is None  # another plugin may take it
    assert not any(r.path.endswith("/runs/r/events") for r in server.request_history)


def test_every_message_is_in_the_outbox_before_it_is_sent(server: rm.Mocker, data_dir: Path) -> None:
    """The outbox is a write-ahead log, at the end of a run too: whatever the server receives
    was on disk first (a crash while it answers loses nothing)."""
    run = make_run(flush_deadline=10, linger=5)  # the last event is taken at the end of the run
    pub = Publisher(run)
    unlogged: list[str] = []

    def check(request: Any, context: Any) -> dict:
        logged = pub.log.path.read_text() if pub.log is not None else ""
        sent = request.json() if request.path.endswith("/batch") else [request.json()]
        unlogged.extend(e["id"] for e in sent if e["id"] not in logged)
        context.status_code = 201
        return {}

    server.post(f"{EXEC}/events/batch", json=check)
    server.post(f"{EXEC}/events", json=check)
    pub.start()
    assert run.execution_ready.wait(5)
    pub.enqueue("starting-activity", {"type": "action", "name": "during"}, None)
    pub.enqueue("starting-activity", {"type": "action", "name": "last"}, None)
    pub.finish({"status": "completed"})
    assert [json.loads(e["data"])["context"]["name"] for e in sent_events(server)] == ["during", "last"]
    assert unlogged == []
    assert pub.sender.delivered == 3 and not pub.sender.pending
    assert outbox_files() == []


def test_the_final_journal_is_sent_as_it_was_when_the_run_finished(server: rm.Mocker, data_dir: Path) -> None:
    """What the journal held at the end of the run is sent, not what it became after
    (the plugin writes the ids into it then, and Chaos Toolkit writes the file)."""
    run = make_run()
    pub = Publisher(run)
    pub.start()
    journal = {"status": "completed", "run": [{"name": "a"}], "secret": "inline-pw-value"}
    pub.enqueue_final(run.experiment, journal)
    pub.finish(journal)
    journal["run"].append({"name": "added later"})
    journal["status"] = "changed later"
    (finished,) = [e for e in sent_events(server) if e["type"] == "experiment-finished"]
    data = json.loads(finished["data"])
    assert data["state"]["status"] == "completed" and data["state"]["run"] == [{"name": "a"}]
    put = [r for r in server.request_history if r.method == "PUT"][-1].json()["journal"]
    assert put["status"] == "completed" and put["run"] == [{"name": "a"}]
    assert "inline-pw-value" not in finished["data"] and put["secret"] == "***REDACTED***"


def test_experiment_finished_carries_the_final_journal_encoded_once(
    server: rm.Mocker, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``enqueue_final``: the event and the PUT hold the same redacted journal, encoded in one pass."""
    run = make_run()
    pub = Publisher(run)
    pub.start()
    assert run.execution_ready.wait(5)
    journal = {"status": "completed", "run": [{"name": "a", "output": "inline-pw-value"}]}
    pub.enqueue_final(run.experiment, journal)
    when = time.time()
    journal["status"] = "failed"  # another control changed it before finish: the final state wins
    encoded: list[Any] = []
    real = pub.redact.encode  # every redacted encoding goes through it
    monkeypatch.setattr(pub.redact, "encode", lambda doc: encoded.append(doc) or real(doc))
    time.sleep(0.01)
    pub.finish(journal)
    (finished,) = [e for e in sent_events(server) if e["type"] == "experiment-finished"]
    state = json.loads(finished["data"])["state"]
    put = [r for r in server.request_history if r.method == "PUT"][-1].json()["journal"]
    assert state == put and state["status"] == "failed"
    assert {"name": "chaosiq", "experiment_id": "E", "execution_id": "X"} in state["extensions"]
    assert "inline-pw-value" not in finished["data"]
    assert [d for d in encoded if d is journal] == [journal]  # one pass over the journal
    stamp = dt.datetime.fromisoformat(finished["time"]).timestamp()
    assert abs(stamp - when) < 0.005  # the time of the after-experiment control, not of finish


def test_experiment_finished_with_another_journal_keeps_its_own(server: rm.Mocker, data_dir: Path) -> None:
    run = make_run()
    pub = Publisher(run)
    pub.start()
    pub.enqueue_final(run.experiment, {"status": "completed", "run": []})
    pub.finish(None)
    (finished,) = [e for e in sent_events(server) if e["type"] == "experiment-finished"]
    assert json.loads(finished["data"])["state"] == {"status": "completed", "run": []}


def test_a_hung_server_costs_no_more_than_the_flush_deadline(data_dir: Path) -> None:
    silent = SilentServer()
    try:
        run = make_run(silent.url)
        pub = Publisher(run)
        pub.start()
        for i in range(10):
            pub.enqueue("starting-activity", {"name": f"a{i}"}, None)
        t = time.monotonic()
        pub.finish({"status": "completed"})
        assert time.monotonic() - t < 0.5 + 0.3
    finally:
        silent.close()
    (log,) = outbox_files()
    state = read_log(log)
    kinds = [m["kind"] for m in state.pending.values()]
    assert (kinds.count("event"), kinds.count("journal")) == (10, 1)


def test_execution_ready_is_set_when_the_server_is_unreachable(data_dir: Path) -> None:
    from chaosiq_core.testing import free_port

    run = make_run(f"http://127.0.0.1:{free_port()}")
    pub = Publisher(run)
    pub.start()
    assert run.execution_ready.wait(5)
    assert run.execution_id is None
    pub.finish(None)


def test_deliver_sends_another_plugins_request_through_the_worker(server: rm.Mocker, data_dir: Path) -> None:
    server.post(f"{TEAM}/verifications/V/runs/R/events", status_code=201, json={})
    run = make_run()
    pub = Publisher(run)
    pub.start()
    msg = Outgoing("POST", "/verifications/V/runs/R/events", json={"category": "x", "token": "t0k3n"})
    assert pub.deliver(msg) is True
    wait_until(lambda: any(r.path.endswith("/runs/r/events") for r in server.request_history), 5)
    pub.finish(None)
    (req,) = [r for r in server.request_history if r.path.endswith("/runs/r/events")]
    assert req.json() == {"category": "x", "token": "***REDACTED***"}


def test_a_request_that_cannot_be_encoded_costs_one_warning_not_the_run(
    server: rm.Mocker, data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Another plugin delivers a body JSON cannot hold (a cycle): it is said and set aside;
    the run's events before and after it, and its journal, are still published."""
    server.post(f"{TEAM}/verifications/V/runs/R/events", status_code=201, json={})
    run = make_run()
    pub = Publisher(run)
    pub.start()
    body: dict[str, Any] = {"category": "x"}
    body["self"] = body
    pub.enqueue("starting-activity", {"name": "before"}, None)
    pub.deliver(Outgoing("POST", "/verifications/V/runs/R/events", json=body))
    pub.enqueue("starting-activity", {"name": "after"}, None)
    pub.finish({"status": "completed"})
    names = [json.loads(e["data"])["context"]["name"] for e in sent_events(server)]
    assert names == ["before", "after"]
    assert [r.json()["journal"]["status"] for r in server.request_history if r.method == "PUT"] == [
        "completed"
    ]
    (line,) = [r.getMessage() for r in caplog.records if "cannot encode" in r.getMessage()]
    assert "request" in line and "Circular reference" in line
    assert outbox_files() == []


def test_a_full_queue_spills_to_disk_and_loses_nothing(data_dir: Path) -> None:
    silent = SilentServer()
    try:
        run = make_run(silent.url, queue_size=5, flush_deadline=0.2)
        pub = Publisher(run)
        pub.start()
        for i in range(50):
            pub.enqueue("starting-activity", {"name": f"a{i}"}, None)
        pub.finish(None)
    finally:
        silent.close()
    (log,) = outbox_files()
    names = [m["json"]["data"] for m in read_log(log).pending.values()]
    assert len(names) == 50


def test_a_batch_refused_during_the_run_is_sent_again_one_by_one(server: rm.Mocker, data_dir: Path) -> None:
    """The server refuses a batch sent during the run (422: one bad event): the run goes on
    with single events, the good ones arrive before the run ends and the bad one is set aside."""
    server.post(f"{EXEC}/events/batch", status_code=422, json={"detail": "bad event"})

    def single(request: Any, context: Any) -> dict:
        context.status_code = 422 if "poison" in request.text else 201
        return {}

    server.post(f"{EXEC}/events", json=single)
    run = make_run(flush_deadline=5, linger=0)
    pub = Publisher(run)
    pub.start()
    for name in ("a", "poison", "b"):
        pub.enqueue("starting-activity", {"type": "action", "name": name}, None)
    singles = lambda: [r for r in server.request_history if r.path.endswith("/events")]  # noqa: E731
    wait_until(lambda: len(singles()) >= 3, timeout=10, what="single events while the run goes on")
    assert any(r.path.endswith("/events/batch") for r in server.request_history)
    pub.finish({"status": "completed"})
    names = [json.loads(r.json()["data"])["context"]["name"] for r in singles()]
    assert sorted(set(names)) == ["a", "b", "poison"]
    assert len(pub.sender.rejections) == 1
    assert pub.sender.delivered >= 2


def test_undecodable_text_is_logged_and_sent_like_any_other(server: rm.Mocker, data_dir: Path) -> None:
    """An output or a journal holding undecodable bytes (a lone surrogate, as Python decodes
    them from file names) is written to the outbox and sent escaped: nothing of the run is lost."""
    run = make_run()
    pub = Publisher(run)
    pub.start()
    pub.enqueue("activity-finished", {"name": "a"}, {"output": "file-\udc80.txt"})
    pub.finish({"status": "completed", "node": "host-\ud800"})
    (event,) = sent_events(server)
    assert json.loads(event["data"])["state"]["output"] == "file-\udc80.txt"
    put = [r for r in server.request_history if r.method == "PUT"][-1].json()["journal"]
    assert put["node"] == "host-\ud800" and put["status"] == "completed"
    assert pub.sender.delivered == 2 and outbox_files() == []


def test_a_token_refused_before_the_first_attempt_ends_the_run_at_once(
    requests_mock: rm.Mocker, data_dir: Path
) -> None:
    """The worker's first request (the capabilities) is refused (401) before the helper made any:
    the helper stops, and whoever waits for the execution (the end of the run, other plugins)
    learns at once that there is none, instead of waiting out the flush deadline."""
    from mocked import URL

    requests_mock.get(f"{URL}/api/v1/capabilities", status_code=401, json={"detail": "bad token"})
    requests_mock.post(f"{TEAM}/executions", status_code=401, json={"detail": "bad token"})
    run = make_run(flush_deadline=5)
    pub = Publisher(run)
    pub.sender.refusal = "token"  # as if the capabilities' 401 was noted before the helper started
    pub.start()
    pub.enqueue("starting-experiment", run.experiment, None)
    started = time.monotonic()
    assert run.execution_ready.wait(1.0), "nobody said there is no execution"
    pub.finish({"status": "completed"})
    assert time.monotonic() - started < 1.5
    assert run.execution_id is None
    (log,) = outbox_files()
    assert sorted(m["kind"] for m in read_log(log).pending.values()) == ["event", "journal"]
