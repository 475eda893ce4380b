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
import logging
from typing import Any

import pytest
from chaoslib.control import get_global_controls, load_global_controls, reset_global_controls
from chaoslib.experiment import run_experiment

from chaosiq_core import control, control_log, hookimpl
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


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def ctk_log():
    """Every message chaostoolkit-lib writes during the test; filters restored afterwards."""
    logger = logging.getLogger("chaostoolkit")
    handler = _Lines()
    before, level = list(logger.filters), logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(handler)
    yield handler.lines
    logger.removeHandler(handler)
    logger.setLevel(level)
    logger.filters[:] = before
    control_log.restore_modules()


def _run_three(settings: dict[str, Any]) -> dict[str, Any]:
    load_global_controls(settings)
    return run_experiment(
        small_experiment("quiet", [exists_activity(f"a{i}") for i in range(3)]), settings=settings
    )


def test_per_activity_control_lines_are_left_out_of_the_log(recorder: Recorder, ctk_log: list[str]) -> None:
    assert _run_three(_settings())["status"] == "completed"
    assert "Applying before-control 'chaosiq-cloud' on 'experiment'" in ctk_log  # once-per-run lines stay
    assert "Applying after-control 'chaosiq-cloud' on 'method'" in ctk_log
    assert not [m for m in ctk_log if "on 'activity'" in m and "chaosiq-cloud" in m]
    assert not [
        m for m in ctk_log if m.startswith(("Control 'before_activity_control'", "Control 'after_activity"))
    ]
    assert len([m for m in ctk_log if m.startswith("Action: a")]) == 3  # chaostoolkit-lib's own lines stay


def test_per_activity_control_lines_are_not_even_made(
    recorder: Recorder, ctk_log: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No LogRecord is made for them (≈ 4 µs each, four per activity); the records
    that are made still name chaostoolkit-lib's own function and file."""
    made: list[logging.LogRecord] = []
    factory = logging.getLogRecordFactory()

    def counting(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        made.append(record)
        return record

    monkeypatch.setattr(logging, "_logRecordFactory", counting)
    assert _run_three(_settings())["status"] == "completed"
    messages = [r.getMessage() for r in made]
    assert not [m for m in messages if "on 'activity'" in m and "chaosiq-cloud" in m]
    assert not [m for m in messages if m.startswith("Control 'before_activity_control'")]
    once = [r for r in made if r.getMessage() == "Applying before-control 'chaosiq-cloud' on 'experiment'"]
    assert len(once) == 1
    assert once[0].funcName == "apply_controls"
    assert once[0].pathname.endswith(("chaoslib/control/__init__.py", "chaoslib\\control\\__init__.py"))
    assert "Applying before-control 'chaosiq-cloud' on 'experiment'" in ctk_log


def test_the_quiet_logger_is_the_logger_for_everything_else() -> None:
    logger = logging.getLogger("chaostoolkit")
    flt = control_log.ControlLineFilter(frozenset({"drop me"}))
    quiet = control_log.QuietLogger(logger, flt)
    handler = _Lines()
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        quiet.debug("drop me")
        quiet.debug("keep %s", "me")
        quiet.debug("drop me (no: not the whole message)")
        quiet.info("drop me")  # only debug lines are ever dropped
        assert handler.lines == ["keep me", "drop me (no: not the whole message)", "drop me"]
        assert quiet.isEnabledFor(logging.DEBUG) and quiet.name == "chaostoolkit"
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def test_the_filter_drops_only_whole_messages_about_our_control() -> None:
    flt = control_log.ControlLineFilter(control_log.activity_lines(["chaosiq-cloud"], vars(control)))

    def kept(msg: str, *args: Any) -> bool:
        return flt.filter(logging.LogRecord("chaostoolkit", logging.DEBUG, __file__, 1, msg, args, None))

    assert not kept("Applying before-control 'chaosiq-cloud' on 'activity'")
    assert not kept(f"Control 'after_activity_control' loaded from '{control.__file__}'")
    assert kept("Applying before-control 'other' on 'activity'")
    assert kept("Applying before-control 'chaosiq-cloud' on 'activity' (again)")
    assert kept("Applying before-control 'chaosiq-cloud' on 'experiment'")
    assert kept("Applying before-control %s on 'activity'", "'chaosiq-cloud'")  # formatted: left alone


def test_keep_control_log_keeps_every_line(
    recorder: Recorder, ctk_log: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    logger = logging.getLogger("chaostoolkit")
    logger.filters[:] = [f for f in logger.filters if not isinstance(f, control_log.ControlLineFilter)]
    monkeypatch.setenv("CHAOSIQ_KEEP_CONTROL_LOG", "1")
    assert _run_three(_settings())["status"] == "completed"
    assert ctk_log.count("Applying before-control 'chaosiq-cloud' on 'activity'") >= 3
