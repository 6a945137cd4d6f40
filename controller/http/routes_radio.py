"""The radio over HTTP: broadcast programmes, announcements, what is on air, and the broadcast
log (docs/api.md).

The handlers are adapters: the body is validated by its model, the radio service does the use
case (``controller.radio.service``: its checks, storage, the coordinator, the audit) and its
record becomes the answer.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import Query, Response
from starlette.concurrency import run_in_threadpool

from controller.http.auth import Operator, Technician, Viewer
from controller.http.bodies import json_router
from controller.http.context import RuntimeDep
from controller.http.errors import error_responses, invalid
from controller.http.radio_models import (
    AirRecordPublic,
    AnnouncementCreate,
    AnnouncementPublic,
    AudioPublic,
    AudioRename,
    BroadcastProgramCreate,
    BroadcastProgramPublic,
    BroadcastProgramUpdate,
    NowPublic,
    StoppedPublic,
    ZonePublic,
    ZoneToneCreate,
    ZoneTonePublic,
)
from controller.http.routes_audio import audio_public
from controller.platform.exports import MEDIA_TYPES, content_disposition, render
from controller.radio.airlog import log_table
from controller.radio.records import Announcement, BroadcastProgram
from controller.radio.service import RadioService

router = json_router(tags=["radio"])

MAX_LOG_DAYS = 366


# -- broadcast programmes ----------------------------------------------------------------------

@router.get("/broadcast-programs", summary="Every broadcast programme")
async def list_programs(runtime: RuntimeDep, caller: Viewer) -> list[BroadcastProgramPublic]:
    radio = runtime.radio_service
    return [program_public(radio, p) for p in radio.programs()]


@router.get("/broadcast-programs/{program_id}", summary="One broadcast programme")
async def get_program(program_id: str, runtime: RuntimeDep,
                      caller: Viewer) -> BroadcastProgramPublic:
    radio = runtime.radio_service
    return program_public(radio, radio.program(program_id))


@router.post("/broadcast-programs", status_code=201, summary="Add a broadcast programme",
             responses=error_responses(409))
async def create_program(body: BroadcastProgramCreate, runtime: RuntimeDep,
                         caller: Operator) -> BroadcastProgramPublic:
    radio = runtime.radio_service
    return program_public(radio, await radio.create_program(body, actor=caller))


@router.put("/broadcast-programs/{program_id}", summary="Replace a broadcast programme",
            responses=error_responses(409))
async def replace_program(program_id: str, body: BroadcastProgramUpdate, runtime: RuntimeDep,
                          caller: Operator) -> BroadcastProgramPublic:
    radio = runtime.radio_service
    return program_public(radio, await radio.replace_program(program_id, body, actor=caller))


@router.delete("/broadcast-programs/{program_id}", status_code=204,
               summary="Delete a broadcast programme", responses=error_responses(409))
async def delete_program(program_id: str, runtime: RuntimeDep, caller: Operator) -> Response:
    await runtime.radio_service.delete_program(program_id, actor=caller)
    return Response(status_code=204)


def program_public(radio: RadioService, program: BroadcastProgram) -> BroadcastProgramPublic:
    return BroadcastProgramPublic.model_validate(
        {**program.to_doc(), "next_airings": radio.next_airings(program)})


# -- announcements -----------------------------------------------------------------------------

@router.get("/announcements", summary="Announcements, newest first")
async def list_announcements(
        runtime: RuntimeDep, caller: Viewer,
        status: Literal["waiting_approval", "scheduled", "done", "cancelled"] | None = None,
) -> list[AnnouncementPublic]:
    return [announcement_public(a) for a in runtime.radio_service.announcements(status)]


@router.get("/announcements/{announcement_id}", summary="One announcement")
async def get_announcement(announcement_id: str, runtime: RuntimeDep,
                           caller: Viewer) -> AnnouncementPublic:
    return announcement_public(runtime.radio_service.announcement(announcement_id))


@router.post("/announcements", status_code=201, summary="Announce now or later",
             responses=error_responses(409))
async def create_announcement(body: AnnouncementCreate, runtime: RuntimeDep,
                              caller: Operator) -> AnnouncementPublic:
    return announcement_public(await runtime.radio_service.announce(body, actor=caller))


@router.post("/announcements/{announcement_id}/approve", summary="Approve an announcement",
             responses=error_responses(409))
async def approve_announcement(announcement_id: str, runtime: RuntimeDep,
                               caller: Technician) -> AnnouncementPublic:
    return announcement_public(await runtime.radio_service.approve(announcement_id,
                                                                   actor=caller))


@router.delete("/announcements/{announcement_id}", summary="Cancel an announcement "
               "(stops it if it is on air)")
async def cancel_announcement(announcement_id: str, runtime: RuntimeDep,
                              caller: Operator) -> AnnouncementPublic:
    return announcement_public(await runtime.radio_service.cancel(announcement_id,
                                                                  actor=caller))


def announcement_public(announcement: Announcement) -> AnnouncementPublic:
    return AnnouncementPublic.model_validate(announcement.to_doc())


# -- on air and the log --------------------------------------------------------------------------

@router.get("/broadcasts/now", summary="What is on air")
async def now_playing(runtime: RuntimeDep, caller: Viewer) -> NowPublic:
    radio = runtime.radio_service
    now = radio.now_playing()
    return NowPublic(on_air=now is not None and now.on_air,
                     item=None if now is None else now.as_json(),
                     zones_on=list(radio.zones_on()))


@router.post("/broadcasts/stop", summary="Stop what is on air (logged cancelled)",
             responses=error_responses(409))
async def stop(runtime: RuntimeDep, caller: Technician) -> StoppedPublic:
    item = await runtime.radio_service.stop(actor=caller)
    return StoppedPublic(stopped=item.as_json())


@router.get("/broadcasts/log",
            summary="What aired, as JSON, CSV or XLSX (the monthly report; docs/exports.md)",
            response_model=list[AirRecordPublic],
            responses={200: {"content": {MEDIA_TYPES["csv"]: {}, MEDIA_TYPES["xlsx"]: {}}}})
async def broadcast_log(runtime: RuntimeDep, caller: Viewer,
                        from_: Annotated[date | datetime | None, Query(alias="from")] = None,
                        to: date | datetime | None = None,
                        format: Literal["json", "csv", "xlsx"] = "json") -> Any:
    tz = ZoneInfo(runtime.config.site.timezone)
    now = runtime.clock.now()
    until = _instant(to, tz, end_of_day=True) if to is not None else now
    since = _instant(from_, tz) if from_ is not None else until - timedelta(days=31)
    if since > until:
        raise invalid("from", "from is after to")
    if until - since > timedelta(days=MAX_LOG_DAYS):
        raise invalid("from", f"ask for at most {MAX_LOG_DAYS} days at a time")
    # Without "to", up to now included (the log's upper bound is exclusive).
    records = await runtime.radio_service.log(since=since,
                                              until=until if to is not None else None)
    if format != "json":
        table = log_table(records, tz=tz, zone_names={
            zone.id: zone.name for zone in runtime.config.zones})
        # An XLSX of a year's log takes a moment to zip: off the event loop.
        body = await run_in_threadpool(render, table, format)
        name = (f"broadcasts-{since.astimezone(tz).date()}-{until.astimezone(tz).date()}"
                f".{format}")
        return Response(body, media_type=MEDIA_TYPES[format],
                        headers={"Content-Disposition": content_disposition(name)})
    return [AirRecordPublic.model_validate(r) for r in records]


def _instant(value: date | datetime, tz: ZoneInfo, *, end_of_day: bool = False) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=tz)
    moment = datetime.combine(value, time.max if end_of_day else time.min, tzinfo=tz)
    return moment



# -- the audio library (JSON; the upload itself is multipart, in routes_audio) -------------------

@router.patch("/audio/{audio_id}", summary="Rename an audio file (the name shown)")
async def rename_audio(audio_id: str, body: AudioRename, runtime: RuntimeDep,
                       caller: Operator) -> AudioPublic:
    radio = runtime.radio_service
    renamed = await radio.rename_audio(audio_id, body.name, actor=caller)
    return audio_public(renamed, radio.audio_uses())


# -- loudspeaker zones ---------------------------------------------------------------------------

@router.get("/zones", summary="Loudspeaker zones: name, amplifier, whether on now")
async def list_zones(runtime: RuntimeDep, caller: Viewer) -> list[ZonePublic]:
    on = set(runtime.radio_service.zones_on())
    return [ZonePublic(id=z.id, name=z.name or z.id, on=z.id in on, amplifier=z.amplifier,
                       nodes=list(z.nodes)) for z in runtime.config.zones]


@router.post("/zones/{zone_id}/test-tone", status_code=202,
             summary="A short test tone (1 kHz) in one zone, if the air is free",
             responses=error_responses(409))
async def zone_test_tone(zone_id: str, runtime: RuntimeDep, caller: Technician,
                         body: ZoneToneCreate | None = None) -> ZoneTonePublic:
    tone = await runtime.radio_service.test_tone(zone_id, body or ZoneToneCreate(),
                                                 actor=caller)
    source = tone.item.source
    return ZoneTonePublic(key=tone.item.key, zone=zone_id, seconds=source["seconds"],
                          frequency_hz=source["frequency_hz"], starts_at=tone.starts_at,
                          ends_at=tone.ends_at)
