"""The plan: every lighting transition and every broadcast in a window, from the same schedule
code the controller runs, rendered as a table, JSON or iCalendar (docs/plan.md).

Lighting comes from ``schedules.lighting.plan``. Each programme is planned once and its
transitions fanned out to the circuits that use it, so a year for 100 circuits costs what a year
for the handful of distinct programmes costs.

Broadcasts come from ``controller.radio.items``, the functions the broadcast coordinator asks on
every wake: ``program_items`` for the occurrences of the enabled programmes, ``next_airing``
for announcements that may still air. Their length is ``SourcePlayer.estimate_s``, the estimate the
API's overlap check uses (a cached synthesis, the audio library's ``duration_s``, a stream's
``duration_s``, a playlist's sum). A non-emergency item due in quiet hours is left out and
noted, as the coordinator would skip it.

``communectl plan`` and ``GET /api/v1/plan`` both call ``build_window_plan``; the CLI reads
storage through ``read_only_sources`` (it writes nothing, and works from a read-only account),
the API through the running controller's own objects.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol

from controller.config import Config
from controller.lighting.programs import ProgramBook, read_only_book, site_of
from controller.platform.store import Store
from controller.radio import lifecycle
from controller.radio.items import AirItem, next_airing, program_items
from controller.radio.library import AudioLibrary
from controller.radio.records import (
    ANNOUNCEMENTS,
    AUDIO,
    PROGRAMS,
    Announcement,
    BroadcastProgram,
    document_id,
)
from controller.radio.sources import SourcePlayer
from drivers.tts import SpeechSynth
from schedules.broadcasts import QuietHours, Recurrence, may_air
from schedules.calendars import Calendar
from schedules.errors import ScheduleError as InvalidSchedule
from schedules.lighting import Program, desired_state, plan
from schedules.lunar import FIRST_YEAR, LAST_YEAR
from schedules.solar import Site
from schedules.windows import WEEKDAYS

# A broadcast switches its zones fully on; its urgency is ``broadcast_level``.
BROADCAST_ZONES_LEVEL = 100
# The lunar calendar is computed for these years only (schedules.lunar); a plan also looks at a
# few days around its window, hence the margin of a year at either end.
PLAN_FIRST_DAY = date(FIRST_YEAR + 1, 1, 1)
PLAN_LAST_DAY = date(LAST_YEAR - 1, 1, 1)
PLAN_LAST_END = PLAN_LAST_DAY + timedelta(days=366)


@dataclass(frozen=True)
class PlanEntry:
    """A lighting transition of one circuit."""

    time: datetime
    kind: str  # "lighting"
    target: str  # circuit id
    state: str  # "on" | "off"
    level: int
    rule: str | None
    program: str
    name: str = ""  # the circuit's name, its id when it has none

    def as_json(self) -> dict[str, Any]:
        return {"time": self.time.isoformat(), "kind": self.kind, "target": self.target,
                "state": self.state, "level": self.level, "rule": self.rule,
                "program": self.program, "name": self.name or self.target}


@dataclass(frozen=True)
class BroadcastEntry:
    """One airing of a broadcast programme or an announcement."""

    time: datetime
    end: datetime
    target: str  # programme or announcement id
    item: str  # "program" | "announcement"
    key: str  # the airing's key in the broadcast log (controller.radio.items)
    name: str
    zones: tuple[str, ...]
    zone_names: tuple[str, ...]
    broadcast_level: str  # "normal" | "priority" | "emergency"
    duration_s: int
    rule: str
    source_type: str
    status: str  # "scheduled" | "waiting_approval" (announcements awaiting an approver)
    kind: str = "broadcast"

    def as_json(self) -> dict[str, Any]:
        return {"time": self.time.isoformat(), "kind": self.kind, "target": self.target,
                "state": "on", "level": BROADCAST_ZONES_LEVEL, "rule": self.rule,
                "program": self.target if self.item == "program" else None,
                "name": self.name, "item": self.item, "key": self.key,
                "zones": list(self.zones), "zone_names": list(self.zone_names),
                "broadcast_level": self.broadcast_level, "duration_s": self.duration_s,
                "end": self.end.isoformat(), "source_type": self.source_type,
                "status": self.status}


@dataclass(frozen=True)
class PlanNote:
    """Something left out of the plan, and why: a lighting window on a day without the sun
    event it needs, a broadcast due in quiet hours, a stored programme that does not parse."""

    day: date
    program: str
    rule: str
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {"day": self.day.isoformat(), "program": self.program, "rule": self.rule,
                "reason": self.reason}


@dataclass(frozen=True)
class LightingSpan:
    """A circuit lit at one level from ``start`` to ``end``: one calendar event. A level change
    inside a night ends one span and begins the next."""

    circuit: str
    name: str
    level: int
    start: datetime
    end: datetime
    rule: str | None
    program: str


@dataclass
class Plan:
    entries: list[PlanEntry | BroadcastEntry]
    notes: list[PlanNote]
    spans: list[LightingSpan] = field(default_factory=list)
    site_name: str = ""

    @property
    def broadcasts(self) -> list[BroadcastEntry]:
        return [e for e in self.entries if isinstance(e, BroadcastEntry)]


class Tables(Protocol):
    """What the plan reads of storage: ``controller.platform.store.Store`` or a read-only view
    of it."""

    def all(self, table: str) -> list[dict[str, Any]]: ...

    def get(self, table: str, doc_id: str) -> dict[str, Any] | None: ...


@dataclass(frozen=True)
class PlanSources:
    """Where a plan reads programmes from; the running controller's or read-only ones."""

    book: ProgramBook
    tables: Tables
    player: SourcePlayer


