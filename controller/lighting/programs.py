"""Lighting programmes and calendars as kept in storage, turned into ``schedules`` objects.

Storage is the truth for programmes and calendars (the API edits them); the config only seeds a
programme or calendar that storage does not have yet. Each document is parsed once: the book
keeps what it parsed beside the document it came from, and parses again only a document that
changed (a write to any table changes the store's revision, and an override created must not
cost a parse of every programme). The service hands over what it parsed while checking an edit
(``ProgramBook.remember``), so an edited programme is not parsed again either. An edit made by
another process (the CLI, the API of a restarted controller) is seen at the next tick.

A window or calendar that does not parse raises ``InvalidInput`` whose parts name the entry
(``("windows", 0, "on")``, ``("dates", 1)``), found by where it was parsed, never from the text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from controller.config import CalendarConfig, Config, LightingProgramConfig
from controller.errors import FieldPath, InvalidInput
from controller.lighting.records import LightingCalendar, LightingProgram, ProgramWindow
from controller.platform.store import Store
from schedules.calendars import Calendar
from schedules.errors import ScheduleError
from schedules.expressions import parse_time_expression
from schedules.lighting import Program, Window
from schedules.solar import Site

PROGRAMS = "lighting_programs"
CALENDARS = "calendars"

# A window of no interest but its weekdays: how the schedule code's own reading of ``days``
# (numbers or names) is used without parsing the window's times a second time.
_WEEKDAYS_ONLY = ("00:00", "01:00")

T = TypeVar("T")


def site_of(config: Config) -> Site:
    s = config.site
    return Site(latitude=s.latitude, longitude=s.longitude, timezone=s.timezone,
                elevation=s.elevation)


def program_doc(program: LightingProgramConfig) -> dict[str, Any]:
    return program.model_dump(mode="json")


def calendar_doc(calendar: CalendarConfig) -> dict[str, Any]:
    return calendar.model_dump(mode="json")


def parse_program(program: LightingProgram) -> Program:
    """The programme the schedule code evaluates. Raises InvalidInput naming the window's
    field (``windows.2.on``)."""
    return Program(id=program.id, windows=tuple(
        parse_window(w, parts=("windows", i)) for i, w in enumerate(program.windows)))


def parse_window(window: ProgramWindow, *, parts: FieldPath = ()) -> Window:
    # Built in steps, each step able to fail in one field only, so the error names the field
    # by where it failed: on, off, then off against on (and the level), then the weekdays.
    on = _field(lambda: parse_time_expression(window.on), (*parts, "on"), "")
    off = _field(lambda: parse_time_expression(window.off), (*parts, "off"), "")
    _field(lambda: Window(on=on, off=off), (*parts, "off"), "off: ")
    _field(lambda: Window(on=on, off=off, level=window.level), (*parts, "level"), "level: ")
    days = None
    if window.days is not None:
        weekdays = window.days
        days = _field(lambda: Window.parse(*_WEEKDAYS_ONLY, days=weekdays).days,
                      (*parts, "days"), "days: ")
    return Window(on=on, off=off, level=window.level, days=days, calendar=window.calendar)


def parse_calendar(calendar: LightingCalendar) -> Calendar:
    """Raises InvalidInput naming the entry to blame (``dates.1``, ``ranges.0``,
    ``public_holidays``) when one can be found."""
    try:
        return _calendar(calendar.id, calendar.dates, calendar.ranges, calendar.public_holidays)
    except ScheduleError as exc:
        message = str(exc).removeprefix(f"calendar {calendar.id!r}: ")
        raise InvalidInput(message, parts=_culprit(calendar)) from exc


def _calendar(calendar_id: str, dates: tuple[str, ...], ranges: tuple[tuple[str, str], ...],
              public_holidays: str | None) -> Calendar:
    return Calendar(id=calendar_id, dates=dates, ranges=ranges, public_holidays=public_holidays)


def _culprit(calendar: LightingCalendar) -> FieldPath:
    """The schedule code names the entry's value, not its place, so each entry is tried alone
    (only once the whole calendar failed: the cost is paid on errors only)."""
    pieces: list[tuple[FieldPath, tuple[tuple[str, ...], tuple[tuple[str, str], ...],
                                        str | None]]] = [
        *((("dates", i), ((d,), (), None)) for i, d in enumerate(calendar.dates)),
        *((("ranges", i), ((), (r,), None)) for i, r in enumerate(calendar.ranges)),
        (("public_holidays",), ((), (), calendar.public_holidays)),
    ]
    for parts, (dates, ranges, public_holidays) in pieces:
        try:
            _calendar(calendar.id, dates, ranges, public_holidays)
        except ScheduleError:
            return parts
    return ()


def _field(attempt: Callable[[], T], parts: FieldPath, prefix: str) -> T:
    try:
        return attempt()
    except ScheduleError as exc:
        # The schedule code starts some messages with the field's name; the field is in
        # ``parts`` already, so the message need not say it twice.
        raise InvalidInput(str(exc).removeprefix(prefix), parts=parts) from exc


def seed(store: Store, config: Config) -> list[str]:
    """Copy the config's programmes and calendars that storage lacks; returns what was added."""
    added = []
    for calendar in config.calendars:
        if store.insert_new(CALENDARS, calendar_doc(calendar)):
            added.append(f"calendar:{calendar.id}")
    for program in config.lighting_programs:
        if store.insert_new(PROGRAMS, program_doc(program)):
            added.append(f"program:{program.id}")
    return added


