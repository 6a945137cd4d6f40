"""The radio: broadcast programmes, announcements, what is on air, and the broadcast log.

Checks before anything is stored (a refused request changes nothing): zones and audio files
exist, a schedule parses, an announcement is not in the past, and a new item does not overlap
another one in the same zones (409, unless the caller sends ``"force": true``). Emergencies are
never refused for overlapping: cutting in is what they are for.
"""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import Query, Response
from starlette.concurrency import run_in_threadpool

from controller.radio.airlog import log_table
from controller.http.audit import record_change
from controller.http.auth import Operator, Technician, Viewer
from controller.http.bodies import json_router
from controller.http.context import RuntimeDep
from controller.http.errors import conflict, error_responses, invalid, not_found
from controller.http.radio_models import (
    AirRecordPublic,
    AnnouncementCreate,
    AnnouncementPublic,
    BroadcastProgramCreate,
    BroadcastProgramPublic,
    BroadcastProgramUpdate,
    NowPublic,
    StoppedPublic,
)
from controller.platform.exports import MEDIA_TYPES, content_disposition, render
from controller.radio.items import (
    ANNOUNCEMENTS,
    PROGRAMS,
    AirItem,
    next_airing,
    program_items,
)
from controller.runtime import Runtime
from controller.radio.source_models import audio_ids_of
from controller.platform.tokens import role_at_least
from schedules.broadcasts import Recurrence, occurrences
from schedules.errors import ScheduleError

Document = dict[str, Any]

router = json_router(tags=["radio"])

# An announcement "at" a moment just gone (a slow phone, a clock a few seconds off) is now.
PAST_TOLERANCE = timedelta(minutes=1)
# How far ahead a new programme is compared with the others for overlaps.
CONFLICT_HORIZON = timedelta(days=7)
MAX_LOG_DAYS = 366


# -- broadcast programmes ----------------------------------------------------------------------

@router.get("/broadcast-programs", summary="Every broadcast programme")
async def list_programs(runtime: RuntimeDep, caller: Viewer) -> list[BroadcastProgramPublic]:
    docs = sorted(runtime.store.all(PROGRAMS), key=lambda d: d["id"])
    return [program_public(runtime, d) for d in docs]


@router.get("/broadcast-programs/{program_id}", summary="One broadcast programme")
async def get_program(program_id: str, runtime: RuntimeDep,
                      caller: Viewer) -> BroadcastProgramPublic:
    doc = runtime.store.get(PROGRAMS, program_id)
    if doc is None:
        raise not_found("broadcast programme", program_id)
    return program_public(runtime, doc)


@router.post("/broadcast-programs", status_code=201, summary="Add a broadcast programme",
             responses=error_responses(409))
async def create_program(body: BroadcastProgramCreate, runtime: RuntimeDep,
                         caller: Operator) -> BroadcastProgramPublic:
    doc = _program_doc(runtime, body)
    if runtime.store.get(PROGRAMS, doc["id"]) is not None:
        raise conflict(f"broadcast programme {doc['id']!r} exists; PUT replaces it",
                       field="id")
    if not body.force:
        _check_program_overlaps(runtime, doc)
    if not runtime.store.insert_new(PROGRAMS, doc):
        raise conflict(f"broadcast programme {doc['id']!r} exists; PUT replaces it",
                       field="id")
    runtime.broadcasts.wake()
    await record_change(runtime, caller, "broadcast_program.create", doc["id"], doc)
    return program_public(runtime, doc)


@router.put("/broadcast-programs/{program_id}", summary="Replace a broadcast programme",
            responses=error_responses(409))
async def replace_program(program_id: str, body: BroadcastProgramUpdate, runtime: RuntimeDep,
                          caller: Operator) -> BroadcastProgramPublic:
    if body.id is not None and body.id != program_id:
        raise invalid("id", f"the body names {body.id!r}, the path {program_id!r}")
    if runtime.store.get(PROGRAMS, program_id) is None:
        raise not_found("broadcast programme", program_id)
    doc = _program_doc(runtime, body, program_id=program_id)
    if not body.force:
        _check_program_overlaps(runtime, doc)
    runtime.store.put(PROGRAMS, doc)
    runtime.broadcasts.wake()
    await record_change(runtime, caller, "broadcast_program.update", program_id, doc)
    return program_public(runtime, doc)


@router.delete("/broadcast-programs/{program_id}", status_code=204,
               summary="Delete a broadcast programme", responses=error_responses(409))
async def delete_program(program_id: str, runtime: RuntimeDep, caller: Operator) -> Response:
    if any(p.id == program_id for p in runtime.config.broadcast_programs):
        raise conflict(f"broadcast programme {program_id!r} is defined in the config file and "
                       "would come back at the next start; disable it (enabled: false) instead")
    previous = runtime.store.get(PROGRAMS, program_id)
    if previous is None or not runtime.store.delete(PROGRAMS, program_id):
        raise not_found("broadcast programme", program_id)
    runtime.broadcasts.wake()
    await record_change(runtime, caller, "broadcast_program.delete", program_id, previous)
    return Response(status_code=204)


