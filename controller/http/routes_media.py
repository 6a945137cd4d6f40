"""Audio for field nodes: ``GET /media/{token}.wav``, the files of the item on air.

Nodes carry no API token; a random token per file, valid only while its item airs
(``controller.nodes.node_zones.MediaShelf``), is what lets them fetch it.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

from controller.http.context import RuntimeDep
from controller.http.errors import not_found
from controller.runtime import Runtime

router = APIRouter(tags=["radio"])


@router.get("/media/{token}.wav", summary="A file of the item on air, for field nodes",
            response_class=FileResponse)
async def media(token: str, runtime: RuntimeDep) -> FileResponse:
    return FileResponse(_offered(runtime, token), media_type="audio/wav")


@router.get("/media/{token}.bin", summary="A firmware image being rolled out, for field nodes",
            response_class=FileResponse)
async def firmware_image(token: str, runtime: RuntimeDep) -> FileResponse:
    return FileResponse(_offered(runtime, token), media_type="application/octet-stream")


def _offered(runtime: Runtime, token: str) -> Path:
    path = runtime.media_shelf.path(token)
    if path is None or not path.exists():
        raise not_found("media", token)
    return path
