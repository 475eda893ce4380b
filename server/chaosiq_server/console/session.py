"""Console session cookies and CSRF tokens, signed with the server's secret key.

A session lives on the server (``store/sessions.py``: deleted at sign-out and
when its token is revoked); the cookie holds only its random id and an
HMAC of the id under the server's secret key (``secret_key.py``, never in the
database). So a cookie cannot be made from the database's contents, and a
cookie replayed after sign-out finds no session.

* Forms of a session carry an HMAC of the session id (synchroniser token).
* The sign-in form, which has no session yet, carries an HMAC of a random
  nonce held in a cookie: a cookie planted by another site (cookies are shared
  by every port of a host) holds no nonce the attacker has a token for, unless
  he fetched a pair himself; that case is refused by the Origin check every
  console form gets (``auth.require_same_origin``).
* Over HTTPS both cookies are ``__Host-`` prefixed: a browser then accepts
  them only from this origin over TLS, so no other port or subdomain can
  plant one.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from ..secret_key import SecretKey

SESSION_COOKIE = "ciq_session"
SIGNIN_CSRF_COOKIE = "ciq_signin_csrf"
HOST_PREFIX = "__Host-"
SESSION_TTL_SECONDS = 12 * 3600
COOKIE_MAX = 200

_SESSION = "console-session"
_CSRF = "console-csrf"
_SIGNIN_CSRF = "console-signin-csrf"


@dataclass(frozen=True)
class CookieNames:
    session: str
    signin_csrf: str
    signin_path: str


def cookie_names(secure: bool) -> CookieNames:
    """Over HTTPS the ``__Host-`` names (which require ``Secure`` and ``Path=/``)."""
    if secure:
        return CookieNames(HOST_PREFIX + SESSION_COOKIE, HOST_PREFIX + SIGNIN_CSRF_COOKIE, "/")
    return CookieNames(SESSION_COOKIE, SIGNIN_CSRF_COOKIE, "/signin")


def session_cookie(key: SecretKey, session_id: str) -> str:
    """The cookie value of a session: its id and the id's signature."""
    return f"{session_id}.{key.sign(_SESSION, session_id)}"


def session_id_of(key: SecretKey, value: str | None) -> str | None:
    """The session id a cookie holds, if the server's key signed it."""
    if not value or len(value) > COOKIE_MAX:
        return None
    session_id, _, signature = value.partition(".")
    if not session_id or not key.verify(_SESSION, session_id, signature):
        return None
    return session_id


def csrf_token(key: SecretKey, session_id: str) -> str:
    """The CSRF token every form of this session must send back."""
    return key.sign(_CSRF, session_id)


def new_signin_nonce() -> str:
    return secrets.token_urlsafe(24)


def signin_csrf_token(key: SecretKey, nonce: str) -> str:
    """The sign-in form's CSRF token for the nonce in the browser's cookie."""
    return key.sign(_SIGNIN_CSRF, nonce)


def check_signin_csrf(key: SecretKey, nonce: str | None, sent: str | None) -> bool:
    return bool(nonce) and len(nonce or "") <= COOKIE_MAX and key.verify(_SIGNIN_CSRF, str(nonce), sent)


def check_csrf(key: SecretKey, session_id: str, sent: str | None) -> bool:
    return key.verify(_CSRF, session_id, sent)
