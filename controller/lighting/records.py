"""What lighting stores and shows, as typed records; each stored one converts to and from its
TinyDB document here and nowhere else.

- ``Override``: a circuit, a group or everything forced on or off until a time (table
  ``overrides``), with the rule of which circuits it targets.
- ``LightingProgram`` with its ``ProgramWindow``s, and ``LightingCalendar``: the documents the
  coordinator plans from (tables ``lighting_programs`` and ``calendars``). They have the shape of
  the config's ``[[lighting_programs]]`` and ``[[calendars]]`` (docs/configuration.md), so one
  document moves between a config file, storage and the API.
- ``Desired``, ``Reading`` and ``CircuitState``: what a circuit should be, what was written and
  what was read back, kept apart (docs/architecture.md).

A document read back and written again is the same bytes: the same keys in the same order, and
times as the ISO-8601 strings ``datetime.isoformat`` wrote, offset included.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, cast

from controller.config import CircuitConfig
from controller.platform import documents as fields
from schedules.windows import Program, Window

State = Literal["on", "off"]
Source = Literal["schedule", "override", "default", "failsafe"]
Document = dict[str, object]

MAX_OVERRIDE_MIN = 7 * 24 * 60  # a forgotten override ends within a week
ALL_CIRCUITS = "all"


def circuit_target(circuit_id: str) -> str:
    """The target of an override of one circuit."""
    return f"circuit:{circuit_id}"


def group_target(group: str) -> str:
    return f"group:{group}"


def split_target(target: str) -> tuple[str, str]:
    """("circuit", "road-5") for "circuit:road-5"; ("all", "") for "all"."""
    kind, _, name = target.partition(":")
    return kind, name


# -- overrides -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Override:
    """A circuit, a group or every circuit forced on or off until ``until``."""

    id: str
    target: str  # "circuit:ID" | "group:ID" | "all"
    state: State
    level: int  # 0 when off
    until: datetime
    reason: str
    created_by: str
    created_at: datetime

    @classmethod
    def new(cls, *, target: str, state: State, level: int, until: datetime, reason: str,
            created_by: str, now: datetime) -> Override:
        """A new override with a fresh id; an override that switches off has level 0."""
        return cls(id=f"ovr-{int(now.timestamp())}-{secrets.token_hex(3)}", target=target,
                   state=state, level=level if state == "on" else 0, until=until,
                   reason=reason, created_by=created_by, created_at=now)

    def targets(self, circuit: CircuitConfig) -> bool:
        """Whether it forces this circuit: named, through one of its groups, or all."""
        if self.target == ALL_CIRCUITS:
            return True
        kind, name = split_target(self.target)
        return (kind == "circuit" and name == circuit.id) or (
            kind == "group" and name in circuit.groups)

    def live_at(self, instant: datetime) -> bool:
        return self.until > instant

    @classmethod
    def from_doc(cls, doc: Mapping[str, object]) -> Override:
        state = fields.text(doc, "state")
        if state not in ("on", "off"):
            raise ValueError(f"state: expected on or off, found {state!r}")
        return cls(id=fields.text(doc, "id"), target=fields.text(doc, "target"), state=cast(State,
                   state),
                   level=fields.whole(doc, "level", 0),
                   until=datetime.fromisoformat(fields.text(doc, "until")),
                   reason=fields.text(doc, "reason"), created_by=fields.text(doc, "created_by"),
                   created_at=datetime.fromisoformat(fields.text(doc, "created_at")))

    def to_doc(self) -> Document:
        return {"id": self.id, "target": self.target, "state": self.state,
                "level": self.level, "until": self.until.isoformat(), "reason": self.reason,
                "created_by": self.created_by, "created_at": self.created_at.isoformat()}

    def audit_details(self, *, with_reason: bool = True) -> Document:
        """What the audit trail keeps of it: what it forces, and until when."""
        doc = self.to_doc()
        keys = ("target", "state", "level", "until", *(("reason",) if with_reason else ()))
        return {key: doc[key] for key in keys}


@dataclass(frozen=True)
class OverrideRequest:
    """An override as asked for: its end given as a length or as a time (exactly one)."""

    target: str
    state: State
    reason: str
    level: int | None = None  # 1..100, default 100; ignored when off
    duration_min: int | None = None
    until: datetime | None = None


# -- programmes and calendars --------------------------------------------------------------------

@dataclass(frozen=True)
class ProgramWindow:
    """One window of a programme, its times as written (``sunset+5m``); parsed by
    ``controller.lighting.programs``."""

    on: str
    off: str
    level: int = 100
    days: tuple[int | str, ...] | None = None
    calendar: str | None = None

    @classmethod
    def from_doc(cls, doc: Mapping[str, object]) -> ProgramWindow:
        days = doc.get("days")
        if days is not None and not (isinstance(days, list | tuple) and all(
                isinstance(d, int | str) for d in days)):
            raise TypeError(f"days: expected a list of weekdays, found {days!r}")
        return cls(on=fields.text(doc, "on"), off=fields.text(doc, "off"), level=fields.whole(doc,
                   "level", 100),
                   days=None if days is None else tuple(cast(Sequence[int | str], days)),
                   calendar=fields.optional_text(doc, "calendar"))

    def to_doc(self) -> Document:
        return {"on": self.on, "off": self.off, "level": self.level,
                "days": None if self.days is None else list(self.days),
                "calendar": self.calendar}


@dataclass(frozen=True)
class LightingProgram:
    id: str
    name: str
    windows: tuple[ProgramWindow, ...]

    @property
    def calendar_ids(self) -> frozenset[str]:
        return frozenset(w.calendar for w in self.windows if w.calendar is not None)

    @classmethod
    def from_doc(cls, doc: Mapping[str, object]) -> LightingProgram:
        windows = doc.get("windows", [])
        if not isinstance(windows, list | tuple) or not all(
                isinstance(w, Mapping) for w in windows):
            raise TypeError(f"windows: expected a list of windows, found {windows!r}")
        return cls(id=fields.text(doc, "id"), name=fields.optional_text(doc, "name") or "",
                   windows=tuple(ProgramWindow.from_doc(w)
                                 for w in cast(Sequence[Mapping[str, object]], windows)))

    def to_doc(self) -> Document:
        return {"id": self.id, "name": self.name, "windows": [w.to_doc() for w in self.windows]}


@dataclass(frozen=True)
class LightingCalendar:
    id: str
    name: str = ""
    dates: tuple[str, ...] = ()
    ranges: tuple[tuple[str, str], ...] = ()
    public_holidays: str | None = None

    @classmethod
    def from_doc(cls, doc: Mapping[str, object]) -> LightingCalendar:
        ranges = doc.get("ranges", [])
        if not isinstance(ranges, list | tuple) or not all(
                isinstance(r, list | tuple) and all(isinstance(e, str) for e in r)
                for r in ranges):
            raise TypeError(f"ranges: expected a list of [first, last] dates, found {ranges!r}")
        # A range of the wrong length is kept as it is, for the schedule code to name.
        return cls(id=fields.text(doc, "id"), name=fields.optional_text(doc, "name") or "",
                   dates=fields.texts(doc, "dates"),
                   ranges=tuple(cast(tuple[str, str], tuple(r))
                                for r in cast(Sequence[Sequence[str]], ranges)),
                   public_holidays=fields.optional_text(doc, "public_holidays"))

    def to_doc(self) -> Document:
        return {"id": self.id, "name": self.name, "dates": list(self.dates),
                "ranges": [list(r) for r in self.ranges],
                "public_holidays": self.public_holidays}


@dataclass(frozen=True)
class ProgramView:
    """A stored programme, the circuits of the config that follow it, and its windows as the
    schedule code reads them (None if the stored document no longer parses)."""

    program: LightingProgram
    circuits: tuple[str, ...]
    parsed: Program | None = None


@dataclass(frozen=True)
class CalendarView:
    """A stored calendar and the stored programmes with a window on it."""

    calendar: LightingCalendar
    programs: tuple[str, ...]


# -- circuits ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Desired:
    """What the rules say a circuit should be: the override, window or default that decides."""

    state: str  # "on" | "off"
    level: int  # 0..100
    source: str  # "schedule" | "override" | "default" | "failsafe"
    rule: str | None
    since: datetime | None
    until: datetime | None
    # The programme's window in force ("schedule"), else the one that switches next ("default"
    # between windows), if within the search horizon; the override that decides ("override").
    window: Window | None = None
    window_index: int | None = None
    override: Override | None = None

    @property
    def window_in_force(self) -> bool:
        return self.source == "schedule" and self.window is not None


@dataclass(frozen=True)
class Reading:
    """A level at a time: the last one written (``commanded``) or read back (``actual``)."""

    level: int
    at: datetime

    @property
    def state(self) -> State:
        return "on" if self.level > 0 else "off"


@dataclass(frozen=True)
class CircuitState:
    """One circuit's three truths (docs/architecture.md) and whether its device answers."""

    id: str
    name: str
    groups: tuple[str, ...]
    program: str | None
    desired: Desired
    commanded: Reading | None
    actual: Reading | None
    device_online: bool | None
