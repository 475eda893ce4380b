"""Who is signed in to the console: the cookie → token → teams, and CSRF checks."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs

from fastapi import Request

from ..store import Store, TeamRef, TokenInfo
from . import session

MAX_FORM_BYTES = 64 * 1024


class SignInRequired(Exception):
    """No valid session: pages redirect to the sign-in form."""


class ConsoleNotFound(Exception):
    """An id the signed-in token cannot see, or that does not exist (HTML 404)."""

    def __init__(self, what: str = "page") -> None:
        super().__init__(what)
        self.what = what


class CsrfRejected(Exception):
    """A form came without the CSRF token of the session (HTML 403)."""


@dataclass(frozen=True)
class ConsoleUser:
    token: TokenInfo
    csrf: str

    @property
    def name(self) -> str:
        return self.token.name

    def team(self, org: str, team: str) -> TeamRef:
        ref = self.token.team(org, team)
        if ref is None:
            raise ConsoleNotFound("team")
        return ref


def store_of(request: Request) -> Store:
    return request.app.state.store


def optional_user(request: Request) -> ConsoleUser | None:
    data = session.parse_cookie(request.cookies.get(session.SESSION_COOKIE))
    if data is None:
        return None
    token = store_of(request).tokens.live_by_id(data.token_id)
    if token is None:
        return None
    cookie = request.cookies[session.SESSION_COOKIE]
    verified = session.verify_cookie(cookie, token.token_hash)
    if verified is None:
        return None
    return ConsoleUser(token, session.csrf_token(token.token_hash, verified.nonce))


def current_user(request: Request) -> ConsoleUser:
    """FastAPI dependency: the signed-in user or :class:`SignInRequired`."""
    user = optional_user(request)
    if user is None:
        raise SignInRequired()
    return user


async def read_form(request: Request) -> dict[str, str]:
    """An urlencoded form body (first value of each field)."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return {}
    ctype = request.headers.get("content-type", "")
    if ctype and "application/x-www-form-urlencoded" not in ctype:
        return {}
    parsed = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {k: v[0] for k, v in parsed.items() if v}


async def checked_form(request: Request, user: ConsoleUser) -> dict[str, str]:
    """The form, or :class:`CsrfRejected` unless it carries this session's CSRF token."""
    form = await read_form(request)
    if not session.check_csrf(user.csrf, form.get("csrf_token")):
        raise CsrfRejected()
    return form


def safe_next(value: str | None) -> str | None:
    """Only same-site absolute paths are followed after sign-in (no open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return None
    if value.startswith(("/signin", "/signout")):
        return None
    return value