def window_bounds(site: Site, start_day: date, days: int) -> tuple[datetime, datetime]:
    """From local noon of ``start_day``: a plan day runs noon to noon, so a night is whole."""
    start = datetime.combine(start_day, time(12, 0), tzinfo=site.tz)
    return start, start + timedelta(days=days)


def window_problem(first: date, days: int) -> tuple[str, str] | None:
    """(field, message) when a window of ``days`` plan days from ``first`` cannot be planned."""
    if not PLAN_FIRST_DAY <= first <= PLAN_LAST_DAY:
        return "from", f"plans cover {PLAN_FIRST_DAY} to {PLAN_LAST_DAY}"
    if first + timedelta(days=days) > PLAN_LAST_END:
        return "days", f"a plan must end by {PLAN_LAST_END}"
    return None


def build_window_plan(config: Config, sources: PlanSources, *, start: datetime,
                      end: datetime) -> Plan:
    """Lighting and broadcasts in [start, end), what ``communectl plan`` and ``GET /plan``
    show."""
    site = site_of(config)
    programs, calendars = sources.book.programs(), sources.book.calendars()
    lighting, notes = build_plan(config, site, programs, calendars, start=start, end=end)
    # Broadcasts by calendar day: a plan day's night is whole, and so is each day's airings
    # (06:00 of the first day is in, 06:00 of the day after the last is not), so a week view
    # of GET /plan?from=MONDAY&days=7 shows Monday to Sunday.
    broadcasts, skipped = broadcast_plan(config, sources.tables, sources.player,
                                         start=_midnight(site, start), end=_midnight(site, end))
    entries: list[PlanEntry | BroadcastEntry] = [*lighting, *broadcasts]
    entries.sort(key=lambda e: (e.time, e.kind, e.target))
    return Plan(entries=entries, notes=notes + skipped,
                spans=lighting_spans(config, site, programs, calendars, lighting,
                                     start=start, end=end),
                site_name=config.site.name or config.site.id)


def _midnight(site: Site, instant: datetime) -> datetime:
    """Local midnight that begins ``instant``'s local day."""
    return datetime.combine(instant.astimezone(site.tz).date(), time(0), tzinfo=site.tz)


def build_plan(config: Config, site: Site, programs: Mapping[str, Program],
               calendars: Mapping[str, Calendar], *, start: datetime,
               end: datetime) -> tuple[list[PlanEntry], list[PlanNote]]:
    """The lighting transitions alone (also the status page's "next events")."""
    entries: list[PlanEntry] = []
    notes: list[PlanNote] = []
    planned: dict[str, tuple[list[Any], list[Any]]] = {}
    for circuit in config.circuits:
        program = programs.get(circuit.program or "")
        if program is None:
            continue
        if program.id not in planned:
            planned[program.id] = plan(program, site, calendars, start=start, end=end)
            notes.extend(PlanNote(s.day, program.id, s.rule, s.reason)
                         for s in planned[program.id][1])
        for t in planned[program.id][0]:
            entries.append(PlanEntry(time=t.time, kind="lighting", target=circuit.id,
                                     state=t.state, level=t.level, rule=t.rule,
                                     program=program.id, name=circuit.name or circuit.id))
    entries.sort(key=lambda e: (e.time, e.target))
    return entries, notes


