"""The HTTP side (requests-mock): creation, 204, batches or one by one, failures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests_mock as rm
from chaosiq_publisher.outbox import Message, RunLog, read_log
from chaosiq_publisher.sender import Sender, id_from_location

from chaosiq_core.api import ApiClient
from chaosiq_core.errors import ApiError, AuthError
from chaosiq_core.types import Scope

URL = "http://chaosiq.test:8080"
TEAM = f"{URL}/api/v1/organizations/o/teams/t"
EXEC = f"{TEAM}/experiments/E/executions/X"
T = (1.0, 1.0)


@pytest.fixture
def client() -> ApiClient:
    return ApiClient(
        URL, "tok-123", scope=Scope("o", "t"), allow_insecure_http=True, verify_tls=False
    ).without_retries()


def _msg(key: str, kind: str = "event", body: dict | None = None, **kw) -> Message:
    return Message(key, kind, kw.pop("method", "POST"), json.dumps(body or {"id": key}), **kw)


def _events(n: int) -> list[Message]:
    return [_msg(f"e{i}") for i in range(n)]


def _timeout():
    return T


def test_creates_execution_and_experiment_in_one_request(client: ApiClient, requests_mock: rm.Mocker) -> None:
    combined = requests_mock.post(
        f"{TEAM}/executions", status_code=201, json={"id": "X", "experiment_id": "E"},
        headers={"Content-Location": EXEC},
    )  # fmt: skip
    s = Sender(client, None)
    assert s.create_execution({"title": "t"}, {"status": "running"}, T) == ("E", "X", EXEC)
    assert combined.last_request.json() == {"experiment": {"title": "t"}, "journal": {"status": "running"}}
    assert s.requests == 1


def test_creates_experiment_then_execution(client: ApiClient, requests_mock: rm.Mocker) -> None:
    """An original server (404 on the extension): the two original requests, and only them next time."""
    requests_mock.post(f"{TEAM}/executions", status_code=404, json={"detail": "Not Found"})
    requests_mock.post(f"{TEAM}/experiments", status_code=201, json={"id": "E"})
    requests_mock.post(
        f"{TEAM}/experiments/E/executions", status_code=201, json={"id": "X"},
        headers={"Content-Location": f"{URL}/api/v1/organizations/o/teams/t/experiments/E/executions/X"},
    )  # fmt: skip
    s = Sender(client, None)
    assert s.create_execution({"title": "t"}, {"status": "running"}, T)[:2] == ("E", "X")
    assert s.console_url == f"{URL}/organizations/o/teams/t/experiments/E/executions/X"
    probe, first, second = requests_mock.request_history
    assert probe.path.endswith("/teams/t/executions")
    assert first.json() == {"experiment": {"title": "t"}}
    assert second.json() == {"journal": {"status": "running"}}
    assert first.headers["Authorization"] == "Bearer tok-123"
    assert first.timeout == T
    s.create_execution({"title": "t"}, {"status": "running"}, T)
    assert [r.path.rsplit("/", 1)[-1] for r in requests_mock.request_history[3:]] == [
        "experiments",
        "executions",
    ]
    assert requests_mock.request_history[4].path.endswith("/experiments/e/executions")


def test_204_reads_the_id_from_content_location(client: ApiClient, requests_mock: rm.Mocker) -> None:
    requests_mock.post(f"{TEAM}/executions", status_code=405)
    requests_mock.post(
        f"{TEAM}/experiments", status_code=204, headers={"Content-Location": f"{TEAM}/experiments/E"}
    )
    requests_mock.post(
        f"{TEAM}/experiments/E/executions", status_code=201, json={"id": "X"}
    )  # no Content-Location: the original raised KeyError here
    s = Sender(client, None)
    eid, xid, location = s.create_execution({"title": "t"}, {}, T)
    assert (eid, xid) == ("E", "X")
    assert location.endswith("/experiments/E/executions/X")


def test_204_without_location_uses_the_known_id(client: ApiClient, requests_mock: rm.Mocker) -> None:
    """An original server matched the experiment and did not say where: the id the caller
    knows (the workspace's, in the experiment's extension) is the experiment's."""
    requests_mock.post(f"{TEAM}/executions", status_code=404)
    requests_mock.post(f"{TEAM}/experiments", status_code=204)
    requests_mock.post(f"{TEAM}/experiments/W/executions", status_code=201, json={"id": "X"})
    exp = {"extensions": [{"name": "chaosiq", "experiment_id": "W"}]}
    assert Sender(client, None).create_execution(exp, {}, T, experiment_id="W")[:2] == ("W", "X")


