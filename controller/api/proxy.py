"""A streaming reverse proxy from an ASGI server to the controller's API on a Unix socket.

Used by the front process (``controller.api.front``) for every request it does not answer
itself. Bodies stream both ways in chunks (an upload of tens of megabytes is never held in
memory); the status, headers and body of the answer reach the client unchanged. httpx is
imported here only.

Hop-by-hop headers (RFC 9110 section 7.6.1) are dropped in both directions; the original
``Host`` is kept, and the client's address goes along as ``X-Forwarded-For``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx

log = logging.getLogger(__name__)

HOP_BY_HOP = frozenset({b"connection", b"keep-alive", b"proxy-authenticate",
                        b"proxy-authorization", b"proxy-connection", b"te", b"trailer",
                        b"transfer-encoding", b"upgrade"})
# The front's own server writes these on every answer; the controller's would make two of each.
SERVER_WRITTEN = frozenset({b"date", b"server"})
# A device probe that times out, an upload decoded by ffmpeg or a firmware image on a slow
# SD card can take a while; a request that takes longer than this is broken, not slow.
UPSTREAM_TIMEOUT_S = 300.0
UPSTREAM_CONNECT_TIMEOUT_S = 5.0


class ClientGone(Exception):
    """The client disconnected while its request body was being forwarded."""


def error_body(code: str, message: str) -> bytes:
    """The API's one error shape (controller.api.errors: ``ErrorPublic``), for the answers the
    front gives itself. Written out here so that the front does not import pydantic and the
    API's models (about 10 MiB of its memory)."""
    return json.dumps({"error": {"code": code, "message": message}},
                      ensure_ascii=False, separators=(",", ":")).encode()


async def send_bytes(send: Any, status: int, body: bytes, *,
                     headers: list[tuple[bytes, bytes]] | None = None,
                     content_type: bytes = b"application/json") -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type),
                            (b"content-length", str(len(body)).encode()), *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


class UpstreamProxy:
    """Forwards ASGI HTTP requests to ``socket_path`` (the controller's own uvicorn)."""

    def __init__(self, socket_path: str) -> None:
        self.client = httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport(uds=socket_path),
            # The authority is ignored on a Unix socket; each request carries the client's Host.
            base_url="http://communectl",
            timeout=httpx.Timeout(UPSTREAM_TIMEOUT_S, connect=UPSTREAM_CONNECT_TIMEOUT_S))
        self.failures = 0

    async def aclose(self) -> None:
        await self.client.aclose()

    async def get(self, path: str, headers: dict[str, str]) -> httpx.Response:
        """A small GET of the front's own (the status mirror's refresh), read whole."""
        return await self.client.get(path, headers=headers)

    async def forward(self, scope: dict[str, Any], receive: Any, send: Any) -> int:
        """Forward one request and stream its answer back; returns the status sent."""
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in HOP_BY_HOP]
        if scope.get("client"):
            headers.append((b"x-forwarded-for", scope["client"][0].encode()))
        has_body = any((k == b"content-length" and v.strip() not in (b"", b"0"))
                       or k == b"transfer-encoding" for k, v in scope["headers"])
        raw_path = scope.get("raw_path") or scope["path"].encode()
        url = httpx.URL(raw_path.decode("latin-1") + (
            "?" + scope["query_string"].decode("latin-1") if scope["query_string"] else ""))
        request = self.client.build_request(
            scope["method"], url, headers=headers,
            content=_request_body(receive) if has_body else None)
        try:
            response = await self.client.send(request, stream=True)
        except ClientGone:
            return 499  # nobody to answer (nginx's name for it)
        except httpx.HTTPError as exc:
            self.failures += 1
            log.warning("api: the controller did not answer %s %s: %s", scope["method"],
                        scope["path"], exc)
            await send_bytes(send, 503, error_body(
                "unavailable", "the controller is not answering; try again in a moment"),
                headers=[(b"retry-after", b"2")])
            return 503
        try:
            await send({"type": "http.response.start", "status": response.status_code,
                        "headers": [(k, v) for k, v in response.headers.raw
                                    if k.lower() not in HOP_BY_HOP | SERVER_WRITTEN]})
            async for chunk in response.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        except httpx.HTTPError as exc:
            # The status line is out: all that can be done is to cut the answer short, which
            # the client sees as a truncated body rather than a complete wrong one.
            log.warning("api: answer to %s %s cut short: %s", scope["method"], scope["path"],
                        exc)
            raise
        finally:
            await response.aclose()
        return response.status_code


async def _request_body(receive: Any) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        if message.get("body"):
            yield message["body"]
        if not message.get("more_body", False):
            return
