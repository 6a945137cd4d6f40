"""Time expressions: ``18:30``, ``sunset+10m``, ``earliest(23:00, sunrise-10m)``.

They are a window's ``on`` and ``off`` (docs/configuration.md, ``windows``).

Grammar (case and whitespace insensitive)::

    expression := "earliest" "(" expression "," expression ")"
                | "latest" "(" expression "," expression ")"
                | HH ":" MM                              site-local wall time
                | ("sunrise" | "sunset" | "dawn" | "dusk") [offset]
    offset     := ("+" | "-") (N "h" [N "m"] | N "m")     at most 12 h

An expression is evaluated for a site and a local day. With ``after=``, every leaf means its
first occurrence strictly after that instant, which is how a window's ``off`` follows its
``on``: ``earliest(23:00, sunrise-10m)`` after 18:05 is 23:00 that evening, not 23:00 of the
day before.

Local wall times follow RFC 5545 (3.3.5) across DST changes: a time in the spring-forward gap
is read with the offset before the gap (02:30 becomes 03:30 summer time), an ambiguous time in
the autumn takes its first occurrence. Both fall out of ``fold=0`` normalised through UTC.
"""

from __future__ import annotations

import functools
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from schedules.errors import ScheduleError
from schedules.solar import EVENTS, Site, sun_event_utc

MAX_OFFSET = timedelta(hours=12)

_DAY = timedelta(days=1)


class TimeExpression(ABC):
    """A parsed time expression. ``str()`` gives its canonical text."""

    def evaluate(self, site: Site, day: date, *, after: datetime | None = None) -> datetime:
        """The instant on the local ``day`` (or, with ``after``, with each leaf at its first
        occurrence strictly after ``after``, searching from ``day`` on), in the site's zone.
        Raises NoSunEvent when a sun event it needs does not happen."""
        if after is not None and after.tzinfo is None:
            raise ScheduleError(f"'after' must be an aware datetime, got {after.isoformat()}")
        after_utc = None if after is None else after.astimezone(UTC)
        return self.utc(site, day, after=after_utc).astimezone(site.tz)

    @abstractmethod
    def utc(self, site: Site, day: date, *, after: datetime | None = None) -> datetime:
        """As ``evaluate``, but ``after`` and the result are in UTC: the form to compare and
        subtract, since aware datetimes sharing a ZoneInfo compare by wall time."""

    @abstractmethod
    def __str__(self) -> str: ...


class _Leaf(TimeExpression):
    """A time that happens (at most) once per local day."""

    def utc(self, site: Site, day: date, *, after: datetime | None = None) -> datetime:
        if after is None:
            return self.on_day(site, day)
        # A leaf of local day d lies within d +/- MAX_OFFSET, so its first occurrence after
        # `after` belongs to one of the days around after's local date.
        after_day = after.astimezone(site.tz).date()
        candidate = max(day, after_day - _DAY)
        while candidate <= max(day, after_day + 2 * _DAY):
            if self.latest_on_day(site, candidate) > after:
                found = self.on_day(site, candidate)
                if found > after:
                    return found
            candidate += _DAY
        raise ScheduleError(f"{self} does not occur after {after.isoformat()}")  # unreachable

    @abstractmethod
    def on_day(self, site: Site, day: date) -> datetime:
        """The instant (UTC) on local ``day``."""

    @abstractmethod
    def latest_on_day(self, site: Site, day: date) -> datetime:
        """An upper bound of ``on_day`` that needs no sun computation, so a day that cannot
        matter is skipped (and a missing sun event there does not raise)."""


@dataclass(frozen=True)
class FixedTime(_Leaf):
    at: time

    def __post_init__(self) -> None:
        if self.at.tzinfo is not None or self.at.second or self.at.microsecond:
            raise ScheduleError(f"a fixed time is a naive HH:MM, got {self.at.isoformat()}")

    def on_day(self, site: Site, day: date) -> datetime:
        return datetime.combine(day, self.at, tzinfo=site.tz).astimezone(UTC)

    def latest_on_day(self, site: Site, day: date) -> datetime:
        return self.on_day(site, day)

    def __str__(self) -> str:
        return self.at.strftime("%H:%M")


@dataclass(frozen=True)
class SunTime(_Leaf):
    event: str
    offset_min: int = 0

    def __post_init__(self) -> None:
        if self.event not in EVENTS:
            raise ScheduleError(f"unknown sun event {self.event!r}; expected {', '.join(EVENTS)}")
        if abs(self.offset_min) > MAX_OFFSET / timedelta(minutes=1):
            raise ScheduleError(f"offset of {self} is more than 12h")

    @functools.cached_property
    def offset(self) -> timedelta:
        return timedelta(minutes=self.offset_min)

    def on_day(self, site: Site, day: date) -> datetime:
        # Offsets are elapsed time, added in UTC: sunset+6h is six hours after sunset even
        # across a DST change.
        return sun_event_utc(site, day, self.event) + self.offset

    def latest_on_day(self, site: Site, day: date) -> datetime:
        next_midnight = datetime.combine(day + _DAY, time(0), tzinfo=site.tz)
        return next_midnight.astimezone(UTC) + self.offset

    def __str__(self) -> str:
        if not self.offset_min:
            return self.event
        hours, minutes = divmod(abs(self.offset_min), 60)
        sign = "+" if self.offset_min > 0 else "-"
        text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")
        return f"{self.event}{sign}{text}"


