"""The route class of every API router: JSON request bodies are read by :mod:`..strict_json`.

FastAPI reads a JSON body with ``await request.json()``; this route hands the
endpoint a request whose ``json()`` applies the server's rules, so every
endpoint (and any added later to these routers) reads bodies the same way:
malformed JSON → 400 (FastAPI's own answer), a rule broken → 422.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.routing import APIRoute

from ..strict_json import JsonRefused, parse

_UNSET = object()


class StrictJsonRequest(Request):
    async def json(self) -> Any:
        if getattr(self, "_strict_json", _UNSET) is _UNSET:
            try:
                self._strict_json = parse(await self.body())
            except JsonRefused as exc:
                raise HTTPException(422, f"JSON body refused: {exc}") from exc
        return self._strict_json


class JsonRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(StrictJsonRequest(request.scope, request.receive))

        return strict
