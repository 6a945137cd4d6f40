"""Firmware for field nodes: upload an image with its version (admin), roll it out with a
canary (``controller.nodes.firmware``), and follow the rollout."""

from __future__ import annotations

import os
import re
import secrets
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException

from controller.http.audit import record_change
from controller.http.auth import Admin, Viewer
from controller.http.bodies import json_router
from controller.http.context import RuntimeDep
from controller.http.errors import (
    ApiError,
    conflict,
    error_responses,
    invalid,
    not_found,
)
from controller.nodes.firmware import FIRMWARE, ROLLOUTS

upload_router = APIRouter(tags=["firmware"])
router = json_router(tags=["firmware"])
VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._+-]{0,31}$")
COPY_CHUNK_BYTES = 256 * 1024


class FirmwarePublic(BaseModel):
    id: str
    version: str
    sha256: str
    size_bytes: int
    uploaded_by: str
    uploaded_at: str


class RolloutCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    nodes: list[str] | Literal["all"] = Field(
        description='node ids; the first is the canary. "all": every node seen')


class RolloutPublic(BaseModel):
    id: str
    firmware: str
    version: str
    canary: str
    nodes: dict[str, str] = Field(description="node -> pending | sent | updated | failed")
    status: Literal["running", "done", "failed"]
    reason: str | None
    started_by: str
    started_at: str


@upload_router.post("/firmware", status_code=201, summary="Upload a node firmware image "
                    "(multipart: file, version)", responses=error_responses(400, 413, 415, 422),
                    openapi_extra={"requestBody": {"content": {"multipart/form-data": {"schema": {
                        "type": "object", "required": ["file", "version"],
                        "properties": {"file": {"type": "string", "format": "binary"},
                                       "version": {"type": "string"}}}}}}})
async def upload_firmware(request: Request, runtime: RuntimeDep, caller: Admin) -> FirmwarePublic:
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != \
            "multipart/form-data":
        raise ApiError(415, "send the image as multipart/form-data (fields file and version)")
    try:
        form = await request.form(max_files=1, max_fields=4)
    except MultiPartException as exc:
        raise ApiError(400, f"malformed multipart body: {exc.message}") from exc
    file, version = form.get("file"), form.get("version")
    if not isinstance(file, UploadFile):
        raise invalid("file", "a file field named file is required")
    if not isinstance(version, str) or not VERSION.match(version):
        raise invalid("version", "a version like 1.4.2 is required")
    book = runtime.firmware
    assert book is not None  # build_runtime always makes one
    incoming = book.folder / ".incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    temporary = incoming / f"{secrets.token_hex(8)}.part"
    try:
        with temporary.open("wb") as out:
            while chunk := await file.read(COPY_CHUNK_BYTES):
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if temporary.stat().st_size == 0:
            raise invalid("file", "the image is empty")
        doc = book.add(temporary, version=version, uploaded_by=caller.name)
    finally:
        temporary.unlink(missing_ok=True)
        await file.close()
    await record_change(runtime, caller, "firmware.upload", doc["id"],
                        {"version": version, "sha256": doc["sha256"]})
    return FirmwarePublic.model_validate(doc)


@router.get("/firmware", summary="Uploaded firmware images")
async def list_firmware(runtime: RuntimeDep, caller: Viewer) -> list[FirmwarePublic]:
    return [FirmwarePublic.model_validate(d) for d in runtime.store.all(FIRMWARE)]


@router.post("/firmware/{firmware_id}/rollout", status_code=202,
             summary="Roll an image out: the first node, then the rest once it runs it",
             responses=error_responses(409))
async def start_rollout(firmware_id: str, body: RolloutCreate, runtime: RuntimeDep,
                        caller: Admin) -> RolloutPublic:
    image = runtime.store.get(FIRMWARE, firmware_id)
    if image is None:
        raise not_found("firmware", firmware_id)
    known = {n["id"] for n in runtime.nodes()}
    nodes = sorted(known) if body.nodes == "all" else list(dict.fromkeys(body.nodes))
    unknown = [n for n in nodes if n not in known]
    if unknown or not nodes:
        raise invalid("nodes", f"unknown nodes: {', '.join(unknown)}" if unknown
                      else "no node to update")
    running = [r["id"] for r in runtime.store.all(ROLLOUTS) if r["status"] == "running"]
    if running:
        raise conflict(f"rollout {running[0]} is still running")
    book = runtime.firmware
    assert book is not None  # build_runtime always makes one

    rollout = book.start(image, nodes, by=caller.name)  # its task runs on this loop
    await record_change(runtime, caller, "firmware.rollout", rollout["id"],
                        {"firmware": firmware_id, "nodes": nodes})
    return RolloutPublic.model_validate(rollout)


@router.get("/rollouts/{rollout_id}", summary="A rollout's progress")
async def get_rollout(rollout_id: str, runtime: RuntimeDep, caller: Viewer) -> RolloutPublic:
    doc = runtime.store.get(ROLLOUTS, rollout_id)
    if doc is None:
        raise not_found("rollout", rollout_id)
    return RolloutPublic.model_validate(doc)

