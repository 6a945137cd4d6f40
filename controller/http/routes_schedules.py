"""Lighting programmes and calendars: the documents the coordinator plans from.

A document is checked whole before anything is stored: its shape (the config's models), its
times and dates (``program_from_doc`` / ``calendar_from_doc``), and its references, inside the
same storage transaction as the write, so that a calendar cannot vanish between the check and
the write of a programme that names it. Any refusal leaves storage as it was.

Deleting refuses (409) what is still needed: a programme a circuit of the config follows, a
calendar a stored programme names, and a document the config defines, which would otherwise
come back at the next start (``controller.lighting.programs.seed``).
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import Response
from starlette.concurrency import run_in_threadpool

from controller.http.audit import record_change
from controller.http.auth import Technician, Viewer
from controller.http.bodies import json_router
from controller.http.context import RuntimeDep
from controller.http.errors import (
    ApiError,
    conflict,
    error_responses,
    invalid,
    not_found,
)
from controller.http.schedule_models import (
    CalendarCreate,
    CalendarPublic,
    CalendarUpdate,
    LightingProgramCreate,
    LightingProgramPublic,
    LightingProgramUpdate,
)
from controller.config import Config
from controller.lighting.programs import CALENDARS, PROGRAMS, calendar_from_doc, program_from_doc
from controller.platform.store import Store, Tables
from schedules.errors import ScheduleError

Document = dict[str, Any]

router = json_router(tags=["schedules"])

# program_from_doc says "windows[2]: on: ..." (and Window.parse names on/off/level/days).
_WINDOW_PROBLEM = re.compile(r"^windows\[(\d+)\]: (?:(on|off|level|days): )?")


# -- lighting programmes -----------------------------------------------------------------------

@router.get("/lighting-programs", summary="Every stored lighting programme")
async def list_programs(runtime: RuntimeDep, caller: Viewer) -> list[LightingProgramPublic]:
    docs = sorted(runtime.store.all(PROGRAMS), key=lambda d: d["id"])
    return [program_public(runtime.config, d) for d in docs]


@router.get("/lighting-programs/{program_id}", summary="One lighting programme")
async def get_program(program_id: str, runtime: RuntimeDep,
                      caller: Viewer) -> LightingProgramPublic:
    doc = runtime.store.get(PROGRAMS, program_id)
    if doc is None:
        raise not_found("lighting programme", program_id)
    return program_public(runtime.config, doc)


@router.post("/lighting-programs", status_code=201, summary="Add a lighting programme",
             responses=error_responses(409))
async def create_program(body: LightingProgramCreate, runtime: RuntimeDep,
                         caller: Technician) -> LightingProgramPublic:
    doc = body.model_dump(mode="json")
    await run_in_threadpool(_insert_program, runtime.store, doc)
    runtime.lighting.wake()
    await record_change(runtime, caller, "lighting_program.create", doc["id"], doc)
    return program_public(runtime.config, doc)


@router.put("/lighting-programs/{program_id}", summary="Replace a lighting programme")
async def replace_program(program_id: str, body: LightingProgramUpdate, runtime: RuntimeDep,
                          caller: Technician) -> LightingProgramPublic:
    check_same_id(body.id, program_id)
    doc = {"id": program_id, **body.model_dump(mode="json", exclude={"id"})}
    await run_in_threadpool(_replace_program, runtime.store, doc)
    runtime.lighting.wake()
    await record_change(runtime, caller, "lighting_program.update", program_id, doc)
    return program_public(runtime.config, doc)


@router.delete("/lighting-programs/{program_id}", status_code=204,
                summary="Delete a lighting programme no circuit follows",
                responses=error_responses(409))
async def delete_program(program_id: str, runtime: RuntimeDep,
                         caller: Technician) -> Response:
    previous = await run_in_threadpool(_delete_program, runtime.store, runtime.config,
                                       program_id)
    runtime.lighting.wake()
    await record_change(runtime, caller, "lighting_program.delete", program_id, previous)
    return Response(status_code=204)


def program_public(config: Config, doc: Document) -> LightingProgramPublic:
    return LightingProgramPublic.model_validate(
        {**doc, "circuits": [c.id for c in config.circuits if c.program == doc["id"]]})


def check_program(doc: Document, tables: Tables) -> None:
    try:
        program_from_doc(doc)
    except ScheduleError as exc:
        match = _WINDOW_PROBLEM.match(str(exc))
        field = ".".join(p for p in ("windows", *(match.groups() if match else ())) if p)
        raise invalid(field, str(exc)) from exc
    calendars = {c["id"] for c in tables.all(CALENDARS)}
    for index, window in enumerate(doc["windows"]):
        if window.get("calendar") is not None and window["calendar"] not in calendars:
            raise invalid(f"windows.{index}.calendar",
                          f"no calendar {window['calendar']!r}; add it first")


def _insert_program(store: Store, doc: Document) -> None:
    with store.transaction() as tables:
        check_program(doc, tables)
        if not tables.insert_new(PROGRAMS, doc):
            raise conflict(f"lighting programme {doc['id']!r} exists; PUT replaces it",
                           field="id")


def _replace_program(store: Store, doc: Document) -> None:
    with store.transaction() as tables:
        if tables.get(PROGRAMS, doc["id"]) is None:
            raise not_found("lighting programme", doc["id"])
        check_program(doc, tables)
        tables.put(PROGRAMS, doc)


def _delete_program(store: Store, config: Config, program_id: str) -> Document:
    with store.transaction() as tables:
        previous = tables.get(PROGRAMS, program_id)
        if previous is None:
            raise not_found("lighting programme", program_id)
        followers = [c.id for c in config.circuits if c.program == program_id]
        if followers:
            raise conflict(f"circuits {', '.join(followers)} follow lighting programme "
                           f"{program_id!r} (config file); give them another one first")
        if any(p.id == program_id for p in config.lighting_programs):
            raise _defined_in_config("lighting programme", program_id)
        tables.delete(PROGRAMS, program_id)
        return previous


# -- calendars -----------------------------------------------------------------------------------

@router.get("/calendars", summary="Every stored calendar")
async def list_calendars(runtime: RuntimeDep, caller: Viewer) -> list[CalendarPublic]:
    programs = runtime.store.all(PROGRAMS)
    docs = sorted(runtime.store.all(CALENDARS), key=lambda d: d["id"])
    return [calendar_public(d, programs) for d in docs]


@router.get("/calendars/{calendar_id}", summary="One calendar")
async def get_calendar(calendar_id: str, runtime: RuntimeDep, caller: Viewer) -> CalendarPublic:
    doc = runtime.store.get(CALENDARS, calendar_id)
    if doc is None:
        raise not_found("calendar", calendar_id)
    return calendar_public(doc, runtime.store.all(PROGRAMS))


@router.post("/calendars", status_code=201, summary="Add a calendar",
             responses=error_responses(409))
async def create_calendar(body: CalendarCreate, runtime: RuntimeDep,
                          caller: Technician) -> CalendarPublic:
    doc = body.model_dump(mode="json")
    check_calendar(doc)
    programs = await run_in_threadpool(_insert_calendar, runtime.store, doc)
    runtime.lighting.wake()
    await record_change(runtime, caller, "calendar.create", doc["id"], doc)
    return calendar_public(doc, programs)


@router.put("/calendars/{calendar_id}", summary="Replace a calendar")
async def replace_calendar(calendar_id: str, body: CalendarUpdate, runtime: RuntimeDep,
                           caller: Technician) -> CalendarPublic:
    check_same_id(body.id, calendar_id)
    doc = {"id": calendar_id, **body.model_dump(mode="json", exclude={"id"})}
    check_calendar(doc)
    programs = await run_in_threadpool(_replace_calendar, runtime.store, doc)
    runtime.lighting.wake()
    await record_change(runtime, caller, "calendar.update", calendar_id, doc)
    return calendar_public(doc, programs)


@router.delete("/calendars/{calendar_id}", status_code=204,
                summary="Delete a calendar no programme names", responses=error_responses(409))
async def delete_calendar(calendar_id: str, runtime: RuntimeDep,
                          caller: Technician) -> Response:
    previous = await run_in_threadpool(_delete_calendar, runtime.store, runtime.config,
                                       calendar_id)
    runtime.lighting.wake()
    await record_change(runtime, caller, "calendar.delete", calendar_id, previous)
    return Response(status_code=204)


def calendar_public(doc: Document, programs: list[Document]) -> CalendarPublic:
    return CalendarPublic.model_validate({**doc, "programs": programs_naming(doc["id"], programs)})


def programs_naming(calendar_id: str, programs: list[Document]) -> list[str]:
    return sorted(p["id"] for p in programs
                  if any(w.get("calendar") == calendar_id for w in p.get("windows", [])))


def check_calendar(doc: Document) -> None:
    try:
        calendar_from_doc(doc)
    except ScheduleError as exc:
        raise invalid(_calendar_field(doc), str(exc)) from exc


def _calendar_field(doc: Document) -> str | None:
    """The entry to blame: the error names the entry's value, not its place, so each entry is
    tried alone (only after the whole calendar failed, so the cost is paid on errors only)."""
    pieces: list[tuple[str, Document]] = [
        *((f"dates.{i}", {"dates": [d]}) for i, d in enumerate(doc["dates"])),
        *((f"ranges.{i}", {"ranges": [r]}) for i, r in enumerate(doc["ranges"])),
        ("public_holidays", {"public_holidays": doc["public_holidays"]}),
    ]
    for field, piece in pieces:
        try:
            calendar_from_doc({"id": doc["id"], **piece})
        except ScheduleError:
            return field
    return None


def _insert_calendar(store: Store, doc: Document) -> list[Document]:
    with store.transaction() as tables:
        if not tables.insert_new(CALENDARS, doc):
            raise conflict(f"calendar {doc['id']!r} exists; PUT replaces it", field="id")
        return tables.all(PROGRAMS)


def _replace_calendar(store: Store, doc: Document) -> list[Document]:
    with store.transaction() as tables:
        if tables.get(CALENDARS, doc["id"]) is None:
            raise not_found("calendar", doc["id"])
        tables.put(CALENDARS, doc)
        return tables.all(PROGRAMS)


def _delete_calendar(store: Store, config: Config, calendar_id: str) -> Document:
    with store.transaction() as tables:
        previous = tables.get(CALENDARS, calendar_id)
        if previous is None:
            raise not_found("calendar", calendar_id)
        naming = programs_naming(calendar_id, tables.all(PROGRAMS))
        if naming:
            raise conflict(f"lighting programmes {', '.join(naming)} name calendar "
                           f"{calendar_id!r}; change them first")
        if any(c.id == calendar_id for c in config.calendars):
            raise _defined_in_config("calendar", calendar_id)
        tables.delete(CALENDARS, calendar_id)
        return previous


# -- shared --------------------------------------------------------------------------------------

def check_same_id(sent: str | None, path_id: str) -> None:
    if sent is not None and sent != path_id:
        raise invalid("id", f"the body's id {sent!r} is not the one in the path, {path_id!r}; "
                            "an id cannot be changed")


def _defined_in_config(kind: str, identifier: str) -> ApiError:
    return conflict(f"{kind} {identifier!r} is defined in the config file and would come back "
                    "at the next start; remove it there first")
