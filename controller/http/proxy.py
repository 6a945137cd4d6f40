"""A streaming reverse proxy from an ASGI server to the controller's API on a Unix socket.

Used by the front process (``controller.http.front``) for every request it does not answer
itself. Bodies stream both ways in chunks (an upload of tens of megabytes is never held in
memory); the status, headers and body of the answer reach the client unchanged. httpx is
imported here only.

- Hop-by-hop headers (RFC 9110 section 7.6.1) are dropped both ways, and ``Expect``: the
  front's own server has already answered ``100 Continue`` when the body is read. The original
  ``Host`` is kept; the client's address goes along as ``X-Forwarded-For``.
- The path goes on as sent. One with dot segments (``/a/../b``), which the HTTP client would
  resolve, is refused with 400 rather than sent somewhere else than the client asked.
- One upstream connection per client request at most, with no pool limit: a slow client holds
  its own connection, never the others' (a bounded pool let 100 slow uploads block the API).
- A client that stops sending its body for ``BODY_IDLE_TIMEOUT_S`` gets 408.
- An answer without a length (a stream: a live talk to a field node, a talk's events) is
  dropped upstream as soon as its client goes away: the ASGI server only tells of it through
  ``receive()``, and its ``send`` would otherwise keep taking chunks for nobody until the
  stream ends on its own.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpcore
import httpx

log = logging.getLogger(__name__)

HOP_BY_HOP = frozenset({b"connection", b"keep-alive", b"proxy-authenticate",
                        b"proxy-authorization", b"proxy-connection", b"te", b"trailer",
                        b"transfer-encoding", b"upgrade"})
NOT_FORWARDED = HOP_BY_HOP | {b"expect"}
# The front's own server writes these on every answer; the controller's would make two of each.
NOT_RETURNED = HOP_BY_HOP | {b"date", b"server"}
# A device probe that times out or an upload decoded by ffmpeg on a Raspberry Pi can take a
# while; an answer that takes longer than this is not coming.
UPSTREAM_TIMEOUT_S = 120.0
UPSTREAM_CONNECT_TIMEOUT_S = 5.0
BODY_IDLE_TIMEOUT_S = 30.0


class ClientGone(Exception):
    """The client disconnected while its request body was being forwarded."""


class ClientTooSlow(Exception):
    """The client sent nothing of its body for ``BODY_IDLE_TIMEOUT_S``."""


def has_body(headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether an ASGI request's headers announce a body."""
    return any(k == b"transfer-encoding"
               or (k == b"content-length" and v.strip() not in (b"", b"0"))
               for k, v in headers)


def error_body(code: str, message: str) -> bytes:
    """The API's one error shape (controller.http.errors: ``ErrorPublic``), for the answers the
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


async def send_unavailable(send: Any) -> None:
    await send_bytes(send, 503, error_body(
        "unavailable", "the controller is not answering; try again in a moment"),
        headers=[(b"retry-after", b"2")])


class PlainUnixTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over a Unix socket, plain HTTP only, without a TLS context:
    ``AsyncHTTPTransport`` makes one whatever the URL, and OpenSSL's set-up and CA bundle are
    about 5 MiB of the front's memory. Unlimited connections (see above)."""

    def __init__(self, uds: str, *, max_keepalive_connections: int) -> None:
        # Not super().__init__: that is where the TLS context is made. The pool is what the
        # transport's requests and close use (httpx/_transports/default.py).
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=None, max_connections=None,
            max_keepalive_connections=max_keepalive_connections,
            keepalive_expiry=httpx.Limits().keepalive_expiry, uds=uds)


class UpstreamProxy:
    """Forwards ASGI HTTP requests to ``socket_path`` (the controller's own uvicorn); a path
    starting with "@" is a Linux abstract socket name."""

    def __init__(self, socket_path: str, *,
                 body_idle_timeout_s: float = BODY_IDLE_TIMEOUT_S) -> None:
        uds = "\0" + socket_path[1:] if socket_path.startswith("@") else socket_path
        self.client = httpx.AsyncClient(
            transport=PlainUnixTransport(uds, max_keepalive_connections=20),
            # The authority is ignored on a Unix socket; each request carries the client's Host.
            base_url="http://communectl",
            trust_env=False,  # no HTTP_PROXY or .netrc for a socket of our own
            timeout=httpx.Timeout(UPSTREAM_TIMEOUT_S, connect=UPSTREAM_CONNECT_TIMEOUT_S))
        self.body_idle_timeout_s = body_idle_timeout_s
        self.answering = True

    async def aclose(self) -> None:
        await self.client.aclose()

    async def get(self, path: str, headers: dict[str, str], *, timeout_s: float) -> httpx.Response:
        """A small GET of the front's own (the status mirror's refresh), read whole."""
        return await self.client.get(path, headers=headers, timeout=timeout_s)

    async def forward(self, scope: dict[str, Any], receive: Any, send: Any, *,
                      on_status: Callable[[int], None] | None = None) -> int:
        """Forward one request and stream its answer back; returns the status sent.
        ``on_status`` hears the controller's status before the client gets a byte of it."""
        raw_path = scope.get("raw_path") or scope["path"].encode()
        target = raw_path + (b"?" + scope["query_string"] if scope["query_string"] else b"")
        if any(segment in (b".", b"..") for segment in raw_path.split(b"/")):
            await send_bytes(send, 400, error_body(
                "bad_request", "the path must not contain '.' or '..' segments"))
            return 400
        url = self.client.base_url.copy_with(raw_path=target)
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in NOT_FORWARDED]
        if scope.get("client"):
            headers.append((b"x-forwarded-for", scope["client"][0].encode()))
        request = self.client.build_request(
            scope["method"], url, headers=headers,
            content=self._request_body(receive) if has_body(scope["headers"]) else None)
        try:
            response = await self.client.send(request, stream=True)
        except ClientGone:
            return 499  # nobody to answer (nginx's name for it)
        except ClientTooSlow:
            await send_bytes(send, 408, error_body(
                "timeout", f"no part of the body came for {self.body_idle_timeout_s:.0f} s"),
                headers=[(b"connection", b"close")])
            return 408
        except httpx.HTTPError as exc:
            if self.answering:  # once when it stops answering, once when it is back
                log.warning("api: no answer from the controller to %s %s: %r",
                            scope["method"], scope["path"], exc)
            self.answering = False
            await send_unavailable(send)
            return 503
        if not self.answering:
            log.info("api: the controller answers again")
            self.answering = True
        try:
            if on_status is not None:
                on_status(response.status_code)
            await send({"type": "http.response.start", "status": response.status_code,
                        "headers": [(k, v) for k, v in response.headers.raw
                                    if k.lower() not in NOT_RETURNED]})
            if b"content-length" in (k.lower() for k, _ in response.headers.raw):
                await _pump(response, send)
            elif not await _pump_while_connected(response, send, receive):
                return 499  # the client went away (the upstream is closed below)
            await send({"type": "http.response.body", "body": b""})
        except httpx.HTTPError as exc:
            # The status line is out: all that can be done is to cut the answer short, which
            # the client sees as a truncated body rather than a complete wrong one.
            log.warning("api: answer to %s %s cut short: %r", scope["method"], scope["path"],
                        exc)
            raise
        finally:
            await response.aclose()
        return response.status_code

    async def _request_body(self, receive: Any) -> AsyncIterator[bytes]:
        while True:
            try:
                async with asyncio.timeout(self.body_idle_timeout_s):
                    message = await receive()
            except TimeoutError:
                raise ClientTooSlow from None
            if message["type"] == "http.disconnect":
                raise ClientGone
            if message.get("body"):
                yield message["body"]
            if not message.get("more_body", False):
                return


async def _pump(response: httpx.Response, send: Any) -> None:
    async for chunk in response.aiter_raw():
        await send({"type": "http.response.body", "body": chunk, "more_body": True})


async def _pump_while_connected(response: httpx.Response, send: Any, receive: Any) -> bool:
    """The answer's chunks until it ends (True) or its client goes away (False)."""
    pumping = asyncio.create_task(_pump(response, send))
    gone = asyncio.create_task(_disconnected(receive))
    try:
        await asyncio.wait({pumping, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
        if not pumping.done():
            pumping.cancel()
        await asyncio.gather(pumping, gone, return_exceptions=True)
    if pumping.cancelled():
        return False
    pumping.result()  # an upstream error propagates as it did
    return True


async def _disconnected(receive: Any) -> None:
    """Returns when the client has gone (the request's body, if any, is read by then)."""
    while (await receive())["type"] != "http.disconnect":
        pass
