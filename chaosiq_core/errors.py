"""The exceptions of chaosiq. Each carries one clear, user-facing line."""

from __future__ import annotations


class ChaosIQError(Exception):
    """Base of every chaosiq error; ``str(err)`` is the line shown to the user."""

    exit_code = 1


class UsageError(ChaosIQError):
    """The user asked for something that does not exist (exit 2)."""

    exit_code = 2


class SettingsError(ChaosIQError):
    """The settings file is missing, unreadable or malformed."""


class ApiError(ChaosIQError):
    """A call to the ChaosIQ server failed."""

    def __init__(
        self, message: str, status: int | None = None, retry_after: float | None = None, detail: str = ""
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after
        """Seconds the server asked to wait before trying again (its ``Retry-After``)."""
        self.detail = detail
        """The answer's ``detail`` (chaosiq-server: ``execution not found``, say), or ``""``."""


class AuthError(ApiError):
    """The server refused the token (401/403)."""


class UnreachableError(ApiError):
    """The server could not be reached or did not answer in time."""


class DroppedError(UnreachableError):
    """The server closed the connection before answering (a keep-alive connection it had
    closed, e.g. after a 500): worth one more try on a new connection."""


class TLSError(ApiError):
    """The server's TLS certificate could not be verified."""


class InsecureURLError(ChaosIQError):
    """A token would be sent over plain HTTP to a host that is not loopback."""
