"""The admin CLI: ``chaosiq-server init|serve|token|org|team``."""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from .config import (
    DEFAULT_MAX_BODY_SIZE,
    ENV_DATABASE_URL,
    Settings,
    default_database_url,
)
from .roles import DEFAULT_CLI_ROLE, OWNER, ROLES, Role

F = TypeVar("F", bound=Callable[..., Any])


def database_option(func: F) -> F:
    return click.option(
        "--database-url",
        envvar=ENV_DATABASE_URL,
        show_envvar=True,
        default=None,
        help="SQLAlchemy URL (default: SQLite file in the user data directory; "
        "PostgreSQL: postgresql+psycopg://user:pass@host/db).",
    )(func)


ENV_PREFIX = "CHAOSIQ_SERVER_"


class EnvConfigured(click.Command):
    """A command each of whose options can also be set by the environment:
    ``--some-option`` by ``CHAOSIQ_SERVER_SOME_OPTION`` (a flag by ``1``/``true``/
    ``yes`` or ``0``/``false``/``no``), shown in ``--help``. A flag given on the
    command line wins. Options added later get theirs without more code."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for param in self.params:
            if isinstance(param, click.Option) and not param.envvar:
                longest = max(param.opts, key=len).lstrip("-")
                param.envvar = ENV_PREFIX + longest.upper().replace("-", "_")
                param.show_envvar = True


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON.")(func)


def friendly_errors(func: F) -> F:
    """Turn database/driver errors into one clear line and exit 1."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from sqlalchemy.exc import ArgumentError, IntegrityError, SQLAlchemyError

        from .db import DatabaseRefused
        from .errors import StorageUnavailable

        try:
            return func(*args, **kwargs)
        except click.ClickException:
            raise
        except DatabaseRefused as exc:
            raise click.ClickException(str(exc)) from exc
        except StorageUnavailable as exc:
            raise click.ClickException(f"database unavailable: {exc.detail}") from exc
        except IntegrityError as exc:
            raise click.ClickException(f"conflict: {_first_line(exc.orig or exc)}") from exc
        except ArgumentError as exc:
            raise click.ClickException(f"invalid database URL: {exc}") from exc
        except (SQLAlchemyError, OSError) as exc:
            raise click.ClickException(f"database error: {_first_line(exc)}") from exc
        except ModuleNotFoundError as exc:
            raise click.ClickException(
                f"missing driver {exc.name!r}: for PostgreSQL install chaosiq-server[postgres]"
            ) from exc

    return wrapper  # type: ignore[return-value]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else exc.__class__.__name__


def _store(database_url: str | None, *, create: bool = False) -> Any:
    """The store of an initialised database (migrated to this version); only
    ``init`` and ``org create`` make a new one (``create=True``)."""
    from .db import Database
    from .store import Store

    db = Database(database_url or default_database_url(), pool_size=1)
    db.migrate(create=create)
    return Store(db)


def _emit(data: Any, as_json: bool, text: str) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=None))
    else:
        click.echo(text)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="chaosiq-server")
def main() -> None:
    """Administer and run a self-hosted ChaosIQ-compatible server."""
    # An admin command says what went wrong in its one `Error:` line; the server's
    # log lines are for `serve` (setup_logging replaces this handler).
    logging.getLogger("chaosiq_server").addHandler(logging.NullHandler())


@main.command()
@database_option
@click.option("--org", "org_name", default="default", show_default=True)
@click.option("--team", "team_name", default="default", show_default=True)
@click.option("--token-name", default="admin", show_default=True)
@json_option
@friendly_errors
def init(database_url: str | None, org_name: str, team_name: str, token_name: str, as_json: bool) -> None:
    """Create/migrate the database, an organization, a team and a token."""
    store = _store(database_url, create=True)
    org = store.organizations.find(org_name)
    if org is None or org["name"] != org_name:
        org = store.organizations.create(org_name)
    team = next((t for t in store.teams.list(org["id"]) if t["name"] == team_name), None)
    if team is None:
        team = store.teams.create(org["id"], team_name)
    secret, token = store.tokens.create(token_name, [team["id"]], OWNER)
    _secret_key(database_url)
    data = {
        "organization": {"id": org["id"], "name": org["name"]},
        "team": {"id": team["id"], "name": team["name"]},
        "token": secret,
        "token_id": token["id"],
    }
    _emit(
        data,
        as_json,
        f"organization {org['name']} ({org['id']})\n"
        f"team         {team['name']} ({team['id']})\n"
        f"token id     {token['id']}\n"
        f"token        {secret}\n"
        "The token is shown only once: store it now.",
    )


