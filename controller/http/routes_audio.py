"""The audio library over HTTP (docs/api.md: POST /api/v1/audio, multipart).

An upload is streamed to a temporary file inside the library's folder (never held in memory,
bounded by ``broadcast.max_upload_mb``: 413 above it), fsynced, probed (415 when it is not
audio), and only then kept under its id. Its name is for display only: no name can make the
file land outside the library folder.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException

from controller.http.auth import Operator, Viewer
from controller.http.context import RuntimeDep
from controller.http.errors import ApiError, error_responses, invalid
from controller.http.radio_models import AudioPublic
from controller.radio.records import AudioFile
from controller.radio.service import AudioUse
from drivers.errors import NotAudio

router = APIRouter(tags=["radio"])
COPY_CHUNK_BYTES = 256 * 1024
MEDIA_TYPES = {"mp3": "audio/mpeg", "wav": "audio/wav", "ogg": "audio/ogg", "flac": "audio/flac",
               "m4a": "audio/mp4", "aac": "audio/aac", "webm": "audio/webm"}


@router.post("/audio", status_code=201, summary="Upload an audio file (multipart: file, name?)",
             responses=error_responses(400, 413, 415, 422),
             openapi_extra={"requestBody": {"content": {"multipart/form-data": {"schema": {
                 "type": "object", "required": ["file"],
                 "properties": {"file": {"type": "string", "format": "binary"},
                                "name": {"type": "string"}}}}}}})
async def upload(request: Request, runtime: RuntimeDep, caller: Operator) -> AudioPublic:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "multipart/form-data":
        raise ApiError(415, "send the file as multipart/form-data (a field named file)")
    try:
        form = await request.form(max_files=1, max_fields=4)
    except MultiPartException as exc:
        raise ApiError(400, f"malformed multipart body: {exc.message}") from exc
    file = form.get("file")
    if not isinstance(file, UploadFile):
        raise invalid("file", "a file field named file is required")
    name = form.get("name")
    display = name if isinstance(name, str) and name.strip() else (file.filename or "audio")
    radio = runtime.radio_service
    temporary = radio.upload_folder() / f"{secrets.token_hex(8)}.part"
    try:
        await _save(file, temporary)
        try:
            audio = await radio.add_audio(temporary, name=display, actor=caller)
        except NotAudio as exc:
            raise ApiError(415, f"not an audio file we can play: {exc}", field="file") from exc
    finally:
        temporary.unlink(missing_ok=True)
        await file.close()
    return audio_public(audio, radio.audio_uses())


def audio_public(audio: AudioFile, uses: Mapping[str, list[AudioUse]]) -> AudioPublic:
    return AudioPublic.model_validate(
        {**asdict(audio), "used_by": [asdict(u) for u in uses.get(audio.id, [])]})


async def _save(file: UploadFile, path: Path) -> None:
    with path.open("wb") as out:
        while chunk := await file.read(COPY_CHUNK_BYTES):
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())


@router.get("/audio", summary="The audio library")
async def list_audio(runtime: RuntimeDep, caller: Viewer) -> list[AudioPublic]:
    radio = runtime.radio_service
    uses = radio.audio_uses()  # programmes and announcements read once for the whole list
    return [audio_public(a, uses) for a in radio.audio_files()]


@router.get("/audio/{audio_id}", summary="One audio file's details")
async def get_audio(audio_id: str, runtime: RuntimeDep, caller: Viewer) -> AudioPublic:
    radio = runtime.radio_service
    return audio_public(radio.audio_file(audio_id), radio.audio_uses())


@router.get("/audio/{audio_id}/file", summary="Download an audio file",
            response_class=FileResponse)
async def download(audio_id: str, runtime: RuntimeDep, caller: Viewer) -> FileResponse:
    radio = runtime.radio_service
    audio = radio.audio_file(audio_id)
    path = radio.audio_path(audio)
    extension = path.suffix.lstrip(".")
    return FileResponse(path, media_type=MEDIA_TYPES.get(extension, "application/octet-stream"),
                        filename=f"{Path(audio.name).stem or audio.id}.{extension}")


@router.delete("/audio/{audio_id}", status_code=204, summary="Delete an audio file",
               responses=error_responses(409))
async def delete(audio_id: str, runtime: RuntimeDep, caller: Operator) -> Response:
    await runtime.radio_service.delete_audio(audio_id, actor=caller)
    return Response(status_code=204)
