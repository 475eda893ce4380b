"""CloudEvents in HTTP *binary* content mode, turned into the structured mode the API stores.

In binary mode (CloudEvents HTTP protocol binding 1.0, §3.1) the attributes
travel as ``ce-*`` headers, ``Content-Type`` is the event's
``datacontenttype`` and the body is its ``data``. It is what the CloudEvents
SDKs send by default (``to_binary``); chaosiq itself sends structured events.
:class:`BinaryModeEvents` rewrites such a ``POST …/events`` into the
equivalent structured request before the app sees it, so the one route
validates and stores both, and every answer is that route's own.
"""

from __future__ import annotations

import base64
import re
from typing import Any
from urllib.parse import unquote

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from .middleware import read_body, replay_body

STRUCTURED_CONTENT_TYPE = b"application/cloudevents+json"
_PREFIX = b"ce-"


def is_binary(scope: dict[str, Any]) -> bool:
    """The request carries its event in binary mode (a ``ce-specversion`` header)."""
    return any(name == b"ce-specversion" for name, _ in scope["headers"])


def _is_json(content_type: str | None, body: bytes) -> bool:
    if content_type is None:  # no datacontenttype: JSON if it parses as JSON
        try:
            orjson.loads(body)
        except orjson.JSONDecodeError:
            return False
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return media in ("application/json", "text/json") or media.endswith("+json")


def to_structured(scope: dict[str, Any], body: bytes) -> tuple[dict[str, Any], bytes]:
    """The scope and body of the same event in structured mode (JSON).

    Header values are percent-decoded (§3.1.3.2); an attribute sent twice is
    written twice (the app refuses it, as any key twice). JSON data is spliced into
    the event as it came (malformed JSON makes the whole event malformed: the
    app then answers 422); other data is kept as a string when it is UTF-8
    text, else as ``data_base64``.
    """
    # Pairs, not a dict: an attribute sent twice stays twice, and the structured
    # event then has a key twice, which the API refuses (one rule for both modes).
    attributes: list[tuple[str, str]] = []
    content_type: str | None = None
    headers = []
    for name, value in scope["headers"]:
        if name.startswith(_PREFIX) and len(name) > len(_PREFIX):
            attributes.append((name[len(_PREFIX) :].decode("latin-1"), unquote(value.decode("latin-1"))))
            continue
        if name == b"content-type":
            if content_type is not None:
                attributes.append(("datacontenttype", content_type))
            content_type = value.decode("latin-1")  # the data's; the request's is set below
        elif name != b"content-length":
            headers.append((name, value))
    if content_type is not None:
        attributes.append(("datacontenttype", content_type))
    event = b"{" + b",".join(orjson.dumps(k) + b":" + orjson.dumps(v) for k, v in attributes) + b"}"
    if body:
        if _is_json(content_type, body):
            member = b'"data":' + body
        else:
            try:
                member = orjson.dumps({"data": body.decode("utf-8")})[1:-1]
            except UnicodeDecodeError:
                member = orjson.dumps({"data_base64": base64.b64encode(body).decode("ascii")})[1:-1]
        event = event[:-1] + (b"," if attributes else b"") + member + b"}"
    headers.append((b"content-type", STRUCTURED_CONTENT_TYPE))
    return {**scope, "headers": headers}, event


EVENTS_PATH = re.compile(
    r"^/api/v1/organizations/[^/]+/teams/[^/]+/experiments/[^/]+/executions/[^/]+/events$"
)


class BinaryModeEvents:
    """ASGI middleware: a binary-mode ``POST …/events`` reaches the app as the structured event."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not is_binary(scope)
            or EVENTS_PATH.match(scope["path"]) is None
        ):
            await self.app(scope, receive, send)
            return
        body = await read_body(receive)
        if body is None:
            return  # the client went away
        structured, event = to_structured(scope, body)
        try:
            await self.app(structured, replay_body(event, receive), send)
        finally:
            if "route" in structured:  # the route that answered, for the metrics (metrics.py)
                scope["route"] = structured["route"]
