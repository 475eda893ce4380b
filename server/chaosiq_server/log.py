"""Logging setup: one line per request, text or JSON lines."""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from datetime import datetime, timezone
from typing import IO

ACCESS_LOGGER = "chaosiq_server.access"
FLUSH_INTERVAL = 0.2


class BufferedStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that does not flush after every record.

    One access-log line per request would otherwise cost one ``write`` system
    call per request. Access lines reach the stream at most ``FLUSH_INTERVAL``
    seconds later (a daemon thread flushes); every other line (start-up,
    shutdown, warnings) at once. The app's lifespan calls :func:`flush_logs`
    when it shuts down: uvicorn re-raises SIGTERM/SIGINT after a graceful
    shutdown, so the process dies by the signal and ``atexit`` never runs.
    """

    def __init__(self, stream: IO[str]) -> None:
        super().__init__(stream)
        self._closed = threading.Event()
        threading.Thread(target=self._flusher, name="log-flush", daemon=True).start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.stream.write(self.format(record) + self.terminator)
            if record.levelno >= logging.WARNING or record.name != ACCESS_LOGGER:
                self.stream.flush()
        except RecursionError:  # pragma: no cover - as logging.StreamHandler
            raise
        except Exception:  # pragma: no cover
            self.handleError(record)

    def _flusher(self) -> None:
        while not self._closed.wait(FLUSH_INTERVAL):
            self.flush()

    def close(self) -> None:
        self._closed.set()
        self.flush()
        super().close()


def flush_logs() -> None:
    """Write out buffered log lines now (called at shutdown)."""
    for name in ("chaosiq_server", "uvicorn"):
        for handler in logging.getLogger(name).handlers:
            handler.flush()


def _stderr_handler() -> logging.Handler:
    try:
        fd = os.dup(sys.stderr.fileno())
    except (AttributeError, OSError, ValueError):  # no real stderr (captured): write through
        return logging.StreamHandler(sys.stderr)
    stream = open(fd, "w", buffering=1 << 16, encoding="utf-8", errors="backslashreplace")  # noqa: SIM115
    return BufferedStreamHandler(stream)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        extra = getattr(record, "request", None)
        if isinstance(extra, dict):
            payload.update(extra)
        if record.exc_info:
            payload["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(payload, ensure_ascii=False)


def setup_logging(fmt: str = "text", level: int = logging.INFO) -> None:
    handler = _stderr_handler()
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("chaosiq_server")
    for old in root.handlers:  # a second setup (uvicorn's app factory in the same process)
        if isinstance(old, BufferedStreamHandler):
            old.close()
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    for name in ("uvicorn", "uvicorn.error"):
        lg = logging.getLogger(name)
        lg.handlers[:] = [handler]
        lg.setLevel(level)  # "Uvicorn running on …", "Shutting down", …
        lg.propagate = False
    logging.getLogger("uvicorn.access").disabled = True