@main.command(cls=EnvConfigured)
@database_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8787, show_default=True, type=click.IntRange(0, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option(
    "--max-body-size",
    default=DEFAULT_MAX_BODY_SIZE,
    show_default=True,
    type=click.IntRange(1),
    help="Bytes; larger request bodies get 413.",
)
@click.option(
    "--response-delay-ms",
    default=0.0,
    type=click.FloatRange(0),
    help="Delay every API response (to emulate network latency).",
)
@click.option(
    "--init",
    is_flag=True,
    help="Create the database if there is none (default: refuse to start without one, "
    "so a lost database is not silently replaced by an empty one).",
)
@click.option(
    "--forwarded-allow-ips",
    default="",
    callback=lambda _ctx, _param, value: _forwarded_allow_ips(value),
    help="Comma-separated addresses or networks of reverse proxies whose X-Forwarded-For "
    "and X-Forwarded-Proto are believed (default: none, not even loopback; '*': any peer).",
)
@friendly_errors
def serve(
    database_url: str | None,
    host: str,
    port: int,
    workers: int,
    log_format: str,
    max_body_size: int,
    response_delay_ms: float,
    init: bool,
    forwarded_allow_ips: str,
) -> None:
    """Run the API server (migrates the database first).

    It serves only a database that `init` created (or `--init` now): a missing
    SQLite file or a database without the server's tables is refused."""
    # Before anything imports prometheus-client (metrics.py): the workers add up
    # their metrics in this directory.
    metrics_dir = _multiprocess_metrics_dir(workers)

    import uvicorn

    from .db import Database
    from .log import setup_logging

    settings = Settings(
        database_url=database_url or default_database_url(),
        max_body_size=max_body_size,
        response_delay_ms=response_delay_ms,
        log_format=log_format,
    )
    setup_logging(log_format)
    db = Database(settings.database_url, pool_size=1)
    db.migrate(create=init)
    db.dispose()
    _secret_key(settings.database_url, announce=True)
    os.environ.update(settings.to_env())
    uvicorn.run(
        "chaosiq_server.app:app_factory",
        factory=True,
        # uvicorn[standard]: the C HTTP parser and loop cost a fraction of the pure-Python ones.
        http="httptools" if _importable("httptools") else "h11",
        loop="uvloop" if _importable("uvloop") else "asyncio",
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_config=None,
        server_header=False,
        timeout_keep_alive=30,
        # Forwarded headers only from the proxies the operator named: uvicorn's own
        # default believes them from loopback, so a local client could pick its address.
        proxy_headers=bool(forwarded_allow_ips),
        forwarded_allow_ips=forwarded_allow_ips or "",
    )
    if metrics_dir is not None:
        shutil.rmtree(metrics_dir, ignore_errors=True)


def _multiprocess_metrics_dir(workers: int) -> str | None:
    """With several workers, prometheus-client's multiprocess directory: the one
    in ``PROMETHEUS_MULTIPROC_DIR`` (emptied of a previous run's files), else a
    new temporary one (returned, removed at exit)."""
    from .config import MULTIPROC_ENV

    given = os.environ.get(MULTIPROC_ENV)
    if given:
        for stale in Path(given).glob("*.db"):
            stale.unlink()
        return None
    if workers == 1:
        return None
    made = tempfile.mkdtemp(prefix="chaosiq-server-metrics-")
    os.environ[MULTIPROC_ENV] = made
    return made


def _forwarded_allow_ips(value: str) -> str:
    """``--forwarded-allow-ips``: every item an IP address or network, or ``*`` alone."""
    import ipaddress

    items = [item.strip() for item in (value or "").split(",") if item.strip()]
    if items == ["*"]:
        return "*"
    out = []
    for item in items:
        try:
            out.append(
                str(ipaddress.ip_network(item, strict=False))
                if "/" in item
                else str(ipaddress.ip_address(item))
            )
        except ValueError:
            raise click.BadParameter(
                f"{item!r} is not an IP address or network (e.g. 10.0.0.5, 10.0.0.0/24)"
            ) from None
    return ",".join(out)


def _secret_key(database_url: str | None, announce: bool = False) -> None:
    """Make sure the console's secret key exists (``secret_key.py``); say where it comes from
    (``serve``: in its log; ``init``: on stderr, so ``--json`` output stays one document)."""
    import logging

    from .secret_key import SecretKeyError, load

    try:
        key = load(database_url or default_database_url())
    except SecretKeyError as exc:
        raise click.ClickException(str(exc)) from exc
    log = logging.getLogger("chaosiq_server.serve")
    if key.created and announce:
        log.warning("generated a new secret key for console sessions: %s (mode 0600)", key.source)
    elif key.created:
        click.echo(f"generated a new secret key for console sessions: {key.source} (mode 0600)", err=True)
    elif announce:
        log.info("console sessions are signed with the secret key from %s", key.source)


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


# ------------------------------------------------------------------- retention
class Age(click.ParamType):
    """An age such as ``90d``: a whole number of s, m, h, d or w."""

    name = "AGE"
    UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> timedelta:
        if isinstance(value, timedelta):
            return value
        text = str(value).strip().lower()
        if len(text) < 2 or text[-1] not in self.UNITS or not text[:-1].isdigit() or int(text[:-1]) == 0:
            self.fail(f"{value!r} is not an age such as 90d, 12h, 2w (s, m, h, d, w)", param, ctx)
        return timedelta(**{self.UNITS[text[-1]]: int(text[:-1])})


@main.command()
@database_option
@click.option(
    "--older-than", required=True, type=Age(), help="e.g. 90d: finished and not updated for that long."
)
@click.option("--team", "teams", multiple=True, help="Only this team (id or name; repeatable).")
@click.option("--dry-run", is_flag=True, help="Say what would be deleted, delete nothing.")
@json_option
@friendly_errors
def prune(
    database_url: str | None, older_than: timedelta, teams: tuple[str, ...], dry_run: bool, as_json: bool
) -> None:
    """Delete finished executions older than --older-than, with their events.

    Deletes in short transactions: a server ingesting meanwhile keeps going."""
    from .db import utc_iso

    store = _store(database_url)
    team_ids = None
    if teams:
        team_ids = []
        for ref in teams:
            found = store.teams.find(ref)
            if found is None:
                raise click.ClickException(f"no such team: {ref}")
            team_ids.append(found["id"])
    before = utc_iso(datetime.now(timezone.utc) - older_than)
    found_runs = store.retention.candidates(before, team_ids)
    events = sum(run.events_count for run in found_runs)
    if not dry_run:
        events = sum(store.retention.delete(run.id) for run in found_runs)
    verb = "would delete" if dry_run else "deleted"
    _emit(
        {"executions": len(found_runs), "events": events, "before": before, "dry_run": dry_run},
        as_json,
        f"{verb} {len(found_runs)} finished executions and {events} events (last updated before {before})",
    )


# ------------------------------------------------------------------------ copy
@main.command("copy")
@click.option(
    "--from",
    "source_url",
    required=True,
    metavar="URL",
    help="The database to copy from, e.g. sqlite:////var/lib/chaosiq/chaosiq.db (only read).",
)
@click.option(
    "--to",
    "target_url",
    required=True,
    metavar="URL",
    help="The database to copy into, e.g. postgresql+psycopg://user:pass@host/db "
    "(its schema is created or migrated first).",
)
@click.option("--resume", is_flag=True, help="Continue an interrupted copy into this target.")
@click.option(
    "--overwrite",
    is_flag=True,
    help="Delete every row of the target first (default: refuse a target that holds data).",
)
@click.option(
    "--migrate-source",
    is_flag=True,
    help="Migrate the source to this chaosiq-server's schema first (default: refuse an older one).",
)
@click.option(
    "--batch-size",
    default=5000,
    show_default=True,
    type=click.IntRange(1, 100_000),
    help="Rows read and written per transaction.",
)
@json_option
@friendly_errors
def copy_command(
    source_url: str,
    target_url: str,
    resume: bool,
    overwrite: bool,
    migrate_source: bool,
    batch_size: int,
    as_json: bool,
) -> None:
    """Copy every table of one database into another (e.g. SQLite to PostgreSQL).

    Stop the server (or keep it read-only) while it runs. Interrupted (Ctrl-C, a
    kill, a lost connection), the same command with --resume continues where it
    stopped without copying a row twice."""
    from rich.console import Console

    from .copy import Copier, RichProgress, interrupted_line, summary

    if resume and overwrite:
        raise click.ClickException("--resume and --overwrite exclude each other: choose one")
    mode = "resume" if resume else "overwrite" if overwrite else "new"
    console = Console(stderr=True)
    progress = RichProgress(console)
    copier = Copier(
        source_url,
        target_url,
        mode=mode,
        batch_size=batch_size,
        migrate_source=migrate_source,
        progress=progress,
    )
    try:
        with progress.shown():
            report = copier.run()
    except KeyboardInterrupt:
        click.echo(f"Error: {interrupted_line(copier.report)}", err=True)
        sys.exit(130)
    if as_json:
        click.echo(json.dumps(report.as_dict()))
    else:
        summary(report, Console())


# ---------------------------------------------------------------------- tokens
@main.group()
def token() -> None:
    """Create, list and revoke API tokens."""


@token.command("create")
@database_option
@click.option("--team", "teams", multiple=True, required=True, help="Team id (repeatable).")
@click.option("--name", default="token", show_default=True)
@click.option(
    "--role",
    type=click.Choice(ROLES),
    default=DEFAULT_CLI_ROLE,
    show_default=True,
    help="viewer: sees its teams' runs; member: also publishes and stops runs; "
    "owner: also manages tokens and policies. The default is the least that lets `chaos run` publish.",
)
@json_option
@friendly_errors
def token_create(
    database_url: str | None, teams: tuple[str, ...], name: str, role: Role, as_json: bool
) -> None:
    """Create a token of a role bound to one or more teams; prints the secret once."""
    store = _store(database_url)
    ids = []
    for ref in teams:
        found = store.teams.find(ref)
        if found is None:
            raise click.ClickException(f"no such team: {ref}")
        ids.append(found["id"])
    secret, info = store.tokens.create(name, ids, role)
    _emit(
        {**info, "token": secret},
        as_json,
        f"token id {info['id']}\nrole     {role}\ntoken    {secret}\nThe token is shown only once.",
    )


@token.command("revoke")
@database_option
@click.argument("token_id")
@json_option
@friendly_errors
def token_revoke(database_url: str | None, token_id: str, as_json: bool) -> None:
    """Revoke a token by id."""
    store = _store(database_url)
    if not store.tokens.revoke(token_id):
        raise click.ClickException(f"no such active token: {token_id}")
    _emit({"id": token_id, "revoked": True}, as_json, f"revoked {token_id}")


@token.command("list")
@database_option
@json_option
@friendly_errors
def token_list(database_url: str | None, as_json: bool) -> None:
    """List tokens (never their secrets)."""
    rows = _store(database_url).tokens.list()
    _emit(
        rows,
        as_json,
        "\n".join(
            f"{t['id']}  {t['name']}  {t['role']}  {'revoked' if t['revoked_at'] else 'active'}  "
            f"last-used={t['last_used_at'] or 'never'}  teams={','.join(t['teams'])}"
            for t in rows
        )
        or "no tokens",
    )


# ------------------------------------------------------------ orgs and teams
@main.group()
def org() -> None:
    """Organizations."""


@org.command("create")
@database_option
@click.argument("name")
@json_option
@friendly_errors
def org_create(database_url: str | None, name: str, as_json: bool) -> None:
    """Create an organization."""
    _require_name(name)
    created = _store(database_url, create=True).organizations.create(name)
    _emit(created, as_json, f"{created['id']}  {created['name']}")


@org.command("list")
@database_option
@json_option
@friendly_errors
def org_list(database_url: str | None, as_json: bool) -> None:
    """List organizations."""
    rows = _store(database_url).organizations.list()
    _emit(rows, as_json, "\n".join(f"{o['id']}  {o['name']}" for o in rows) or "no organizations")


@main.group()
def team() -> None:
    """Teams."""


@team.command("create")
@database_option
@click.option("--org", "org_ref", required=True, help="Organization id or name.")
@click.argument("name")
@json_option
@friendly_errors
def team_create(database_url: str | None, org_ref: str, name: str, as_json: bool) -> None:
    """Create a team in an organization."""
    _require_name(name)
    store = _store(database_url)
    found = store.organizations.find(org_ref)
    if found is None:
        raise click.ClickException(f"no such organization: {org_ref}")
    created = store.teams.create(found["id"], name)
    _emit(created, as_json, f"{created['id']}  {created['name']}  org={created['org_id']}")


@team.command("list")
@database_option
@click.option("--org", "org_ref", default=None, help="Organization id or name.")
@json_option
@friendly_errors
def team_list(database_url: str | None, org_ref: str | None, as_json: bool) -> None:
    """List teams."""
    store = _store(database_url)
    org_id = None
    if org_ref is not None:
        found = store.organizations.find(org_ref)
        if found is None:
            raise click.ClickException(f"no such organization: {org_ref}")
        org_id = found["id"]
    rows = store.teams.list(org_id)
    _emit(rows, as_json, "\n".join(f"{t['id']}  {t['name']}  org={t['org_id']}" for t in rows) or "no teams")


def _require_name(name: str) -> None:
    if not name.strip() or len(name) > 200:
        raise click.ClickException("a name must be 1 to 200 characters")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
