"""The HTTP client of the ChaosIQ API.

One pooled, keep-alive :class:`requests.Session` per process; every call has a
connect and a read timeout; idempotent requests (and any request that never
reached the server) are retried with backoff on connection errors and on
429/502/503/504, honouring ``Retry-After`` (urllib3's ``Retry``). The bearer
token is attached only to requests for the host it was stored for, never over
plain HTTP to a host that is not loopback unless the user opted in, and never
appears in a log line or an error message. Failures become one
:class:`~chaosiq_core.errors.ApiError` with a clear message.
"""

from __future__ import annotations

import copy
import ipaddress
import logging
import os
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlparse

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from chaosiq_core import __version__
from chaosiq_core import settings as s
from chaosiq_core.errors import (
    ApiError,
    AuthError,
    DroppedError,
    InsecureURLError,
    TLSError,
    UnreachableError,
)
from chaosiq_core.types import Scope

if TYPE_CHECKING:  # pragma: no cover
    from chaosiq_core.hooks import Hooks

logger = logging.getLogger("chaostoolkit.chaosiq.api")

USER_AGENT = f"chaosiq-core/{__version__} (+https://github.com/chaosiq; requests/{requests.__version__})"
DEFAULT_TIMEOUT: tuple[float, float] = (3.05, 10.0)
"""(connect, read) seconds for every call unless a caller asks otherwise."""

TIMEOUT_ENV = "CHAOSIQ_HTTP_TIMEOUT"
"""Seconds to wait for the server's answer (read timeout; the connect timeout is at most this)."""


def default_timeout() -> tuple[float, float]:
    """:data:`DEFAULT_TIMEOUT`, or ``CHAOSIQ_HTTP_TIMEOUT`` seconds when set to a positive number."""
    raw = os.environ.get(TIMEOUT_ENV, "").strip()
    try:
        value = float(raw) if raw else 0.0
    except ValueError:
        logger.warning("ignoring %s=%r: not a number of seconds", TIMEOUT_ENV, raw)
        value = 0.0
    if value <= 0:
        return DEFAULT_TIMEOUT
    return (min(DEFAULT_TIMEOUT[0], value), value)


_session: requests.Session | None = None
_session_lock = threading.Lock()


def _retry() -> Retry:
    return Retry(
        total=3,
        connect=3,
        read=2,
        status=3,
        backoff_factor=0.2,
        status_forcelist=(429, 502, 503, 504),
        allowed_methods=frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"}),
        respect_retry_after_header=True,
        raise_on_status=False,
    )


def new_session(*, retries: bool = True, pool_maxsize: int = 8) -> requests.Session:
    """A keep-alive session with chaosiq's headers; ``retries=False`` leaves retrying to the caller.

    The environment is honoured as by any requests-based tool (``HTTPS_PROXY``,
    ``NO_PROXY``, ``REQUESTS_CA_BUNDLE``): users behind a proxy or a private CA
    can reach their server. The token is still only ever attached to requests
    for its own host (:class:`_HostBoundBearer`), which also keeps ``.netrc``
    credentials from replacing it.
    """
    s = requests.Session()
    adapter = HTTPAdapter(
        max_retries=_retry() if retries else 0, pool_connections=4, pool_maxsize=pool_maxsize
    )
    s.mount("http://", adapter)
    s.mount("https://", adapter)
    s.headers["User-Agent"] = USER_AGENT
    s.headers["Accept"] = "application/json"
    return s


def shared_session() -> requests.Session:
    """The process-wide keep-alive session with retries (created on first use)."""
    global _session
    with _session_lock:
        if _session is None:
            _session = new_session()
        return _session


def is_loopback(host: str) -> bool:
    """``True`` for localhost and the loopback ranges."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def normalize_url(url: str) -> str:
    """``scheme://host[:port]`` of a server URL; raises :class:`ApiError` when malformed."""
    parsed = urlparse(url.strip())
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ApiError(
            f"'{url}' is not a server URL: give it with its scheme, e.g. https://chaosiq.example.com"
        )
    return f"{parsed.scheme}://{parsed.netloc}"


class _HostBoundBearer(requests.auth.AuthBase):
    """Adds the bearer token only when the request goes to ``netloc``."""

    def __init__(self, token: str, netloc: str) -> None:
        self._token = token
        self._netloc = netloc

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        if urlparse(r.url or "").netloc == self._netloc:
            r.headers["Authorization"] = f"Bearer {self._token}"
        return r

    def __repr__(self) -> str:  # never show the token
        return f"<bearer token for {self._netloc}>"


