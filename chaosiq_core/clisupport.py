"""Helpers for ``chaos`` commands of chaosiq and its plugins.

Commands are registered through Chaos Toolkit's ``chaostoolkit.cli_plugins``
entry points and must stay cheap to import: this module imports only click at
import time. Use :func:`command_errors` on every command so that bad input
ends with one clear line and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:  # pragma: no cover
    from chaosiq_core.hooks import Hooks

F = TypeVar("F", bound=Callable[..., Any])
logger = logging.getLogger("chaostoolkit.chaosiq")


def settings_path(ctx: click.Context | None = None) -> Path:
    """The ``--settings`` of ``chaos`` (``ctx.obj["settings_path"]``), else the default."""
    from chaosiq_core.settings import default_settings_path

    ctx = ctx or click.get_current_context(silent=True)
    while ctx is not None:
        obj = ctx.obj
        if isinstance(obj, dict) and obj.get("settings_path"):
            return Path(obj["settings_path"]).expanduser()
        ctx = ctx.parent
    return default_settings_path()


def fail(message: str, code: int = 1) -> None:
    """Print one ``Error:`` line on stderr and exit with ``code``."""
    click.secho(f"Error: {message}", fg="red", err=True)
    sys.exit(code)


def command_errors(fn: F) -> F:
    """Turn chaosiq errors and Ctrl-C into one line and an exit code."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from chaosiq_core.errors import ChaosIQError

        try:
            return fn(*args, **kwargs)
        except ChaosIQError as exc:
            fail(str(exc), exc.exit_code)
        except (KeyboardInterrupt, click.Abort):
            click.echo("", err=True)
            fail("interrupted, nothing was changed", 130)
        except EOFError:
            fail("no input (run it with the non-interactive options, see --help)", 1)
        except OSError as exc:  # a local file or folder the command cannot use
            fail(f"cannot use {exc.filename}: {exc.strerror}" if exc.filename else str(exc), 1)

    return wrapper  # type: ignore[return-value]


def load_settings(
    ctx: click.Context | None = None, *, must_exist: bool = False
) -> tuple[Path, dict[str, Any]]:
    """Read the settings file of this ``chaos`` invocation."""
    from chaosiq_core import settings as s

    path = settings_path(ctx)
    return path, s.load(path, must_exist=must_exist)


def require_feature(feature: str, ctx: click.Context | None = None) -> tuple[Path, dict[str, Any], Hooks]:
    """Settings and hooks for a feature's command; exit 1 with advice when it is off."""
    from chaosiq_core import settings as s
    from chaosiq_core.manager import make_hooks

    path, settings = load_settings(ctx)
    if not s.is_feature_enabled(settings, feature):
        fail(f"the '{feature}' feature is disabled: run `chaos enable {feature}` to use it")
    hooks = make_hooks(settings)
    if feature in hooks.broken:
        fail(f"the '{feature}' feature failed to load: {hooks.broken[feature]}")
    return path, settings, hooks


def is_interactive() -> bool:
    return sys.stdin.isatty()