def lighting_spans(config: Config, site: Site, programs: Mapping[str, Program],
                   calendars: Mapping[str, Calendar], entries: list[PlanEntry], *,
                   start: datetime, end: datetime) -> list[LightingSpan]:
    """Each circuit's transitions paired into lit spans: from an "on" (or a level change) to
    the circuit's next transition. A circuit already lit at ``start`` gets a span from when
    that level began; one still lit after its last transition, until its programme next
    changes (``desired_state`` looks two days ahead), else until ``end``."""
    by_circuit: dict[str, list[PlanEntry]] = defaultdict(list)
    for entry in entries:
        by_circuit[entry.target].append(entry)
    spans: list[LightingSpan] = []
    for circuit in config.circuits:
        program = programs.get(circuit.program or "")
        if program is None:
            continue
        name = circuit.name or circuit.id
        changes = by_circuit.get(circuit.id, [])
        at_start = desired_state(program, site, calendars, at=start)
        if at_start.state == "on" and (not changes or changes[0].time > start):
            spans.append(LightingSpan(
                circuit.id, name, at_start.level, at_start.since or start,
                changes[0].time if changes else (at_start.until or end), at_start.rule,
                program.id))
        for index, change in enumerate(changes):
            if change.state != "on":
                continue
            if index + 1 < len(changes):
                until = changes[index + 1].time
            else:
                until = desired_state(program, site, calendars, at=change.time).until or end
            spans.append(LightingSpan(circuit.id, name, change.level, change.time, until,
                                      change.rule, program.id))
    spans.sort(key=lambda s: (s.start, s.circuit))
    return spans


def broadcast_plan(config: Config, tables: Tables, player: SourcePlayer, *, start: datetime,
                   end: datetime) -> tuple[list[BroadcastEntry], list[PlanNote]]:
    """Every programme airing in [start, end) and every announcement's next airing in it."""
    # The config holds them parsed (its str() is the "HH:MM-HH:MM" text); parsing the text
    # again gives the same periods from either form.
    setting = config.broadcast.quiet_hours
    quiet = None if setting is None else QuietHours.parse(str(setting))
    tz = config.site.timezone
    entries: list[BroadcastEntry] = []
    notes: list[PlanNote] = []
    lengths: dict[str, int] = {}  # a programme's source, estimated once per plan
    for doc in tables.all(PROGRAMS):
        try:
            # One programme at a time: a stored one that does not parse is noted, not fatal.
            program = BroadcastProgram.from_doc(doc)
            items = program_items(config, [program], start=start, end=end)
            rule_of = _schedule_text(program.schedule)
        except (InvalidSchedule, KeyError, TypeError, ValueError) as exc:
            notes.append(PlanNote(_local_day(config, start), document_id(doc),
                                  "schedule", f"the stored programme does not parse: {exc}"))
            continue
        for item in items:
            if not may_air(item.level, at=item.due, quiet=quiet, tz=tz):
                notes.append(_quiet_note(config, item, rule_of(item.due)))
                continue
            if item.ref not in lengths:
                lengths[item.ref] = _length_s(player, item, config)
            entries.append(_entry(config, item, rule=rule_of(item.due),
                                  duration_s=lengths[item.ref], status="scheduled"))
    for doc in tables.all(ANNOUNCEMENTS):
        if Announcement.status_of(doc) not in lifecycle.LIVE:
            continue
        try:
            announcement = Announcement.from_doc(doc)
            upcoming = next_airing(config, announcement)
        except (KeyError, TypeError, ValueError) as exc:
            notes.append(PlanNote(_local_day(config, start), document_id(doc),
                                  "announcement", f"the stored announcement does not parse: "
                                                  f"{exc}"))
            continue
        if upcoming is None or not start <= upcoming.due < end:
            continue
        item = upcoming
        number, repeats = item.key.rsplit("#", 1)[1], announcement.repeat
        rule = "announcement" + (f", airing {number} of {repeats}" if repeats > 1 else "")
        if not may_air(item.level, at=item.due, quiet=quiet, tz=tz):
            notes.append(_quiet_note(config, item, rule))
            continue
        entries.append(_entry(config, item, rule=rule, duration_s=_length_s(player, item, config),
                              status=announcement.status))
    entries.sort(key=lambda e: (e.time, e.target))
    return entries, notes