class ApiClient:
    """A client for one ChaosIQ server, optionally scoped to an organization/team."""

    def __init__(
        self,
        url: str,
        token: str | None = None,
        *,
        verify_tls: bool = True,
        scope: Scope | None = None,
        timeout: tuple[float, float] | None = None,
        allow_insecure_http: bool = False,
        session: requests.Session | None = None,
    ) -> None:
        self.url = normalize_url(url)
        parsed = urlparse(self.url)
        self.netloc = parsed.netloc
        if (
            token
            and parsed.scheme == "http"
            and not is_loopback(parsed.hostname or "")
            and not allow_insecure_http
        ):
            raise InsecureURLError(
                f"refusing to send your token over plain HTTP to {self.netloc}: "
                "use https, or sign in with --insecure to allow it for this host"
            )
        self.verify_tls: bool | str = verify_tls
        """``verify=`` of every request: a flag, or a CA bundle path (see :meth:`_pin_environment`)."""
        self.scope = scope
        self.timeout = timeout if timeout is not None else default_timeout()
        self.session = session or shared_session()
        self._auth = _HostBoundBearer(token, self.netloc) if token else None
        self._capabilities: frozenset[str] | None = None

    @classmethod
    def for_settings(
        cls,
        settings: dict[str, Any],
        hooks: Hooks,
        *,
        url: str | None = None,
        scope: Scope | None = None,
        verify_tls: bool | None = None,
    ) -> ApiClient | None:
        """The client of the settings' server, or of ``url``; ``None`` when there is neither.

        The token is what the ``chaosiq_token`` hooks give for that server; the team is
        ``scope``, else the ``chaosiq_api_scope`` hooks'. TLS is verified unless ``verify_tls``
        is ``False`` or, for the settings' own server, the settings turn it off (``chaos signin
        --insecure``, which is also the user's consent to send the token over plain HTTP).
        """
        configured = s.get_url(settings)
        url = url or configured
        if not url:
            return None
        if verify_tls is None:
            verify_tls = (
                s.get_verify_tls(settings) if configured and s.host_of(configured) == s.host_of(url) else True
            )
        scope = scope or hooks.api_scope(settings)
        token = hooks.token(url, settings)
        return cls(url, token, verify_tls=verify_tls, scope=scope, allow_insecure_http=not verify_tls)

    @property
    def signed_in(self) -> bool:
        """The client carries a token."""
        return self._auth is not None

    def without_retries(self) -> ApiClient:
        """A copy of this client (same host, token, TLS choice, scope and timeouts) on a
        session of its own that never retries.

        For background workers that have their own backoff: urllib3's blocking
        retries would hold their single thread (up to ~1.2 s per refused
        connection) and delay the next attempt they would make anyway.
        """
        clone = copy.copy(self)
        clone.session = new_session(retries=False, pool_maxsize=4)
        clone._pin_environment()
        return clone

    def _pin_environment(self) -> None:
        """Resolve the proxy and CA-bundle variables for this client's one host once, as requests would."""
        env = self.session.merge_environment_settings(self.url, {}, None, self.verify_tls, None)
        self.session.trust_env = False
        self.session.proxies.update(env.get("proxies") or {})
        verify = env.get("verify")
        if self.verify_tls is True and isinstance(verify, str):
            self.verify_tls = verify  # REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE

    # -------------------------------------------------------------- URLs

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/v1"

    def api(self, path: str = "") -> str:
        """An absolute URL under ``/api/v1``."""
        return f"{self.api_url}{path}"

    def team(self, path: str = "") -> str:
        """An absolute URL under the team base URL (requires a scope)."""
        if self.scope is None:
            raise ApiError("no default organization and team: run `chaos signin` (or `chaos team`)")
        if path and not path.startswith(("/", "?")):
            path = "/" + path  # "experiments" and "/experiments" are the same place
        return f"{self.api_url}{self.scope.path}{path}"

    def resolve(self, path: str) -> str:
        """Absolute URL for ``path``: absolute URLs of this host pass, ``/api/...``
        is server-relative, anything else is relative to the team base URL."""
        if path.startswith(("http://", "https://")):
            if urlparse(path).netloc != self.netloc:
                raise ApiError(f"refusing to call {urlparse(path).netloc}: not the ChaosIQ server")
            return path
        if path.startswith("/api/") or path == "/":
            return urljoin(self.url + "/", path.lstrip("/"))
        return self.team(path)

    def console_url(self, api_location: str) -> str:
        """The web console page of an API resource (``/api/v1/`` dropped)."""
        return api_location.replace("/api/v1/", "/", 1)

    # ---------------------------------------------------------- requests

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        timeout: tuple[float, float] | float | None = None,
        ok: tuple[int, ...] | None = None,
    ) -> requests.Response:
        """Send a request; return the response or raise one :class:`ApiError`.

        ``json`` is encoded by :func:`chaosiq_core.serialize.dumps` (orjson; what
        the standard encoder refuses, such as a ``datetime`` or NaN, is written
        as its string form or ``null`` instead of failing the request).

        :param ok: statuses accepted; by default every status below 400.
        """
        url = self.resolve(path)
        t = timeout if timeout is not None else self.timeout
        if json is not None and data is None:
            from chaosiq_core.serialize import dumps  # imported when first needed (startup time)

            data = dumps(json).encode("utf-8")
            headers = {"Content-Type": "application/json", **(headers or {})}
            json = None
        try:
            resp = self.session.request(
                method,
                url,
                json=json,
                data=data,
                headers=headers,
                timeout=t,
                verify=self.verify_tls,
                auth=self._auth,
                allow_redirects=False,
            )
        except requests.exceptions.SSLError:
            raise TLSError(
                f"the TLS certificate of {self.netloc} could not be verified "
                "(sign in with --insecure to trust it for this host)"
            ) from None
        except requests.exceptions.ConnectTimeout:
            raise UnreachableError(
                f"the ChaosIQ server at {self.url} did not accept a connection in time"
            ) from None
        except requests.exceptions.ReadTimeout:
            read = t[1] if isinstance(t, tuple) else t
            raise UnreachableError(
                f"the ChaosIQ server at {self.url} did not answer within {read:g} s"
            ) from None
        except requests.exceptions.RetryError:
            raise UnreachableError(
                f"the ChaosIQ server at {self.url} kept failing ({method} {_path(url)})"
            ) from None
        except requests.exceptions.ConnectionError as exc:
            if _timed_out_reading(exc):  # read timeouts retried until exhausted
                read = t[1] if isinstance(t, tuple) else t
                raise UnreachableError(
                    f"the ChaosIQ server at {self.url} did not answer within {read:g} s"
                ) from None
            if _dropped(exc):
                raise DroppedError(
                    f"the ChaosIQ server at {self.url} closed the connection before answering"
                ) from None
            raise UnreachableError(f"cannot reach the ChaosIQ server at {self.url}") from None
        except requests.exceptions.RequestException as exc:
            raise ApiError(f"request to {self.url} failed: {type(exc).__name__}") from None
        status = resp.status_code
        if ok is not None and status in ok:
            return resp
        if status in (401, 403):
            # a 403 says why (chaosiq-server: the token's role and what the request needs)
            why = _detail(resp) if status == 403 else ""
            if why and self._auth is not None and self._auth._token in why:
                why = why.replace(self._auth._token, "***")
            refused = f"the ChaosIQ server at {self.url} refused the token (HTTP {status}){why}"
            raise AuthError(refused, status)
        if ok is not None or status >= 400:
            detail = _detail(resp)
            message = f"{method} {_path(url)} failed: HTTP {status}{detail}"
            if self._auth is not None and self._auth._token in message:  # a server echoing it back
                message = message.replace(self._auth._token, "***")
            raise ApiError(message, status, _retry_after(resp), detail.removeprefix(": "))
        return resp

    def get_json(self, path: str, **kwargs: Any) -> Any:
        resp = self.request("GET", path, **kwargs)
        try:
            return resp.json()
        except ValueError:
            raise ApiError(f"GET {_path(self.resolve(path))}: the server did not answer JSON") from None

    def capabilities(self, *, timeout: tuple[float, float] | None = None) -> frozenset[str]:
        """API extensions this server offers (``GET /api/v1/capabilities``), asked once.

        A server that only speaks the original API answers 404: no extensions.
        Raises :class:`ApiError` when the server cannot be asked now (nothing is
        remembered then: the next call asks again).
        """
        if self._capabilities is None:
            resp = self.request("GET", "/api/v1/capabilities", ok=(200, 404, 405), timeout=timeout)
            try:
                body = resp.json() if resp.status_code == 200 else {}
                self._capabilities = frozenset(body.get("capabilities") or ())
            except (ValueError, AttributeError, TypeError):
                self._capabilities = frozenset()
        return self._capabilities

    def probe(self) -> None:
        """Check the token as the original signin did (``HEAD {console}``)."""
        self.request("HEAD", "/", timeout=(self.timeout[0], min(self.timeout[1], 5.0)))


