"""Audio for field nodes: ``GET /media/{token}.wav``, the files of the item on air.

Nodes carry no API token; a random token per file, valid only while its item airs
(``controller.node_zones.MediaShelf``), is what lets them fetch it.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from controller.api.context import RuntimeDep
from controller.api.errors import not_found

router = APIRouter(tags=["radio"])


@router.get("/media/{token}.wav", summary="A file of the item on air, for field nodes",
            response_class=FileResponse)
async def media(token: str, runtime: RuntimeDep) -> FileResponse:
    nodes = runtime.broadcasts.nodes
    path = nodes.shelf.path(token) if nodes is not None else None
    if path is None or not path.exists():
        raise not_found("media", token)
    return FileResponse(path, media_type="audio/wav")
