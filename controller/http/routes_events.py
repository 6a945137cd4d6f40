"""Alarms and notable events (``runtime.events``), newest first, and acknowledging them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query
from starlette.concurrency import run_in_threadpool

from controller.http.audit import record_change
from controller.http.auth import Technician, Viewer
from controller.http.bodies import json_router
from controller.http.context import RuntimeDep
from controller.http.errors import not_found
from controller.http.models import EventPublic, Severity
from controller.http.views import event_public
from controller.platform.alarms import SEVERITIES
from controller.platform.instants import Instant

MAX_EVENTS = 1000

router = json_router(tags=["events"])


@router.get("/events", summary="Alarms and notable events, newest first")
async def list_events(
        runtime: RuntimeDep, caller: Viewer,
        since: Annotated[Instant | None, Query(
            description="ISO-8601 with an offset (URL-encode the '+')")] = None,
        severity: Annotated[Severity | None, Query(
            description="this severity and the more severe ones")] = None,
        open_only: Annotated[bool | None, Query(
            alias="open", description="true: open alarms only; false: all but those")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_EVENTS)] = 100,
) -> list[EventPublic]:
    least = SEVERITIES.index(severity or SEVERITIES[0])

    def wanted(record: dict[str, Any]) -> bool:
        is_open = record.get("type") == "alarm" and "cleared_at" not in record
        return (_rank(record) >= least) and (open_only is None or is_open == open_only)

    # History reads day files from disk: off the event loop.
    records = await run_in_threadpool(
        lambda: runtime.events.query(since=since, where=wanted, limit=limit, newest_first=True))
    return [event_public(r) for r in records]


@router.post("/events/{event_id}/ack", summary="Acknowledge an alarm or event")
async def acknowledge_event(event_id: str, runtime: RuntimeDep,
                            caller: Technician) -> EventPublic:
    record = runtime.events.get(event_id)
    if record is None:
        raise not_found("event", event_id)
    if "acked_at" in record:
        return event_public(record)  # already acknowledged: nothing changes
    # On the loop, not in a thread: the alarm book's open alarms are shared with the
    # coordinators. It appends one line.
    amended = runtime.alarms.acknowledge(event_id, by=caller.name)
    if amended is None:
        raise not_found("event", event_id)
    await record_change(runtime, caller, "event.ack", event_id,
                        {"kind": amended.get("kind"), "target": amended.get("target")})
    return event_public(amended)


def _rank(record: dict[str, Any]) -> int:
    severity = record.get("severity")
    return SEVERITIES.index(severity) if severity in SEVERITIES else 0
