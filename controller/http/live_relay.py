"""The page's live talk WebSocket (``/api/v1/live``), in the front process: authenticated here,
then turned into plain HTTP to the controller over its Unix socket (controller.http.routes_live):

1. the socket is accepted; its caller is the session cookie (or a bearer token, for a program);
   a page's ``Origin`` must be the page's own host;
2. the first message is JSON ``{"zones": [...] | "all", "level": "normal" | "priority" |
   "emergency", "csrf": "..."}`` (``csrf``: the session's CSRF token, as ``X-CSRF-Token``);
   ``POST /api/v1/live`` starts the talk with it;
3. then binary messages are house PCM (S16LE mono 22050 Hz), streamed on as the chunked body of
   ``POST /api/v1/live/audio?talk=ID`` (httpx streams request bodies); a text message
   ``{"type": "stop"}``, or closing the socket, ends the talk;
4. the controller's events (``GET /api/v1/live/{id}/events``: on air, ended) come back as text
   messages: ``{"event": "accepted", ...}``, ``{"event": "on_air"}``, ``{"event": "ended",
   "outcome", "reason", ...}``; after "ended" the socket is closed (1000).

A refusal closes the socket with 4000 + the HTTP status the controller answered (4401, 4403,
4404, 4409, 4422; 4400 for a first message that is not the JSON above; 4503 when the controller
does not answer) and its message as the reason (at most 123 bytes).

Why here and not a WebSocket on the controller: the controller's side stays plain HTTP (its
routes, roles, errors and tests as for every other endpoint), and the WebSocket framing, the
handshake and the authentication of a socket nobody signed in on are done outside the
coordinators' loop. The audio bytes themselves have to reach that loop either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx

from controller.http.proxy import UpstreamProxy

log = logging.getLogger(__name__)

FIRST_MESSAGE_TIMEOUT_S = 10.0
# Audio waiting between the socket and the controller; past it (a controller that stopped
# reading) the talk is ended rather than buffered without bound.
MAX_QUEUED_MESSAGES = 500
LIVE_PATH = "/api/v1/live"


class Closed(Exception):
    """The socket was closed by the client."""


async def close(send: Any, code: int, reason: str) -> None:
    encoded = reason.encode()
    if len(encoded) > 123:  # RFC 6455 section 5.5: a control frame's payload is 125 bytes
        reason = encoded[:120].decode(errors="ignore") + "…"
        while len(reason.encode()) > 123:
            reason = reason[:-2] + "…"
    with contextlib.suppress(Exception):
        await send({"type": "websocket.close", "code": code, "reason": reason})


def first_message_problem(message: Any) -> str | None:
    """What is wrong with a first message (already parsed), or None."""
    if not isinstance(message, dict):
        return 'the first message must be a JSON object {"zones", "level", "csrf"}'
    unknown = sorted(set(message) - {"zones", "level", "csrf", "source"})
    if unknown:
        return f"unknown field(s) in the first message: {', '.join(unknown)}"
    if "zones" not in message:
        return 'the first message needs "zones": a list of zone ids, or "all"'
    zones = message["zones"]
    if zones != "all" and not (isinstance(zones, list) and zones
                               and all(isinstance(z, str) for z in zones)):
        return '"zones" must be a list of zone ids, or "all"'
    if message.get("level", "normal") not in ("normal", "priority", "emergency"):
        return '"level" must be normal, priority or emergency'
    if "csrf" in message and not isinstance(message["csrf"], str):
        return '"csrf" must be the session\'s CSRF token'
    return None


async def relay(scope: dict[str, Any], receive: Any, send: Any, *, proxy: UpstreamProxy,
                credentials: dict[str, str]) -> None:
    """One accepted live talk socket, to its end. ``credentials``: the cookie or the
    authorization header to send upstream."""
    try:
        async with asyncio.timeout(FIRST_MESSAGE_TIMEOUT_S):
            message = await receive()
    except TimeoutError:
        await close(send, 4400, f"no first message within {FIRST_MESSAGE_TIMEOUT_S:g} s")
        return
    if message["type"] == "websocket.disconnect":
        return
    text = message.get("text")
    try:
        first = json.loads(text) if text is not None else None
    except ValueError:
        first = None
    problem = first_message_problem(first) if text is not None else \
        "the first message must be text: JSON {\"zones\", \"level\", \"csrf\"}"
    if problem is None and first is None:
        problem = "the first message is not JSON"
    if problem is not None or not isinstance(first, dict):
        await close(send, 4400, problem or "the first message is not JSON")
        return
    headers = dict(credentials)
    if first.get("csrf"):
        headers["x-csrf-token"] = first["csrf"]
    body = {k: first[k] for k in ("zones", "level", "source") if k in first}
    try:
        started = await proxy.client.post(f"{LIVE_PATH}", json=body, headers=headers)
    except httpx.HTTPError as exc:
        log.warning("live: no answer from the controller: %r", exc)
        await close(send, 4503, "the controller is not answering; try again in a moment")
        return
    if started.status_code != 201:
        await close(send, 4000 + started.status_code, _message_of(started))
        return
    talk = started.json()
    await send({"type": "websocket.send",
                "text": json.dumps({"event": "accepted", **talk}, ensure_ascii=False)})
    queue: asyncio.Queue[bytes | None] = asyncio.Queue()
    tasks = [asyncio.create_task(_stream_audio(proxy, talk["id"], headers, queue)),
             asyncio.create_task(_events(proxy, talk["id"], headers, send))]
    reader = asyncio.create_task(_read_socket(receive, queue))
    try:
        done, _ = await asyncio.wait({tasks[1], reader}, return_when=asyncio.FIRST_COMPLETED)
        if reader in done:
            # The speaker stopped or went: the audio's end ends the talk; its end event
            # still comes back if the socket is open.
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(tasks[1]), 15.0)
    finally:
        queue.put_nowait(None)
        reader.cancel()
        for task in tasks:
            if not task.done():
                with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                    await asyncio.wait_for(task, 5.0)
        await asyncio.gather(reader, *tasks, return_exceptions=True)
    ended = tasks[1].result() if tasks[1].done() and not tasks[1].cancelled() \
        and tasks[1].exception() is None else None
    if ended is not None:
        await close(send, 1000, str(ended.get("outcome") or "ended"))


async def _read_socket(receive: Any, queue: asyncio.Queue[bytes | None]) -> None:
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            queue.put_nowait(None)
            return
        data = message.get("bytes")
        if data:
            if queue.qsize() > MAX_QUEUED_MESSAGES:
                log.warning("live: the controller does not take the audio; ending the talk")
                queue.put_nowait(None)
                return
            queue.put_nowait(data)
        elif message.get("text"):
            with contextlib.suppress(ValueError):
                if json.loads(message["text"]).get("type") == "stop":
                    queue.put_nowait(None)
                    return


async def _stream_audio(proxy: UpstreamProxy, talk_id: str, headers: dict[str, str],
                        queue: asyncio.Queue[bytes | None]) -> None:
    async def body() -> AsyncIterator[bytes]:
        while (data := await queue.get()) is not None:
            yield data

    try:
        response = await proxy.client.post(
            f"{LIVE_PATH}/audio", params={"talk": talk_id}, content=body(),
            headers={**headers, "content-type": "application/octet-stream"},
            timeout=httpx.Timeout(None, connect=5.0))
        if response.status_code != 200:
            log.info("live %s: audio answered %s", talk_id, response.status_code)
    except httpx.HTTPError as exc:
        log.warning("live %s: audio stream to the controller cut: %r", talk_id, exc)


async def _events(proxy: UpstreamProxy, talk_id: str, headers: dict[str, str],
                  send: Any) -> dict[str, Any] | None:
    """Relays the talk's events; the "ended" one is returned."""
    ended = None
    async with proxy.client.stream("GET", f"{LIVE_PATH}/{talk_id}/events", headers=headers,
                                   timeout=httpx.Timeout(None, connect=5.0)) as response:
        if response.status_code != 200:
            return {"event": "ended", "outcome": "unknown",
                    "reason": f"events answered {response.status_code}"}
        async for line in response.aiter_lines():
            if not line.strip():
                continue
            event = json.loads(line)
            with contextlib.suppress(Exception):  # the socket may be gone: the talk goes on
                await send({"type": "websocket.send", "text": line})
            if event.get("event") == "ended":
                ended = event
    return ended


def _message_of(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return f"the controller answered {response.status_code}"
