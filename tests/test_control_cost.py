"""What chaostoolkit-lib does at each control call is kept cheap without changing the settings.

chaostoolkit-lib deep-copies a control's ``provider.arguments`` and calls
``inspect.signature`` at every control point (two per activity). The bridge runs
the activities with an argument-less copy of its global control, and its
functions carry a precomputed signature. These tests run chaostoolkit-lib's own
runner in-process.
"""

from __future__ import annotations

import copy
import inspect
from typing import Any

import pytest
from chaoslib.control import get_global_controls, load_global_controls, reset_global_controls
from chaoslib.experiment import run_experiment

from chaosiq_core import control, hookimpl
from chaosiq_core import manager as m
from chaosiq_core.testing import exists_activity, small_experiment

ORGS = [
    {"id": "o1", "name": "org", "default": True, "teams": [{"id": "t1", "name": "team", "default": True}]}
]


def _settings() -> dict[str, Any]:
    return {
        "controls": {
            "chaosiq-cloud": {
                "features": {"publish": "off", "safeguards": "off", "verification": "off"},
                "provider": {
                    "type": "python",
                    "module": "chaosiq_core.control",
                    "arguments": {"url": None, "verify_tls": True, "organizations": copy.deepcopy(ORGS)},
                },
            }
        }
    }


class Recorder:
    def __init__(self) -> None:
        self.seen: list[tuple[str, Any]] = []

    @hookimpl
    def chaosiq_after_activity(self, run: Any, activity: dict[str, Any], state: Any) -> None:
        ours = [c for c in get_global_controls() if c.get("name") == "chaosiq-cloud"]
        args = ours[0]["provider"].get("arguments") if ours else "missing"
        self.seen.append((activity["name"], args))


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch):
    rec = Recorder()
    monkeypatch.setattr(
        control,
        "make_hooks",
        lambda settings: m.make_hooks(settings, load_entrypoints=False, plugins={"rec": rec}),
    )
    control.reset()
    yield rec
    control.reset()
    reset_global_controls()


def test_activities_run_with_an_argumentless_copy_and_the_settings_stay_whole(recorder: Recorder) -> None:
    settings = _settings()
    load_global_controls(settings)
    experiment = small_experiment("cheap", [exists_activity(f"a{i}") for i in range(3)])
    journal = run_experiment(experiment, settings=settings)
    assert journal["status"] == "completed"
    names = [a["name"] for a in experiment["method"]]
    assert [n for n, _ in recorder.seen if n in names] == names
    # chaostoolkit-lib copied nothing but an empty mapping at each activity ...
    assert {repr(args) for _, args in recorder.seen} == {"None"}
    # ... while the settings the plugins read are untouched
    arguments = settings["controls"]["chaosiq-cloud"]["provider"]["arguments"]
    assert arguments["organizations"] == ORGS and arguments["verify_tls"] is True


def test_a_control_declared_elsewhere_is_left_alone(recorder: Recorder) -> None:
    settings = _settings()
    settings["controls"]["chaosiq-cloud"]["provider"]["module"] = "chaoscloud.controls"  # the legacy shim
    load_global_controls(settings)
    journal = run_experiment(small_experiment("legacy", [exists_activity("a0")]), settings=settings)
    assert journal["status"] == "completed"
    assert recorder.seen and all(
        args is not None and args.get("organizations") == ORGS for _, args in recorder.seen
    )


def test_control_functions_carry_their_signature() -> None:
    for name in ("before_activity_control", "after_activity_control", "configure_control"):
        fn = getattr(control, name)
        assert inspect.signature(fn) is fn.__signature__
        assert "context" in inspect.signature(fn).parameters or name == "configure_control"