def program_public(runtime: Runtime, doc: Document) -> BroadcastProgramPublic:
    now = runtime.clock.now()
    upcoming: list[datetime] = []
    if doc.get("enabled", True):
        recurrence = Recurrence.parse(doc["schedule"])
        start = max(now, datetime.fromisoformat(doc["effective_from"])) \
            if doc.get("effective_from") else now
        upcoming = occurrences(recurrence, runtime.config.site.timezone, start=start,
                               end=start + timedelta(days=40))[:5]
    return BroadcastProgramPublic.model_validate({**doc, "next_airings": upcoming})


def _program_doc(runtime: Runtime, body: BroadcastProgramCreate,
                 program_id: str | None = None) -> Document:
    doc = body.model_dump(mode="json", exclude={"force"})
    doc["id"] = program_id or body.id
    try:
        doc["schedule"] = Recurrence.parse(doc["schedule"]).as_json()
    except ScheduleError as exc:
        raise invalid(_schedule_field(exc), str(exc)) from exc
    _check_zones(runtime, doc["zones"])
    _check_audio(runtime, doc["source"])
    # Occurrences before a change were never promised by this version of the programme.
    doc["effective_from"] = runtime.clock.now().isoformat()
    return doc


def _schedule_field(exc: ScheduleError) -> str:
    head = str(exc).split(":", 1)[0]
    return head.replace("[", ".").replace("]", "") if head.startswith("schedule") \
        else "schedule"


def _check_program_overlaps(runtime: Runtime, doc: Document) -> None:
    if doc["level"] == "emergency" or not doc.get("enabled", True):
        return
    now = runtime.clock.now()
    end = now + CONFLICT_HORIZON
    ours = [i for i in _program_items_of(runtime, [doc], now, end)]
    others = [d for d in runtime.store.all(PROGRAMS) if d["id"] != doc["id"]]
    theirs = _program_items_of(runtime, others, now, end)
    theirs += _scheduled_announcements(runtime)
    _refuse_overlaps(runtime, ours, theirs)


def _program_items_of(runtime: Runtime, docs: list[Document], start: datetime,
                      end: datetime) -> list[AirItem]:
    class _Docs:  # program_items reads a store; these documents are not stored (yet)
        @staticmethod
        def all(table: str) -> list[Document]:
            return docs

    return program_items(runtime.config, _Docs(), start=start, end=end)  # type: ignore[arg-type]


# -- announcements -----------------------------------------------------------------------------

@router.get("/announcements", summary="Announcements, newest first")
async def list_announcements(
        runtime: RuntimeDep, caller: Viewer,
        status: Literal["waiting_approval", "scheduled", "done", "cancelled"] | None = None,
) -> list[AnnouncementPublic]:
    docs = [d for d in runtime.store.all(ANNOUNCEMENTS)
            if status is None or d.get("status") == status]
    docs.sort(key=lambda d: d["created_at"], reverse=True)
    return [AnnouncementPublic.model_validate(d) for d in docs]


@router.get("/announcements/{announcement_id}", summary="One announcement")
async def get_announcement(announcement_id: str, runtime: RuntimeDep,
                           caller: Viewer) -> AnnouncementPublic:
    doc = runtime.store.get(ANNOUNCEMENTS, announcement_id)
    if doc is None:
        raise not_found("announcement", announcement_id)
    return AnnouncementPublic.model_validate(doc)


@router.post("/announcements", status_code=201, summary="Announce now or later",
             responses=error_responses(409))
async def create_announcement(body: AnnouncementCreate, runtime: RuntimeDep,
                              caller: Operator) -> AnnouncementPublic:
    now = runtime.clock.now()
    at = _when(runtime, body.at, now)
    doc = body.model_dump(mode="json", exclude={"force", "emergency", "at"})
    _check_zones(runtime, doc["zones"])
    _check_audio(runtime, doc["source"])
    waits = runtime.config.broadcast.require_approval and \
        not role_at_least(caller.role, "technician")
    doc.update({"id": f"ann-{secrets.token_hex(4)}", "at": at.isoformat(),
                "status": "waiting_approval" if waits else "scheduled", "aired": 0,
                "next_at": None, "created_by": caller.name, "created_at": now.isoformat(),
                "approved_by": None if waits else caller.name})
    if not body.force and doc["level"] != "emergency":
        item = next_airing(runtime.config, doc)
        assert item is not None
        _refuse_overlaps(runtime, [item], _scheduled_announcements(runtime) + _program_items_of(
            runtime, runtime.store.all(PROGRAMS), now - timedelta(hours=4),
            item.due + timedelta(hours=4)))
    runtime.store.put(ANNOUNCEMENTS, doc)
    runtime.broadcasts.wake()
    await record_change(runtime, caller, "announcement.create", doc["id"],
                        {k: doc[k] for k in ("at", "zones", "level", "repeat", "status")})
    return AnnouncementPublic.model_validate(doc)