# -- reading storage without writing it ----------------------------------------------------------

class _ReadOnlyTables:
    """The config's broadcast programmes with storage's documents over them (programmes,
    announcements, audio files), read once; like ``controller.lighting.programs.read_only_book``."""

    def __init__(self, config: Config) -> None:
        self._tables: dict[str, dict[str, dict[str, Any]]] = {
            PROGRAMS: {p.id: BroadcastProgram.from_config(p, effective_from=None).to_doc()
                       for p in config.broadcast_programs},
            ANNOUNCEMENTS: {}, AUDIO: {}}
        if (config.storage.path / Store.FILENAME).exists():
            stored = Store(config.storage.path)
            for table, docs in self._tables.items():
                docs.update({document_id(d): d for d in stored.all(table)})

    def all(self, table: str) -> list[dict[str, Any]]:
        return list(self._tables.get(table, {}).values())

    def get(self, table: str, doc_id: str) -> dict[str, Any] | None:
        return self._tables.get(table, {}).get(doc_id)


def read_only_sources(config: Config) -> PlanSources:
    """For ``communectl plan``: what the controller would use, without writing anything. The
    player is built as ``controller.runtime.build_runtime`` builds it, so a speech already
    synthesised into the cache is measured, not guessed."""
    tables = _ReadOnlyTables(config)
    data = config.storage.path
    radio = config.broadcast
    player = SourcePlayer(
        library=AudioLibrary(tables, data),  # type: ignore[arg-type]  # reads get() only
        synth=SpeechSynth(data / "cache" / "tts", voice=radio.tts_voice,
                          words_per_minute=radio.tts_words_per_minute))
    return PlanSources(book=read_only_book(config), tables=tables, player=player)


# -- broadcast entries ---------------------------------------------------------------------------

def _entry(config: Config, item: AirItem, *, rule: str, duration_s: int,
           status: str) -> BroadcastEntry:
    names = tuple((zone.name or zone.id) if (zone := config.zone(z)) else z
                  for z in item.zones)
    # Announcements keep their time in UTC; the plan shows every time at the site's offset.
    due = item.due.astimezone(site_of(config).tz)
    return BroadcastEntry(
        time=due, end=due + timedelta(seconds=duration_s), target=item.ref,
        item=item.kind, key=item.key, name=item.title, zones=item.zones, zone_names=names,
        broadcast_level=item.level, duration_s=duration_s, rule=rule,
        source_type=str(item.source.get("type", "")), status=status)


def _length_s(player: SourcePlayer, item: AirItem, config: Config) -> int:
    """Whole seconds, at least one: an audio file that is gone counts zero in the estimate,
    and a calendar event must still end after it starts (RFC 5545 3.6.1)."""
    chime = config.broadcast.chime and item.kind == "announcement"
    return max(1, math.ceil(player.estimate_s(item.source, chime=chime)))


def _quiet_note(config: Config, item: AirItem, rule: str) -> PlanNote:
    return PlanNote(_local_day(config, item.due), item.ref, rule,
                    f"{item.level} item due at {item.due:%H:%M} in quiet hours "
                    f"{config.broadcast.quiet_hours}: it will not air")


def _schedule_text(recurrence: Recurrence) -> Callable[[datetime], str]:
    """``due -> text`` naming the part of the schedule that gives an airing, e.g.
    "06:00 every day", "17:30 mon,tue,wed", "06:00 lunar days 1,15"."""
    if recurrence.rrule is not None:
        return lambda due: f"{due:%H:%M} rrule {recurrence.rrule}"
    if recurrence.lunar_days:
        days = ",".join(map(str, recurrence.lunar_days))
        return lambda due: f"{due:%H:%M} lunar days {days}"
    if recurrence.days is None:
        return lambda due: f"{due:%H:%M} every day"
    weekdays = ",".join(WEEKDAYS[d] for d in sorted(recurrence.days))
    return lambda due: f"{due:%H:%M} {weekdays}"


def _local_day(config: Config, instant: datetime) -> date:
    return instant.astimezone(site_of(config).tz).date()


# -- rendering -----------------------------------------------------------------------------------

