"""A small stdlib proxy in front of the real chaosiq-server that can fail event posts."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests


class FailingProxy:
    """Forwards every request to ``upstream``; answers 500 to event posts while ``fail_events``.

    ``answers``: (status, headers) answered, one each, to the next event posts instead;
    ``drop_after_error``: after answering an error, close the connection unanswered when the
    next request comes on it (as a server that closes keep-alive connections after a 500).
    ``history``: (time, method, path, status) of every request.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.fail_events = True
        self.answers: list[tuple[int, dict[str, str]]] = []
        self.drop_after_error = False
        self.history: list[tuple[float, str, str, int]] = []
        self.failed = 0
        self.forwarded = 0
        proxy = self
        session = requests.Session()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                return

            def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                head = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}"]
                head += [f"{k}: {v}" for k, v in headers.items() if k.lower() not in ("content-length",
                         "transfer-encoding", "connection", "content-encoding")]  # fmt: skip
                self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path = self.path.split("?", 1)[0]
                if getattr(self, "drop_next", False):
                    proxy.history.append((time.monotonic(), self.command, path, 0))
                    self.close_connection = True  # closed without an answer
                    return
                is_event = self.command == "POST" and (
                    path.endswith("/events") or path.endswith("/events/batch")
                )
                if is_event and (proxy.answers or proxy.fail_events):
                    status, headers = proxy.answers.pop(0) if proxy.answers else (500, {})
                    proxy.failed += 1
                    proxy.history.append((time.monotonic(), self.command, path, status))
                    self._send(status, b'{"detail": "boom"}', {"Content-Type": "application/json", **headers})
                    self.drop_next = proxy.drop_after_error
                    return
                proxy.forwarded += 1
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")
                }
                resp = session.request(
                    self.command, proxy.upstream + self.path, data=body, headers=headers, timeout=10,
                    allow_redirects=False,
                )  # fmt: skip
                proxy.history.append((time.monotonic(), self.command, path, resp.status_code))
                self._send(resp.status_code, resp.content, dict(resp.headers))

            do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = _handle

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