@router.post("/announcements/{announcement_id}/approve", summary="Approve an announcement",
             responses=error_responses(409))
async def approve_announcement(announcement_id: str, runtime: RuntimeDep,
                               caller: Technician) -> AnnouncementPublic:
    doc = runtime.store.get(ANNOUNCEMENTS, announcement_id)
    if doc is None:
        raise not_found("announcement", announcement_id)
    if doc["status"] != "waiting_approval":
        raise conflict(f"announcement {announcement_id!r} is {doc['status']}, "
                       "not waiting for approval")
    doc = runtime.store.update(ANNOUNCEMENTS, announcement_id,
                               lambda d: {**d, "status": "scheduled", "approved_by": caller.name})
    assert doc is not None
    runtime.broadcasts.wake()
    await record_change(runtime, caller, "announcement.approve", announcement_id)
    return AnnouncementPublic.model_validate(doc)


@router.delete("/announcements/{announcement_id}", summary="Cancel an announcement "
               "(stops it if it is on air)")
async def cancel_announcement(announcement_id: str, runtime: RuntimeDep,
                              caller: Operator) -> AnnouncementPublic:
    doc = await runtime.broadcasts.cancel_announcement(announcement_id, by=caller.name)
    if doc is None:
        raise not_found("announcement", announcement_id)
    await record_change(runtime, caller, "announcement.cancel", announcement_id)
    return AnnouncementPublic.model_validate(doc)


def _when(runtime: Runtime, at: datetime | None, now: datetime) -> datetime:
    if at is None:
        return now
    if at.tzinfo is None:
        at = at.replace(tzinfo=ZoneInfo(runtime.config.site.timezone))
    if at < now - PAST_TOLERANCE:
        raise invalid("at", f"{at.isoformat()} is in the past")
    return max(at, now).astimezone(UTC)


def _scheduled_announcements(runtime: Runtime) -> list[AirItem]:
    docs = [d for d in runtime.store.all(ANNOUNCEMENTS)
            if d.get("status") in ("scheduled", "waiting_approval")]
    return [i for i in (next_airing(runtime.config, d) for d in docs) if i is not None]


def _refuse_overlaps(runtime: Runtime, ours: list[AirItem], theirs: list[AirItem]) -> None:
    """409 when one of ``ours`` overlaps one of ``theirs`` in a shared zone."""
    player = runtime.player
    chime = runtime.config.broadcast.chime
    spans = [(t, t.due, t.due + timedelta(seconds=player.estimate_s(
        t.source, chime=chime and t.kind == "announcement"))) for t in theirs
        if t.level != "emergency"]
    for item in ours:
        start = item.due
        end = start + timedelta(seconds=player.estimate_s(
            item.source, chime=chime and item.kind == "announcement"))
        for other, other_start, other_end in spans:
            if other.key != item.key and other.ref != item.ref and \
                    set(other.zones) & set(item.zones) and \
                    start < other_end and other_start < end:
                raise conflict(
                    f"overlaps {other.kind} {other.ref!r} ({other.title}) at "
                    f"{other_start.isoformat()} in zones "
                    f"{', '.join(sorted(set(other.zones) & set(item.zones)))}; send "
                    '"force": true to keep both (the later one waits)', field="at")


# -- validation shared by programmes and announcements -------------------------------------------

def _check_zones(runtime: Runtime, zones: list[str] | str) -> None:
    if zones == "all":
        if not runtime.config.zones:
            raise invalid("zones", "the installation has no zones")
        return
    for index, zone in enumerate(zones):
        if runtime.config.zone(zone) is None:
            raise invalid(f"zones.{index}", f"no zone {zone!r}")


def _check_audio(runtime: Runtime, source: Document) -> None:
    for audio_id in sorted(audio_ids_of(source)):
        if runtime.library.get(audio_id) is None:
            raise invalid("source", f"no audio file {audio_id!r}; upload it first "
                                    "(POST /api/v1/audio)")


# -- on air and the log --------------------------------------------------------------------------

@router.get("/broadcasts/now", summary="What is on air")
async def now_playing(runtime: RuntimeDep, caller: Viewer) -> NowPublic:
    item = runtime.broadcasts.now_playing()
    return NowPublic(on_air=item is not None and item["state"] == "playing", item=item,
                     zones_on=sorted(runtime.broadcasts.zones.active))


@router.post("/broadcasts/stop", summary="Stop what is on air (logged cancelled)",
             responses=error_responses(409))
async def stop(runtime: RuntimeDep, caller: Technician) -> StoppedPublic:
    item = await runtime.broadcasts.stop(by=caller.name)
    if item is None:
        raise conflict("nothing is on air")
    await record_change(runtime, caller, "broadcast.stop", item.key)
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
    records = await run_in_threadpool(runtime.broadcasts.airlog.query, since=since,
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