def test_batches_when_the_server_offers_them(client: ApiClient, requests_mock: rm.Mocker) -> None:
    requests_mock.get(f"{URL}/api/v1/capabilities", json={"capabilities": ["events-batch"]})
    batch = requests_mock.post(f"{EXEC}/events/batch", json={"received": 3, "stored": 3})
    single = requests_mock.post(f"{EXEC}/events", status_code=201)
    requests_mock.put(EXEC, status_code=204)
    s = Sender(client, None, batch_size=2)
    s.experiment_id, s.execution_id = "E", "X"
    s.add([*_events(3), _msg("j", "journal", {"status": "completed"}, method="PUT")])
    s.send_pending(_timeout)
    assert not s.pending
    assert [len(r.json()) for r in batch.request_history] == [2]  # 2 in a batch, the 3rd alone
    assert single.call_count == 1
    assert batch.request_history[0].headers["Content-Type"] == "application/cloudevents-batch+json"
    put = requests_mock.request_history[-1]
    assert put.method == "PUT"
    body = put.json()["journal"]
    assert body["status"] == "completed"
    assert body["extensions"] == [{"name": "chaosiq", "experiment_id": "E", "execution_id": "X"}]
    assert s.delivered == 4 and not s.pending


def test_a_404_to_a_batch_sends_one_by_one(client: ApiClient, requests_mock: rm.Mocker) -> None:
    """A replica without batches behind the one that said it takes them (a rolling upgrade)."""
    requests_mock.get(f"{URL}/api/v1/capabilities", json={"capabilities": ["events-batch"]})
    batch = requests_mock.post(f"{EXEC}/events/batch", status_code=404, json={"detail": "Not Found"})
    single = requests_mock.post(f"{EXEC}/events", status_code=201)
    s = Sender(client, None)
    s.experiment_id, s.execution_id = "E", "X"
    s.add(_events(3))
    s.send_pending(_timeout)
    assert not s.pending
    assert batch.call_count == 1 and single.call_count == 3
    assert s.refusal is None and s.delivered == 3 and not s.rejections


@pytest.mark.parametrize(
    "detail,refusal", [("execution not found", "execution"), ("team not found", None), ("Not Found", None)]
)
def test_only_an_execution_the_server_does_not_have_is_gone(
    client: ApiClient, requests_mock: rm.Mocker, detail: str, refusal: str | None
) -> None:
    """A 404 saying the execution is not found (deleted, pruned) stops the sending; a team the
    token lost, or a route a server lacks, is retried later."""
    requests_mock.post(f"{EXEC}/events", status_code=404, json={"detail": detail})
    s = Sender(client, None, run_id="r1")
    s.experiment_id, s.execution_id = "E", "X"
    s.add(_events(1))
    with pytest.raises(ApiError):
        s.send_next(T)
    assert s.refusal == refusal and len(s.pending) == 1
    if refusal:
        assert "no longer has execution X" in (s.last_error or "") and "--drop r1" in (s.last_error or "")


def test_other_plugins_requests_are_sent_in_order_by_several_threads(client: ApiClient) -> None:
    """The run thread, the worker and the helper all send at the end of a run: while a
    plugin's request (a verification run's event) is in flight, no later request may
    overtake it; events may go beside it."""
    s = Sender(client, None)
    s.experiment_id, s.execution_id = "E", "X"
    s.add([_msg("v1", "verification-event", path="/v"), _msg("v2", "verification-event", path="/v"),
           _msg("v3", "verification-finished", path="/v/finished"), _msg("e0"), _msg("e1")])  # fmt: skip
    first = s._claim()  # in flight on one thread
    assert [m.key for m in first] == ["v1"]
    s._batch = False  # one event per request: a second event may go beside the first
    assert [m.key for m in s._claim()] == ["e0"]
    assert [m.key for m in s._claim()] == ["e1"]
    assert s._claim() == []  # v2 and v3 wait for v1
    s._release(first)
    s.pending.pop("v1")
    assert [m.key for m in s._claim()] == ["v2"]


