"""Console sessions and CSRF tokens, with no server-side state.

The session cookie holds ``token_id.expiry.nonce`` and an HMAC signature whose key
is derived from the token's stored SHA-256 digest (never the token itself). So:

* every worker process (and a restarted server) can verify it without a shared
  secret or a sessions table;
* revoking the API token ends its console sessions at once (the lookup fails);
* forging a cookie needs the digest, i.e. read access to the database.

CSRF tokens are an HMAC of the session nonce under the same key (synchroniser
token pattern). The sign-in form, which has no session yet, uses a double-submit
cookie instead.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

SESSION_COOKIE = "ciq_session"
SIGNIN_CSRF_COOKIE = "ciq_signin_csrf"
SESSION_TTL_SECONDS = 12 * 3600
_KEY_CONTEXT = b"chaosiq-console-session-v1"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def session_key(token_hash: str) -> bytes:
    """The signing key of every session of one token."""
    return hmac.new(token_hash.encode("ascii"), _KEY_CONTEXT, hashlib.sha256).digest()


def _sign(key: bytes, message: str) -> str:
    return _b64(hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest())


@dataclass(frozen=True)
class SessionData:
    """What a verified cookie says."""

    token_id: str
    expires: int
    nonce: str


def parse_cookie(value: str | None) -> SessionData | None:
    """Split a cookie without verifying it (verification needs the token digest)."""
    if not value or len(value) > 400:
        return None
    parts = value.split(".")
    if len(parts) != 4:
        return None
    token_id, expires, nonce, _sig = parts
    if not expires.isdigit() or not token_id or not nonce:
        return None
    return SessionData(token_id, int(expires), nonce)


def make_cookie(token_id: str, token_hash: str, now: float | None = None) -> str:
    """A fresh signed session cookie value for ``token_id``."""
    expires = int((now if now is not None else time.time()) + SESSION_TTL_SECONDS)
    body = f"{token_id}.{expires}.{secrets.token_urlsafe(16)}"
    return f"{body}.{_sign(session_key(token_hash), body)}"


def verify_cookie(value: str, token_hash: str, now: float | None = None) -> SessionData | None:
    """The session if ``value`` is signed for this token and not expired."""
    data = parse_cookie(value)
    if data is None:
        return None
    body, _, sig = value.rpartition(".")
    if not hmac.compare_digest(sig, _sign(session_key(token_hash), body)):
        return None
    if data.expires < (now if now is not None else time.time()):
        return None
    return data


def csrf_token(token_hash: str, nonce: str) -> str:
    """The CSRF token every form of this session must send back."""
    return _sign(session_key(token_hash), f"csrf:{nonce}")


def check_csrf(expected: str, sent: str | None) -> bool:
    return bool(sent) and hmac.compare_digest(expected, str(sent))


def new_signin_csrf() -> str:
    return secrets.token_urlsafe(24)
