"""Request bodies: JSON only, bounded, and parsed strictly.

Checked in this order, before who sends the request (the framing of a request is judged before
its credentials, as an HTTP server would): size (413), JSON syntax (400), media type (415);
then the token (401, 403); then the content (422).

The size limit is our own middleware rather than FastAPI's ``max_body_size``: Starlette's
limiter answers a too-large declared ``Content-Length`` with a plain-text 413 of its own,
replacing any response of ours, and every error here must be JSON.

Parsing uses pydantic-core instead of ``json.loads``: it refuses what ``json.loads`` lets
through and the rest of the controller cannot store or use (a lone UTF-16 surrogate such as
``"\\ud800"``, which makes the UTF-8 encoding of the storage file fail; ``NaN``; nesting deep
enough to exhaust the stack), and it is faster.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import pydantic_core
from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from controller.http.errors import ApiError, error_response
from controller.http.limits import BodyLimits, too_large_message

_JSON_TYPES = ("application/json",)


class StrictJsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            try:
                self._json = pydantic_core.from_json(await self.body(), allow_inf_nan=False)
            except ValueError as exc:
                raise ApiError(400, f"the body is not valid JSON: {exc}",
                               code="malformed_json") from exc
        return self._json


class StrictJsonRoute(APIRoute):
    """An APIRoute whose handlers parse JSON bodies with ``StrictJsonRequest``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict_handler(request: Request) -> Response:
            return await handler(StrictJsonRequest(request.scope, request.receive))

        return strict_handler


def json_router(**kwargs: Any) -> APIRouter:
    """An APIRouter for JSON endpoints. Each router of the API needs it: a parent router's
    ``route_class`` does not reach the routes of the routers it includes."""
    return APIRouter(route_class=StrictJsonRoute, **kwargs)


class BodyLimitMiddleware:
    """413 for a body over its limit (controller.http.limits): at once when the declared
    ``Content-Length`` is too large, else when the bytes received pass the limit."""

    def __init__(self, app: ASGIApp, *, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.for_path(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if self.limits.declared_too_large(scope["path"], declared) is not None:
            await error_response(413, "too_large", too_large_message(limit))(
                scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                # Raised inside FastAPI's body read, which passes HTTPExceptions on.
                raise ApiError(413, too_large_message(limit))
            return message

        await self.app(scope, limited_receive, send)


async def require_json_body(request: Request) -> None:
    """415 for a body that is not JSON. FastAPI would pass it on as bytes and answer 422
    "not a valid dictionary", which hides that the media type is what is wrong."""
    if not _has_body(request):
        return
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in _JSON_TYPES and not media_type.endswith("+json"):
        raise ApiError(415, f"send the body as application/json, not "
                            f"{media_type or 'without a Content-Type'}")


def _has_body(request: Request) -> bool:
    length = request.headers.get("content-length")
    return (length is not None and length.strip() != "0") or \
        "transfer-encoding" in request.headers
