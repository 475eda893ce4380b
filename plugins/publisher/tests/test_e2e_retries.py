"""Transient failures are retried, against the real ``chaos`` and the real chaosiq-server
behind a proxy that fails as servers do: a 503 with ``Retry-After``, and a 500 after which the
keep-alive connection is closed when the next request comes on it."""

from __future__ import annotations

from pathlib import Path

from fakes import FailingProxy
from pubhelpers import (
    events,
    expected_types,
    experiment,
    outbox_files,
    run,
    set_options,
    sign_in,
    warnings,
    write_experiment,
)

from chaosiq_core.testing import ServerProcess, run_chaos


def test_a_503_with_retry_after_is_retried_after_the_delay(
    chaosiq_server: ServerProcess, env: dict[str, str], tmp_path: Path, data_dir: Path
) -> None:
    team = chaosiq_server.new_team()
    proxy = FailingProxy(chaosiq_server.url)
    proxy.fail_events = False
    proxy.answers = [(503, {"Retry-After": "2"})]
    try:
        settings = tmp_path / "settings.yaml"
        sign_in(settings, proxy.url, team, env)
        set_options(settings, "publish", flush_deadline=5)
        exp = write_experiment(tmp_path / "busy", experiment(2))
        r = run(settings, exp, env)
        assert r.returncode == 0 and warnings(r.stdout + r.stderr) == [], r.stdout + r.stderr
        posts = [(t, status) for t, method, path, status in proxy.history if "/events" in path]
        assert posts[0][1] == 503 and posts[1][1] != 503
        assert posts[1][0] - posts[0][0] >= 1.9  # the server's delay, not the client's 0.2 s backoff
        (xn,) = team.executions()
        assert [e["type"] for e in events(team, xn)] == expected_types(2)
        assert outbox_files(data_dir) == []
    finally:
        proxy.close()


def test_chaos_publish_goes_on_after_a_500_and_a_dropped_connection(
    chaosiq_server: ServerProcess, env: dict[str, str], tmp_path: Path, data_dir: Path
) -> None:
    team = chaosiq_server.new_team()
    proxy = FailingProxy(chaosiq_server.url)
    try:
        settings = tmp_path / "settings.yaml"
        sign_in(settings, proxy.url, team, env)
        set_options(settings, "publish", flush_deadline=0.5)
        exp = write_experiment(tmp_path / "flaky", experiment(2))
        assert run(settings, exp, env).returncode == 0  # every event post failed: all in the outbox
        proxy.fail_events = False
        proxy.answers = [(500, {})]
        proxy.drop_after_error = True
        r = run_chaos("publish", settings=settings, env=env)
        assert r.returncode == 0, r.stdout + r.stderr
        statuses = [status for _t, _m, path, status in proxy.history if "/events" in path]
        assert 500 in statuses and 0 in statuses  # the 500, then the dropped request
        (xn,) = team.executions()
        assert [e["type"] for e in events(team, xn)] == expected_types(2)
        assert outbox_files(data_dir) == []
    finally:
        proxy.close()