class ProgramBook:
    """Parsed programmes and calendars, each parsed once per version of its document."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._revision: object = None
        self._programs: dict[str, Program] = {}
        self._calendars: dict[str, Calendar] = {}
        self._problems: dict[str, str] = {}
        # id -> (the document, what it parsed to): reused while the document is unchanged.
        self._parsed_programs: dict[str, tuple[Mapping[str, Any], Program]] = {}
        self._parsed_calendars: dict[str, tuple[Mapping[str, Any], Calendar]] = {}

    def programs(self) -> dict[str, Program]:
        self._refresh()
        return self._programs

    def calendars(self) -> dict[str, Calendar]:
        self._refresh()
        return self._calendars

    def problems(self) -> dict[str, str]:
        """Stored documents that no longer parse (e.g. written by a newer version)."""
        self._refresh()
        return self._problems

    def remember_program(self, program: LightingProgram, parsed: Program) -> None:
        """What a programme about to be stored parses to, parsed by whoever checked it."""
        self._parsed_programs[program.id] = (program.to_doc(), parsed)

    def remember_calendar(self, calendar: LightingCalendar, parsed: Calendar) -> None:
        self._parsed_calendars[calendar.id] = (calendar.to_doc(), parsed)

    def _refresh(self) -> None:
        revision = self._store.revision()
        if revision == self._revision:
            return
        programs: dict[str, Program] = {}
        calendars: dict[str, Calendar] = {}
        problems: dict[str, str] = {}
        parsed_calendars: dict[str, tuple[Mapping[str, Any], Calendar]] = {}
        for doc in self._store.all(CALENDARS):
            try:
                calendar = self._cached(self._parsed_calendars, doc) or parse_calendar(
                    LightingCalendar.from_doc(doc))
            except (InvalidInput, TypeError, KeyError, ValueError) as exc:
                problems[f"calendar:{doc.get('id')}"] = str(exc)
                continue
            calendars[calendar.id] = calendar
            parsed_calendars[calendar.id] = (doc, calendar)
        parsed_programs: dict[str, tuple[Mapping[str, Any], Program]] = {}
        for doc in self._store.all(PROGRAMS):
            try:
                program = self._cached(self._parsed_programs, doc) or parse_program(
                    LightingProgram.from_doc(doc))
            except (InvalidInput, TypeError, KeyError, ValueError) as exc:
                problems[f"program:{doc.get('id')}"] = str(exc)
                continue
            parsed_programs[program.id] = (doc, program)
            # The API refuses this, but a hand-edited file could do it; a programme that
            # cannot be evaluated must not stop the coordinator: it is left out and reported.
            missing = sorted(program.calendar_ids - set(calendars))
            if missing:
                problems[f"program:{program.id}"] = f"unknown calendars {missing}"
                continue
            programs[program.id] = program
        self._programs, self._calendars, self._problems = programs, calendars, problems
        self._parsed_programs, self._parsed_calendars = parsed_programs, parsed_calendars
        self._revision = revision

    @staticmethod
    def _cached(parsed: Mapping[str, tuple[Mapping[str, Any], T]],
                doc: Mapping[str, Any]) -> T | None:
        known = parsed.get(str(doc.get("id")))
        return known[1] if known is not None and known[0] == doc else None


class _SeedOverlay:
    """The config's programmes and calendars with storage's versions over them, read once."""

    def __init__(self, config: Config) -> None:
        self._tables: dict[str, dict[str, dict[str, Any]]] = {
            PROGRAMS: {p.id: program_doc(p) for p in config.lighting_programs},
            CALENDARS: {c.id: calendar_doc(c) for c in config.calendars},
        }
        if (config.storage.path / Store.FILENAME).exists():
            stored = Store(config.storage.path)
            for table, docs in self._tables.items():
                docs.update({d["id"]: d for d in stored.all(table)})

    def revision(self) -> object:
        return 0

    def all(self, table: str) -> list[dict[str, Any]]:
        return list(self._tables.get(table, {}).values())


def read_only_book(config: Config) -> ProgramBook:
    """For ``communectl plan``: what the controller would use, without writing anything (the
    plan must work from a read-only account and must not create the data folder)."""
    return ProgramBook(_SeedOverlay(config))  # type: ignore[arg-type]
