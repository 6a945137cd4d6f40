"""Lighting programmes: what level a circuit should be at, and when that changes (SPEC: Schedules).

A programme is a list of windows ``{on, off, level, days, calendar}``. A window belongs to the
local day D it starts on: ``on`` is evaluated on D, its ``days`` and ``calendar`` are tested on
D, and every time inside ``off`` is its first occurrence after ``on``. Windows are united; where
they overlap the highest level wins; level 0 is off. A window whose sun event does not happen
(polar day or night) is skipped, and ``plan`` says why: nothing here raises for it.

All instants are handled in UTC and given back in the site's zone.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from schedules.calendars import Calendar
from schedules.errors import NoSunEvent, ScheduleError
from schedules.expressions import MAX_OFFSET, TimeExpression, parse_time_expression
from schedules.solar import Site
from schedules.timeline import Span, changes, winner_at

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # date.weekday() order
_FULL_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAY_NAMES = {name: number for number, names in enumerate(zip(WEEKDAYS, _FULL_WEEKDAYS))
                  for name in names}

# A window lasts less than a day, plus the hour a DST change may add and the minutes a sun
# event moves from one day to the next. Longer is refused, which bounds how many days around
# an instant must be looked at (see _horizon).
MAX_WINDOW = timedelta(hours=26)

_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Window:
    on: TimeExpression
    off: TimeExpression
    level: int = 100
    days: frozenset[int] | None = None  # 0 = Monday .. 6 = Sunday; None = every day
    calendar: str | None = None  # id of a Calendar; None = every day

    def __post_init__(self) -> None:
        if isinstance(self.level, bool) or not isinstance(self.level, int) \
                or not 0 <= self.level <= 100:
            raise ScheduleError(f"level: {self.level!r} is not a whole number from 0 to 100")
        if self.days is not None:
            object.__setattr__(self, "days", frozenset(self.days))
            if not self.days or not self.days <= set(range(7)):
                raise ScheduleError(f"days: {sorted(self.days)} must be weekdays 0 (Monday) "
                                    "to 6 (Sunday), at least one")

    @classmethod
    def parse(cls, on: str, off: str, level: int = 100,
              days: Iterable[int | str] | None = None, calendar: str | None = None) -> Window:
        """A window from its config form; ``days`` as 0-6 (Monday first) or "mon".."sun"."""
        return cls(on=_parse_field("on", on), off=_parse_field("off", off), level=level,
                   days=None if days is None else frozenset(_weekday(d) for d in days),
                   calendar=calendar)

    @functools.cached_property
    def rule(self) -> str:
        return f"{self.on}..{self.off}"

    def applies_on(self, day: date, calendars: Mapping[str, Calendar]) -> bool:
        if self.days is not None and day.weekday() not in self.days:
            return False
        return self.calendar is None or calendars[self.calendar].contains(day)

    def span_utc(self, site: Site, day: date) -> tuple[datetime, datetime]:
        """(on, off) in UTC for the window starting on local ``day``. Raises NoSunEvent."""
        found = _span_utc(self.on, self.off, site, day)
        if isinstance(found, NoSunEvent):
            raise NoSunEvent(found.event, found.day, found.reason, found.detail)
        return found


@dataclass(frozen=True)
class Program:
    id: str
    windows: tuple[Window, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "windows", tuple(self.windows))


@dataclass(frozen=True)
class Desired:
    state: str  # "on" | "off"
    level: int  # 0..100
    rule: str | None  # the window that decides, None when no window contains the instant
    since: datetime | None  # when this level began, if within the search horizon
    until: datetime | None  # when it next changes, if within the search horizon


@dataclass(frozen=True)
class Transition:
    time: datetime
    state: str
    level: int
    rule: str | None


@dataclass(frozen=True)
class SkippedWindow:
    day: date
    window_index: int
    rule: str
    reason: str


def desired_state(program: Program, site: Site, calendars: Mapping[str, Calendar], *,
                  at: datetime) -> Desired:
    """The level the programme asks for at ``at``: a pure function of its arguments, so a
    controller restarted in the evening switches on at once instead of waiting for an event."""
    _require_aware(at, "at")
    _require_calendars(program, calendars)
    day = at.astimezone(site.tz).date()
    first_day, last_day = day - 2 * _DAY, day + 2 * _DAY
    spans, _ = _spans(program, site, calendars, first_day, last_day)
    exact_from, exact_to = _horizon(site, first_day, last_day)
    at_utc = at.astimezone(UTC)
    winner = winner_at(spans, at_utc)
    level = winner.level if winner else 0
    points = changes(spans)
    since = max((c.time for c in points if c.time <= at_utc), default=None)
    until = min((c.time for c in points if c.time > at_utc), default=None)
    return Desired(
        state=_state(level), level=level, rule=winner.rule if winner else None,
        since=since.astimezone(site.tz) if since and since >= exact_from else None,
        until=until.astimezone(site.tz) if until and until < exact_to else None)


def transitions(program: Program, site: Site, calendars: Mapping[str, Calendar], *,
                start: datetime, end: datetime) -> list[Transition]:
    """Every change of the programme's level in [start, end), in order (the state already in
    force at ``start`` is not a transition)."""
    return plan(program, site, calendars, start=start, end=end)[0]


def plan(program: Program, site: Site, calendars: Mapping[str, Calendar], *,
         start: datetime, end: datetime) -> tuple[list[Transition], list[SkippedWindow]]:
    """The transitions in [start, end), and the windows of the local days in it that were
    skipped because a sun event they need does not happen."""
    _require_aware(start, "start")
    _require_aware(end, "end")
    if end < start:
        raise ScheduleError(f"plan ends ({end.isoformat()}) before it starts "
                            f"({start.isoformat()})")
    _require_calendars(program, calendars)
    first_shown, last_shown = start.astimezone(site.tz).date(), end.astimezone(site.tz).date()
    # Windows of the two days before can still be lit at `start`, and one of the day after
    # may start before `end` (see _horizon).
    spans, skipped = _spans(program, site, calendars, first_shown - 2 * _DAY,
                            last_shown + _DAY)
    start_utc, end_utc = start.astimezone(UTC), end.astimezone(UTC)
    found = [Transition(c.time.astimezone(site.tz), _state(c.level), c.level, c.rule)
             for c in changes(spans) if start_utc <= c.time < end_utc]
    shown = [s for s in skipped
             if first_shown <= s.day <= last_shown and _midnight_utc(site, s.day) < end_utc]
    return found, shown


def _spans(program: Program, site: Site, calendars: Mapping[str, Calendar], first_day: date,
           last_day: date) -> tuple[list[Span], list[SkippedWindow]]:
    spans: list[Span] = []
    skipped: list[SkippedWindow] = []
    day = first_day
    while day <= last_day:
        for index, window in enumerate(program.windows):
            if not window.applies_on(day, calendars):
                continue
            try:
                on, off = window.span_utc(site, day)
            except NoSunEvent as exc:
                skipped.append(SkippedWindow(day, index, window.rule, str(exc)))
                continue
            if off - on > MAX_WINDOW:
                skipped.append(SkippedWindow(day, index, window.rule,
                                             f"off would come {off - on} after on"))
                continue
            spans.append(Span(on, off, window.level, index, window.rule))
        day += _DAY
    return spans, skipped


# Every circuit sharing a programme (and every desired_state call in the same days) asks for
# the same spans: a year of 3 windows for a handful of sites fits.
@functools.lru_cache(maxsize=8192)
def _span_utc(on: TimeExpression, off: TimeExpression, site: Site,
              day: date) -> tuple[datetime, datetime] | NoSunEvent:
    try:
        start = on.utc(site, day)
        return start, off.utc(site, day, after=start)
    except NoSunEvent as exc:
        # Cached as a value, never raised: a raised exception would pin its traceback here.
        return NoSunEvent(exc.event, exc.day, exc.reason, exc.detail)


def _horizon(site: Site, first_day: date, last_day: date) -> tuple[datetime, datetime]:
    """The stretch [from, to) in which the spans of first_day..last_day give the exact level.

    A window of local day D opens within MAX_OFFSET of D and lasts at most MAX_WINDOW, so
    windows of earlier days are all closed by midnight(first_day) + MAX_OFFSET + MAX_WINDOW,
    and windows of later days open no sooner than midnight(last_day + 1) - MAX_OFFSET.
    """
    return (_midnight_utc(site, first_day) + MAX_OFFSET + MAX_WINDOW,
            _midnight_utc(site, last_day + _DAY) - MAX_OFFSET)


def _midnight_utc(site: Site, day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=site.tz).astimezone(UTC)


def _state(level: int) -> str:
    return "on" if level > 0 else "off"


def _parse_field(name: str, text: str) -> TimeExpression:
    try:
        return parse_time_expression(text)
    except ScheduleError as exc:
        raise ScheduleError(f"{name}: {exc}") from None


def _weekday(value: int | str) -> int:
    if isinstance(value, str) and value.strip().lower() in _WEEKDAY_NAMES:
        return _WEEKDAY_NAMES[value.strip().lower()]
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 6:
        return value
    raise ScheduleError(f"days: {value!r} is not a weekday (0-6, Monday first, or mon..sun)")


def _require_aware(instant: datetime, name: str) -> None:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ScheduleError(f"{name} must be an aware datetime, got {instant.isoformat()}")


def _require_calendars(program: Program, calendars: Mapping[str, Calendar]) -> None:
    for index, window in enumerate(program.windows):
        if window.calendar is not None and window.calendar not in calendars:
            raise ScheduleError(f"programme {program.id!r}: windows[{index}]: unknown calendar "
                                f"{window.calendar!r}")
