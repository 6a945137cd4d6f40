"""Circuits, overrides and the plan: what the lights do, forcing them for a while, and what
they will do.

Handlers run on the event loop, beside the coordinators, because the coordinator's records and
its wake-up event are not thread-safe; storage writes, which fsync, go to a worker thread.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import Query, Response
from starlette.concurrency import run_in_threadpool

from controller.http.audit import record_change
from controller.http.auth import Technician, Viewer
from controller.http.bodies import json_router
from controller.http.context import RuntimeDep
from controller.http.errors import invalid, not_found
from controller.http.models import CircuitPublic, PlanPublic
from controller.http.schedule_models import (
    MAX_OVERRIDE_MIN,
    OverrideCreate,
    OverridePublic,
)
from controller.http.views import circuit_public, circuits_public
from controller.plan import (
    PlanSources,
    build_window_plan,
    render_ics,
    window_bounds,
    window_problem,
)
from controller.lighting.programs import site_of
from controller.runtime import Runtime

MAX_PLAN_DAYS = 366

router = json_router(tags=["lighting"])


@router.get("/circuits", summary="Every circuit: desired, commanded and actual state")
async def list_circuits(runtime: RuntimeDep, caller: Viewer) -> list[CircuitPublic]:
    return circuits_public(runtime)


@router.get("/circuits/{circuit_id}", summary="One circuit")
async def get_circuit(circuit_id: str, runtime: RuntimeDep, caller: Viewer) -> CircuitPublic:
    circuit = runtime.config.circuit(circuit_id)
    if circuit is None:
        raise not_found("circuit", circuit_id)
    return circuit_public(runtime, circuit)


# -- overrides -----------------------------------------------------------------------------------

@router.get("/overrides", summary="Overrides in force, newest first")
async def list_overrides(runtime: RuntimeDep, caller: Viewer) -> list[OverridePublic]:
    active = runtime.overrides.active(now=runtime.clock.now())
    return [OverridePublic.model_validate(o) for o in active]


@router.post("/overrides", status_code=201,
             summary="Force a circuit, a group or everything on or off for a while")
async def create_override(body: OverrideCreate, runtime: RuntimeDep,
                          caller: Technician) -> OverridePublic:
    now = runtime.clock.now()
    check_target(runtime, body.target)
    until = override_end(body, now=now)
    level = (body.level or 100) if body.state == "on" else 0
    created = await run_in_threadpool(
        lambda: runtime.overrides.create(target=body.target, state=body.state, level=level,
                                         until=until, reason=body.reason,
                                         created_by=caller.name, now=now))
    runtime.lighting.wake()
    level_text = f" at {level}%" if body.state == "on" else ""
    await note_override(runtime, created, f"{body.target} forced {body.state}{level_text} until "
                                          f"{until.isoformat()} by {caller.name}: {body.reason}")
    await record_change(runtime, caller, "override.create", created["id"],
                        {k: created[k] for k in ("target", "state", "level", "until", "reason")})
    return OverridePublic.model_validate(created)


@router.delete("/overrides/{override_id}", status_code=204,
               summary="End an override now; the schedule takes over again")
async def delete_override(override_id: str, runtime: RuntimeDep,
                          caller: Technician) -> Response:
    existing = runtime.overrides.get(override_id)
    if existing is None:
        raise not_found("override", override_id)
    if not await run_in_threadpool(runtime.overrides.delete, override_id):
        raise not_found("override", override_id)  # another request deleted it meanwhile
    runtime.lighting.wake()
    await note_override(runtime, existing, f"{existing['target']}: override ended by "
                                           f"{caller.name}; the schedule applies again")
    await record_change(runtime, caller, "override.delete", override_id,
                        {k: existing[k] for k in ("target", "state", "level", "until")})
    return Response(status_code=204)


async def note_override(runtime: Runtime, override: dict[str, Any], message: str) -> None:
    """Overrides in the event log too: whoever looks at the events (viewers, MQTT) sees why
    the lights do not follow the schedule. The audit is for admins only."""
    await run_in_threadpool(lambda: runtime.alarms.note(
        "override", override["target"], message, override=override["id"]))


def check_target(runtime: Runtime, target: str) -> None:
    kind, _, name = target.partition(":")
    known = {"circuit": {c.id for c in runtime.config.circuits},
             "group": runtime.config.groups}
    if kind in known and name not in known[kind]:
        raise invalid("target", f"no {kind} {name!r} in this installation")


def override_end(body: OverrideCreate, *, now: datetime) -> datetime:
    if body.duration_min is not None:
        return now + timedelta(minutes=body.duration_min)
    assert body.until is not None  # OverrideCreate holds exactly one of them
    if body.until <= now:
        raise invalid("until", f"{body.until.isoformat()} is not in the future "
                               f"(the controller's time is {now.isoformat()})")
    if body.until > now + timedelta(minutes=MAX_OVERRIDE_MIN):
        raise invalid("until", "an override lasts at most 7 days")
    return body.until


# -- plan ----------------------------------------------------------------------------------------

PLAN_DESCRIPTION = """\
The lighting transitions and the broadcasts of `days` plan days from `from` (local; a plan day
runs from noon to noon, so that a night is whole), computed by the same code as the controller
and `communectl plan` (docs/plan.md).

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
        "skipped": [n.as_json() for n in result.notes]})
