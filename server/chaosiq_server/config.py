"""Runtime settings of the server, read from CLI flags or the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from platformdirs import user_data_dir

ENV_DATABASE_URL = "CHAOSIQ_SERVER_DATABASE_URL"
ENV_MAX_BODY_SIZE = "CHAOSIQ_SERVER_MAX_BODY_SIZE"
ENV_RESPONSE_DELAY_MS = "CHAOSIQ_SERVER_RESPONSE_DELAY_MS"
ENV_LOG_FORMAT = "CHAOSIQ_SERVER_LOG_FORMAT"
# prometheus-client's multiprocess mode (metrics.py; serve sets it for --workers > 1)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

DEFAULT_MAX_BODY_SIZE = 10 * 1024 * 1024


def default_database_url() -> str:
    """The SQLite file under the user's data directory (created on demand)."""
    path = Path(user_data_dir("chaosiq-server", appauthor=False)) / "chaosiq.db"
    return f"sqlite:///{path}"


def database_url_from_env() -> str:
    return os.environ.get(ENV_DATABASE_URL) or default_database_url()


@dataclass(frozen=True)
class Settings:
    database_url: str
    max_body_size: int = DEFAULT_MAX_BODY_SIZE
    response_delay_ms: float = 0.0
    log_format: str = "text"
    # The console's signing key; None: CHAOSIQ_SERVER_SECRET_KEY or the key file (secret_key.py).
    # Never passed on through to_env().
    secret_key: str | None = None

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            database_url=database_url_from_env(),
            max_body_size=int(os.environ.get(ENV_MAX_BODY_SIZE) or DEFAULT_MAX_BODY_SIZE),
            response_delay_ms=float(os.environ.get(ENV_RESPONSE_DELAY_MS) or 0),
            log_format=os.environ.get(ENV_LOG_FORMAT) or "text",
        )

    def to_env(self) -> dict[str, str]:
        return {
            ENV_DATABASE_URL: self.database_url,
            ENV_MAX_BODY_SIZE: str(self.max_body_size),
            ENV_RESPONSE_DELAY_MS: str(self.response_delay_ms),
            ENV_LOG_FORMAT: self.log_format,
        }
