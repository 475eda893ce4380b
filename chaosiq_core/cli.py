"""``chaos signin``, ``chaos enable``, ``chaos disable`` and ``chaos features``.

Registered through Chaos Toolkit's ``chaostoolkit.cli_plugins`` entry points;
never imports ``chaostoolkit.cli``. Imports beyond click happen inside the
commands so that ``chaos --help`` stays fast.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import click

from chaosiq_core.clisupport import command_errors, is_interactive, load_settings


@click.command(help="Sign in to a ChaosIQ server and make `chaos run` publish to it.")
@click.option("--url", help="Server URL, e.g. https://chaosiq.example.com (prompted if omitted).")
@click.option("--token", envvar="CHAOSIQ_TOKEN", help="API token (or set CHAOSIQ_TOKEN).")
@click.option(
    "--token-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Read the API token from this file.",
)
@click.option("--org", help="Default organization, by name or id.")
@click.option("--team", help="Default team, by name or id.")
@click.option(
    "--insecure",
    is_flag=True,
    help="Do not verify this server's TLS certificate and allow plain HTTP to it. Stored for this host only.",
)
@click.pass_context
@command_errors
def signin(
    ctx: click.Context,
    url: str | None,
    token: str | None,
    token_file: Path | None,
    org: str | None,
    team: str | None,
    insecure: bool,
) -> None:
    from chaosiq_core import settings as s
    from chaosiq_core.api import ApiClient, normalize_url
    from chaosiq_core.errors import ChaosIQError, TLSError, UsageError
    from chaosiq_core.manager import entry_points, make_hooks

    path, settings = load_settings(ctx)
    s.migrate(settings)
    interactive = is_interactive()
    if not url:
        if not interactive:
            raise UsageError("no server URL: pass --url")
        url = click.prompt("ChaosIQ url", default=s.get_url(settings) or s.DEFAULT_URL)
    url = normalize_url(url)
    if token_file is not None:
        try:
            token = token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ChaosIQError(f"cannot read the token file {token_file}: {exc.strerror}") from None
    if not token:
        if not interactive:
            raise UsageError("no token: pass --token, --token-file or set CHAOSIQ_TOKEN")
        token = click.prompt("ChaosIQ token", hide_input=True)
    token = (token or "").strip()
    if not token:
        raise UsageError("the token is empty")

    verify = not insecure
    client = ApiClient(url, token, verify_tls=verify, allow_insecure_http=insecure)
    try:
        client.probe()
    except TLSError:
        if not interactive or not click.confirm(
            f"The TLS certificate of {client.netloc} cannot be verified. "
            "Do you wish to disable certificate verification for this server?",
            default=False,
        ):
            raise
        verify = False
        client = ApiClient(url, token, verify_tls=False, allow_insecure_http=True)
        client.probe()

    hooks = make_hooks(settings)
    scope = hooks.select_scope(client, settings, org, team, interactive)
    if scope is None:
        if "teams" in hooks.broken:
            raise ChaosIQError(f"the teams feature failed to load: {hooks.broken['teams']}")
        if not s.is_feature_enabled(settings, "teams"):
            raise ChaosIQError("the teams feature is disabled: run `chaos enable teams`, then sign in again")
        raise ChaosIQError(
            "cannot choose an organization and team: install chaosiq-teams "
            "(pip install chaosiq-teams) and sign in again"
        )
    s.set_auth(settings, url, token)
    s.set_server(settings, url, verify)
    s.set_default_org(
        settings,
        {"id": scope.org_id, "name": scope.org_name},
        {"id": scope.team_id, "name": scope.team_name},
    )
    features = s.ensure_control(settings).setdefault("features", {})
    for ep in entry_points():
        features.setdefault(ep.name, "on")
    hooks.signin_completed(url, settings, scope)
    saved = s.save(settings, path)
    click.echo(
        f"Experiments and executions will be published to team '{scope.team_name or scope.team_id}' "
        f"in organization '{scope.org_name or scope.org_id}'"
    )
    click.echo(f"ChaosIQ details saved at {saved}")


def _known_feature(name: str, settings: dict[str, Any], enabling: bool) -> str:
    """The feature to toggle for ``name``; raise a usage error naming what to install.

    A feature that is not installed can still be turned off when the settings
    name it (``chaos run`` warns about it at every run until then).
    """
    from chaosiq_core import settings as s
    from chaosiq_core.errors import UsageError
    from chaosiq_core.manager import ESSENTIAL, KNOWN_DISTRIBUTIONS, LEGACY_TOGGLES, entry_points

    installed = {ep.name for ep in entry_points()}
    if name in ESSENTIAL:
        raise UsageError(f"'{name}' is part of chaosiq-core and cannot be toggled")
    if name in installed:
        return name
    if name in LEGACY_TOGGLES and LEGACY_TOGGLES[name] in installed:
        return name
    if not enabling and s.feature_flag(settings, name) is not None:
        return name
    if name in KNOWN_DISTRIBUTIONS:
        raise UsageError(f"the '{name}' feature is not installed: pip install {KNOWN_DISTRIBUTIONS[name]}")
    if not installed:
        raise UsageError(
            f"unknown feature '{name}' (no feature is installed: pip install 'chaosiq-core[all]')"
        )
    # the original's toggles that live inside an installed feature (`workspace` in `publish`)
    toggles = [
        f"{owner}'s {toggle} toggle" for toggle, owner in sorted(LEGACY_TOGGLES.items()) if owner in installed
    ]
    choices = ", ".join([*sorted(installed), *toggles])
    raise UsageError(f"unknown feature '{name}' (installed features: {choices})")


def _toggle(ctx: click.Context, name: str, enabled: bool) -> None:
    from chaosiq_core import settings as s

    path, settings = load_settings(ctx)
    feature = _known_feature(name, settings, enabled)
    migrated = s.migrate(settings)
    changed = s.set_feature(settings, feature, enabled)
    word = "enabled" if enabled else "disabled"
    if changed or migrated:
        s.save(settings, path)
    if not changed:
        click.echo(f"Feature '{feature}' is already {word} ({path})")
        return
    click.echo(f"Feature '{feature}' {word} ({path})")


@click.command(
    help="Enable a chaosiq feature (publish, safeguards, verification, teams, or a third party's)."
)
@click.argument("feature")
@click.pass_context
@command_errors
def enable(ctx: click.Context, feature: str) -> None:
    _toggle(ctx, feature, True)


@click.command(
    help="Disable a chaosiq feature. FEATURE is the feature name listed by `chaos features` "
    "(the plugin's entry-point name, not its distribution name). A disabled plugin is never imported."
)
@click.argument("feature")
@click.pass_context
@command_errors
def disable(ctx: click.Context, feature: str) -> None:
    _toggle(ctx, feature, False)


@click.command(help="List the installed chaosiq features and whether they are enabled and loaded.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option(
    "--verbose",
    "-v",
    is_flag=True,
    help="Also show the hooks each feature implements and the status lines it reports.",
)
@click.pass_context
@command_errors
def features(ctx: click.Context, as_json: bool, verbose: bool) -> None:
    from chaosiq_core.manager import list_features, make_hooks, unavailable_features

    _, settings = load_settings(ctx)
    hooks = make_hooks(settings)
    rows = list_features(settings, hooks)
    missing = [m for m in unavailable_features(settings, hooks) if m.broken is None]
    status = hooks.feature_status(settings) if verbose else {}
    if as_json:
        out = []
        for f in rows:
            d = f.as_dict()
            if verbose:
                d["hooks"] = hooks.implemented_by(f.name) if f.loaded else []
                d["status"] = [list(pair) for pair in status.get(f.name, [])]
            out.append(d)
        for m in missing:
            out.append(
                {"name": m.name, "distribution": None, "version": None, "module": None, "enabled": True,
                 "loaded": False, "error": None, "state": "not installed"}
            )  # fmt: skip
        click.echo(json.dumps(out, indent=2))
        return
    if not rows and not missing:
        click.echo("No chaosiq feature is installed (pip install 'chaosiq-core[all]').")
        return
    table: list[tuple[str, ...]] = [("FEATURE", "DISTRIBUTION", "VERSION", "ENABLED", "STATE")]
    for f in rows:
        table.append((f.name, f.distribution or "-", f.version or "-", "yes" if f.enabled else "no", f.state))
    for m in missing:
        table.append((m.name, "-", "-", "yes", "not installed"))
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    for r in table:
        click.echo("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    if verbose:
        for f in rows:
            if not f.loaded:
                continue
            click.echo(f"\n{f.name} ({f.distribution or f.module})")
            names = ", ".join(hooks.implemented_by(f.name)) or "-"
            click.echo(textwrap.fill(names, 100, initial_indent="  hooks: ", subsequent_indent=" " * 9))
            for label, value in status.get(f.name, []):
                click.echo(f"  {label}: {value}")
    for f in rows:
        if f.error:
            click.secho(f"{f.name}: {f.error}", fg="yellow", err=True)
    for m in missing:
        click.secho(m.line(), fg="yellow", err=True)


__all__: list[Any] = ["disable", "enable", "features", "signin"]