@dataclass(frozen=True)
class Earliest(TimeExpression):
    first: TimeExpression
    second: TimeExpression

    def utc(self, site: Site, day: date, *, after: datetime | None = None) -> datetime:
        return min(self.first.utc(site, day, after=after),
                   self.second.utc(site, day, after=after))

    def __str__(self) -> str:
        return f"earliest({self.first}, {self.second})"


@dataclass(frozen=True)
class Latest(TimeExpression):
    first: TimeExpression
    second: TimeExpression

    def utc(self, site: Site, day: date, *, after: datetime | None = None) -> datetime:
        return max(self.first.utc(site, day, after=after),
                   self.second.utc(site, day, after=after))

    def __str__(self) -> str:
        return f"latest({self.first}, {self.second})"


_TOKEN = re.compile(r"""\s*(?:
      (?P<clock>\d{1,2}:\d{2})
    | (?P<word>[A-Za-z]+)
    | (?P<offset>[+-]\s*\d+\s*[hHmM](?:\s*\d+\s*[hHmM])?)
    | (?P<punct>[(),])
    )""", re.VERBOSE)
_OFFSET = re.compile(r"([+-])(?:(\d+)h)?(?:(\d+)m)?")
_COMBINATORS = {"earliest": Earliest, "latest": Latest}


def parse_time_expression(text: str) -> TimeExpression:
    """Parse ``text``; raises ScheduleError naming the text and what is wrong with it."""
    return _Parser(text).parse()


class _Parser:
    def __init__(self, text: str) -> None:
        self._text = text
        self._tokens: list[tuple[str, str, int]] = []  # (kind, text, position)
        self._next = 0

    def parse(self) -> TimeExpression:
        if not isinstance(self._text, str):
            raise ScheduleError(f"a time expression must be text, got {self._text!r}")
        if not self._text.strip():
            raise ScheduleError("empty time expression")
        self._tokenize()
        expression = self._expression()
        if self._next < len(self._tokens):
            _, text, position = self._tokens[self._next]
            raise self._error(f"unexpected {text!r} after the expression", position)
        return expression

    def _tokenize(self) -> None:
        position, end = 0, len(self._text.rstrip())
        while position < end:
            match = _TOKEN.match(self._text, position)
            if match is None or match.lastgroup is None:
                position += self._leading_space(position)
                raise self._error(self._unexpected(self._text[position]), position)
            self._tokens.append((match.lastgroup, match.group(match.lastgroup),
                                 match.start(match.lastgroup)))
            position = match.end()

    @staticmethod
    def _unexpected(char: str) -> str:
        if char in "+-":
            return "bad offset: expected e.g. +10m, -1h30m, +1h"
        if char.isdigit():
            return "bad time: expected HH:MM"
        return f"unexpected {char!r}"

    def _leading_space(self, position: int) -> int:
        return len(self._text[position:]) - len(self._text[position:].lstrip())

    def _expression(self) -> TimeExpression:
        kind, text, position = self._take("a time, a sun event, earliest(...) or latest(...)")
        if kind == "clock":
            return self._clock(text, position)
        word = text.lower()
        if kind == "word" and word in _COMBINATORS:
            self._expect("(")
            first = self._expression()
            self._expect(",")
            second = self._expression()
            self._expect(")")
            return _COMBINATORS[word](first, second)
        if kind == "word" and word in EVENTS:
            return SunTime(word, self._offset_min())
        raise self._error(
            f"expected a time, a sun event, earliest(...) or latest(...), got {text!r}", position)

    def _clock(self, text: str, position: int) -> FixedTime:
        hours, minutes = (int(part) for part in text.split(":"))
        if hours > 23 or minutes > 59:
            raise self._error(f"{text!r} is not a time of day (00:00-23:59)", position)
        return FixedTime(time(hours, minutes))

    def _offset_min(self) -> int:
        if self._next >= len(self._tokens) or self._tokens[self._next][0] != "offset":
            return 0
        _, text, position = self._tokens[self._next]
        self._next += 1
        match = _OFFSET.fullmatch(re.sub(r"\s+", "", text).lower())
        if match is None:
            raise self._error(f"bad offset {text!r}: expected e.g. +10m, -1h30m, +1h", position)
        sign, hours, minutes = match.groups()
        total = int(hours or 0) * 60 + int(minutes or 0)
        if total > MAX_OFFSET / timedelta(minutes=1):
            raise self._error(f"offset {text!r} is more than 12h", position)
        return -total if sign == "-" else total

    def _take(self, wanted: str) -> tuple[str, str, int]:
        if self._next >= len(self._tokens):
            raise self._error(f"expected {wanted} at the end")
        token = self._tokens[self._next]
        self._next += 1
        return token

    def _expect(self, punct: str) -> None:
        kind, text, position = self._take(f"{punct!r}")
        if kind != "punct" or text != punct:
            raise self._error(f"expected {punct!r}, got {text!r}", position)

    def _error(self, message: str, position: int | None = None) -> ScheduleError:
        where = "" if position is None else f" at position {position + 1}"
        return ScheduleError(f"bad time expression {self._text!r}{where}: {message}")
