"""HTTP probes and HTTP/Prometheus tolerances: the original's cases, and the cases it got wrong."""

from __future__ import annotations

import time

import pytest
import requests
import requests_mock as rm
from chaosiq_verification.probes import http as probes
from chaosiq_verification.tolerances import http as th
from chaosiq_verification.tolerances import prometheus as tp
from chaoslib.exceptions import ActivityFailed

URL = "https://service.example/health"

# --------------------------------------------------------------- HTTP tolerances (9)


def test_status_must_be() -> None:
    assert th.status_must_be(200, 200) is True
    assert th.status_must_be(400, 200) is False


def test_status_in_range() -> None:
    assert th.status_in_range(200, 100, 300) is True
    assert th.status_in_range(200, 100) is True
    assert th.status_in_range(200, 400, 500) is False
    assert th.status_in_range(600, 100, 600) is True  # inclusive
    assert th.status_in_range(None) is False


def test_response_time_above() -> None:
    assert th.response_time_above(1890.8, 1000) is True
    assert th.response_time_above(890.8, 1500) is False


def test_response_time_under() -> None:
    assert th.response_time_under(690.8, 1000) is True
    assert th.response_time_under(890.8, 500) is False
    assert th.response_time_under(None, 500) is False


# ------------------------------------------------------------------- HTTP probes (4+)


def test_read_status_code(requests_mock: rm.Mocker) -> None:
    requests_mock.get(URL, status_code=200)
    assert probes.read_http_status_code(URL) == 200


def test_read_status_code_connect_timeout_fails(requests_mock: rm.Mocker) -> None:
    requests_mock.get(URL, exc=requests.exceptions.ConnectTimeout)
    with pytest.raises(ActivityFailed, match="Failed to request"):
        probes.read_http_status_code(URL)


def test_read_status_code_honours_timeout(requests_mock: rm.Mocker) -> None:
    requests_mock.get(URL, status_code=503)
    assert probes.read_http_status_code(URL, timeout=1.5) == 503
    assert requests_mock.request_history[0].timeout == 1.5


def test_time_http_call_is_fast_on_mock_and_honours_timeout(requests_mock: rm.Mocker) -> None:
    requests_mock.get(URL, status_code=200)
    elapsed = probes.time_http_call(URL, timeout=2.0)
    assert 0 <= elapsed < 100
    assert requests_mock.request_history[0].timeout == 2.0


def test_time_http_call_timeout_fails(requests_mock: rm.Mocker) -> None:
    requests_mock.get(URL, exc=requests.exceptions.ReadTimeout)
    with pytest.raises(ActivityFailed, match="Failed to time request"):
        probes.time_http_call(URL)


def test_time_http_call_measures_with_a_monotonic_clock(
    requests_mock: rm.Mocker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wall-clock jump during the call does not change the measured time."""
    import datetime as dt

    def slow(request: object, context: object) -> str:
        time.sleep(0.05)
        return "ok"

    requests_mock.get(URL, text=slow)

    class Jumping(dt.datetime):
        calls = 0

        @classmethod
        def now(cls, tz: object = None) -> dt.datetime:  # type: ignore[override]
            cls.calls += 1
            return dt.datetime(2020, 1, 1) + dt.timedelta(hours=cls.calls)

    monkeypatch.setattr(dt, "datetime", Jumping)
    elapsed = probes.time_http_call(URL)
    assert 40 <= elapsed < 1000


def test_read_status_code_timeout_is_real() -> None:
    """Against a socket that never answers, the probe gives up after its timeout."""
    import socket

    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    try:
        start = time.monotonic()
        with pytest.raises(ActivityFailed):
            probes.read_http_status_code(f"http://127.0.0.1:{port}/", timeout=0.3)
        assert time.monotonic() - start < 2.0
    finally:
        srv.close()


# ------------------------------------------------------------ Prometheus tolerances


def _vector(*values: str) -> dict:
    return {
        "status": "success",
        "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1, v]} for v in values]},
    }


def _range_vector(*values: str) -> dict:
    return {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [{"metric": {}, "values": [[i, v] for i, v in enumerate(values)]}],
        },
    }


def _matrix(*values: str) -> dict:
    return {
        "status": "success",
        "data": {
            "resultType": "matrix",
            "result": [{"metric": {}, "values": [[i, v] for i, v in enumerate(values)]}],
        },
    }


def _scalar(v: str) -> dict:
    return {"status": "success", "data": {"resultType": "scalar", "result": [1, v]}}


def test_above() -> None:
    assert tp.result_value_above(_vector("1.78"), lower=1) is True
    assert tp.result_value_above(_vector("0.78"), lower=1) is False
    assert tp.result_value_above(_range_vector("0.78", "0.64"), lower=0.5) is True
    assert tp.result_value_above(_range_vector("0.78", "2.38"), lower=1.5) is False
    assert tp.result_value_above(_scalar("0.78"), lower=0.5) is True
    assert tp.result_value_above(_vector("NaN"), lower=0.5) is False


def test_under() -> None:
    assert tp.result_value_under(_vector("0.12"), upper=0.6) is True
    assert tp.result_value_under(_vector("0.89"), upper=0.6) is False
    assert tp.result_value_under(_vector("NaN"), upper=0.6) is False
    assert tp.result_value_under(_vector("+Inf"), upper=0.6) is False
    assert tp.result_value_under(_vector("-Inf"), upper=0.6) is True


def test_between() -> None:
    assert tp.result_value_between(_vector("0.23"), lower=0.1, upper=0.6) is True
    assert tp.result_value_between(_vector("0.89"), lower=0.3, upper=0.6) is False
    assert tp.result_value_between(_vector("NaN"), lower=0.3, upper=0.6) is False
    assert tp.result_value_between(_vector("-Inf"), lower=-10, upper=10) is False


UNUSABLE = [
    pytest.param({"status": "error", "errorType": "bad_data", "error": "parse error"}, id="error"),
    pytest.param({"status": "success"}, id="no-data"),
    pytest.param({"status": "success", "data": {"resultType": "vector", "result": []}}, id="empty-vector"),
    pytest.param({"status": "success", "data": {"resultType": "matrix", "result": []}}, id="empty-matrix"),
    pytest.param(
        {"status": "success", "data": {"resultType": "histogram", "result": [1, "2"]}}, id="unsupported"
    ),
    pytest.param(
        {"status": "success", "data": {"resultType": "vector", "result": [{"value": [1, "x"]}]}},
        id="nan-text",
    ),
    pytest.param(None, id="none"),
    pytest.param("200", id="not-json"),
]


@pytest.mark.parametrize("answer", UNUSABLE)
def test_unusable_answers_are_false(answer: object) -> None:
    """The original returned True for all of these."""
    assert tp.result_value_under(answer, upper=1e9) is False
    assert tp.result_value_above(answer, lower=-1e9) is False
    assert tp.result_value_between(answer, lower=-1e9, upper=1e9) is False


def test_matrix_results_are_judged_point_by_point() -> None:
    assert tp.result_value_under(_matrix("0.1", "0.2"), upper=0.5) is True
    assert tp.result_value_under(_matrix("0.1", "0.9"), upper=0.5) is False


def test_extract_values() -> None:
    assert tp.extract_values(_vector("1", "2")) == ["1", "2"]
    assert tp.extract_values(_scalar("3")) == ["3"]
    assert tp.extract_values({"status": "error"}) is None
