"""The plan: every lighting transition in a window, from the same schedule code the controller
runs, rendered as a table, JSON (SPEC: CLI ``plan``) or iCalendar for a phone's calendar app.

Each programme is planned once and its transitions fanned out to the circuits that use it, so a
year for 100 circuits costs what a year for the handful of distinct programmes costs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from controller.config import Config
from schedules.calendars import Calendar
from schedules.lighting import Program, plan
from schedules.solar import Site


@dataclass(frozen=True)
class PlanEntry:
    time: datetime
    kind: str  # "lighting" | "broadcast"
    target: str
    state: str
    level: int
    rule: str | None
    program: str

    def as_json(self) -> dict[str, Any]:
        return {"time": self.time.isoformat(), "kind": self.kind, "target": self.target,
                "state": self.state, "level": self.level, "rule": self.rule,
                "program": self.program}


@dataclass(frozen=True)
class PlanNote:
    """A window that was skipped, and why (e.g. no sunset on a polar day)."""

    day: date
    program: str
    rule: str
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {"day": self.day.isoformat(), "program": self.program, "rule": self.rule,
                "reason": self.reason}


def window_bounds(site: Site, start_day: date, days: int) -> tuple[datetime, datetime]:
    """From local noon of ``start_day``: a plan day runs noon to noon, so a night is whole."""
    start = datetime.combine(start_day, time(12, 0), tzinfo=site.tz)
    return start, start + timedelta(days=days)


def build_plan(config: Config, site: Site, programs: Mapping[str, Program],
               calendars: Mapping[str, Calendar], *, start: datetime,
               end: datetime) -> tuple[list[PlanEntry], list[PlanNote]]:
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
                                     program=program.id))
    entries.sort(key=lambda e: (e.time, e.target))
    return entries, notes


def render_table(entries: list[PlanEntry], notes: list[PlanNote], site: Site) -> str:
    lines = [f"{'time':<25} {'kind':<9} {'target':<16} {'state':<5} {'level':>5}  rule"]
    for e in entries:
        local = e.time.astimezone(site.tz).isoformat(timespec="minutes")
        lines.append(f"{local:<25} {e.kind:<9} {e.target:<16} {e.state:<5} {e.level:>5}  "
                     f"{e.rule or ''}")
    if not entries:
        lines.append("(no transitions in this window)")
    for n in notes:
        lines.append(f"skipped {n.day} {n.program} {n.rule}: {n.reason}")
    return "\n".join(lines)


def render_ics(entries: list[PlanEntry], *, site_id: str, generated: datetime) -> str:
    """RFC 5545: one zero-length VEVENT per transition, times in UTC."""
    stamp = generated.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//communectl//plan//EN",
             "CALSCALE:GREGORIAN"]
    for e in entries:
        when = e.time.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
        summary = f"{e.target} {e.state}" + (f" {e.level}%" if e.state == "on" else "")
        lines += ["BEGIN:VEVENT", f"UID:{when}-{e.target}@{site_id}.communectl",
                  f"DTSTAMP:{stamp}", f"DTSTART:{when}", f"DTEND:{when}",
                  f"SUMMARY:{_ics_text(summary)}",
                  f"DESCRIPTION:{_ics_text(e.rule or '')}", "END:VEVENT"]
    lines.append("END:VCALENDAR")
    return "\r\n".join(lines) + "\r\n"


def _ics_text(text: str) -> str:
    return (text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\n", "\\n"))
