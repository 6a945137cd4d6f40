"""The lighting service on its own, without HTTP or MQTT: a real store in a temporary folder and
a real coordinator on the fake clock of the API fixtures (noon of an ordinary Thursday: every
lamp off by the schedule, the next switch point at sunset).

What is checked: overrides created and ended with their note and audit, refusals that name
their field as data (and change nothing), Home Assistant's hold until the next switch point,
each programme parsed once, and the records against documents as the earlier code stored them.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from controller.errors import Conflict, InvalidInput, NotFound, RequestError
from controller.lighting import programs as programs_module
from controller.lighting.programs import PROGRAMS, program_doc, site_of
from controller.lighting.records import (
    LightingCalendar,
    LightingProgram,
    Override,
    OverrideRequest,
    ProgramWindow,
)
from controller.lighting.service import HOLD_MAX, LightingService
from controller.plan import build_plan
from controller.platform.audit import Actor
from controller.platform.clock import FakeClock
from controller.runtime import Runtime
from schedules.lighting import Program

TECHNICIAN = Actor(name="tech-1", role="technician")

# An override as the code before the typed records stored it (OverrideBook.create's dict).
OLD_OVERRIDE_DOC = {
    "id": "ovr-1795669200-a1b2c3",
    "target": "group:main-road",
    "state": "on",
    "level": 50,
    "until": "2026-11-26T12:30:00+07:00",
    "reason": "bảo trì",
    "created_by": "tech-1",
    "created_at": "2026-11-26T12:00:00+07:00",
}


@pytest.fixture
def service(api_runtime: Runtime) -> LightingService:
    return api_runtime.lighting_service


def audited(runtime: Runtime, action: str) -> list[dict[str, Any]]:
    return [r for r in runtime.audit.query() if r["action"] == action]


def window(**fields: Any) -> ProgramWindow:
    return ProgramWindow(**{"on": "sunset+5m", "off": "23:00", **fields})


# -- overrides -----------------------------------------------------------------------------------

async def test_an_override_is_stored_applied_noted_and_audited(
        service: LightingService, api_runtime: Runtime, api_clock: FakeClock) -> None:
    created = await service.create_override(OverrideRequest(
        target="circuit:road-5", state="on", reason="thay bóng", level=60, duration_min=30),
        TECHNICIAN)

    assert (created.level, created.until) == (60, api_clock.now() + timedelta(minutes=30))
    assert service.overrides() == [created]
    road_5, road_6 = service.circuits()
    assert (road_5.desired.source, road_5.desired.level) == ("override", 60)
    assert road_6.desired.source == "default"
    [note] = [e for e in api_runtime.events.query() if e["kind"] == "override"]
    assert (note["target"], note["override"]) == ("circuit:road-5", created.id)
    [audit] = audited(api_runtime, "override.create")
    assert (audit["actor"], audit["target"]) == ("tech-1", created.id)
    assert audit["details"] == {"target": "circuit:road-5", "state": "on", "level": 60,
                                "until": created.until.isoformat(), "reason": "thay bóng"}


async def test_an_override_that_switches_off_has_level_zero(service: LightingService) -> None:
    created = await service.create_override(OverrideRequest(
        target="all", state="off", reason="test", level=80, duration_min=5), TECHNICIAN)
    assert created.level == 0


async def test_an_override_is_ended_once(service: LightingService,
                                         api_runtime: Runtime) -> None:
    created = await service.create_override(OverrideRequest(
        target="group:main-road", state="on", reason="test", duration_min=5), TECHNICIAN)

    ended = await service.end_override(created.id, TECHNICIAN)
    assert ended == created
    assert service.overrides() == []
    assert service.circuit("road-5").desired.source == "default"
    with pytest.raises(NotFound) as again:
        await service.end_override(created.id, TECHNICIAN)
    assert (again.value.message, again.value.parts) == (f"no override {created.id!r}", ())
    [audit] = audited(api_runtime, "override.delete")
    assert "reason" not in audit["details"]


async def test_back_to_schedule_ends_the_circuits_own_overrides_only(
        service: LightingService) -> None:
    own = [await service.create_override(OverrideRequest(
        target="circuit:road-5", state="off", reason=f"r{i}", duration_min=5 + i), TECHNICIAN)
        for i in range(2)]
    group = await service.create_override(OverrideRequest(
        target="group:main-road", state="on", reason="group", duration_min=5), TECHNICIAN)

    assert await service.end_circuit_overrides("road-5", TECHNICIAN) == len(own)
    assert service.overrides() == [group]


@pytest.mark.parametrize(("request_", "parts"), [
    (OverrideRequest(target="circuit:nowhere", state="on", reason="x", duration_min=5),
     ("target",)),
    (OverrideRequest(target="group:nowhere", state="on", reason="x", duration_min=5),
     ("target",)),
    (OverrideRequest(target="circuit:road-5", state="on", reason="x", level=101,
                     duration_min=5), ("level",)),
    (OverrideRequest(target="circuit:road-5", state="on", reason="x", duration_min=0),
     ("duration_min",)),
    (OverrideRequest(target="circuit:road-5", state="on", reason="x"), ()),
])
async def test_a_refused_override_names_its_field_and_changes_nothing(
        service: LightingService, api_runtime: Runtime, request_: OverrideRequest,
        parts: tuple[str, ...]) -> None:
    with pytest.raises(InvalidInput) as refused:
        await service.create_override(request_, TECHNICIAN)
    assert refused.value.parts == parts
    assert service.overrides() == []
    assert audited(api_runtime, "override.create") == []


@pytest.mark.parametrize("until", [timedelta(minutes=-1), timedelta(days=7, minutes=1)])
async def test_an_end_in_the_past_or_beyond_a_week_is_refused(
        service: LightingService, api_clock: FakeClock, until: timedelta) -> None:
    with pytest.raises(InvalidInput) as refused:
        await service.create_override(OverrideRequest(
            target="all", state="on", reason="x", until=api_clock.now() + until), TECHNICIAN)
    assert refused.value.field == "until"


# -- Home Assistant's hold -----------------------------------------------------------------------

async def test_a_hold_lasts_until_the_next_switch_point_of_the_plan(
        service: LightingService, api_runtime: Runtime, api_clock: FakeClock) -> None:
    now = api_clock.now()
    entries, _ = build_plan(api_runtime.config, site_of(api_runtime.config),
                            api_runtime.programs.programs(), api_runtime.programs.calendars(),
                            start=now, end=now + timedelta(days=1))
    next_switch = min(e.time for e in entries if e.target == "road-5" and e.time > now)

    held = await service.hold("road-5", "on", level=None, reason="Home Assistant",
                              actor=TECHNICIAN)

    assert (held.target, held.state, held.level) == ("circuit:road-5", "on", 100)
    assert held.until == next_switch


async def test_a_hold_of_fixed_minutes(service: LightingService, api_clock: FakeClock) -> None:
    held = await service.hold("road-5", "off", level=None, reason="Home Assistant",
                              actor=TECHNICIAN, minutes=45)
    assert held.until == api_clock.now() + timedelta(minutes=45)


async def test_a_hold_on_a_programme_that_never_switches_lasts_a_day_at_most(
        service: LightingService, api_clock: FakeClock) -> None:
    await service.replace_program(LightingProgram("part-night", "", ()), TECHNICIAN)
    held = await service.hold("road-5", "on", level=40, reason="Home Assistant",
                              actor=TECHNICIAN)
    assert (held.level, held.until) == (40, api_clock.now() + HOLD_MAX)


async def test_a_hold_on_an_unknown_circuit_names_the_target(service: LightingService) -> None:
    with pytest.raises(InvalidInput) as refused:
        await service.hold("nowhere", "on", level=None, reason="x", actor=TECHNICIAN)
    assert str(refused.value) == "target: no circuit 'nowhere' in this installation"


# -- programmes and calendars --------------------------------------------------------------------

@pytest.mark.parametrize(("windows", "parts"), [
    ((window(on="sunsett"),), ("windows", 0, "on")),
    ((window(), window(off="earliest(23:00)")), ("windows", 1, "off")),
    ((window(off="sunset+5m"),), ("windows", 0, "off")),  # no length
    ((window(level=101),), ("windows", 0, "level")),
    ((window(days=("someday",)),), ("windows", 0, "days")),
    ((window(days=()),), ("windows", 0, "days")),
    ((window(calendar="no-such-calendar"),), ("windows", 0, "calendar")),
])
async def test_a_bad_window_is_refused_with_its_path_as_data(
        service: LightingService, api_runtime: Runtime, windows: tuple[ProgramWindow, ...],
        parts: tuple[str | int, ...]) -> None:
    with pytest.raises(InvalidInput) as refused:
        await service.create_program(LightingProgram("evening", "", windows), TECHNICIAN)
    assert refused.value.parts == parts
    assert [v.program.id for v in service.programs()] == ["all-night", "part-night"]
    assert audited(api_runtime, "lighting_program.create") == []


@pytest.mark.parametrize(("calendar", "parts"), [
    (LightingCalendar("market", dates=("2026-12-05", "13-45")), ("dates", 1)),
    (LightingCalendar("market", ranges=(("2027-02-10", "2027-02-05"),)), ("ranges", 0)),
    (LightingCalendar("market", public_holidays="XX"), ("public_holidays",)),
])
async def test_a_bad_calendar_is_refused_with_its_path_as_data(
        service: LightingService, calendar: LightingCalendar,
        parts: tuple[str | int, ...]) -> None:
    with pytest.raises(InvalidInput) as refused:
        await service.create_calendar(calendar, TECHNICIAN)
    assert refused.value.parts == parts
    assert [v.calendar.id for v in service.calendars()] == ["holidays"]


async def test_programmes_and_calendars_are_edited_and_protected(
        service: LightingService, api_runtime: Runtime) -> None:
    market = LightingCalendar("market", dates=("2026-12-05",))
    evening = LightingProgram("evening", "Buổi tối", (window(calendar="market"),))
    await service.create_calendar(market, TECHNICIAN)
    view = await service.create_program(evening, TECHNICIAN)
    assert (view.program, view.circuits) == (evening, ())
    assert service.calendar("market").programs == ("evening",)
    assert service.program("part-night").circuits == ("road-5", "road-6")

    refusals: list[RequestError] = []
    for attempt in (service.create_program(evening, TECHNICIAN),
                    service.delete_calendar("market", TECHNICIAN),
                    service.delete_program("part-night", TECHNICIAN),
                    service.delete_calendar("holidays", TECHNICIAN),
                    service.replace_program(LightingProgram("nope", "", ()), TECHNICIAN)):
        with pytest.raises(RequestError) as refused:
            await attempt
        refusals.append(refused.value)
    assert [(type(r), r.parts) for r in refusals] == [
        (Conflict, ("id",)), (Conflict, ()), (Conflict, ()), (Conflict, ()), (NotFound, ())]

    assert await service.delete_program("evening", TECHNICIAN) == evening
    assert await service.delete_calendar("market", TECHNICIAN) == market
    assert sorted(api_runtime.programs.programs()) == ["all-night", "part-night"]


async def test_a_programme_is_parsed_once(service: LightingService, api_runtime: Runtime,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    book = api_runtime.programs
    book.programs()  # everything stored so far parsed, as at start-up
    parsed: list[str] = []
    parse = programs_module.parse_program

    def counting(program: LightingProgram) -> Program:
        parsed.append(program.id)
        return parse(program)

    monkeypatch.setattr(programs_module, "parse_program", counting)
    monkeypatch.setattr("controller.lighting.service.parse_program", counting)

    # A write to another table changes the store's revision: nothing is parsed again.
    await service.create_override(OverrideRequest(
        target="all", state="on", reason="x", duration_min=5), TECHNICIAN)
    assert "part-night" in book.programs()
    # An edit is parsed while it is checked, and the book takes that one.
    await service.replace_program(LightingProgram("all-night", "", (window(),)), TECHNICIAN)
    assert book.programs()["all-night"].windows[0].rule == "sunset+5m..23:00"
    assert parsed == ["all-night"]
    # The positive control: a document changed behind the service's back is parsed.
    api_runtime.store.put(PROGRAMS, LightingProgram("all-night", "", (window(off="22:00"),))
                          .to_doc())
    assert book.programs()["all-night"].windows[0].rule == "sunset+5m..22:00"
    assert parsed == ["all-night", "all-night"]


# -- records against stored documents ------------------------------------------------------------

def test_an_override_stored_by_the_earlier_code_reads_and_writes_back_the_same(
        api_runtime: Runtime) -> None:
    api_runtime.store.put("overrides", dict(OLD_OVERRIDE_DOC))
    override = api_runtime.overrides.get(OLD_OVERRIDE_DOC["id"])
    assert override is not None
    assert override.until == datetime.fromisoformat("2026-11-26T12:30:00+07:00")
    assert override.targets(api_runtime.config.circuits[0])
    stored = api_runtime.store.get("overrides", OLD_OVERRIDE_DOC["id"])
    assert json.dumps(override.to_doc()) == json.dumps(stored) == json.dumps(OLD_OVERRIDE_DOC)


async def test_an_override_created_now_is_stored_in_the_earlier_shape(
        service: LightingService, api_runtime: Runtime) -> None:
    created = await service.create_override(OverrideRequest(
        target="circuit:road-6", state="off", reason="x", duration_min=5), TECHNICIAN)
    stored = api_runtime.store.get("overrides", created.id)
    assert stored is not None
    assert list(stored) == list(OLD_OVERRIDE_DOC)
    assert Override.from_doc(stored) == created


def test_programmes_and_calendars_seeded_from_the_config_round_trip(
        api_runtime: Runtime) -> None:
    for program in api_runtime.config.lighting_programs:
        doc = api_runtime.store.get(PROGRAMS, program.id)
        assert json.dumps(LightingProgram.from_doc(doc).to_doc()) == json.dumps(doc) \
            == json.dumps(program_doc(program))
    for calendar in api_runtime.config.calendars:
        doc = api_runtime.store.get("calendars", calendar.id)
        assert json.dumps(LightingCalendar.from_doc(doc).to_doc()) == json.dumps(doc)
