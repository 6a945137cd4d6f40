"""Calendars: the days a window is limited to (docs/configuration.md, ``[[calendars]]``).

A calendar is the union of yearly dates (``"09-02"``), Vietnamese lunar dates
(``"lunar:01-15"``, the full moon of the first lunar month), single dates (``"2027-02-06"``),
inclusive date ranges, and a country's public holidays from the ``holidays`` package
(``"VN"``: Tết, Hùng Kings' day, National Day, ... and the days off the government moves).

Entries are validated when the calendar is made, so a bad entry is reported once, by name.
Membership is a set lookup: each year's days are computed on first use and kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

import holidays

from schedules.errors import ScheduleError
from schedules.lunar import lunar_dates_in_year

_YEARLY = re.compile(r"(\d{2})-(\d{2})")
_LUNAR = re.compile(r"lunar:(\d{2})-(\d{2})")
_ONE_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_LEAP_YEAR = 2000  # any leap year: "02-29" is a valid yearly date


@dataclass(frozen=True)
class Calendar:
    id: str
    dates: tuple[str, ...] = ()
    ranges: tuple[tuple[str, str], ...] = ()
    public_holidays: str | None = None  # a country code known to the holidays package

    _yearly: frozenset[tuple[int, int]] = field(init=False, repr=False, compare=False)
    _lunar: frozenset[tuple[int, int]] = field(init=False, repr=False, compare=False)
    _single: frozenset[date] = field(init=False, repr=False, compare=False)
    _spans: tuple[tuple[date, date], ...] = field(init=False, repr=False, compare=False)
    _years: dict[int, frozenset[date]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Accept lists from JSON or TOML, but keep the dataclass hashable.
        object.__setattr__(self, "dates", tuple(self.dates))
        object.__setattr__(self, "ranges", tuple(tuple(r) for r in self.ranges))
        yearly, lunar, single = set(), set(), set()
        for entry in self.dates:
            if not isinstance(entry, str):
                raise self._bad(entry, "expected text")
            if match := _LUNAR.fullmatch(entry):
                lunar.add(self._lunar_month_day(entry, match))
            elif match := _YEARLY.fullmatch(entry):
                month, day = int(match[1]), int(match[2])
                self._iso(entry, f"{_LEAP_YEAR}-{entry}")
                yearly.add((month, day))
            elif _ONE_DAY.fullmatch(entry):
                single.add(self._iso(entry, entry))
            else:
                raise self._bad(entry, 'expected "MM-DD", "lunar:MM-DD" or "YYYY-MM-DD"')
        object.__setattr__(self, "_yearly", frozenset(yearly))
        object.__setattr__(self, "_lunar", frozenset(lunar))
        object.__setattr__(self, "_single", frozenset(single))
        object.__setattr__(self, "_spans", tuple(self._span(r) for r in self.ranges))
        if self.public_holidays is not None:
            self._check_country(self.public_holidays)
        object.__setattr__(self, "_years", {})

    def contains(self, day: date) -> bool:
        days = self._years.get(day.year)
        if days is None:
            days = self._years[day.year] = self._days_of(day.year)
        return day in days

    def _days_of(self, year: int) -> frozenset[date]:
        days = {d for d in self._single if d.year == year}
        days.update(date(year, month, day) for month, day in self._yearly
                    if _is_date(year, month, day))  # "02-29" only in leap years
        for month, day in self._lunar:
            days.update(lunar_dates_in_year(month, day, year))
        for first, last in self._spans:
            day_ = max(first, date(year, 1, 1))
            while day_ <= min(last, date(year, 12, 31)):
                days.add(day_)
                day_ += timedelta(days=1)
        if self.public_holidays is not None:
            days.update(holidays.country_holidays(self.public_holidays, years=year))
        return frozenset(days)

    def _lunar_month_day(self, entry: str, match: re.Match[str]) -> tuple[int, int]:
        month, day = int(match[1]), int(match[2])
        if not 1 <= month <= 12 or not 1 <= day <= 30:
            raise self._bad(entry, "a lunar month is 01-12 and a lunar day 01-30")
        return month, day

    def _span(self, pair: tuple[str, ...]) -> tuple[date, date]:
        if len(pair) != 2:
            raise self._bad(pair, "a range is [first, last]")
        first, last = (self._iso(text, text) for text in pair)
        if last < first:
            raise self._bad(list(pair), "the range ends before it starts")
        return first, last

    def _iso(self, entry: object, text: str) -> date:
        if not isinstance(text, str) or not _ONE_DAY.fullmatch(text):
            raise self._bad(entry, "expected YYYY-MM-DD")
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise self._bad(entry, "no such date") from None

    def _check_country(self, code: str) -> None:
        if code not in holidays.list_supported_countries():
            raise ScheduleError(f"calendar {self.id!r}: public_holidays: unknown country "
                                f"code {code!r} (e.g. \"VN\")")

    def _bad(self, entry: object, why: str) -> ScheduleError:
        return ScheduleError(f"calendar {self.id!r}: bad entry {entry!r}: {why}")


def _is_date(year: int, month: int, day: int) -> bool:
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True
