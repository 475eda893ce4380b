"""The hook specifications of chaosiq: the single source of their documentation.

Every hook is prefixed ``chaosiq_`` and is called with keyword arguments only.
An implementation may accept any subset of the arguments (pluggy passes only
the ones it names), so new arguments can be added without breaking plugins.

Hooks are called through pluggy: ``tryfirst``/``trylast``, ``firstresult``,
wrappers (``@hookimpl(wrapper=True)`` and the older ``hookwrapper=True``) and
pluggy's tracing work as pluggy documents them. An implementation that raises
is logged as one WARNING (per plugin and hook) and counts as returning
``None``; the other implementations and the run go on. Only
``chaosiq_token``, ``chaosiq_api_scope`` and ``chaosiq_select_scope`` let an
exception through (``chaos signin`` shows a plugin's error as its message).

Lifecycle hooks are called from the Chaos Toolkit control bridge
(:mod:`chaosiq_core.control`) on whatever thread Chaos Toolkit runs the
corresponding step: the main thread, an activity pool thread for background
activities, or the hypothesis pool thread for continuous hypotheses. They must
be thread-safe and fast: **no network I/O on the caller's thread**. Enqueue
work for a background worker instead.

``docs/hooks.md`` is generated from these docstrings
(``python -m chaosiq_core.docs``) and a test fails when they drift apart.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chaosiq_core import hookspec

if TYPE_CHECKING:  # pragma: no cover
    from chaosiq_core.api import ApiClient
    from chaosiq_core.run import Run
    from chaosiq_core.types import Outgoing, Scope, Verdict

# ---------------------------------------------------------------- settings


@hookspec(historic=True)
def chaosiq_settings_loaded(settings: dict[str, Any]) -> None:
    """The Chaos Toolkit settings were read; a plugin may look at them.

    :param settings: the whole settings mapping (do not keep secrets from it
        in logs).

    Called once per plugin manager, right after the plugins are loaded. It is
    a *historic* hook: a plugin registered later is called too.

    .. versionadded:: 0.1
    """


@hookspec
def chaosiq_settings_defaults() -> dict[str, Any] | None:
    """Return this plugin's default options.

    :return: a mapping ``{feature: {option: default}}``. All results are merged;
        the values a user wrote under ``controls.chaosiq-cloud.options.<feature>``
        in the settings file override them. Read them with
        :meth:`chaosiq_core.run.Run.option`.

    .. versionadded:: 0.1
    """


# -------------------------------------------------------------------- auth


@hookspec(firstresult=True)
def chaosiq_token(url: str, settings: dict[str, Any]) -> str | None:
    """Return the API token to use for the ChaosIQ server at ``url``.

    :param url: the server URL (``scheme://host[:port]``).
    :param settings: the Chaos Toolkit settings.
    :return: the token, or ``None`` to let another plugin answer.

    First non-``None`` result wins. The core's default (``trylast``) reads
    ``CHAOSIQ_TOKEN`` from the environment, then ``auths.<host>`` of the
    settings. A token is only ever sent to the host it was returned for.

    .. versionadded:: 0.1
    """


@hookspec
def chaosiq_signin_completed(url: str, settings: dict[str, Any], scope: Scope | None) -> None:
    """``chaos signin`` stored a token for ``url`` (not yet saved to disk).

    :param url: the server URL that was signed in to.
    :param settings: the settings about to be saved; a plugin may add its own keys.
    :param scope: the default organization and team, if one was selected.

    .. versionadded:: 0.1
    """


# ------------------------------------------------------------------- scope


@hookspec(firstresult=True)
def chaosiq_api_scope(settings: dict[str, Any]) -> Scope | None:
    """Return the organization and team that runtime calls are scoped to.

    :param settings: the Chaos Toolkit settings.
    :return: a :class:`~chaosiq_core.types.Scope`, or ``None`` if this plugin
        does not know. First non-``None`` result wins; the core's default
        (``trylast``) reads the default organization and team of the settings.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def chaosiq_select_scope(
    client: ApiClient,
    settings: dict[str, Any],
    org: str | None,
    team: str | None,
    interactive: bool,
) -> Scope | None:
    """Choose the default organization and team during ``chaos signin``.

    :param client: an API client for the server being signed in to (no scope yet).
    :param settings: the settings being written (``chaos signin`` records the
        returned scope in them, in the original layout of ``organizations``).
    :param org: the organization name or id given with ``--org``, if any.
    :param team: the team name or id given with ``--team``, if any.
    :param interactive: ``True`` when the user may be prompted.
    :return: the chosen scope. Raise :class:`chaosiq_core.errors.ChaosIQError`
        with a clear message when nothing can be chosen.

    Implemented by the ``teams`` feature (chaosiq-teams).

    .. versionadded:: 0.1
    """


# --------------------------------------------------------------- loading


@hookspec
def chaosiq_loading_experiment(source: str, settings: dict[str, Any]) -> None:
    """Chaos Toolkit is about to load the experiment from ``source``.

    :param source: the path or URL given to ``chaos run``.
    :param settings: the Chaos Toolkit settings.

    Fires before any run exists (no :class:`~chaosiq_core.run.Run` yet).

    .. versionadded:: 0.1
    """


@hookspec
def chaosiq_experiment_loaded(
    source: str, experiment: dict[str, Any] | None, settings: dict[str, Any]
) -> None:
    """The experiment was parsed from ``source``.

    :param source: the path or URL given to ``chaos run``.
    :param experiment: the parsed experiment (mutable), ``None`` if loading failed.
    :param settings: the Chaos Toolkit settings.

    .. versionadded:: 0.1
    """


# ------------------------------------------------------------- run lifecycle


@hookspec
def chaosiq_run_configured(run: Run) -> None:
    """A run was created (Chaos Toolkit called ``configure_control``).

    :param run: the run context: settings, experiment, API client, ids.

    Called on the main thread once per run, before anything of the experiment
    executes. Start background workers here.

    .. versionadded:: 0.1
    """


@hookspec
def chaosiq_run_started(run: Run, journal: dict[str, Any]) -> None:
    """The run is about to execute (Chaos Toolkit's ``running`` event).

    :param run: the run context.
    :param journal: the journal being built (status not yet set).

    .. versionadded:: 0.1
    """


@hookspec
def chaosiq_before_experiment(run: Run, experiment: dict[str, Any]) -> None:
    """The experiment starts (``before_experiment_control``).

    :param run: the run context.
    :param experiment: the experiment (configuration and secrets are loaded).

    .. versionadded:: 0.1
    """


@hookspec
def chaosiq_after_experiment(run: Run, experiment: dict[str, Any], journal: dict[str, Any]) -> None:
    """The experiment ended (``after_experiment_control``).

    :param run: the run context.
    :param experiment: the experiment.
    :param journal: the journal with its final ``status``, ``end`` and ``duration``.

    Put what belongs in the journal's ``chaosiq`` extension into
    ``run.journal_extension``; the bridge writes it into the journal right
    after this hook. Stop polling threads here: no interruption may be sent
    after this point.

    .. versionadded:: 0.1
    """


@hookspec
def chaosiq_before_hypothesis(run: Run, hypothesis: dict[str, Any]) -> None:
    """A steady-state hypothesis evaluation starts (before, during or after the method).

    :param run: the run context.
    :param hypothesis: the ``steady-state-hypothesis`` block.

    .. versionadded:: 0.1
    """


@hookspec
def chaosiq_after_hypothesis(run: Run, hypothesis: dict[str, Any], state: dict[str, Any] | None) -> None:
    """A steady-state hypothesis evaluation ended; only after its ``chaosiq_before_hypothesis``.

    :param run: the run context.
    :param hypothesis: the ``steady-state-hypothesis`` block.
    :param state: ``{"steady_state_met": bool | None, "probes": [Run, ...]}``.

    .. versionadded:: 0.1
    """


@hookspec
def chaosiq_before_method(run: Run, experiment: dict[str, Any]) -> None:
    """The method starts.

    :param run: the run context.
    :param experiment: the experiment.

    Called for every run, also when the experiment declares controls of its
    own (chaostoolkit-lib then leaves global controls out of the method and
    the rollbacks; the bridge follows its run events there instead).

    .. versionadded:: 0.1
    """


@hookspec
def chaosiq_after_method(run: Run, experiment: dict[str, Any], state: list[Any] | None) -> None:
    """The method ended (also when it was interrupted); only after ``chaosiq_before_method``.

    :param run: the run context.
    :param experiment: the experiment.
    :param state: the list of activity runs of the method.

    .. versionadded:: 0.1
    """


@hookspec
def chaosiq_before_rollback(run: Run, experiment: dict[str, Any]) -> None:
    """The rollbacks start (only when they are played).

    :param run: the run context.
    :param experiment: the experiment.

    Called also when the experiment declares controls of its own (see
    ``chaosiq_before_method``).

    .. versionadded:: 0.1
    """


@hookspec
def chaosiq_after_rollback(run: Run, experiment: dict[str, Any], state: list[Any] | None) -> None:
    """The rollbacks ended; only after ``chaosiq_before_rollback``.

    :param run: the run context.
    :param experiment: the experiment.
    :param state: the list of rollback runs.

    .. versionadded:: 0.1
    """


@hookspec
def chaosiq_before_activity(run: Run, activity: dict[str, Any]) -> None:
    """A probe or action starts, on the thread that runs it.

    :param run: the run context.
    :param activity: the activity definition (``ref`` already resolved).

    Also fires for background activities and for the probes of a continuous
    hypothesis, from pool threads.

    .. versionadded:: 0.1
    """


@hookspec
def chaosiq_after_activity(run: Run, activity: dict[str, Any], state: dict[str, Any] | None) -> None:
    """A probe or action ended, on the thread that ran it.

    :param run: the run context.
    :param activity: the activity definition.
    :param state: the activity run (``status``, ``output``, ``start``, ``end``,
        ``duration``), or ``None`` when the activity was cut by an interruption.

    Only called for an activity ``chaosiq_before_activity`` was called for: an
    activity that another control (the experiment's own) interrupted before it
    started has neither.

    .. versionadded:: 0.1
    """


@hookspec
def chaosiq_continuous_hypothesis_started(run: Run, frequency: float) -> None:
    """Continuous steady-state sampling started (hypothesis pool thread).

    :param run: the run context.
    :param frequency: seconds between two samples.

    .. versionadded:: 0.1
    """


@hookspec
def chaosiq_continuous_hypothesis_iteration(run: Run, iteration: int, state: dict[str, Any] | None) -> None:
    """One continuous steady-state sample was taken (hypothesis pool thread).

    :param run: the run context.
    :param iteration: the sample's index, from 1.
    :param state: the hypothesis result of that sample.

    .. versionadded:: 0.1
    """


@hookspec
def chaosiq_continuous_hypothesis_completed(
    run: Run, journal: dict[str, Any], exception: BaseException | None
) -> None:
    """Continuous steady-state sampling ended.

    :param run: the run context.
    :param journal: the journal so far.
    :param exception: what ended the sampling, if it was an error.

    .. versionadded:: 0.1
    """


@hookspec
def chaosiq_run_interrupted(run: Run, journal: dict[str, Any]) -> None:
    """The run was interrupted (``InterruptExecution``: a safeguard, SIGTERM).

    :param run: the run context.
    :param journal: the journal so far.

    .. versionadded:: 0.1
    """


@hookspec
def chaosiq_run_signal_exit(run: Run) -> None:
    """The run is ending on a signal (Ctrl-C, SIGUSR1/SIGUSR2).

    :param run: the run context.

    .. versionadded:: 0.1
    """


@hookspec
def chaosiq_run_finished(run: Run, journal: dict[str, Any]) -> None:
    """The run is over (Chaos Toolkit's ``finish`` event), the journal is final.

    :param run: the run context.
    :param journal: the final journal; mutations are still written to the
        journal file by ``chaos run``.

    The last hook of a run, on the main thread. Flush with a deadline here
    (the user is waiting); never block without one.

    .. versionadded:: 0.1
    """


# -------------------------------------------------------------- safeguards


@hookspec
def chaosiq_safeguard_verdicts(run: Run) -> list[Verdict] | Verdict | None:
    """Vote on whether the run may go on.

    :param run: the run context.
    :return: one :class:`~chaosiq_core.types.Verdict`, a list of them, or ``None``
        to abstain.

    Every implementation is called and every vote is kept; **any stop wins**.
    ``Verdict.pause(source, reason, timeout=...)`` holds the run before its next
    activity while the vote stands (see ``chaosiq_run_paused``); return it at
    every check for as long as the run must wait, and stop returning it to let
    the run go on.
    Called from the safeguards plugin's background poller (never from the run
    thread), at its interval and once before the experiment starts. Keep each
    vote quick and give network calls a timeout; an exception counts as an
    abstention and is logged once.

    .. versionadded:: 0.1
    """


@hookspec
def chaosiq_safeguard_triggered(run: Run, verdict: Verdict) -> None:
    """A safeguard stopped the run.

    :param run: the run context.
    :param verdict: the stopping vote (who and why).

    Called once per run, from the thread that decided to stop (a pause that
    timed out is stopped from the run thread, with the pause's source).

    .. versionadded:: 0.1
    """


@hookspec
def chaosiq_run_paused(run: Run, verdict: Verdict) -> None:
    """The run is held before its next activity by a ``pause`` verdict.

    :param run: the run context.
    :param verdict: the pausing vote (who, why, ``pause_timeout``).

    Any plugin pauses a run by returning ``Verdict.pause(source, reason,
    timeout=...)`` from ``chaosiq_safeguard_verdicts``. The core holds the run
    thread (the main thread) at the before-activity control point, before the
    activity's ``chaosiq_before_activity`` hook, while the latest verdicts
    include a pause (the safeguards plugin polls them at its ``interval``);
    rollbacks are never held. The hold ends when no verdict pauses any more
    (``chaosiq_run_resumed``), when a stop is requested, or after the pause's
    timeout (then the run is stopped as if by a safeguard:
    ``chaosiq_safeguard_triggered``). Ctrl-C during a hold ends the run as
    Chaos Toolkit does for Ctrl-C. Called on the run thread: enqueue, never wait.

    .. versionadded:: 0.1
    """


@hookspec
def chaosiq_run_resumed(run: Run, pause: dict[str, Any]) -> None:
    """A held run goes on, or ends, after a pause.

    :param run: the run context.
    :param pause: the journal's record of the pause: ``start``, ``end`` (ISO 8601
        UTC), ``by`` (the pausing source), ``reason``, ``timeout`` (seconds) and
        ``ended`` (``resumed``, ``stopped``, ``timeout`` or ``interrupted``).

    Called on the run thread once per ``chaosiq_run_paused``, before the run
    goes on or is stopped. The records are also written to the journal's
    ``extensions[name=chaosiq].pauses``.

    .. versionadded:: 0.1
    """


# ---------------------------------------------------------------- delivery


@hookspec(firstresult=True)
def chaosiq_deliver(run: Run, message: Outgoing) -> bool | None:
    """Deliver a request to the ChaosIQ server off the caller's thread.

    :param run: the run context (its scope and ids).
    :param message: the request to send.
    :return: ``True`` when the message was accepted for delivery (queued, and
        kept on disk if it cannot be sent); ``None`` to let another plugin take it.

    Implemented by the ``publish`` feature; other plugins (verification) send
    through it instead of opening their own connections. When no plugin takes a
    message, nothing is sent. The publisher takes no message once its run is
    finished, and drops, with one warning, a message whose JSON body cannot be
    encoded (a cycle, say).

    .. versionadded:: 0.1
    """


# --------------------------------------------------------------------- CLI


@hookspec
def chaosiq_feature_status(settings: dict[str, Any]) -> list[tuple[str, str]] | None:
    """Describe this feature's state for ``chaos features --verbose``.

    :param settings: the Chaos Toolkit settings.
    :return: ``(label, value)`` pairs, or ``None``.

    ``chaos features --verbose`` shows them under the plugin's name, with the
    hooks it implements (``--json --verbose``: its ``status`` and ``hooks``).
    Keep it quick: it runs for every listing.

    .. versionadded:: 0.1
    """
