"""Lighting programmes and calendars as kept in storage, turned into ``schedules`` objects.

Storage is the truth for programmes and calendars (the API edits them); the config only seeds a
programme or calendar that storage does not have yet. Parsed objects are cached against the
store's revision, so a schedule tick costs one ``stat`` when nothing changed, and an edit made by
another process (the CLI, the API of a restarted controller) is seen at the next tick.
"""

from __future__ import annotations

from typing import Any

from controller.config import CalendarConfig, Config, LightingProgramConfig
from controller.platform.store import Store
from schedules.calendars import Calendar
from schedules.errors import ScheduleError as InvalidSchedule
from schedules.lighting import Program, Window
from schedules.solar import Site

PROGRAMS = "lighting_programs"
CALENDARS = "calendars"


def site_of(config: Config) -> Site:
    s = config.site
    return Site(latitude=s.latitude, longitude=s.longitude, timezone=s.timezone,
                elevation=s.elevation)


def program_doc(program: LightingProgramConfig) -> dict[str, Any]:
    return program.model_dump(mode="json")


def calendar_doc(calendar: CalendarConfig) -> dict[str, Any]:
    return calendar.model_dump(mode="json")


def program_from_doc(doc: dict[str, Any]) -> Program:
    """Raises ScheduleError naming the window that does not parse."""
    windows = []
    for index, w in enumerate(doc.get("windows", [])):
        try:
            windows.append(Window.parse(w["on"], w["off"], level=w.get("level", 100),
                                        days=w.get("days"), calendar=w.get("calendar")))
        except InvalidSchedule as exc:
            raise ScheduleError(f"windows[{index}]: {exc}") from exc
    return Program(id=doc["id"], windows=tuple(windows))


def calendar_from_doc(doc: dict[str, Any]) -> Calendar:
    try:
        return Calendar(id=doc["id"], dates=tuple(doc.get("dates", ())),
                        ranges=tuple(tuple(r) for r in doc.get("ranges", ())),
                        public_holidays=doc.get("public_holidays"))
    except InvalidSchedule as exc:
        raise ScheduleError(str(exc)) from exc


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
    """Parsed programmes and calendars, re-read only when storage changed."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._revision: object = None
        self._programs: dict[str, Program] = {}
        self._calendars: dict[str, Calendar] = {}
        self._problems: dict[str, str] = {}

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

    def _refresh(self) -> None:
        revision = self._store.revision()
        if revision == self._revision:
            return
        programs, calendars, problems = {}, {}, {}
        for doc in self._store.all(CALENDARS):
            try:
                calendars[doc["id"]] = calendar_from_doc(doc)
            except ScheduleError as exc:
                problems[f"calendar:{doc['id']}"] = str(exc)
        for doc in self._store.all(PROGRAMS):
            try:
                program = program_from_doc(doc)
            except ScheduleError as exc:
                problems[f"program:{doc['id']}"] = str(exc)
                continue
            # The API refuses this, but a hand-edited file could do it; a programme that
            # cannot be evaluated must not stop the coordinator: it is left out and reported.
            missing = sorted({w.calendar for w in program.windows
                              if w.calendar and w.calendar not in calendars})
            if missing:
                problems[f"program:{doc['id']}"] = f"unknown calendars {missing}"
                continue
            programs[doc["id"]] = program
        self._programs, self._calendars, self._problems = programs, calendars, problems
        self._revision = revision


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
