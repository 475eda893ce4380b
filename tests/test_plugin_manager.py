"""The plugin manager: disabled features never imported, broken ones skipped with one WARNING."""

from __future__ import annotations

import logging
import sys
import uuid
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from chaosiq_core import hookimpl, manager
from chaosiq_core.types import Scope


@pytest.fixture
def modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Write plugin modules on a temp path and expose them as ``chaosiq`` entry points."""
    monkeypatch.syspath_prepend(str(tmp_path))
    eps: list[EntryPoint] = []
    names: list[str] = []

    def add(feature: str, body: str) -> str:
        module = f"plugin_{feature}_{uuid.uuid4().hex[:8]}"
        (tmp_path / f"{module}.py").write_text(body)
        eps.append(EntryPoint(feature, module, "chaosiq"))
        names.append(module)
        return module

    monkeypatch.setattr(manager, "entry_points", lambda: sorted(eps, key=lambda e: e.name))
    yield add
    for name in names:
        sys.modules.pop(name, None)


GOOD = """
from chaosiq_core import hookimpl
from chaosiq_core.types import Scope

@hookimpl
def chaosiq_api_scope(settings):
    return Scope("o-good", "t-good")
"""

DISABLED = lambda name: {"controls": {"chaosiq-cloud": {"features": {name: "off"}}}}  # noqa: E731


def test_a_disabled_feature_is_never_imported(modules, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(manager.DISABLE_ENV, raising=False)
    module = modules("quiet", GOOD)
    hooks = manager.make_hooks(DISABLED("quiet"))
    assert module not in sys.modules
    assert hooks.api_scope({}) is None
    [feature] = manager.list_features(DISABLED("quiet"), hooks)
    assert (feature.name, feature.enabled, feature.loaded, feature.state) == (
        "quiet",
        False,
        False,
        "disabled",
    )
    # Enabled again: imported and answering.
    hooks = manager.make_hooks({})
    assert module in sys.modules
    assert hooks.api_scope({}) == Scope("o-good", "t-good")


def test_unquoted_yaml_off_also_blocks(modules, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(manager.DISABLE_ENV, raising=False)
    module = modules("quiet", GOOD)
    manager.make_hooks({"controls": {"chaosiq-cloud": {"features": {"quiet": False}}}})
    assert module not in sys.modules


@pytest.mark.parametrize("value", ["quiet", "other, quiet", "*"])
def test_environment_variable_blocks_too(modules, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    module = modules("quiet", GOOD)
    monkeypatch.setenv(manager.DISABLE_ENV, value)
    hooks = manager.make_hooks({})
    assert module not in sys.modules
    assert hooks.pm.has_plugin("core")  # the core defaults are never blocked


def test_a_broken_plugin_is_skipped_with_one_warning(
    modules, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv(manager.DISABLE_ENV, raising=False)
    modules("broken", "raise ImportError('needs libfoo')\n")
    modules("good", GOOD)
    with caplog.at_level(logging.WARNING, logger="chaostoolkit.chaosiq"):
        hooks = manager.make_hooks({})
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert "'broken'" in warnings[0] and "needs libfoo" in warnings[0]
    assert hooks.broken == {"broken": "ImportError: needs libfoo"}
    assert hooks.api_scope({}) == Scope("o-good", "t-good")  # the others load
    states = {f.name: f.state for f in manager.list_features({}, hooks)}
    assert states == {"broken": "broken", "good": "loaded"}


def test_a_plugin_failing_in_a_hook_warns_once_and_the_others_still_run(
    chaosiq_hooks, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[str] = []

    class Bad:
        @hookimpl
        def chaosiq_before_activity(self, run, activity):
            raise RuntimeError("kaput")

    class Good:
        @hookimpl
        def chaosiq_before_activity(self, activity):
            seen.append(activity["name"])

    chaosiq_hooks.register(Bad(), name="bad")
    chaosiq_hooks.register(Good(), name="good")
    with caplog.at_level(logging.WARNING, logger="chaostoolkit.chaosiq"):
        for i in range(3):
            chaosiq_hooks.before_activity(None, {"name": f"a{i}"})
    assert seen == ["a0", "a1", "a2"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == ["chaosiq plugin 'bad' failed in chaosiq_before_activity: RuntimeError: kaput"]


def test_firstresult_hooks_prefer_plugins_over_core_defaults(chaosiq_hooks) -> None:
    settings = {
        "controls": {
            "chaosiq-cloud": {
                "provider": {
                    "arguments": {
                        "organizations": [
                            {
                                "id": "o1",
                                "name": "n",
                                "default": True,
                                "teams": [{"id": "t1", "default": True}],
                            }
                        ]
                    }
                }
            }
        }
    }
    assert chaosiq_hooks.api_scope(settings) == Scope("o1", "t1", "n", None)

    class Override:
        @hookimpl
        def chaosiq_api_scope(self, settings):
            return Scope("o2", "t2")

    chaosiq_hooks.register(Override(), name="override")
    assert chaosiq_hooks.api_scope(settings) == Scope("o2", "t2")


def test_core_token_default_reads_env_for_the_configured_host_only(
    chaosiq_hooks, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = {
        "auths": {"a.example": {"type": "bearer", "value": "stored"}},
        "controls": {"chaosiq-cloud": {"provider": {"arguments": {"url": "https://a.example"}}}},
    }
    assert chaosiq_hooks.token("https://a.example", settings) == "stored"
    monkeypatch.setenv("CHAOSIQ_TOKEN", "from-env")
    assert chaosiq_hooks.token("https://a.example", settings) == "from-env"
    assert chaosiq_hooks.token("https://b.example", settings) is None  # never another host's


def test_settings_defaults_are_merged_and_user_options_win(chaosiq_hooks) -> None:
    from chaosiq_core.run import Run

    class P:
        @hookimpl
        def chaosiq_settings_defaults(self):
            return {"thing": {"interval": 5, "mode": "fast"}}

    chaosiq_hooks.register(P(), name="p")
    settings = {"controls": {"chaosiq-cloud": {"options": {"thing": {"interval": 1}}}}}
    run = Run(settings=settings, experiment={}, hooks=chaosiq_hooks)
    run._defaults = chaosiq_hooks.settings_defaults()
    assert run.option("thing", "interval") == 1
    assert run.option("thing", "mode") == "fast"
    assert run.option("thing", "missing", "dflt") == "dflt"


def test_calls_go_through_pluggy_monitoring_and_order(chaosiq_hooks) -> None:
    """tryfirst/trylast order and add_hookcall_monitoring see every facade call."""
    order: list[str] = []

    class Last:
        @hookimpl(trylast=True)
        def chaosiq_before_activity(self, activity):
            order.append("last")

    class First:
        @hookimpl(tryfirst=True)
        def chaosiq_before_activity(self, activity):
            order.append("first")

    class Plain:
        @hookimpl
        def chaosiq_before_activity(self, activity):
            order.append("plain")

    for name, plugin in (("last", Last()), ("first", First()), ("plain", Plain())):
        chaosiq_hooks.register(plugin, name)
    monitored: list[tuple[str, list[str]]] = []
    undo = chaosiq_hooks.pm.add_hookcall_monitoring(
        lambda name, impls, kwargs: monitored.append((name, [i.plugin_name for i in impls])),
        lambda outcome, name, impls, kwargs: None,
    )
    chaosiq_hooks.before_activity(None, {"name": "a"})
    undo()
    assert order == ["first", "plain", "last"]
    assert monitored == [("chaosiq_before_activity", ["last", "plain", "first"])]


def test_firstresult_skips_a_failing_plugin_and_strict_hooks_raise(
    chaosiq_hooks, caplog: pytest.LogCaptureFixture
) -> None:
    from chaosiq_core.errors import ChaosIQError

    class Broken:
        @hookimpl(tryfirst=True)
        def chaosiq_deliver(self, message):
            raise OSError("disk full")

        @hookimpl
        def chaosiq_select_scope(self, org):
            raise ChaosIQError(f"no organization named {org}")

    class Taker:
        @hookimpl
        def chaosiq_deliver(self, message):
            return True

    chaosiq_hooks.register(Broken(), "broken")
    assert chaosiq_hooks.deliver(None, None) is False  # nobody took it
    chaosiq_hooks.register(Taker(), "taker")
    with caplog.at_level(logging.WARNING, logger="chaostoolkit.chaosiq"):
        assert chaosiq_hooks.deliver(None, None) is True  # the next one did
    assert chaosiq_hooks.can_deliver()
    # The scope hook's error is the user's message: it is not swallowed.
    with pytest.raises(ChaosIQError, match="no organization named acme"):
        chaosiq_hooks.select_scope(None, {}, "acme", None, False)


def test_a_failing_wrapper_is_one_warning(chaosiq_hooks, caplog: pytest.LogCaptureFixture) -> None:
    class Wrapper:
        @hookimpl(wrapper=True)
        def chaosiq_after_activity(self):
            yield
            raise RuntimeError("wrapper kaput")

    chaosiq_hooks.register(Wrapper(), "wrapping")
    with caplog.at_level(logging.WARNING, logger="chaostoolkit.chaosiq"):
        for _ in range(2):
            chaosiq_hooks.after_activity(None, {"name": "a"}, None)
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == [
        "chaosiq plugin 'wrapping' failed in chaosiq_after_activity: RuntimeError: wrapper kaput"
    ]


def test_feature_status_and_hooks_per_plugin(chaosiq_hooks) -> None:
    class Outbox:
        @hookimpl
        def chaosiq_feature_status(self, settings):
            return [("pending", 3)]

        @hookimpl
        def chaosiq_run_finished(self):
            pass

    class Silent:
        @hookimpl
        def chaosiq_feature_status(self):
            raise RuntimeError("cannot tell")

    chaosiq_hooks.register(Outbox(), "outbox")
    chaosiq_hooks.register(Silent(), "silent")
    assert chaosiq_hooks.feature_status({}) == {"outbox": [("pending", "3")]}
    assert chaosiq_hooks.implemented_by("outbox") == ["feature_status", "run_finished"]