def test_a_journal_failing_does_not_hold_back_events_queued_after_it(
    client: ApiClient, requests_mock: rm.Mocker
) -> None:
    """The final journal may be queued (and logged) before the run's last events are encoded:
    it is still sent after them, so a journal the server fails on cannot hold them back."""
    requests_mock.get(f"{URL}/api/v1/capabilities", json={"capabilities": ["events-batch"]})
    batch = requests_mock.post(f"{EXEC}/events/batch", json={"received": 3, "stored": 3})
    requests_mock.put(EXEC, status_code=503)
    s = Sender(client, None)
    s.experiment_id, s.execution_id = "E", "X"
    s.add([_msg("journal:r", "journal", {"status": "x"}, method="PUT")])
    s.add(_events(3))
    assert list(s.pending) == ["e0", "e1", "e2", "journal:r"]
    replayed = Sender(client, None)  # `chaos publish` adds a run log's pending messages in one go
    replayed.add([s.pending["journal:r"], *_events(2)])
    assert list(replayed.pending) == ["e0", "e1", "journal:r"]
    with pytest.raises(ApiError):
        s.send_pending(_timeout)
    assert [len(r.json()) for r in batch.request_history] == [3]
    assert list(s.pending) == ["journal:r"]


def test_a_batch_stops_at_its_size_in_bytes(
    client: ApiClient, requests_mock: rm.Mocker, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chaosiq_publisher import sender

    requests_mock.get(f"{URL}/api/v1/capabilities", json={"capabilities": ["events-batch"]})
    batch = requests_mock.post(f"{EXEC}/events/batch", json={})
    requests_mock.post(f"{EXEC}/events", status_code=201)
    big = [_msg(f"e{i}", body={"id": f"e{i}", "data": "x" * 600}) for i in range(5)]
    monkeypatch.setattr(sender, "MAX_BATCH_CHARS", 1500)  # two of these events per batch
    s = Sender(client, None)
    s.experiment_id, s.execution_id = "E", "X"
    s.add(big)
    s.send_pending(_timeout)
    assert not s.pending and s.delivered == 5
    assert [len(r.json()) for r in batch.request_history] == [2, 2]
    assert max(len(r.body) for r in batch.request_history) <= 1500


def test_one_by_one_on_an_original_server(client: ApiClient, requests_mock: rm.Mocker) -> None:
    requests_mock.get(f"{URL}/api/v1/capabilities", status_code=404)
    single = requests_mock.post(f"{EXEC}/events", status_code=201)
    s = Sender(client, None)
    s.experiment_id, s.execution_id = "E", "X"
    s.add(_events(3))
    s.send_pending(_timeout)
    assert not s.pending
    assert single.call_count == 3
    assert single.request_history[0].headers["Content-Type"] == "application/cloudevents+json"
    assert [r.json()["id"] for r in single.request_history] == ["e0", "e1", "e2"]


def test_a_500_keeps_everything_pending_in_the_log(
    client: ApiClient, requests_mock: rm.Mocker, data_dir: Path
) -> None:
    requests_mock.get(f"{URL}/api/v1/capabilities", json={"capabilities": ["events-batch"]})
    requests_mock.post(f"{EXEC}/events/batch", status_code=500, json={"detail": "boom"})
    log = RunLog(data_dir / "outbox" / "r500.jsonl")
    s = Sender(client, log)
    s.experiment_id, s.execution_id = "E", "X"
    records = _events(2)
    log.append(*records)
    s.add(records)
    with pytest.raises(ApiError, match="HTTP 500"):
        s.send_pending(_timeout)
    log.close()
    assert list(read_log(log.path).pending) == ["e0", "e1"]


def test_refused_token_raises_auth_error_without_the_token(
    client: ApiClient, requests_mock: rm.Mocker
) -> None:
    requests_mock.get(f"{URL}/api/v1/capabilities", status_code=404)
    requests_mock.post(f"{EXEC}/events", status_code=401)
    s = Sender(client, None)
    s.experiment_id, s.execution_id = "E", "X"
    s.add(_events(1))
    with pytest.raises(AuthError) as info:
        s.send_pending(_timeout)
    assert "tok-123" not in str(info.value)
    assert list(s.pending) == ["e0"]


def test_a_malformed_event_is_set_aside_and_the_rest_goes(
    client: ApiClient, requests_mock: rm.Mocker
) -> None:
    requests_mock.get(f"{URL}/api/v1/capabilities", json={"capabilities": ["events-batch"]})
    requests_mock.post(f"{EXEC}/events/batch", status_code=422, json={"detail": "bad event"})

    def one(request, context):
        context.status_code = 422 if request.json()["id"] == "e1" else 201
        return {}

    requests_mock.post(f"{EXEC}/events", json=one)
    s = Sender(client, None)
    s.experiment_id, s.execution_id = "E", "X"
    s.add(_events(3))
    s.send_pending(_timeout)
    assert not s.pending
    assert (s.delivered, len(s.rejections)) == (2, 1)


def test_events_wait_for_the_execution(client: ApiClient, requests_mock: rm.Mocker) -> None:
    s = Sender(client, None)
    s.add(_events(2))
    s.send_pending(_timeout)
    assert s.pending
    assert requests_mock.call_count == 0


def test_requests_with_execution_wait_for_it_and_carry_its_ids(
    client: ApiClient, requests_mock: rm.Mocker
) -> None:
    start = requests_mock.put(f"{TEAM}/verifications/v/runs/r", status_code=201, json={})
    done = requests_mock.post(f"{TEAM}/verifications/v/runs/r/finished", status_code=204)
    s = Sender(client, None)
    s.add([
        _msg("a", "verification-run", {"status": "started"}, method="PUT", path="/verifications/v/runs/r"),
        _msg("b", "verification-finished", {"status": "completed"}, path="/verifications/v/runs/r/finished",
             with_execution=True),
    ])  # fmt: skip
    s.send_pending(_timeout)  # no execution yet: only the first could go
    assert s.pending
    assert start.call_count == 1 and done.call_count == 0 and list(s.pending) == ["b"]
    s.experiment_id, s.execution_id = "E", "X"
    s.send_pending(_timeout)
    assert not s.pending
    assert done.last_request.json() == {"status": "completed", "experiment_id": "E", "execution_id": "X"}


def test_id_from_location() -> None:
    assert id_from_location(f"{TEAM}/experiments/abc/") == "abc"
    assert id_from_location(None) is None
    assert json.dumps(id_from_location("")) == "null"


class ClosingServer:
    """A real socket server that answers a request 500 on a keep-alive connection, then closes
    that connection when the next request comes on it (as a server does after an error), with a
    reset (ECONNRESET) or a plain close (RemoteDisconnected); a new connection is answered 201."""

    def __init__(self, reset: bool) -> None:
        import socket
        import threading

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.reset = reset
        self.answered: list[int] = []
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _read(self, conn) -> bool:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return False
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = int(
            next(
                (h.split(b":")[1] for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")), 0
            )
        )
        while len(body) < length:
            body += conn.recv(65536)
        return True

    def _serve(self) -> None:
        import socket
        import struct

        first = True
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            if not self._read(conn):
                conn.close()
                continue
            status = 500 if first else 201
            first = False
            self.answered.append(status)
            head = f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n"
            conn.sendall(head.encode() + b"{}")
            # the next request on this connection: dropped unanswered
            if status == 500 and self._read(conn) and self.reset:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()


@pytest.mark.parametrize("reset", [True, False], ids=["ECONNRESET", "RemoteDisconnected"])
def test_a_connection_closed_after_a_500_is_retried_on_a_new_one(tmp_path: Path, reset: bool) -> None:
    """After a 500 the server closes the keep-alive connection; the next request, made on it,
    is sent again on a new connection instead of failing as if the server were unreachable."""
    server = ClosingServer(reset)
    client = ApiClient(server.url, "tok", scope=Scope("o", "t"), allow_insecure_http=True).without_retries()
    log = RunLog(tmp_path / "closing.jsonl")
    s = Sender(client, log)
    s.set_ids("E", "X", None)
    s._batch = False
    s.add(_events(2))
    with pytest.raises(ApiError) as failed:
        s.send_next(T)
    assert failed.value.status == 500
    assert s.send_next(T) is True and s.send_next(T) is True
    assert s.delivered == 2 and not s.pending
    assert server.answered == [500, 201, 201]
    server.sock.close()
    log.close()


def test_retry_after_holds_every_sender(client: ApiClient, requests_mock: rm.Mocker) -> None:
    """A 503 with Retry-After: the message stays pending and nothing is sent before the delay."""
    import time

    requests_mock.post(f"{EXEC}/events", [{"status_code": 503, "headers": {"Retry-After": "1"}},
                                          {"status_code": 201, "json": {}}])  # fmt: skip
    s = Sender(client, None)
    s.set_ids("E", "X", None)
    s._batch = False
    s.add(_events(1))
    with pytest.raises(ApiError):
        s.send_next(T)
    assert s.blocked and s.send_next(T) is False and len(s.pending) == 1
    assert 0.8 < s.hold_until - time.monotonic() <= 1.0
    s.hold_until = 0.0
    assert s.send_next(T) and not s.pending
    assert "retry after 1 s" in (s.last_error or "")