def _timed_out_reading(exc: BaseException) -> bool:
    """``True`` when a requests ``ConnectionError`` wraps urllib3's exhausted read timeouts."""
    from urllib3.exceptions import MaxRetryError, ReadTimeoutError

    reason = exc.args[0] if exc.args else None
    return isinstance(reason, MaxRetryError) and isinstance(reason.reason, ReadTimeoutError)


def _dropped(exc: BaseException) -> bool:
    """``True`` when a requests ``ConnectionError`` says the connection was closed or reset
    after it was made (``RemoteDisconnected``, ``ECONNRESET``), not that none could be made."""
    from urllib3.exceptions import MaxRetryError, ProtocolError

    reason = exc.args[0] if exc.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    return isinstance(reason, (ProtocolError, ConnectionResetError))


def _retry_after(resp: requests.Response) -> float | None:
    """The ``Retry-After`` of an answer in seconds (a number, or an HTTP date), if any."""
    value = (resp.headers.get("Retry-After") or "").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    import email.utils
    import time

    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _path(url: str) -> str:
    return urlparse(url).path


def _detail(resp: requests.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        text = (resp.text or "").strip().splitlines()
        return f": {text[0][:200]}" if text else ""
    if isinstance(body, dict) and body.get("detail"):
        detail = body["detail"]
        if not isinstance(detail, str):
            detail = str(detail)[:200]
        return f": {detail}"
    return ""
