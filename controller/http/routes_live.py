"""Live talks over HTTP ("Phát trực tiếp", docs/api.md).

Plain HTTP on the controller's side: ``POST /live`` starts a talk (or is refused: 409 when the
air is taken by something it may not cut into), ``POST /live/audio?talk=ID`` streams its PCM
as a chunked body, ``GET /live/{id}/events`` tells when it is on air and how it ended (one JSON
object a line), ``POST /live/{id}/stop`` ends it. The page's WebSocket ``/api/v1/live`` is
the front process's (controller.http.front), which turns it into these requests.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from starlette.requests import ClientDisconnect

from controller.http.auth import Operator, Viewer
from controller.http.bodies import json_router
from controller.http.context import RuntimeDep
from controller.http.errors import ApiError, error_responses
from controller.http.radio_models import LivePublic
from controller.radio.live import LiveTalk
from controller.radio.requests import LiveStart

router = json_router(tags=["radio"])
stream_router = APIRouter(tags=["radio"])


def live_public(talk: LiveTalk) -> LivePublic:
    item = talk.item
    assert item is not None
    end = talk.end
    state = "ended" if end is not None else "on_air" if talk.on_air.is_set() else "waiting"
    return LivePublic.model_validate({
        **talk.as_json(), "key": item.key, "zones": list(item.zones), "level": item.level,
        "state": state, "peak": round(talk.peak, 3),
        "outcome": end.outcome if end else None, "reason": end.reason if end else None,
        "recording": talk.recording_id})


@router.post("/live", status_code=201, summary="Start a live talk (Phát trực tiếp)",
             responses=error_responses(409))
async def start_live(body: LiveStart, runtime: RuntimeDep, caller: Operator) -> LivePublic:
    return live_public(await runtime.radio_service.start_live(body, actor=caller))


@router.get("/live/{talk_id}", summary="A live talk as it goes")
async def get_live(talk_id: str, runtime: RuntimeDep, caller: Viewer) -> LivePublic:
    return live_public(runtime.radio_service.talk(talk_id))


@router.post("/live/{talk_id}/stop", summary="End a live talk (its speaker, or a technician)")
async def stop_live(talk_id: str, runtime: RuntimeDep, caller: Operator) -> LivePublic:
    return live_public(await runtime.radio_service.stop_live(talk_id, actor=caller))


@router.get("/live/{talk_id}/events", summary="A live talk's events, one JSON object a line",
            response_class=StreamingResponse,
            responses={200: {"content": {"application/x-ndjson": {}},
                             "description": '{"event": "on_air"} once it sounds, then '
                                            '{"event": "ended", ...LivePublic} once logged'}})
async def live_events(talk_id: str, runtime: RuntimeDep, caller: Viewer) -> StreamingResponse:
    talk = runtime.radio_service.talk(talk_id)

    async def events() -> AsyncIterator[bytes]:
        on_air = asyncio.ensure_future(talk.on_air.wait())
        ended = asyncio.ensure_future(talk.ended.wait())
        try:
            await asyncio.wait({on_air, ended}, return_when=asyncio.FIRST_COMPLETED)
            if talk.on_air.is_set():
                yield _line({"event": "on_air"})
            await ended
            await talk.kept.wait()
            yield _line({"event": "ended", **live_public(talk).model_dump(mode="json")})
        finally:
            on_air.cancel()
            ended.cancel()

    return StreamingResponse(events(), media_type="application/x-ndjson",
                             headers={"cache-control": "no-store"})


@stream_router.post(
    "/live/audio", summary="A live talk's audio: house PCM (S16LE mono 22050 Hz) as it comes",
    responses=error_responses(401, 403, 404, 409, 413),
    openapi_extra={"requestBody": {"content": {"application/octet-stream": {"schema": {
        "type": "string", "format": "binary"}}}}})
async def live_audio(request: Request, runtime: RuntimeDep, caller: Operator,
                     talk: Annotated[str, Query(description="the talk's id")]) -> LivePublic:
    radio = runtime.radio_service
    found = radio.talk(talk)
    radio.check_speaker(found, caller)
    if found.closed:
        raise ApiError(409, f"live talk {talk!r} is over", code="conflict")
    try:
        async for chunk in request.stream():
            if chunk and not radio.feed_live(found, chunk):
                break  # the talk is over (preempted, stopped, stalled): stop reading
        else:
            found.close("the speaker ended the stream")
    except ClientDisconnect:
        found.close("the speaker's stream was cut")
    return live_public(found)


def _line(event: dict[str, object]) -> bytes:
    return json.dumps(event, ensure_ascii=False).encode() + b"\n"
