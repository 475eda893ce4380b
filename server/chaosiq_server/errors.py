"""Domain errors mapped to HTTP statuses by the app."""

from __future__ import annotations


class NotFound(Exception):
    """Unknown or foreign id (always 404, never 403)."""

    def __init__(self, what: str = "resource") -> None:
        super().__init__(f"{what} not found")
        self.detail = f"{what} not found"


class BadInput(Exception):
    """Input that parsed but makes no sense (422)."""

    def __init__(self, detail: str, status_code: int = 422) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status_code = status_code


class Conflict(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class StorageUnavailable(Exception):
    """The database cannot take writes (disk full, read-only, unreachable, or its
    file lost): 503 with ``Retry-After``, so clients keep what they sent and retry."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail
