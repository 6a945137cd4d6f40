"""The public HTTP listener, in a process of its own: ``python -m controller.http.front``.

Why a process: the API runs on the coordinators' own event loop (controller.app), and CPython
runs one thread at a time in a process anyway. With every request handled there, a phone
polling ``GET /status`` in a loop (or a dozen phones) holds that loop, and a relay transition
or the first sample of a broadcast waits for it (bench/api_load.py prints both variants: with
the API serving the port itself, transition lateness under /status load goes from a few
milliseconds to hundreds). Here:

- ``GET /api/v1/status``, what every dashboard polls, is answered from a mirror of the
  controller's own answer (``StatusMirror``);
- tokens are checked here, in the shared storage exactly as the controller checks them
  (controller.platform.tokens: a created or revoked token counts at once), so that requests
  without a live token, and bodies over their limit (controller.http.limits), never reach the
  controller;
- every other request goes unchanged to the full API, which listens on a Unix socket in the
  controller (``UpstreamProxy``), so there is one implementation of every endpoint, its roles and
  its errors.

The controller (controller.http.front_process) binds the public socket and hands it over as a file
descriptor, so a busy port is its clear error and the port stays open while this process
restarts. This process ends when its standard input closes: when the controller stops or dies;
it ignores SIGTERM and SIGINT. It imports neither FastAPI, pydantic nor the coordinators.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __name__ == "__main__":
    # In this process only, libraries that would import what they never use here: httpx its
    # command-line client (click, rich, pygments: about 5 MiB and a third of the start-up),
    # httpcore trio (about 4 MiB: it checks for trio whatever the event loop). A None in
    # sys.modules makes their import fail as it does where those are not installed, which
    # both expect.
    for _unused in ("httpx._main", "trio"):
        sys.modules.setdefault(_unused, None)  # type: ignore[arg-type]

import uvicorn

from controller.http import live_relay
from controller.http.limits import BodyLimits, too_large_message
from controller.http.mirror import STATUS_PATH, StatusMirror
from controller.http.proxy import (
    UpstreamProxy,
    error_body,
    has_body,
    send_bytes,
    send_unavailable,
)
from controller.http.server import ApiServer, event_loop_runner
from controller.platform.memory import settle_after_start
from controller.platform.sessions import COOKIE, SessionBook
from controller.platform.store import Store
from controller.platform.tokens import TokenInfo, TokenRegistry, role_at_least

log = logging.getLogger(__name__)

HEALTH_PATH = "/api/v1/health"  # answers without a token or a session (docs/api.md)
SESSION_PATH = "/api/v1/session"  # POST signs in: without either, of course
METRICS_PATH = "/metrics"  # Prometheus's default path, outside /api/v1, with a token
# Requests that need no token (pages, docs, /health, node media) in flight to the controller
# at once: enough for every phone and node of a commune, too few for a flood to matter.
ANONYMOUS_UPSTREAM_MAX = 32
# Field nodes' media (``/media/...``) counts apart: during a live talk every node of its zones
# holds a stream for as long as the talk lasts, and a commune may have a hundred receivers.
MEDIA_PATH = "/media/"
MEDIA_UPSTREAM_MAX = 256
# Below the coordinators: when the CPU is short, the lights and the radio go first.
FRONT_NICENESS = 10


class FrontApp:
    """The ASGI app of the front process.

    Before a request reaches the controller: a declared body over its limit gets 413 (nothing
    outside /api/v1 takes a body, nor /health) and one without a live token 401 (anything under
    /api/v1 but /health, and /metrics), before a byte of the body is read. What needs no token
    (the dashboard's page, the docs, /health) reaches the controller at most
    ``ANONYMOUS_UPSTREAM_MAX`` requests at a time, media for field nodes (a live talk's
    streams last as long as it) ``MEDIA_UPSTREAM_MAX``; more get 503. An anonymous or oversized
    flood therefore never weighs on the coordinators' process. (The controller alone judges a
    body's syntax and media type before the token; here the token comes first, so that nobody
    without one can make the front read a body.)
    """

    def __init__(self, proxy: UpstreamProxy, tokens: TokenRegistry, mirror: StatusMirror, *,
                 sessions: SessionBook, limits: BodyLimits | None = None) -> None:
        self.proxy = proxy
        self.tokens = tokens
        self.sessions = sessions
        self.mirror = mirror
        self.limits = limits or BodyLimits()
        # The read of storage in flight, by what it reads (tokens or sessions).
        self._loads: dict[Callable[[], None], asyncio.Future[None]] = {}
        self._anonymous = asyncio.Semaphore(ANONYMOUS_UPSTREAM_MAX)
        self._media = asyncio.Semaphore(MEDIA_UPSTREAM_MAX)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
            return
        if scope["type"] != "http":
            return
        path = scope["path"]
        # RFC 9110 section 10.1.1: a client that waits for "100 Continue" and gets a final
        # answer sends no body, so the connection cannot go on; any other client sends it, and
        # the server reads and drops it, which lets the client read the answer.
        refusal = [(b"connection", b"close")] if _header(scope, b"expect") else []
        limit = self.limits.declared_too_large(path, _header(scope, b"content-length").encode())
        if limit is not None:
            await send_bytes(send, 413, error_body("too_large", too_large_message(limit)),
                             headers=refusal)
            return
        if not self._needs_token(scope):
            gate = self._media if path.startswith(MEDIA_PATH) else self._anonymous
            if gate.locked():
                await send_unavailable(send)
                return
            async with gate:
                await self.proxy.forward(scope, receive, send)
            return
        authorization = _header(scope, b"authorization")
        if authorization:
            credentials = {"authorization": authorization}
            role = await self._token_role(authorization, send, refusal)
        else:
            secret = _cookie(scope, COOKIE)
            credentials = {"cookie": f"{COOKIE}={secret}"}
            role = await self._session_role(secret, send, refusal)
        if role is None:
            return
        if (scope["method"] == "GET" and path == STATUS_PATH and not has_body(scope["headers"])
                and role_at_least(role, "viewer")
                and await self._status(scope, send, credentials)):
            return
        changes = scope["method"] not in ("GET", "HEAD")
        await self.proxy.forward(scope, receive, send, on_status=(
            self._changed if changes else None))

    async def _websocket(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """The one WebSocket, a live talk (controller.http.live_relay). It is accepted before
        it is judged, so that the page can read why it was refused (a close code and reason;
        a refused handshake is only "1006" to a page)."""
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        await send({"type": "websocket.accept"})
        if scope["path"] != live_relay.LIVE_PATH:
            await live_relay.close(send, 4404, f"no WebSocket at {scope['path']}")
            return
        origin = _header(scope, b"origin")
        if origin and origin.partition("://")[2].rstrip("/") != _header(scope, b"host"):
            await live_relay.close(send, 4403, "a live talk comes from this controller's page")
            return
        authorization = _header(scope, b"authorization")
        if authorization:
            scheme, _, secret = authorization.partition(" ")
            info = await self._verify(secret.strip()) \
                if scheme.lower() == "bearer" and secret.strip() else None
            if info is None:
                await live_relay.close(send, 4401, "the token is unknown, revoked or expired")
                return
            credentials = {"authorization": authorization}
        else:
            secret = _cookie(scope, COOKIE)
            person = None
            if secret:
                await self._read_if_changed(self.sessions.index_is_current, self.sessions.load)
                person = self.sessions.verify(secret, now=datetime.now(UTC), reread=False)
            if person is None:
                await live_relay.close(send, 4401, "sign in first" if not secret else
                                       "the session has ended: sign in again")
                return
            credentials = {"cookie": f"{COOKIE}={secret}"}
        await live_relay.relay(scope, receive, send, proxy=self.proxy,
                               credentials=credentials)
        self.mirror.invalidate()  # what is on air changed

    def _needs_token(self, scope: dict[str, Any]) -> bool:
        # As the controller's routes declare it (docs/api.md: only /health, and signing in,
        # answer without a token or a session).
        path = scope["path"]
        if path == SESSION_PATH and scope["method"] == "POST":
            return False
        return (path.startswith(self.limits.path_prefix) and path != HEALTH_PATH) \
            or path == METRICS_PATH

    def _changed(self, status: int) -> None:
        if 200 <= status < 300:
            self.mirror.invalidate()  # whatever it changed shows in the next /status

    async def _session_role(self, secret: str, send: Any,
                            refusal: list[tuple[bytes, bytes]]) -> str | None:
        """The role of a live session cookie; else answers 401 (as controller.http.auth)."""
        if not secret:
            await send_bytes(send, 401, error_body(
                "unauthorized", "sign in, or send an API token: Authorization: Bearer TOKEN"),
                headers=[(b"www-authenticate", b"Bearer"), *refusal])
            return None
        await self._read_if_changed(self.sessions.index_is_current, self.sessions.load)
        person = self.sessions.verify(secret, now=datetime.now(UTC), reread=False)
        if person is None:
            await send_bytes(send, 401, error_body(
                "unauthorized", "the session has ended: sign in again"),
                headers=[(b"www-authenticate", b"Bearer"), *refusal])
            return None
        return person.role

    async def _token_role(self, authorization: str, send: Any,
                          refusal: list[tuple[bytes, bytes]]) -> str | None:
        info = await self._caller(authorization, send, refusal)
        return None if info is None else info.role

    async def _caller(self, authorization: str, send: Any,
                      refusal: list[tuple[bytes, bytes]]) -> TokenInfo | None:
        """The live token of ``authorization``; else answers 401 (as controller.http.auth)."""
        scheme, _, secret = authorization.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            await send_bytes(send, 401, error_body(
                "unauthorized", "send an API token: Authorization: Bearer TOKEN"),
                headers=[(b"www-authenticate", b"Bearer"), *refusal])
            return None
        info = await self._verify(secret.strip())
        if info is None:
            # RFC 6750 section 3.1: the error attribute tells a client to get a new token.
            await send_bytes(send, 401, error_body(
                "unauthorized", "the token is unknown, revoked or expired"),
                headers=[(b"www-authenticate", b'Bearer error="invalid_token"'), *refusal])
        return info

    async def _status(self, scope: dict[str, Any], send: Any,
                      credentials: dict[str, str]) -> bool:
        """Answer /status from the mirror; False to let the controller answer it."""
        body = await self.mirror.current(credentials)
        if body is None:
            if not self.mirror.unreachable:
                return False
            await send_unavailable(send)
            return True
        etag = self.mirror.etag
        headers = [(b"cache-control", b"no-cache")]
        if etag is not None:
            headers.append((b"etag", etag.encode()))
            if _header(scope, b"if-none-match") == etag:
                await send({"type": "http.response.start", "status": 304, "headers": headers})
                await send({"type": "http.response.body", "body": b""})
                return True
        await send_bytes(send, 200, body, headers=headers)
        return True

    async def _verify(self, secret: str) -> TokenInfo | None:
        await self._read_if_changed(self.tokens.index_is_current, self.tokens.load)
        # What was just read is as new as this request: no second read on the loop, should
        # another write have landed meanwhile.
        return self.tokens.verify(secret, now=datetime.now(UTC), reread=False)

    async def _read_if_changed(self, is_current: Callable[[], bool],
                               load: Callable[[], None]) -> None:
        """Read tokens or sessions again when storage changed. That may wait for another
        process's write (an fsync) to finish, so in a thread, and once for every request that
        arrives meanwhile."""
        if is_current():
            return
        pending = self._loads.get(load)
        if pending is None or pending.done():
            pending = self._loads[load] = asyncio.ensure_future(asyncio.to_thread(load))
        await asyncio.shield(pending)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.proxy.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _cookie(scope: dict[str, Any], name: str) -> str:
    """The value of one cookie of the request ('' if absent), as browsers send them."""
    for key, value in scope["headers"]:
        if key == b"cookie":
            for pair in value.decode("latin-1").split(";"):
                cookie, _, found = pair.strip().partition("=")
                if cookie == name:
                    return found.strip()
    return ""


def _header(scope: dict[str, Any], name: bytes) -> str:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return ""


def build_front(upstream: str, storage: Path, limits: BodyLimits | None = None) -> FrontApp:
    proxy = UpstreamProxy(upstream)
    store = Store(storage)  # read only here: tokens, sessions and accounts
    return FrontApp(proxy, TokenRegistry(store), StatusMirror(proxy),
                    sessions=SessionBook(store), limits=limits)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m controller.http.front")
    parser.add_argument("--listen-fd", type=int, required=True,
                        help="a listening TCP socket inherited from the controller")
    parser.add_argument("--upstream", required=True,
                        help="the controller API's Unix socket (@name: an abstract one)")
    parser.add_argument("--storage", type=Path, required=True)
    parser.add_argument("--body-limits", type=json.loads, default={},
                        help='JSON: {"default": bytes, "path_prefix": "/api/v1", '
                             '"by_path": {path: bytes}} (controller.http.limits)')
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # it logs every request at INFO
    # The controller stops this process by closing its stdin, after its own first step of
    # shutdown; systemd's SIGTERM (KillMode=mixed sends it to the controller only) or a
    # terminal's Ctrl-C must not cut requests short before that.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_IGN)
    with contextlib.suppress(OSError):
        os.nice(FRONT_NICENESS)
    sock = socket.socket(fileno=args.listen_fd)
    app = build_front(args.upstream, args.storage, BodyLimits(**args.body_limits))
    server = ApiServer(uvicorn.Config(app, log_level="warning", access_log=False,
                                        lifespan="on", ws="wsproto", timeout_graceful_shutdown=3))

    async def serve() -> None:
        # Standard input is a pipe from the controller: it closes when the controller stops
        # or dies, even by SIGKILL, and this process must not outlive it (it holds the port).
        _exit_when_stdin_closes(server)
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started and not task.done():
            await asyncio.sleep(0.01)
        if server.started:
            settle_after_start()  # as the controller does (controller.platform.memory)
            sys.stdout.write("ready\n")
            sys.stdout.flush()
        await task

    # uvloop when installed: fewer cycles per request leave more CPU to the coordinators.
    event_loop_runner()(serve())


def _exit_when_stdin_closes(server: uvicorn.Server) -> None:
    """Watched on the loop, no thread: the loop wakes only when the pipe has news."""
    loop = asyncio.get_running_loop()
    fd = sys.stdin.fileno()
    os.set_blocking(fd, False)

    def readable() -> None:
        try:
            if os.read(fd, 4096):
                return  # nothing is ever sent; read and dropped should it be
        except BlockingIOError:
            return
        except OSError:
            pass  # a broken pipe counts as closed
        loop.remove_reader(fd)
        server.should_exit = True

    loop.add_reader(fd, readable)


if __name__ == "__main__":
    main()
