"""Audio for field nodes: ``GET /media/{token}.wav``, the files of the item on air, or the
live talk on air as an endless WAV; ``GET /media/{token}.pcm``, the live talk without a header.

A player built on libavformat (ffmpeg, mpv) reads the first 64 KiB of a PCM WAV before it
plays (its probe for S/PDIF data in WAV), 1.5 s of the talk at our rate: such a node plays the
bare PCM, told its format, and is as prompt as the network.

Nodes carry no API token; a random token per file, valid only while its item airs
(``controller.nodes.node_zones.MediaShelf``), is what lets them fetch it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response, StreamingResponse

from controller.http.context import RuntimeDep
from controller.http.errors import not_found
from controller.nodes.node_zones import LiveAudio
from controller.runtime import Runtime
from drivers.audio import streaming_wav_header

router = APIRouter(tags=["radio"])


@router.get("/media/{token}.wav", summary="A file of the item on air, for field nodes",
            response_class=FileResponse,
            responses={200: {"content": {"audio/wav": {}}, "description":
                             "the file; for a live talk, a WAV without an end (its sizes "
                             "0xFFFFFFFF), sent as it airs until the talk ends"}})
async def media(token: str, runtime: RuntimeDep) -> Response:
    talk = runtime.media_shelf.live(token)
    if talk is not None:
        return StreamingResponse(_live_stream(talk, streaming_wav_header()),
                                 media_type="audio/wav", headers={"cache-control": "no-store"})
    return FileResponse(_offered(runtime, token), media_type="audio/wav")


@router.get("/media/{token}.pcm", summary="The live talk on air as bare PCM, for field nodes",
            response_class=StreamingResponse,
            responses={200: {"content": {"application/octet-stream": {}}, "description":
                             "16-bit little-endian mono PCM at the house rate, no header, "
                             "sent as it airs until the talk ends"}})
async def live_pcm(token: str, runtime: RuntimeDep) -> StreamingResponse:
    talk = runtime.media_shelf.live(token)
    if talk is None:
        raise not_found("media", token)
    return StreamingResponse(_live_stream(talk), media_type="application/octet-stream",
                             headers={"cache-control": "no-store"})


async def _live_stream(talk: LiveAudio, header: bytes = b"") -> AsyncIterator[bytes]:
    # Listening starts with the body, not before: a client gone before its body started
    # leaves no listener behind.
    listener = talk.listen()
    try:
        if header:
            yield header
        async for pcm in listener.stream():
            yield pcm
    finally:
        listener.close()


@router.get("/media/{token}.bin", summary="A firmware image being rolled out, for field nodes",
            response_class=FileResponse)
async def firmware_image(token: str, runtime: RuntimeDep) -> FileResponse:
    return FileResponse(_offered(runtime, token), media_type="application/octet-stream")


def _offered(runtime: Runtime, token: str) -> Path:
    path = runtime.media_shelf.path(token)
    if path is None or not path.exists():
        raise not_found("media", token)
    return path
