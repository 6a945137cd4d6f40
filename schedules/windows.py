"""Lighting windows and programmes: their config form, validation and spans.

A window belongs to the local day D it starts on: ``on`` is evaluated on D, its ``days`` and
``calendar`` are tested on D, and every time inside ``off`` is its first occurrence after
``on`` (docs/configuration.md, ``windows``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from schedules.calendars import Calendar
from schedules.errors import NoSunEvent, ScheduleError
from schedules.expressions import TimeExpression, parse_time_expression
from schedules.solar import Site

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # date.weekday() order
_FULL_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAY_NAMES = {name: number
                  for number, names in enumerate(zip(WEEKDAYS, _FULL_WEEKDAYS, strict=True))
                  for name in names}

# A window lasts less than a day, plus the hour a DST change may add and the minutes a sun
# event moves from one day to the next. A longer one is skipped, which bounds how many days
# around an instant must be looked at (lighting._horizon).
MAX_WINDOW = timedelta(hours=26)


@dataclass(frozen=True)
class Window:
    on: TimeExpression
    off: TimeExpression
    level: int = 100
    days: frozenset[int] | None = None  # 0 = Monday .. 6 = Sunday; None = every day
    calendar: str | None = None  # id of a Calendar; None = every day

    def __post_init__(self) -> None:
        # "every time inside off is its first occurrence after on": off equal to on would be
        # a window of no length (or, read the other way, of a whole day); either is a mistake.
        if self.on == self.off:
            raise ScheduleError(f"off: {self.off} is the same as on; a window needs a length")
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
        """(on, off) in UTC for the window starting on local ``day``. Raises NoSunEvent, or
        ScheduleError when off would come more than MAX_WINDOW after on."""
        found = _span_utc(self.on, self.off, site, day)
        if isinstance(found, NoSunEvent):
            raise NoSunEvent(found.event, found.day, found.reason, found.detail)
        on, off = found
        if off - on > MAX_WINDOW:
            raise ScheduleError(f"off would come {off - on} after on")
        return found


@dataclass(frozen=True)
class Program:
    id: str
    windows: tuple[Window, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "windows", tuple(self.windows))

    @property
    def calendar_ids(self) -> frozenset[str]:
        return frozenset(w.calendar for w in self.windows if w.calendar is not None)


def clear_span_cache() -> None:
    _span_utc.cache_clear()


# Every circuit that shares a programme, and every desired_state call around the same days,
# asks for the same spans. A year of a dozen distinct windows fits.
@functools.lru_cache(maxsize=16384)
def _span_utc(on: TimeExpression, off: TimeExpression, site: Site,
              day: date) -> tuple[datetime, datetime] | NoSunEvent:
    try:
        start = on.utc(site, day)
        return start, off.utc(site, day, after=start)
    except NoSunEvent as exc:
        # Cached as a value, never raised: a raised exception would pin its traceback here.
        return NoSunEvent(exc.event, exc.day, exc.reason, exc.detail)


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
