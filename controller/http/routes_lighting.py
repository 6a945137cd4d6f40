"""Circuits, overrides and the plan: what the lights do, forcing them for a while, and what
they will do (docs/api.md).

The handlers are adapters: the body becomes a record, the lighting service does the use case
(``controller.lighting.service``), and its record becomes the answer.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Literal

from fastapi import Query, Response
from starlette.concurrency import run_in_threadpool

from controller.http.auth import Technician, Viewer
from controller.http.bodies import json_router
from controller.http.context import RuntimeDep
from controller.http.errors import invalid
from controller.http.models import CircuitPublic, PlanPublic
from controller.http.schedule_models import OverrideCreate, OverridePublic
from controller.http.views import circuit_public, circuits_public
from controller.lighting.programs import site_of
from controller.plan import (
    PlanSources,
    build_window_plan,
    render_ics,
    window_bounds,
    window_problem,
)
from schedules.errors import ScheduleError
from schedules.lunar import to_lunar

MAX_PLAN_DAYS = 366

router = json_router(tags=["lighting"])


@router.get("/circuits", summary="Every circuit: desired, commanded and actual state")
async def list_circuits(runtime: RuntimeDep, caller: Viewer) -> list[CircuitPublic]:
    return circuits_public(runtime)


@router.get("/circuits/{circuit_id}", summary="One circuit")
async def get_circuit(circuit_id: str, runtime: RuntimeDep, caller: Viewer) -> CircuitPublic:
    return circuit_public(runtime.lighting_service.circuit(circuit_id))


# -- overrides -----------------------------------------------------------------------------------

@router.get("/overrides", summary="Overrides in force, newest first")
async def list_overrides(runtime: RuntimeDep, caller: Viewer) -> list[OverridePublic]:
    return [OverridePublic.of(o) for o in runtime.lighting_service.overrides()]


@router.post("/overrides", status_code=201,
             summary="Force a circuit, a group or everything on or off for a while")
async def create_override(body: OverrideCreate, runtime: RuntimeDep,
                          caller: Technician) -> OverridePublic:
    created = await runtime.lighting_service.create_override(body.request(), caller)
    return OverridePublic.of(created)


@router.delete("/overrides/{override_id}", status_code=204,
               summary="End an override now; the schedule takes over again")
async def delete_override(override_id: str, runtime: RuntimeDep,
                          caller: Technician) -> Response:
    await runtime.lighting_service.end_override(override_id, caller)
    return Response(status_code=204)


# -- plan ----------------------------------------------------------------------------------------

PLAN_DESCRIPTION = """\
The lighting transitions of `days` plan days from `from` (local; a plan day runs from noon to
noon, so that a night is whole) and the broadcasts of the same `days` calendar days (midnight
to midnight: `from` a Monday with `days=7` is Monday to Sunday), computed by the same code as
the controller and `communectl plan` (docs/plan.md).

JSON: `{"from", "days", "entries": [...], "skipped": [...]}`. Each entry is exactly an object of
`communectl plan --format json` (which prints the bare list): `kind` "lighting" for a circuit's
transition, "broadcast" for an airing of a programme or an announcement, with its name, zones,
level and expected length. `skipped` lists what was left out on a day and why (a window
without its sun event on a polar day, a broadcast due in quiet hours), which the CLI prints on
stderr.

`format=ics`: an iCalendar file (`text/calendar`, RFC 5545): one event per lit span of a
circuit and one per broadcast, each with its real length.
"""


@router.get("/plan", summary="Lighting transitions and broadcasts in a window",
            description=PLAN_DESCRIPTION, tags=["plan"],
            response_model=PlanPublic, responses={200: {"content": {"text/calendar": {}}}})
async def get_plan(
        runtime: RuntimeDep, caller: Viewer,
        start_day: Annotated[date | None, Query(alias="from",
                                                description="YYYY-MM-DD; default today")] = None,
        days: Annotated[int, Query(ge=1, le=MAX_PLAN_DAYS)] = 1,
        output: Annotated[Literal["json", "ics"], Query(alias="format")] = "json",
) -> PlanPublic | Response:
    now = runtime.clock.now()
    site = site_of(runtime.config)
    first = start_day or now.astimezone(site.tz).date()
    problem = window_problem(first, days)
    if problem is not None:
        raise invalid(*problem)
    start, end = window_bounds(site, first, days)
    sources = PlanSources(book=runtime.programs, tables=runtime.store, player=runtime.player)
    # A year of transitions is CPU work: off the event loop, so the coordinators keep time.
    result = await run_in_threadpool(
        lambda: build_window_plan(runtime.config, sources, start=start, end=end))
    if output == "ics":
        return Response(render_ics(result, site_id=runtime.config.site.id, generated=now),
                        media_type="text/calendar; charset=utf-8")
    return PlanPublic.model_validate({
        "from": first, "days": days, "entries": [e.as_json() for e in result.entries],
        "skipped": [n.as_json() for n in result.notes],
        "dates": [{"date": day, "lunar": _lunar(day)}
                  for day in (first + timedelta(days=n) for n in range(days))]})


def _lunar(day: date) -> dict[str, object] | None:
    try:
        lunar = to_lunar(day)
    except ScheduleError:  # outside the years the calendar is computed for
        return None
    return {"year": lunar.year, "month": lunar.month, "day": lunar.day, "leap": lunar.leap}
