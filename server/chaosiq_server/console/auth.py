"""Who is signed in to the console (the cookie → session → token → teams), and the
checks every console form gets: same origin (``require_same_origin``) and CSRF."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from fastapi import Request

from ..roles import Role, allows, refusal
from ..secret_key import SecretKey
from ..store import Store, TeamRef, TokenInfo
from ..store.audit import Acting, Who
from . import session

log = logging.getLogger("chaosiq_server.console")

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


class ConsoleForbidden(Exception):
    """The signed-in token's role may not do this (HTML 403, JSON for ``.json``)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class CrossOriginRejected(Exception):
    """A form was posted from another origin, or with neither Origin nor Referer (HTML 403)."""


@dataclass(frozen=True)
class ConsoleUser:
    token: TokenInfo
    csrf: str
    session_id: str

    @property
    def name(self) -> str:
        return self.token.name

    @property
    def role(self) -> str:
        return self.token.role

    def may(self, needed: Role) -> bool:
        """Whether this token's role allows what needs ``needed`` (templates: links, buttons)."""
        return allows(self.token.role, needed)

    def require(self, needed: Role, doing: str) -> None:
        """:class:`ConsoleForbidden` unless the role allows ``doing``."""
        if not self.may(needed):
            raise ConsoleForbidden(refusal(self.token.role, doing, needed))

    @property
    def who(self) -> Who:
        """This token, as the audit log names who acted."""
        return Who(self.token.id, self.token.name)

    def acting(self, team_id: str) -> Acting:
        """Who acts in ``team_id``, for the audit log."""
        return Acting(team_id, self.who)

    def team(self, org: str, team: str) -> TeamRef:
        ref = self.token.team(org, team)
        if ref is None:
            raise ConsoleNotFound("team")
        return ref


def store_of(request: Request) -> Store:
    return request.app.state.store


def secret_key_of(request: Request) -> SecretKey:
    return request.app.state.secret_key


def is_https(request: Request) -> bool:
    """Whether the browser talks HTTPS to us: directly, or through a proxy named by
    ``serve --forwarded-allow-ips`` that says ``X-Forwarded-Proto: https`` (uvicorn
    sets the scheme from it for those proxies only)."""
    return request.url.scheme == "https"


def cookie_names(request: Request) -> session.CookieNames:
    return session.cookie_names(is_https(request))


def optional_user(request: Request) -> ConsoleUser | None:
    key = secret_key_of(request)
    session_id = session.session_id_of(key, request.cookies.get(cookie_names(request).session))
    if session_id is None:
        return None
    token = store_of(request).sessions.live_token(session_id)
    if token is None:
        return None
    return ConsoleUser(token, session.csrf_token(key, session_id), session_id)


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
    if not session.check_csrf(secret_key_of(request), user.session_id, form.get("csrf_token")):
        raise CsrfRejected()
    return form


def _origin(url: str | None) -> str | None:
    """``scheme://host[:port]`` of a URL, lower-cased, the default port left out; None if unusable."""
    if not url or len(url) > 2048:
        return None
    try:
        parts = urlsplit(url.strip())
        scheme, host, port = parts.scheme.lower(), parts.hostname, parts.port
    except ValueError:
        return None
    if scheme not in ("http", "https") or not host:
        return None
    if port is None or port == {"http": 80, "https": 443}[scheme]:
        return f"{scheme}://{host}" if ":" not in host else f"{scheme}://[{host}]"
    return f"{scheme}://{host}:{port}" if ":" not in host else f"{scheme}://[{host}]:{port}"


def console_origin(request: Request) -> str | None:
    """The origin the browser sees this console at: its scheme and the ``Host`` it sent."""
    host = request.headers.get("host")
    if not host:
        return None
    return _origin(f"{'https' if is_https(request) else request.url.scheme}://{host}")


def require_same_origin(request: Request) -> None:
    """Every state-changing console request must come from a page of this console.

    The ``Origin`` header decides; without it, the ``Referer`` (our pages send it:
    ``Referrer-Policy: same-origin``). A request with neither is refused too: every
    browser sends ``Origin`` with a form ``POST`` (``null`` from a page that hides
    its origin, refused as well), so only a script does not, and scripts use the
    API with a bearer token. Safe methods (GET, HEAD) change nothing and pass."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    sent = request.headers.get("origin")
    claimed = _origin(sent) if sent is not None else _origin(request.headers.get("referer"))
    expected = console_origin(request)
    if claimed is None or expected is None or claimed != expected:
        log.warning(
            "console %s %s refused: origin %r is not this console's %r",
            request.method,
            request.url.path,
            (sent if sent is not None else request.headers.get("referer") or "")[:200],
            expected,
        )
        raise CrossOriginRejected()


def safe_next(value: str | None) -> str | None:
    """Only same-site absolute paths are followed after sign-in (no open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return None
    if value.startswith(("/signin", "/signout")):
        return None
    return value
