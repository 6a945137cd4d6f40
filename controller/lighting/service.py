"""The lighting use cases, one method each, called alike by the HTTP API, MQTT and the CLI
(docs/architecture.md): what the circuits do, forcing them for a while, and editing the
programmes and calendars they follow.

Every change is checked whole before anything is stored, and a refusal is a
``controller.errors`` error whose parts name the input to blame (the API answers them as
``{"error": {..., "field": "windows.0.on"}}``, docs/api.md); a refused change leaves storage,
the event log and the audit trail as they were. Storage writes fsync, so they go to a worker
thread; the coordinator is woken at once, and whatever reads a circuit's state reads it here.

Programme and calendar edits are checked inside the same storage transaction as their write,
so a calendar cannot vanish between the check and the write of a programme that names it.
Deleting refuses (409) what is still needed: a programme a circuit of the config follows, a
calendar a stored programme names, and a document the config defines, which would otherwise
come back at the next start (``controller.lighting.programs.seed``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from controller.config import CircuitConfig, Config
from controller.errors import Conflict, InvalidInput, NotFound
from controller.lighting.coordinator import CircuitRecord, LightingCoordinator
from controller.lighting.overrides import OverrideBook
from controller.lighting.programs import (
    CALENDARS,
    PROGRAMS,
    ProgramBook,
    parse_calendar,
    parse_program,
    site_of,
)
from controller.lighting.records import (
    ALL_CIRCUITS,
    MAX_OVERRIDE_MIN,
    CalendarView,
    CircuitState,
    Desired,
    LightingCalendar,
    LightingProgram,
    Override,
    OverrideRequest,
    ProgramView,
    ProgramWindow,
    Reading,
    State,
    circuit_target,
    split_target,
)
from controller.lighting.usage import DayUsage, stored_usage
from controller.platform.alarms import AlarmBook
from controller.platform.audit import Actor, AuditTrail
from controller.platform.clock import Clock
from controller.platform.devices import DeviceManager
from controller.platform.store import Store, Tables
from schedules.calendars import Calendar
from schedules.errors import ScheduleError
from schedules.lighting import Night, Program, nights
from schedules.lunar import FIRST_YEAR, LAST_YEAR

# A preview of windows not yet saved covers at most this many plan days.
MAX_PREVIEW_DAYS = 31
# The lunar calendar is known for these years; a preview looks a few days around its own.
PREVIEW_FIRST_DAY, PREVIEW_LAST_DAY = date(FIRST_YEAR + 1, 1, 1), date(LAST_YEAR - 1, 1, 1)

# A hold "until the next switch point" with no switch point of the schedule within this holds
# this long: a circuit whose programme never changes is not forced for ever (docs/mqtt.md).
HOLD_MAX = timedelta(hours=24)


@dataclass(frozen=True)
class ProgramPreview:
    """What windows not yet saved would do, night by night, computed as the coordinator
    computes them."""

    first: date
    days: int
    parsed: Program
    nights: list[Night]


@dataclass(frozen=True)
class LightingFigures:
    """What the lighting has done since start, for the metrics (docs/metrics.md): copies, so
    that a scrape never holds the coordinator's own containers."""

    records: dict[str, CircuitRecord]
    reconciles: int
    drifts: dict[tuple[str, str, str], int]  # (device, circuit, reason) -> count
    lateness_s: tuple[float, ...]  # the latest transitions, for quantiles
    lateness_count: int  # every transition since start
    lateness_sum_s: float


