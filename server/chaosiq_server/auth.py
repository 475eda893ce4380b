"""Bearer-token authentication of API requests: the cached lookup and the request principal."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from fastapi import HTTPException, Request
from starlette.concurrency import run_in_threadpool

from .errors import StorageUnavailable
from .roles import VIEWER
from .store.tokens import Tokens, hash_token

log = logging.getLogger("chaosiq_server.auth")

CACHE_TTL_SECONDS = 1.0
CACHE_MAX_ENTRIES = 1024
MISSING = "missing bearer token (Authorization: Bearer <token>)"
INVALID = "invalid or revoked token"


@dataclass(frozen=True)
class Principal:
    token_id: str
    name: str
    teams: dict[str, str] = field(default_factory=dict)  # team id -> org id
    role: str = VIEWER  # chaosiq_server.roles

    def org_ids(self) -> set[str]:
        return set(self.teams.values())


class Authenticator:
    """Resolves a bearer token to a :class:`Principal`.

    Lookups are cached for ``CACHE_TTL_SECONDS`` (bounded size), so a revoked
    token stops working within a second without a query on every request.
    """

    def __init__(self, tokens: Tokens) -> None:
        self.tokens = tokens
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()

    def lookup(self, token: str) -> Principal | None:
        digest = hash_token(token)
        now = time.monotonic()
        hit = self._cache.get(digest)
        if hit is not None and hit[0] > now:
            return hit[1]
        principal = self._load(digest)
        with self._lock:
            if len(self._cache) >= CACHE_MAX_ENTRIES:
                self._cache.clear()
            self._cache[digest] = (now + CACHE_TTL_SECONDS, principal)
        return principal

    def cached(self, token: str) -> Principal | None:
        """The principal if the cache holds a fresh, valid entry; None otherwise
        (unknown to the cache, expired, or a bad token: let :meth:`lookup` decide)."""
        hit = self._cache.get(hash_token(token))
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        return None

    def _load(self, digest: str) -> Principal | None:
        info = self.tokens.live_by_hash(digest)
        if info is None:
            return None
        self.touch(info.id, info.last_used_at)
        teams = {t.team_id: t.org_id for t in info.teams}
        return Principal(token_id=info.id, name=info.name, teams=teams, role=info.role)

    def touch(self, token_id: str, last_used_at: str | None) -> None:
        """``last_used_at`` on a lookup (at most one a second per token: the cache) and on a
        console sign-in, written at most once a minute (``Tokens.touch``); a database that
        cannot write now only leaves it older."""
        try:
            self.tokens.touch(token_id, last_used_at)
        except StorageUnavailable as exc:
            log.warning("last use of token %s not recorded: %s", token_id, exc.detail)

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status_code=401, detail=detail, headers={"WWW-Authenticate": 'Bearer realm="chaosiq"'}
    )


def authenticate(request: Request) -> Principal:
    """The request's principal, or 401 (blocking: may query the database)."""
    token = bearer_token(request)
    if token is None:
        raise unauthorized(MISSING)
    principal = request.app.state.auth.lookup(token)
    if principal is None:
        raise unauthorized(INVALID)
    return principal


async def authenticated(request: Request) -> Principal:
    """:func:`authenticate` for the event loop (the API's dependency): a token in the
    cache costs no thread hop; otherwise the lookup runs in the thread pool."""
    token = bearer_token(request)
    if token is None:
        raise unauthorized(MISSING)
    auth: Authenticator = request.app.state.auth
    principal = auth.cached(token)
    if principal is None:
        principal = await run_in_threadpool(auth.lookup, token)
    if principal is None:
        raise unauthorized(INVALID)
    return principal
