"""Runtime state turned into public models, shared by the endpoints that show it (a circuit
appears in /circuits and in /status, a plan entry in /plan and in /status)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from controller.http.models import (
    ActualPublic,
    CircuitPublic,
    CommandedPublic,
    DesiredPublic,
    DevicePublic,
    EventPublic,
    OverrideExplained,
    PlanEntryPublic,
    PlanNotePublic,
    WindowExplained,
)
from controller.lighting.programs import site_of
from controller.lighting.records import CircuitState, Desired
from controller.plan import PlanEntry, PlanNote, build_plan
from controller.runtime import Runtime
from schedules.explain import window_terms
from schedules.windows import Window


def circuit_public(state: CircuitState) -> CircuitPublic:
    """A circuit as the API shows it, from the lighting service's record of it."""
    return CircuitPublic(
        id=state.id, name=state.name, groups=list(state.groups), program=state.program,
        desired=desired_public(state.desired),
        commanded=None if state.commanded is None else CommandedPublic(
            state=state.commanded.state, level=state.commanded.level, at=state.commanded.at),
        actual=None if state.actual is None else ActualPublic(
            state=state.actual.state, level=state.actual.level, read_at=state.actual.at),
        device_online=state.device_online)


def circuits_public(runtime: Runtime) -> list[CircuitPublic]:
    return [circuit_public(s) for s in runtime.lighting_service.circuits()]


def desired_public(desired: Desired) -> DesiredPublic:
    override = desired.override
    explained = {
        "source": desired.source,
        "window": None if desired.window is None else window_terms(desired.window),
        "window_index": desired.window_index, "window_in_force": desired.window_in_force,
        "until": desired.until,
        "override": None if override is None else OverrideExplained(
            id=override.id, until=override.until, reason=override.reason,
            created_by=override.created_by)}
    return DesiredPublic.model_validate({
        "state": desired.state, "level": desired.level, "source": desired.source,
        "rule": desired.rule, "since": desired.since, "until": desired.until,
        "explained": explained})


def window_explained(window: Window) -> WindowExplained:
    return WindowExplained.model_validate(window_terms(window))


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
