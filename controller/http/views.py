"""Runtime state turned into public models, shared by the endpoints that show it (a circuit
appears in /circuits and in /status, a plan entry in /plan and in /status)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from controller.http.models import (
    CircuitPublic,
    DesiredPublic,
    DevicePublic,
    EventPublic,
    PlanEntryPublic,
    PlanNotePublic,
)
from controller.config import CircuitConfig
from controller.lighting.coordinator import Desired
from controller.plan import PlanEntry, PlanNote, build_plan
from controller.lighting.programs import site_of
from controller.runtime import Runtime


def circuit_public(runtime: Runtime, circuit: CircuitConfig,
                   desired: Desired | None = None) -> CircuitPublic:
    """The coordinator's view of a circuit, with ``desired`` as the rules say it now.

    The coordinator's record holds the desired state of its last pass; a request that just
    created an override must see it at once, before the coordinator acted on it. Then
    ``commanded`` and ``actual`` lag behind for a moment, which is what they are there to show.
    """
    view = runtime.lighting.circuit_view(circuit)
    now = runtime.clock.now()
    view["desired"] = desired_public(desired or runtime.lighting.desired(circuit, at=now))
    return CircuitPublic.model_validate(view)


def circuits_public(runtime: Runtime) -> list[CircuitPublic]:
    now = runtime.clock.now()
    # Read storage once for all circuits, as the coordinator does on each pass.
    active = runtime.overrides.active(now=now)
    programs, calendars = runtime.programs.programs(), runtime.programs.calendars()
    return [circuit_public(runtime, c, runtime.lighting.desired(
                c, at=now, active=active, programs=programs, calendars=calendars))
            for c in runtime.config.circuits]


def desired_public(desired: Desired) -> DesiredPublic:
    return DesiredPublic.model_validate(asdict(desired))


def devices_public(runtime: Runtime) -> list[DevicePublic]:
    return [DevicePublic.model_validate(runtime.devices.describe(d.id))
            for d in runtime.config.devices]


def event_public(record: dict[str, Any]) -> EventPublic:
    return EventPublic.model_validate(record)


def plan_between(runtime: Runtime, *, start: datetime,
                 end: datetime) -> tuple[list[PlanEntry], list[PlanNote]]:
    """The same plan ``communectl plan`` and the coordinator compute, from stored programmes."""
    return build_plan(runtime.config, site_of(runtime.config), runtime.programs.programs(),
                      runtime.programs.calendars(), start=start, end=end)


def plan_entry_public(entry: PlanEntry) -> PlanEntryPublic:
    return PlanEntryPublic.model_validate(entry.as_json())


def plan_note_public(note: PlanNote) -> PlanNotePublic:
    return PlanNotePublic.model_validate(note.as_json())