def render_table(result: Plan, site: Site) -> str:
    """One line per transition or airing, local times; the rule column as wide as it needs."""
    rows = []
    for e in result.entries:
        local = e.time.astimezone(site.tz).isoformat(timespec="minutes")
        if isinstance(e, BroadcastEntry):
            until = e.end.astimezone(site.tz).strftime("%H:%M:%S")
            what = (f"{e.name}: {_length_text(e.duration_s)} (to {until}), "
                    f"{', '.join(e.zone_names)}"
                    + (", awaiting approval" if e.status == "waiting_approval" else ""))
            rows.append((local, e.kind, e.target, "on", e.broadcast_level, e.rule, what))
        else:
            rows.append((local, e.kind, e.target, e.state, str(e.level), e.rule or "", e.name))
    width = max((len(row[5]) for row in rows), default=4)
    lines = [_table_row(("time", "kind", "target", "state", "level", "rule", "what"), width)]
    lines += [_table_row(row, width) for row in rows]
    if not result.entries:
        lines.append("(no transitions or broadcasts in this window)")
    for n in result.notes:
        lines.append(f"skipped {n.day} {n.program} {n.rule}: {n.reason}")
    return "\n".join(lines)


def _table_row(cells: tuple[str, ...], rule_width: int) -> str:
    time_, kind, target, state, level, rule, what = cells
    return (f"{time_:<22} {kind:<9} {target:<16} {state:<5} {level:>6}  "
            f"{rule:<{rule_width}}  {what}").rstrip()


def _length_text(seconds: int) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


BROADCAST_TITLES = {"normal": "Phát thanh", "priority": "Phát thanh ưu tiên",
                    "emergency": "Phát thanh khẩn cấp"}


def render_ics(result: Plan, *, site_id: str, generated: datetime) -> str:
    """An RFC 5545 calendar: one event per lit span of a circuit (from switching on, or a level
    change, to the next change) and one per broadcast, lasting its expected length. Times are
    in UTC, which every calendar app shows in its own zone; UIDs are derived from what the
    event is, so a calendar that subscribes sees the same event again, not a copy."""
    import icalendar

    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//communectl//plan//VI")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    # RFC 7986 NAME, and the older X-WR-CALNAME that Google Calendar and Outlook read.
    title = f"{result.site_name}: chiếu sáng và phát thanh"
    calendar.add("name", title)
    calendar.add("x-wr-calname", title)
    stamp = _utc(generated)
    for span in result.spans:
        begin, finish = _event_times(span.start, span.end)
        event = icalendar.Event()
        event.add("uid", f"lighting-{span.circuit}-{begin:%Y%m%dT%H%M%SZ}@{site_id}.communectl")
        event.add("dtstamp", stamp)
        event.add("dtstart", begin)
        event.add("dtend", finish)
        event.add("summary", f"{span.name} bật {span.level}%")
        event.add("description", f"Mạch {span.circuit}, chương trình {span.program}, "
                                 f"quy tắc {span.rule or '-'}")
        event.add("categories", ["Chiếu sáng"])
        event.add("transp", "TRANSPARENT")  # lights on do not make anyone busy
        calendar.add_component(event)
    for item in result.broadcasts:
        begin, finish = _event_times(item.time, item.end)
        kind = "Thông báo" if item.item == "announcement" else \
            BROADCAST_TITLES.get(item.broadcast_level, "Phát thanh")
        waiting = " (chờ duyệt)" if item.status == "waiting_approval" else ""
        event = icalendar.Event()
        event.add("uid", f"broadcast-{_uid_part(item.key)}@{site_id}.communectl")
        event.add("dtstamp", stamp)
        event.add("dtstart", begin)
        event.add("dtend", finish)
        event.add("summary", f"{kind}{waiting}: {item.name} ({', '.join(item.zone_names)})")
        event.add("description", f"{item.item} {item.target}, mức {item.broadcast_level}, "
                                 f"nguồn {item.source_type}, dài khoảng "
                                 f"{_length_text(item.duration_s)}; {item.rule}")
        event.add("categories", ["Phát thanh"])
        calendar.add_component(event)
    return calendar.to_ical().decode("utf-8")


def _event_times(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """Whole UTC seconds (what iCalendar carries), the end at least a second after the start:
    RFC 5545 3.6.1 forbids an event that ends when it starts."""
    begin, finish = _utc(start), _utc(end)
    return begin, max(finish, begin + timedelta(seconds=1))


def _utc(instant: datetime) -> datetime:
    return instant.astimezone(UTC).replace(microsecond=0)


def _uid_part(key: str) -> str:
    """An airing key (``program:morning@2026-11-27T06:00:00+07:00``) as UID-safe text."""
    return "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in key)
