"""Which safeguard stopped a run, from what the safeguards plugin publishes (the shapes of
plugins/safeguards/chaosiq_safeguards/guard.py and the publisher's safeguard-triggered event)."""

from __future__ import annotations

from chaosiq_server.console.stops import Stop, safeguard_stops


def triggered(context: dict) -> dict:
    return {"type": "safeguard-triggered", "time": "2024-05-01T12:00:01+00:00", "data": {"context": context}}


POLICY = {
    "id": "p1",
    "name": "stopped-by-user",
    "allowed": False,
    "reason": "game day is over",
    "created_by": "alice",
}


def test_a_server_policy_a_probe_and_a_plugin_each_say_who_where_and_why() -> None:
    when = "2024-05-01 12:00:01 UTC"
    server = triggered(
        {"source": "server", "reason": "stopped-by-user: game day is over", "details": {"policies": [POLICY]}}
    )
    assert safeguard_stops({}, [server]) == [
        Stop("stopped-by-user", "server policy", "game day is over", "alice", when)
    ]
    probe = triggered(
        {"source": "probe:no-stop-file", "reason": "output True is out of tolerance", "details": {}}
    )
    assert safeguard_stops({}, [probe]) == [
        Stop("no-stop-file", "local safeguard probe", "output True is out of tolerance", when=when)
    ]
    both = triggered(
        {
            "source": "probe:cpu, budget",
            "reason": "probe:cpu: hot; budget: spent",
            "details": {
                "verdicts": [
                    {"source": "probe:cpu", "reason": "hot"},
                    {"source": "budget", "reason": "spent"},
                ]
            },
        }
    )
    assert safeguard_stops({}, [both]) == [
        Stop("cpu", "local safeguard probe", "hot", when=when),
        Stop("budget", "plugin", "spent", when=when),
    ]


def test_without_the_event_the_final_journal_says_it() -> None:
    journal = {
        "status": "interrupted",
        "interruption": {"kind": "safeguard", "name": "probe:no-stop-file", "reason": "output True"},
        "extensions": [
            {
                "name": "chaosiq",
                "safeguards": [
                    {**POLICY, "source": "server"},
                    {
                        "name": "probe:x",
                        "allowed": False,
                        "source": "probe:x",
                        "decision": "stop",
                        "reason": "r",
                    },
                ],
            }
        ],
    }
    assert [(s.name, s.source, s.reason) for s in safeguard_stops(journal, [])] == [
        ("stopped-by-user", "server policy", "game day is over"),
        ("x", "local safeguard probe", "r"),
    ]
    only_interruption = {"interruption": journal["interruption"]}
    assert safeguard_stops(only_interruption, []) == [
        Stop("no-stop-file", "local safeguard probe", "output True")
    ]
    assert safeguard_stops({"status": "completed"}, []) == []
