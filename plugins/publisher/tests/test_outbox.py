"""The write-ahead outbox: what is pending, torn lines, the lock between processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from chaosiq_publisher.outbox import RunLog, outbox_dir, outbox_files, read_log

from chaosiq_core.files import LockTimeout


def _msg(key: str, kind: str = "event") -> dict:
    return {"op": "msg", "key": key, "kind": kind, "method": "POST", "json": {"id": key}}


def test_pending_is_what_was_written_and_not_acknowledged(data_dir: Path) -> None:
    log = RunLog(outbox_dir() / "run1.jsonl")
    log.append({"op": "run", "url": "http://x", "org_id": "o", "team_id": "t"})
    log.append(_msg("a"), _msg("b"), _msg("c"), _msg("j", "journal"))
    log.append({"op": "done", "keys": ["a"]}, {"op": "rejected", "keys": ["c"], "reason": "422"})
    log.close()
    state = read_log(outbox_dir() / "run1.jsonl")
    assert list(state.pending) == ["b", "j"]
    assert state.header["url"] == "http://x"


def test_a_torn_last_line_is_ignored(data_dir: Path) -> None:
    log = RunLog(outbox_dir() / "run2.jsonl")
    log.append(_msg("a"))
    log.close()
    with open(outbox_dir() / "run2.jsonl", "a") as fh:
        fh.write('{"op": "msg", "key": "b", "ki')  # killed mid-write
    assert list(read_log(outbox_dir() / "run2.jsonl").pending) == ["a"]


def test_close_deletes_when_asked_and_files_are_listed_oldest_first(data_dir: Path) -> None:
    for name in ("one", "two"):
        log = RunLog(outbox_dir() / f"{name}.jsonl")
        log.append(_msg(name))
        log.close()
    assert [p.stem for p in outbox_files()] == ["one", "two"]
    RunLog(outbox_dir() / "one.jsonl", wait=0).close(delete=True)
    assert [p.stem for p in outbox_files()] == ["two"]
    assert not (outbox_dir() / "one.jsonl.lock").exists()


HOLDERS = {
    "this chaosiq": "from chaosiq_core.files import FileLock; lock = FileLock({path!r})",
    # an older chaosiq took the same flock through the filelock library
    "filelock": "from filelock import FileLock; lock = FileLock({path!r}, thread_local=False)",
}


@pytest.mark.parametrize("holder_kind", list(HOLDERS))
def test_a_log_held_by_another_process_is_not_replayed(data_dir: Path, holder_kind: str) -> None:
    log = RunLog(outbox_dir() / "held.jsonl")
    log.append(_msg("a"))
    take = HOLDERS[holder_kind].format(path=str(log.path) + ".lock")
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys
            {take}
            lock.acquire(timeout=10)
            print("held", flush=True)
            sys.stdin.readline()
            lock.release()
            print("released", flush=True)
            sys.stdin.readline()
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdin is not None and holder.stdout is not None
    log.close()  # release ours so the other process can take it
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(LockTimeout):
            RunLog(log.path, wait=0)
        started = time.monotonic()
        with pytest.raises(LockTimeout):
            RunLog(log.path, wait=0.3)
        assert time.monotonic() - started >= 0.3  # it waited before giving up
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "released"
        RunLog(log.path, wait=0).close()  # free again
    finally:
        holder.communicate("\n", timeout=10)


def test_a_waiting_log_takes_the_lock_when_the_other_process_lets_go(data_dir: Path) -> None:
    path = outbox_dir() / "waited.jsonl"
    path.parent.mkdir(parents=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys
            from chaosiq_core.files import FileLock
            lock = FileLock({str(path) + ".lock"!r}).acquire(timeout=10)
            print("held", flush=True)
            sys.stdin.readline()
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdin is not None and holder.stdout is not None
    try:
        assert holder.stdout.readline().strip() == "held"
        holder.stdin.write("\n")  # it exits, which releases its lock while we wait
        holder.stdin.flush()
        log = RunLog(path, wait=10)
        log.append(_msg("a"))
        log.close()
        assert list(read_log(path).pending) == ["a"]
    finally:
        holder.communicate(timeout=10)


def test_a_child_an_action_left_running_does_not_keep_a_dead_runs_log_locked(data_dir: Path) -> None:
    path = outbox_dir() / "forked.jsonl"
    run = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(f"""
            import os, time
            from pathlib import Path
            from chaosiq_publisher.outbox import RunLog
            log = RunLog(Path({str(path)!r}))
            child = os.fork()  # as a Python action starting a daemon would
            if child == 0:
                null = os.open(os.devnull, os.O_RDWR)
                os.dup2(null, 1)
                os.dup2(null, 2)
                time.sleep(60)
                os._exit(0)
            print(child, flush=True)
            os._exit(0)  # the run's process dies (kill -9): nothing is released
        """)],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    child = int(run.stdout.strip())
    try:
        os.kill(child, 0)  # still running
        RunLog(path, wait=0).close()  # yet the dead run's log can be replayed
    finally:
        os.kill(child, signal.SIGKILL)


def test_two_logs_of_one_process_exclude_each_other(data_dir: Path) -> None:
    first = RunLog(outbox_dir() / "same.jsonl")
    with pytest.raises(LockTimeout):
        RunLog(first.path, wait=0)
    first.close()
    RunLog(first.path, wait=0).close()


def test_files_are_private(data_dir: Path) -> None:
    log = RunLog(outbox_dir() / "private.jsonl")
    log.append(_msg("a"))
    lock_file = Path(f"{log.path}.lock")
    assert (lock_file.stat().st_mode & 0o077) == 0  # while it is held
    log.close()
    assert (log.path.stat().st_mode & 0o077) == 0


def test_a_message_is_read_back_as_it_was_written(data_dir: Path) -> None:
    from chaosiq_publisher.outbox import Message

    event = Message("K", "event", "POST", '{"specversion":"1.0","id":"K","data":"{\\"x\\": \\"é\\"}"}')
    request = Message("R", "verification-run", "PUT", '{"a": 1}', path="/v/r", headers={"X": "y"},
                      with_execution=True)  # fmt: skip
    log = RunLog(outbox_dir() / "lines.jsonl")
    log.append(event, request)
    log.close()
    pending = read_log(log.path).pending
    assert pending["K"]["json"]["data"] == '{"x": "é"}'
    assert [Message.from_record(m) for m in pending.values()] == [
        Message(
            "K",
            "event",
            "POST",
            json.dumps(json.loads(event.body), separators=(",", ":"), ensure_ascii=False),
        ),
        Message(
            "R", "verification-run", "PUT", '{"a":1}', path="/v/r", headers={"X": "y"}, with_execution=True
        ),
    ]


def test_chaos_publish_takes_the_workspace_id_when_an_original_server_does_not_say_where(
    data_dir: Path, requests_mock: Any
) -> None:
    """An original server answers 204 (the experiment matched) without a Content-Location:
    ``chaos publish`` creates the execution under the experiment id the run's workspace gave."""
    from chaosiq_publisher.replay import Replay
    from mocked import TEAM, URL

    from chaosiq_core import settings as s
    from chaosiq_core.manager import make_hooks

    experiment = {"title": "t", "extensions": [{"name": "chaosiq", "experiment_id": "W"}]}
    log = RunLog(outbox_dir() / "r1.jsonl")
    log.append({"op": "run", "run_id": "r1", "url": URL, "org_id": "o", "team_id": "t",
                "experiment": experiment, "journal": {"status": "running"}})  # fmt: skip
    log.append(_msg("a"), {**_msg("journal:r1", "journal"), "method": "PUT", "json": {"status": "completed"}})
    log.close()
    requests_mock.post(f"{TEAM}/executions", status_code=404)  # an original server: two requests
    requests_mock.post(f"{TEAM}/experiments", status_code=204)
    created = requests_mock.post(f"{TEAM}/experiments/W/executions", status_code=201, json={"id": "X"})
    event = requests_mock.post(f"{TEAM}/experiments/W/executions/X/events", status_code=201, json={})
    journal = requests_mock.put(f"{TEAM}/experiments/W/executions/X", status_code=204)
    settings: dict[str, Any] = {}
    s.set_server(settings, URL, verify_tls=False)
    s.set_auth(settings, URL, "tok")
    report = Replay(settings, make_hooks(settings, load_entrypoints=False)).outbox()
    assert (created.call_count, event.call_count, journal.call_count) == (1, 1, 1)
    assert (report.delivered, report.remaining) == (2, 0) and outbox_files() == []
