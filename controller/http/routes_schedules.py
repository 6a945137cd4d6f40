"""Lighting programmes and calendars: the documents the coordinator plans from (docs/api.md).

The handlers are adapters: the body's shape is checked by its model, the rest (times, dates,
references, what may be deleted) by the lighting service (``controller.lighting.service``),
whose refusals name the field to blame.
"""

from __future__ import annotations

from fastapi import Response

from controller.errors import InvalidInput
from controller.http.auth import Technician, Viewer
from controller.http.bodies import json_router
from controller.http.context import RuntimeDep
from controller.http.errors import error_responses
from controller.http.schedule_models import (
    CalendarCreate,
    CalendarPublic,
    CalendarUpdate,
    LightingPreviewCreate,
    LightingPreviewPublic,
    LightingProgramCreate,
    LightingProgramPublic,
    LightingProgramUpdate,
    calendar_public,
    calendar_record,
    preview_public,
    program_public,
    program_record,
    window_record,
)

router = json_router(tags=["schedules"])


# -- lighting programmes -----------------------------------------------------------------------

@router.get("/lighting-programs", summary="Every stored lighting programme")
async def list_programs(runtime: RuntimeDep, caller: Viewer) -> list[LightingProgramPublic]:
    return [program_public(v) for v in runtime.lighting_service.programs()]


PREVIEW_DESCRIPTION = """\
What windows would do before they are saved: for each plan day from `from` (local; a plan day
runs from noon to noon, so a night is whole) the spans they light, `on` to `off` with the level
and the deciding window's index, computed by the same code as the controller (overlapping
windows united, the highest level winning). `skipped` lists a window left out on a day for
want of its sun event (polar day or night), as `GET /plan` does. Nothing is stored.
"""


@router.post("/lighting-programs/preview", summary="What windows would do, before saving them",
             description=PREVIEW_DESCRIPTION)
async def preview_program(body: LightingPreviewCreate, runtime: RuntimeDep,
                          caller: Technician) -> LightingPreviewPublic:
    windows = tuple(window_record(w) for w in body.windows)
    # A month of a few windows is a few milliseconds (sun events are cached): on the loop,
    # where the programme book belongs.
    preview = runtime.lighting_service.preview(windows, first=body.from_, days=body.days)
    return preview_public(preview, runtime.config.site.timezone)


@router.get("/lighting-programs/{program_id}", summary="One lighting programme")
async def get_program(program_id: str, runtime: RuntimeDep,
                      caller: Viewer) -> LightingProgramPublic:
    return program_public(runtime.lighting_service.program(program_id))


@router.post("/lighting-programs", status_code=201, summary="Add a lighting programme",
             responses=error_responses(409))
async def create_program(body: LightingProgramCreate, runtime: RuntimeDep,
                         caller: Technician) -> LightingProgramPublic:
    program = program_record(body.id, body.name, body.windows)
    return program_public(await runtime.lighting_service.create_program(program, caller))


@router.put("/lighting-programs/{program_id}", summary="Replace a lighting programme")
async def replace_program(program_id: str, body: LightingProgramUpdate, runtime: RuntimeDep,
                          caller: Technician) -> LightingProgramPublic:
    check_same_id(body.id, program_id)
    program = program_record(program_id, body.name, body.windows)
    return program_public(await runtime.lighting_service.replace_program(program, caller))


@router.delete("/lighting-programs/{program_id}", status_code=204,
                summary="Delete a lighting programme no circuit follows",
                responses=error_responses(409))
async def delete_program(program_id: str, runtime: RuntimeDep,
                         caller: Technician) -> Response:
    await runtime.lighting_service.delete_program(program_id, caller)
    return Response(status_code=204)


# -- calendars -----------------------------------------------------------------------------------

@router.get("/calendars", summary="Every stored calendar")
async def list_calendars(runtime: RuntimeDep, caller: Viewer) -> list[CalendarPublic]:
    return [calendar_public(v) for v in runtime.lighting_service.calendars()]


@router.get("/calendars/{calendar_id}", summary="One calendar")
async def get_calendar(calendar_id: str, runtime: RuntimeDep, caller: Viewer) -> CalendarPublic:
    return calendar_public(runtime.lighting_service.calendar(calendar_id))


@router.post("/calendars", status_code=201, summary="Add a calendar",
             responses=error_responses(409))
async def create_calendar(body: CalendarCreate, runtime: RuntimeDep,
                          caller: Technician) -> CalendarPublic:
    calendar = calendar_record(body.id, body.name, body.dates, body.ranges,
                               body.public_holidays)
    return calendar_public(await runtime.lighting_service.create_calendar(calendar, caller))


@router.put("/calendars/{calendar_id}", summary="Replace a calendar")
async def replace_calendar(calendar_id: str, body: CalendarUpdate, runtime: RuntimeDep,
                           caller: Technician) -> CalendarPublic:
    check_same_id(body.id, calendar_id)
    calendar = calendar_record(calendar_id, body.name, body.dates, body.ranges,
                               body.public_holidays)
    return calendar_public(await runtime.lighting_service.replace_calendar(calendar, caller))


@router.delete("/calendars/{calendar_id}", status_code=204,
                summary="Delete a calendar no programme names", responses=error_responses(409))
async def delete_calendar(calendar_id: str, runtime: RuntimeDep,
                          caller: Technician) -> Response:
    await runtime.lighting_service.delete_calendar(calendar_id, caller)
    return Response(status_code=204)


# -- shared --------------------------------------------------------------------------------------

def check_same_id(sent: str | None, path_id: str) -> None:
    """A PUT's body may carry the id back as it was read, never another one."""
    if sent is not None and sent != path_id:
        raise InvalidInput(f"the body's id {sent!r} is not the one in the path, {path_id!r}; "
                           "an id cannot be changed", parts=("id",))