class LightingService:
    def __init__(self, *, config: Config, clock: Clock, store: Store, overrides: OverrideBook,
                 programs: ProgramBook, coordinator: LightingCoordinator,
                 devices: DeviceManager, alarms: AlarmBook, trail: AuditTrail) -> None:
        self._config = config
        self._clock = clock
        self._store = store
        self._overrides = overrides
        self._book = programs
        self._coordinator = coordinator
        self._devices = devices
        self._alarms = alarms
        self._trail = trail

    # -- circuits ----------------------------------------------------------------------------

    def circuits(self) -> list[CircuitState]:
        """Every circuit, ``desired`` as the rules say it now: a request that just created an
        override sees it at once, before the coordinator acted on it (``commanded`` and
        ``actual`` lag behind for a moment, which is what they are there to show)."""
        now = self._clock.now()
        # Storage read once for all circuits, as the coordinator does on each pass.
        active = self._overrides.active(now=now)
        programs, calendars = self._book.programs(), self._book.calendars()
        return [self._state(c, self._coordinator.desired(
                    c, at=now, active=active, programs=programs, calendars=calendars))
                for c in self._config.circuits]

    def circuit(self, circuit_id: str) -> CircuitState:
        circuit = self._config.circuit(circuit_id)
        if circuit is None:
            raise NotFound.of("circuit", circuit_id)
        return self._state(circuit, self._coordinator.desired(circuit, at=self._clock.now()))

    def applied(self) -> dict[str, Desired]:
        """Per circuit, the desired state of the coordinator's last pass (what it is applying),
        without evaluating the rules again: cheap enough to poll (the MQTT state topics)."""
        applied = {}
        for circuit in self._config.circuits:
            desired = self._coordinator.records[circuit.id].desired
            applied[circuit.id] = desired or self._coordinator.desired(
                circuit, at=self._clock.now())
        return applied

    def figures(self) -> LightingFigures:
        coordinator = self._coordinator
        return LightingFigures(
            records=dict(coordinator.records), reconciles=coordinator.reconciles,
            drifts=dict(coordinator.drifts), lateness_s=tuple(coordinator.lateness_s),
            lateness_count=coordinator.lateness_count,
            lateness_sum_s=coordinator.lateness_sum_s)

    def usage(self, first: date, last: date) -> dict[date, DayUsage]:
        """Per local day from ``first`` to ``last``: seconds on per circuit and the meters'
        first and last readings, counted until now (controller/lighting/usage.py)."""
        recorder = self._coordinator.usage
        if recorder is None:
            return stored_usage(self._store, first, last)
        return recorder.days(first, last)

    def _state(self, circuit: CircuitConfig, desired: Desired) -> CircuitState:
        # One frozen record taken once: its fields belong together (docs/architecture.md).
        record = self._coordinator.records[circuit.id]
        commanded = actual = None
        if record.commanded_level is not None and record.commanded_at is not None:
            commanded = Reading(record.commanded_level, record.commanded_at)
        if record.actual_level is not None and record.read_at is not None:
            actual = Reading(record.actual_level, record.read_at)
        return CircuitState(id=circuit.id, name=circuit.name or circuit.id,
                            groups=tuple(circuit.groups), program=circuit.program,
                            desired=desired, commanded=commanded, actual=actual,
                            device_online=self._devices.health[circuit.device].online)

    # -- overrides ---------------------------------------------------------------------------

    def overrides(self) -> list[Override]:
        """Overrides in force, newest first."""
        return self._overrides.active(now=self._clock.now())

    async def create_override(self, request: OverrideRequest, actor: Actor) -> Override:
        """Force the target on or off until the request's end; noted in the event log (so
        whoever reads the events sees why the lights do not follow the schedule) and audited."""
        now = self._clock.now()
        self._check_target(request.target)
        until = self._end(request, now=now)
        if request.level is not None and not 1 <= request.level <= 100:
            raise InvalidInput("a level is 1 to 100", parts=("level",))
        level = (request.level or 100) if request.state == "on" else 0
        created = await asyncio.to_thread(
            self._overrides.create, target=request.target, state=request.state, level=level,
            until=until, reason=request.reason, created_by=actor.name, now=now)
        self._coordinator.wake()
        level_text = f" at {level}%" if request.state == "on" else ""
        await self._note(created, f"{request.target} forced {request.state}{level_text} until "
                                  f"{until.isoformat()} by {actor.name}: {request.reason}")
        await self._trail.record(actor, "override.create", created.id, created.audit_details())
        return created

    async def end_override(self, override_id: str, actor: Actor) -> Override:
        """End an override now; the schedule takes over again."""
        existing = self._overrides.get(override_id)
        if existing is None:
            raise NotFound.of("override", override_id)
        if not await asyncio.to_thread(self._overrides.delete, override_id):
            raise NotFound.of("override", override_id)  # another request ended it meanwhile
        self._coordinator.wake()
        await self._note(existing, f"{existing.target}: override ended by {actor.name}; "
                                   "the schedule applies again")
        await self._trail.record(actor, "override.delete", override_id,
                                 existing.audit_details(with_reason=False))
        return existing

    async def end_circuit_overrides(self, circuit_id: str, actor: Actor) -> int:
        """End every override of this very circuit (group-wide ones stay), each as
        ``end_override`` ends it; returns how many were ended."""
        target = circuit_target(self._known_circuit(circuit_id).id)
        ended = 0
        for override in self.overrides():
            if override.target != target:
                continue
            try:
                await self.end_override(override.id, actor)
            except NotFound:  # ended meanwhile by someone else: that is what was asked
                continue
            ended += 1
        return ended

    async def hold(self, circuit_id: str, state: State, *, level: int | None, reason: str,
                   actor: Actor, minutes: int | None = None) -> Override:
        """An override of one circuit for ``minutes``, or, without them, until the next switch
        point of its schedule (at most ``HOLD_MAX``): Home Assistant's on/off (docs/mqtt.md)."""
        circuit = self._known_circuit(circuit_id)
        target = circuit_target(circuit.id)
        if minutes is not None:
            request = OverrideRequest(target=target, state=state, reason=reason, level=level,
                                      duration_min=minutes)
        else:
            request = OverrideRequest(target=target, state=state, reason=reason, level=level,
                                      until=self.next_switch(circuit, at=self._clock.now()))
        return await self.create_override(request, actor)

    def next_switch(self, circuit: CircuitConfig, *, at: datetime) -> datetime:
        """When the schedule alone (no overrides) next switches this circuit, or ``HOLD_MAX``
        from ``at`` if that is sooner."""
        scheduled = self._coordinator.desired(circuit, at=at, active=[])
        latest = at + HOLD_MAX
        return scheduled.until if scheduled.until and scheduled.until < latest else latest

    def _known_circuit(self, circuit_id: str) -> CircuitConfig:
        circuit = self._config.circuit(circuit_id)
        if circuit is None:
            raise InvalidInput(f"no circuit {circuit_id!r} in this installation",
                               parts=("target",))
        return circuit

    def _check_target(self, target: str) -> None:
        kind, name = split_target(target)
        known = {"circuit": {c.id for c in self._config.circuits},
                 "group": self._config.groups}
        if target != ALL_CIRCUITS and kind not in known:
            raise InvalidInput(f"{target!r} is not all, circuit:ID or group:ID",
                               parts=("target",))
        if kind in known and name not in known[kind]:
            raise InvalidInput(f"no {kind} {name!r} in this installation", parts=("target",))

    @staticmethod
    def _end(request: OverrideRequest, *, now: datetime) -> datetime:
        if (request.duration_min is None) == (request.until is None):
            raise InvalidInput("give exactly one of duration_min and until")
        if request.duration_min is not None:
            if not 1 <= request.duration_min <= MAX_OVERRIDE_MIN:
                raise InvalidInput(f"an override lasts 1 to {MAX_OVERRIDE_MIN} minutes",
                                   parts=("duration_min",))
            return now + timedelta(minutes=request.duration_min)
        assert request.until is not None
        if request.until <= now:
            raise InvalidInput(f"{request.until.isoformat()} is not in the future "
                               f"(the controller's time is {now.isoformat()})", parts=("until",))
        if request.until > now + timedelta(minutes=MAX_OVERRIDE_MIN):
            raise InvalidInput("an override lasts at most 7 days", parts=("until",))
        return request.until

    async def _note(self, override: Override, message: str) -> None:
        # The event log fsyncs: off the loop. The audit is for admins only; this is for all.
        await asyncio.to_thread(self._alarms.note, "override", override.target, message,
                                override=override.id)

    # -- lighting programmes -----------------------------------------------------------------

    def programs(self) -> list[ProgramView]:
        stored = sorted(_programs(self._store.all(PROGRAMS)), key=lambda p: p.id)
        return [self._program_view(p) for p in stored]

    def program(self, program_id: str) -> ProgramView:
        doc = self._store.get(PROGRAMS, program_id)
        if doc is None:
            raise NotFound.of("lighting programme", program_id)
        return self._program_view(LightingProgram.from_doc(doc))

    async def create_program(self, program: LightingProgram, actor: Actor) -> ProgramView:
        parsed = await asyncio.to_thread(self._insert_program, program)
        return await self._program_changed(program, parsed, actor, "lighting_program.create")

    async def replace_program(self, program: LightingProgram, actor: Actor) -> ProgramView:
        parsed = await asyncio.to_thread(self._replace_program, program)
        return await self._program_changed(program, parsed, actor, "lighting_program.update")

    async def delete_program(self, program_id: str, actor: Actor) -> LightingProgram:
        previous = await asyncio.to_thread(self._delete_program, program_id)
        self._coordinator.wake()
        await self._trail.record(actor, "lighting_program.delete", program_id, previous.to_doc())
        return previous

    async def _program_changed(self, program: LightingProgram, parsed: Program, actor: Actor,
                               action: str) -> ProgramView:
        self._book.remember_program(program, parsed)  # parsed once, while it was checked
        self._coordinator.wake()
        await self._trail.record(actor, action, program.id, program.to_doc())
        return self._program_view(program, parsed)

    def preview(self, windows: tuple[ProgramWindow, ...], *, first: date | None,
                days: int) -> ProgramPreview:
        """The lit spans of ``days`` plan days from ``first`` (default today) that these
        windows give, before they are saved; nothing is stored or audited. A window that does
        not parse, or names an unknown calendar, is ``InvalidInput`` naming its field."""
        site = site_of(self._config)
        first = first or self._clock.now().astimezone(site.tz).date()
        if not 1 <= days <= MAX_PREVIEW_DAYS:
            raise InvalidInput(f"a preview covers 1 to {MAX_PREVIEW_DAYS} days",
                               parts=("days",))
        if not PREVIEW_FIRST_DAY <= first <= PREVIEW_LAST_DAY:
            raise InvalidInput(f"previews cover {PREVIEW_FIRST_DAY} to {PREVIEW_LAST_DAY}",
                               parts=("from",))
        parsed = parse_program(LightingProgram(id="preview", name="", windows=windows))
        calendars = self._book.calendars()
        for index, window in enumerate(windows):
            if window.calendar is not None and window.calendar not in calendars:
                raise InvalidInput(f"no calendar {window.calendar!r}; add it first",
                                   parts=("windows", index, "calendar"))
        try:
            found = nights(parsed, site, calendars, first=first, days=days)
        except ScheduleError as exc:  # a calendar's lunar date beyond the known years
            raise InvalidInput(str(exc), parts=("from",)) from exc
        return ProgramPreview(first=first, days=days, parsed=parsed, nights=found)

    def _program_view(self, program: LightingProgram,
                      parsed: Program | None = None) -> ProgramView:
        if parsed is None:
            parsed = self._book.programs().get(program.id)
        if parsed is None:  # left out of the book (an unknown calendar): its windows still read
            try:
                parsed = parse_program(program)
            except InvalidInput:
                parsed = None
        return ProgramView(program, tuple(c.id for c in self._config.circuits
                                          if c.program == program.id), parsed)

    def _checked_program(self, program: LightingProgram, tables: Tables) -> Program:
        parsed = parse_program(program)
        calendars = {c.id for c in _calendars(tables.all(CALENDARS))}
        for index, window in enumerate(program.windows):
            if window.calendar is not None and window.calendar not in calendars:
                raise InvalidInput(f"no calendar {window.calendar!r}; add it first",
                                   parts=("windows", index, "calendar"))
        return parsed

    def _insert_program(self, program: LightingProgram) -> Program:
        with self._store.transaction() as tables:
            parsed = self._checked_program(program, tables)
            if not tables.insert_new(PROGRAMS, program.to_doc()):
                raise Conflict(f"lighting programme {program.id!r} exists; PUT replaces it",
                               parts=("id",))
            return parsed

    def _replace_program(self, program: LightingProgram) -> Program:
        with self._store.transaction() as tables:
            if tables.get(PROGRAMS, program.id) is None:
                raise NotFound.of("lighting programme", program.id)
            parsed = self._checked_program(program, tables)
            tables.put(PROGRAMS, program.to_doc())
            return parsed

    def _delete_program(self, program_id: str) -> LightingProgram:
        with self._store.transaction() as tables:
            doc = tables.get(PROGRAMS, program_id)
            if doc is None:
                raise NotFound.of("lighting programme", program_id)
            followers = [c.id for c in self._config.circuits if c.program == program_id]
            if followers:
                raise Conflict(f"circuits {', '.join(followers)} follow lighting programme "
                               f"{program_id!r} (config file); give them another one first")
            if any(p.id == program_id for p in self._config.lighting_programs):
                raise _defined_in_config("lighting programme", program_id)
            tables.delete(PROGRAMS, program_id)
            return LightingProgram.from_doc(doc)

    # -- calendars ---------------------------------------------------------------------------

    def calendars(self) -> list[CalendarView]:
        programs = _programs(self._store.all(PROGRAMS))
        stored = sorted(_calendars(self._store.all(CALENDARS)), key=lambda c: c.id)
        return [CalendarView(c, _naming(c.id, programs)) for c in stored]

    def calendar(self, calendar_id: str) -> CalendarView:
        doc = self._store.get(CALENDARS, calendar_id)
        if doc is None:
            raise NotFound.of("calendar", calendar_id)
        return CalendarView(LightingCalendar.from_doc(doc),
                            _naming(calendar_id, _programs(self._store.all(PROGRAMS))))

    async def create_calendar(self, calendar: LightingCalendar, actor: Actor) -> CalendarView:
        parsed, programs = await asyncio.to_thread(self._insert_calendar, calendar)
        return await self._calendar_changed(calendar, parsed, programs, actor,
                                            "calendar.create")

    async def replace_calendar(self, calendar: LightingCalendar, actor: Actor) -> CalendarView:
        parsed, programs = await asyncio.to_thread(self._replace_calendar, calendar)
        return await self._calendar_changed(calendar, parsed, programs, actor,
                                            "calendar.update")

    async def delete_calendar(self, calendar_id: str, actor: Actor) -> LightingCalendar:
        previous = await asyncio.to_thread(self._delete_calendar, calendar_id)
        self._coordinator.wake()
        await self._trail.record(actor, "calendar.delete", calendar_id, previous.to_doc())
        return previous

    async def _calendar_changed(self, calendar: LightingCalendar, parsed: Calendar,
                                programs: list[LightingProgram], actor: Actor,
                                action: str) -> CalendarView:
        self._book.remember_calendar(calendar, parsed)
        self._coordinator.wake()
        await self._trail.record(actor, action, calendar.id, calendar.to_doc())
        return CalendarView(calendar, _naming(calendar.id, programs))

    def _insert_calendar(self, calendar: LightingCalendar,
                         ) -> tuple[Calendar, list[LightingProgram]]:
        parsed = parse_calendar(calendar)  # before the transaction: it needs nothing stored
        with self._store.transaction() as tables:
            if not tables.insert_new(CALENDARS, calendar.to_doc()):
                raise Conflict(f"calendar {calendar.id!r} exists; PUT replaces it",
                               parts=("id",))
            return parsed, _programs(tables.all(PROGRAMS))

    def _replace_calendar(self, calendar: LightingCalendar,
                          ) -> tuple[Calendar, list[LightingProgram]]:
        parsed = parse_calendar(calendar)
        with self._store.transaction() as tables:
            if tables.get(CALENDARS, calendar.id) is None:
                raise NotFound.of("calendar", calendar.id)
            tables.put(CALENDARS, calendar.to_doc())
            return parsed, _programs(tables.all(PROGRAMS))

    def _delete_calendar(self, calendar_id: str) -> LightingCalendar:
        with self._store.transaction() as tables:
            doc = tables.get(CALENDARS, calendar_id)
            if doc is None:
                raise NotFound.of("calendar", calendar_id)
            naming = _naming(calendar_id, _programs(tables.all(PROGRAMS)))
            if naming:
                raise Conflict(f"lighting programmes {', '.join(naming)} name calendar "
                               f"{calendar_id!r}; change them first")
            if any(c.id == calendar_id for c in self._config.calendars):
                raise _defined_in_config("calendar", calendar_id)
            tables.delete(CALENDARS, calendar_id)
            return LightingCalendar.from_doc(doc)


def _programs(docs: Iterable[dict[str, object]]) -> list[LightingProgram]:
    return [LightingProgram.from_doc(d) for d in docs]


def _calendars(docs: Iterable[dict[str, object]]) -> list[LightingCalendar]:
    return [LightingCalendar.from_doc(d) for d in docs]


def _naming(calendar_id: str, programs: Iterable[LightingProgram]) -> tuple[str, ...]:
    """The programmes with a window on this calendar, sorted."""
    return tuple(sorted(p.id for p in programs if calendar_id in p.calendar_ids))


def _defined_in_config(kind: str, identifier: str) -> Conflict:
    return Conflict(f"{kind} {identifier!r} is defined in the config file and would come back "
                    "at the next start; remove it there first")
