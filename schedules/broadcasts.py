"""Broadcast programmes: when a recurring programme airs, and when the radio keeps quiet.

A programme's schedule is stored as JSON in exactly one of three forms (docs/configuration.md,
``[[broadcast_programs]]``); the API keeps it under ``schedule``, so error messages name
``schedule.<field>``::

    {"times": ["05:30", "17:00"], "days": ["mon", "fri"]}       no days: every day
    {"rrule": "FREQ=WEEKLY;BYDAY=MO,WE,FR;BYHOUR=6;BYMINUTE=0"}  the rule gives the times
    {"rrule": "FREQ=MONTHLY;BYMONTHDAY=1", "times": ["07:00"]}   the rule picks the days
    {"lunar_days": [1, 15], "times": ["06:00"]}                  mùng 1 and rằm, every lunar month

each with optional ``valid_from`` and ``valid_until`` (inclusive local dates).

Times are local wall times and follow RFC 5545 (3.3.5) across DST changes, as
``schedules.expressions`` does: a time in the spring-forward gap airs the gap's length later
(02:30 airs at 03:30 summer time), an ambiguous autumn time airs once, at its first occurrence.

Recurrence rules (RFC 5545 3.3.10) are expanded by python-dateutil in local wall time, as a rule
with a TZID is. DTSTART is local midnight of ``valid_from``, or of 2000-01-01 without one: it
sets the phase of INTERVAL and where COUNT starts counting. A rule gives the times of day when
it is HOURLY or has BYHOUR or BYMINUTE; otherwise it picks days, ``times`` gives the times and
COUNT counts days, not airings. UNTIL is a date (that whole local day included), a local
date-time, or a UTC one ending in Z (the form RFC 5545 asks of a rule with a TZID). Refused:
rules finer than hourly, and rules that never occur ("BYMONTH=2;BYMONTHDAY=30"), since dateutil
would look for their next occurrence up to the year 9999 each time it is asked.
"""

from __future__ import annotations

import functools
import re
from bisect import bisect_left
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil import rrule as du  # type: ignore[import-untyped]  # no stubs shipped

from schedules.errors import ScheduleError
from schedules.lunar import to_lunar
from schedules.windows import WEEKDAYS

__all__ = ["LEVELS", "QuietHours", "Recurrence", "level_rank", "may_air", "occurrences"]

LEVELS: tuple[str, ...] = ("normal", "priority", "emergency")

ANCHOR = date(2000, 1, 1)  # DTSTART of a rule without valid_from
MAX_COUNT = 10_000  # a longer run is an open-ended programme: give UNTIL or valid_until

_DAY = timedelta(days=1)
_KEYS = ("times", "days", "rrule", "lunar_days", "valid_from", "valid_until")
_KINDS = ("days", "rrule", "lunar_days")
_HHMM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
_QUIET = re.compile(r"(\d{2}:\d{2})-(\d{2}:\d{2})")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_UNTIL = re.compile(r"(\d{8})(?:T(\d{6})(Z)?)?")

# RFC 5545 3.3.10. dateutil also reads BYEASTER and BYWEEKDAY; they are not iCalendar.
_RULE_PARTS = frozenset({"FREQ", "UNTIL", "COUNT", "INTERVAL", "BYSECOND", "BYMINUTE", "BYHOUR",
                         "BYDAY", "BYMONTHDAY", "BYYEARDAY", "BYWEEKNO", "BYMONTH", "BYSETPOS",
                         "WKST"})
_DAY_PARTS = frozenset({"BYWEEKNO", "BYYEARDAY", "BYMONTHDAY", "BYDAY"})
_FREQS = {"YEARLY": du.YEARLY, "MONTHLY": du.MONTHLY, "WEEKLY": du.WEEKLY, "DAILY": du.DAILY,
          "HOURLY": du.HOURLY}
_RULE_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
# (part, largest absolute value, whether negative values count from the end); dateutil checks
# the hour, minute and second parts but takes BYMONTH=13 and BYMONTHDAY=32 without a word.
_RULE_RANGES = (("BYMONTH", 12, False), ("BYMONTHDAY", 31, True), ("BYYEARDAY", 366, True),
                ("BYWEEKNO", 53, True))


def level_rank(level: str) -> int:
    """0 for normal, 1 for priority, 2 for emergency: the higher, the more urgent."""
    if isinstance(level, str) and level in LEVELS:
        return LEVELS.index(level)
    raise ScheduleError(f"level: {level!r} is not one of {', '.join(LEVELS)}")


@dataclass(frozen=True)
class Recurrence:
    """When a programme airs. Exactly one kind: ``times`` (with optional ``days``), ``rrule``
    (with ``times`` when the rule picks days only), or ``lunar_days`` with ``times``."""

    times: tuple[time, ...] = ()  # local wall times of day, in the order given
    days: frozenset[int] | None = None  # 0 = Monday .. 6 = Sunday; None = every day
    rrule: str | None = None  # an RRULE body, kept as FREQ=...;... in upper case
    lunar_days: tuple[int, ...] = ()  # days of the lunar month, 1..30
    valid_from: date | None = None
    valid_until: date | None = None  # inclusive

    def __post_init__(self) -> None:
        object.__setattr__(self, "times", tuple(self.times))
        object.__setattr__(self, "lunar_days", tuple(self.lunar_days))
        if self.days is not None:
            object.__setattr__(self, "days", frozenset(self.days))
        _check_kinds([name for name, given in (("days", self.days is not None),
                                               ("rrule", self.rrule is not None),
                                               ("lunar_days", bool(self.lunar_days)))
                      if given])
        _check_times(self.times)
        if self.days is not None and (not self.days or not self.days <= set(range(7))):
            raise _fault(("schedule", "days"),
                         f"schedule.days: {sorted(self.days)} must be weekdays 0 "
                         "(Monday) to 6 (Sunday), at least one")
        _check_lunar_days(self.lunar_days)
        if self.valid_from and self.valid_until and self.valid_until < self.valid_from:
            raise _fault(("schedule", "valid_until"),
                         f"schedule.valid_until: {self.valid_until.isoformat()} is "
                         f"before valid_from {self.valid_from.isoformat()}")
        if self.rrule is None:
            if not self.times:
                raise _fault(("schedule", "times"),
                             "schedule.times: required, a non-empty list of HH:MM")
            return
        object.__setattr__(self, "rrule", _normalize_rule(self.rrule))
        rule = _rule(self.rrule, self.valid_from or ANCHOR)
        if rule.gives_times and self.times:
            raise _fault(("schedule", "times"),
                         "schedule.times: not allowed when the rrule gives the times "
                         "of day (FREQ=HOURLY, BYHOUR or BYMINUTE)")
        if not rule.gives_times and not self.times:
            raise _fault(("schedule", "times"),
                         "schedule.times: required when the rrule has no BYHOUR: the "
                         "rule picks the days and times gives the times of day")

    @classmethod
    def parse(cls, spec: Mapping[str, Any]) -> Recurrence:
        """A recurrence from its stored JSON form; ScheduleError names the field at fault."""
        if not isinstance(spec, Mapping):
            raise _fault(("schedule",), f"schedule: expected an object, got {spec!r}")
        spec = {key: value for key, value in spec.items() if value is not None}
        unknown = [key for key in spec if key not in _KEYS]
        if unknown:
            raise _fault(("schedule",), f"schedule: unknown key{'s' * (len(unknown) > 1)} "
                         f"{', '.join(map(repr, unknown))}; expected {', '.join(_KEYS)}")
        _check_kinds([kind for kind in _KINDS if kind in spec])
        return cls(
            times=_parse_times(spec["times"]) if "times" in spec else (),
            days=_parse_days(spec["days"]) if "days" in spec else None,
            rrule=_parse_rule_text(spec["rrule"]) if "rrule" in spec else None,
            lunar_days=_parse_lunar_days(spec["lunar_days"]) if "lunar_days" in spec else (),
            valid_from=_parse_date("valid_from", spec.get("valid_from")),
            valid_until=_parse_date("valid_until", spec.get("valid_until")))

    def as_json(self) -> dict[str, Any]:
        """The stored JSON form; ``parse`` gives back an equal recurrence."""
        spec: dict[str, Any] = {}
        if self.times:
            spec["times"] = [t.strftime("%H:%M") for t in self.times]
        if self.days is not None:
            spec["days"] = [WEEKDAYS[d] for d in sorted(self.days)]
        if self.rrule is not None:
            spec["rrule"] = self.rrule
        if self.lunar_days:
            spec["lunar_days"] = list(self.lunar_days)
        if self.valid_from is not None:
            spec["valid_from"] = self.valid_from.isoformat()
        if self.valid_until is not None:
            spec["valid_until"] = self.valid_until.isoformat()
        return spec


def occurrences(recurrence: Recurrence, tz: str | ZoneInfo, *, start: datetime,
                end: datetime) -> list[datetime]:
    """Every airing in [start, end), in ``tz``, in order, each instant once. ``start`` and
    ``end`` are aware, in any zone. The work is proportional to the days of the window."""
    zone = _zone(tz)
    _require_aware(start, "start")
    _require_aware(end, "end")
    if end < start:
        raise ScheduleError(f"the window ends ({end.isoformat()}) before it starts "
                            f"({start.isoformat()})")
    start_utc, end_utc = start.astimezone(UTC), end.astimezone(UTC)
    # Resolving a wall time moves it forward by at most a DST gap (at most a day: Samoa skipped
    # 2011-12-30), so wall times of the window's local days and one day either side suffice.
    first = start_utc.astimezone(zone).date() - _DAY
    last = end_utc.astimezone(zone).date() + _DAY
    first = max(first, recurrence.valid_from or first)
    last = min(last, recurrence.valid_until or last)
    rule = None if recurrence.rrule is None else _rule(recurrence.rrule,
                                                       recurrence.valid_from or ANCHOR)
    if start_utc >= end_utc or first > last:
        return []
    found = set()
    for wall in _wall_times(recurrence, rule, first, last):
        instant = _instant(wall, zone)
        if start_utc <= instant < end_utc and (rule is None or rule.allows(wall, instant)):
            found.add(instant)
    return [instant.astimezone(zone) for instant in sorted(found)]


@dataclass(frozen=True)
class QuietHours:
    """A daily quiet period, e.g. 22:00-05:00 (crosses midnight) or 12:00-13:30."""

    start: time
    end: time

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value = getattr(self, name)
            if not isinstance(value, time) or value.tzinfo is not None or value.second \
                    or value.microsecond:
                raise _fault(("quiet_hours",),
                             f"quiet_hours: {name} must be a local HH:MM, got {value!r}")
        if self.start == self.end:
            raise _fault(("quiet_hours",),
                         f"quiet_hours: start and end are both {self.start:%H:%M}; "
                         "give no quiet hours instead of an empty or endless period")

    @classmethod
    def parse(cls, text: str | None) -> QuietHours | None:
        """``"22:00-05:00"``; None or blank text means no quiet hours."""
        if text is None or (isinstance(text, str) and not text.strip()):
            return None
        match = _QUIET.fullmatch(text.strip()) if isinstance(text, str) else None
        if match is None:
            raise _fault(("quiet_hours",), f'quiet_hours: expected "HH:MM-HH:MM", got {text!r}')
        return cls(_parse_time("quiet_hours", match[1]), _parse_time("quiet_hours", match[2]))

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def contains(self, at: datetime, tz: str | ZoneInfo) -> bool:
        """Whether ``at`` falls in a quiet period, [start, end) in local time."""
        return self._period(at, _zone(tz)) is not None

    def next_end(self, at: datetime, tz: str | ZoneInfo) -> datetime:
        """When the quiet period containing ``at`` ends, in ``tz``; ``at`` itself (in ``tz``)
        when it is not quiet, so the result is always the first instant from ``at`` on at
        which a normal item may air."""
        zone = _zone(tz)
        period = self._period(at, zone)
        return (at if period is None else period[1]).astimezone(zone)

    def _period(self, at: datetime, zone: tzinfo) -> tuple[datetime, datetime] | None:
        """The (start, end) in UTC of the period containing ``at``. Its ends are wall times
        resolved like airings: a period cannot then end before an item due at its end airs."""
        _require_aware(at, "at")
        at_utc = at.astimezone(UTC)
        today = at_utc.astimezone(zone).date()
        for day in (today - _DAY, today):
            begin = _instant(datetime.combine(day, self.start), zone)
            end_day = day + _DAY if self.end < self.start else day
            finish = _instant(datetime.combine(end_day, self.end), zone)
            if begin <= at_utc < finish:
                return begin, finish
        return None


def may_air(level: str, *, at: datetime, quiet: QuietHours | None,
            tz: str | ZoneInfo) -> bool:
    """Emergencies always may; normal and priority items not during quiet hours."""
    rank = level_rank(level)
    _zone(tz)
    _require_aware(at, "at")
    if quiet is None or rank == level_rank("emergency"):
        return True
    return not quiet.contains(at, tz)


@dataclass(frozen=True, eq=False)
class _Rule:
    """A checked rule. Defaults RFC 5545 takes from DTSTART (the month day of a MONTHLY rule,
    the weekday of a WEEKLY one...) are explicit in ``rule``, so DTSTART can move."""

    rule: du.rrule  # DTSTART at the anchor
    anchor: datetime
    freq: int
    interval: int
    wkst: int  # 0 = Monday
    counted: bool
    until_wall: datetime | None  # UNTIL as a local date-time (a date: its last instant)
    until_utc: datetime | None  # UNTIL given in UTC
    gives_times: bool

    def between(self, first: date, last: date) -> list[datetime]:
        """The rule's wall times on local days first..last (UNTIL is left to ``allows``)."""
        low, high = datetime.combine(first, time()), datetime.combine(last + _DAY, time())
        if self.counted:
            every = self.every
            return list(every[bisect_left(every, low):bisect_left(every, high)])
        start = self._start_near(low)
        rule = self.rule if start == self.anchor else self.rule.replace(dtstart=start)
        return [wall for wall in rule.between(low, high, inc=True) if wall < high]

    def allows(self, wall: datetime, instant: datetime) -> bool:
        """Whether an airing at ``wall`` (local), ``instant`` (UTC) is within UNTIL. Applied
        to airings, not to the days a rule picks: UNTIL=20270105T120000 drops 18:00 that day."""
        return (self.until_wall is None or wall <= self.until_wall) and \
            (self.until_utc is None or instant <= self.until_utc)

    @functools.cached_property
    def every(self) -> tuple[datetime, ...]:
        # A COUNT is counted from the true DTSTART, so the rule cannot start near the window;
        # it has at most MAX_COUNT instances, expanded once.
        return tuple(self.rule)

    def _start_near(self, low: datetime) -> datetime:
        """The latest DTSTART at or before ``low`` that starts a period a whole number of
        INTERVALs after the anchor: dateutil walks from DTSTART on every call, so a rule
        anchored in 2000 would otherwise walk a quarter of a century every time."""
        anchor, n = self.anchor, self.interval
        if low <= anchor:
            return anchor
        if self.freq == du.YEARLY:
            start = datetime(anchor.year + (low.year - anchor.year) // n * n, 1, 1)
        elif self.freq == du.MONTHLY:
            months = (low.year - anchor.year) * 12 + low.month - anchor.month
            year, month = divmod(anchor.month - 1 + months // n * n, 12)
            start = datetime(anchor.year + year, month + 1, 1)
        elif self.freq == du.WEEKLY:  # weeks begin on WKST
            week = anchor - timedelta(days=(anchor.weekday() - self.wkst) % 7)
            start = week + timedelta(weeks=(low - week).days // (7 * n) * n)
        elif self.freq == du.DAILY:
            start = anchor + timedelta(days=(low - anchor).days // n * n)
        else:
            start = anchor + (low - anchor) // timedelta(hours=n) * timedelta(hours=n)
        return max(start, anchor)  # in the anchor's own period, start where it starts


def _wall_times(recurrence: Recurrence, rule: _Rule | None, first: date,
                last: date) -> Iterator[datetime]:
    """The airings of local days first..last, as naive local wall times."""
    if rule is not None:
        for wall in rule.between(first, last):
            if rule.gives_times:
                yield wall
            else:
                yield from (datetime.combine(wall.date(), t) for t in recurrence.times)
        return
    day = first
    while day <= last:
        if recurrence.lunar_days:
            airs = to_lunar(day).day in recurrence.lunar_days
        else:
            airs = recurrence.days is None or day.weekday() in recurrence.days
        if airs:
            yield from (datetime.combine(day, t) for t in recurrence.times)
        day += _DAY


def _instant(wall: datetime, zone: tzinfo) -> datetime:
    """The UTC instant of a naive local wall time, RFC 5545 style (see schedules.expressions):
    fold=0 normalised through UTC takes a gap time forward by the gap and an ambiguous time
    at its first occurrence. Results are compared in UTC: aware datetimes that share a tzinfo
    compare by wall time and ignore fold."""
    return wall.replace(tzinfo=zone).astimezone(UTC)


def _rule(body: str, anchor: date) -> _Rule:
    found = _compiled(body, anchor)
    if isinstance(found, str):
        raise _fault(("schedule", "rrule"), found)
    return found


# The coordinator parses every programme on every wake; the never-occurs check may walk to the
# year 9999 once for a bad rule, which must not happen again on each wake.
@functools.lru_cache(maxsize=256)
def _compiled(body: str, anchor: date) -> _Rule | str:
    try:
        return _compile(body, anchor)
    except ScheduleError as exc:  # cached as a value, never raised from the cache
        return str(exc)


def _compile(body: str, anchor: date) -> _Rule:
    parts = dict(part.split("=", 1) for part in body.split(";"))
    if "FREQ" not in parts:
        raise _rule_error("FREQ is required, e.g. FREQ=WEEKLY;BYDAY=MO")
    if "COUNT" in parts and "UNTIL" in parts:
        raise _rule_error("COUNT and UNTIL cannot both be given (RFC 5545 3.3.10)")
    until_wall, until_utc = _parse_until(parts.pop("UNTIL", None))
    dtstart = datetime.combine(anchor, time())
    try:
        rule = du.rrulestr(";".join(f"{name}={value}" for name, value in parts.items()),
                           dtstart=dtstart)
    except (ValueError, TypeError) as exc:
        raise _rule_error(str(exc)) from None
    if not isinstance(rule, du.rrule):
        raise _rule_error("expected a single rule")
    _check_rule_parts(parts)
    freq, interval = parts["FREQ"], int(parts.get("INTERVAL", "1"))
    if not parts.keys() & _DAY_PARTS:
        rule = rule.replace(**_dtstart_defaults(freq, "BYMONTH" in parts, anchor))
    try:
        first = rule.after(dtstart, inc=True)
    except (ValueError, TypeError) as exc:  # e.g. "FREQ=HOURLY;INTERVAL=24;BYHOUR=6"
        raise _rule_error(f"the rule never occurs ({exc})") from None
    if first is None:
        raise _rule_error("the rule never occurs: its BYxxx parts never meet")
    return _Rule(rule=rule, anchor=dtstart, freq=_FREQS[freq], interval=interval,
                 wkst=_RULE_WEEKDAYS.index(parts.get("WKST", "MO")), counted="COUNT" in parts,
                 until_wall=until_wall, until_utc=until_utc,
                 gives_times=freq == "HOURLY" or bool(parts.keys() & {"BYHOUR", "BYMINUTE"}))


def _check_rule_parts(parts: Mapping[str, str]) -> None:
    """What dateutil accepts but a broadcast schedule must not be (parts already parse)."""
    unknown = sorted(parts.keys() - _RULE_PARTS)
    if unknown:
        raise _rule_error(f"{unknown[0]} is not an RFC 5545 rule part")
    if parts["FREQ"] not in _FREQS:
        raise _rule_error(f"FREQ={parts['FREQ']} is too frequent: the finest is FREQ=HOURLY")
    if int(parts.get("INTERVAL", "1")) < 1:
        raise _rule_error("INTERVAL must be 1 or more")
    if "COUNT" in parts and not 1 <= int(parts["COUNT"]) <= MAX_COUNT:
        raise _rule_error(f"COUNT must be 1 to {MAX_COUNT}; for longer, give UNTIL or "
                          "valid_until")
    if any(int(second) for second in parts.get("BYSECOND", "0").split(",")):
        raise _rule_error("BYSECOND must be 0: airings start on whole minutes")
    values = {name: [int(v) for v in parts[name].split(",")]
              for name, _, _ in _RULE_RANGES if name in parts}
    for name, largest, from_end in _RULE_RANGES:
        for value in values.get(name, ()):
            if not 1 <= (abs(value) if from_end else value) <= largest:
                raise _rule_error(f"{name}={value} is out of range")
    months = values.get("BYMONTH", range(1, 13))
    month_days = values.get("BYMONTHDAY", [1])
    if not any(abs(day) <= _MONTH_DAYS[month - 1] for month in months for day in month_days):
        raise _rule_error(f"BYMONTH={parts['BYMONTH']} and BYMONTHDAY={parts['BYMONTHDAY']} "
                          "never meet")


def _dtstart_defaults(freq: str, has_month: bool, anchor: date) -> dict[str, int]:
    """RFC 5545 takes the days of a rule without BYxxx day parts from DTSTART (as dateutil
    does); made explicit, so the rule means the same from any DTSTART."""
    if freq == "YEARLY":
        return {"bymonthday": anchor.day} | ({} if has_month else {"bymonth": anchor.month})
    if freq == "MONTHLY":
        return {"bymonthday": anchor.day}
    if freq == "WEEKLY":
        return {"byweekday": anchor.weekday()}
    return {}


def _parse_until(value: str | None) -> tuple[datetime | None, datetime | None]:
    if value is None:
        return None, None
    match = _UNTIL.fullmatch(value)
    if match is None:
        raise _rule_error(f"UNTIL={value} is not YYYYMMDD, YYYYMMDDTHHMMSS or "
                          "YYYYMMDDTHHMMSSZ")
    try:
        day = datetime.strptime(match[1], "%Y%m%d").date()
        clock = datetime.strptime(match[2] or "000000", "%H%M%S").time()
    except ValueError:
        raise _rule_error(f"UNTIL={value}: no such date or time") from None
    if match[2] is None:
        return datetime.combine(day, time.max), None
    if match[3]:
        return None, datetime.combine(day, clock, tzinfo=UTC)
    return datetime.combine(day, clock), None


def _normalize_rule(text: str) -> str:
    """``text`` as NAME=VALUE parts in upper case, without an "RRULE:" prefix."""
    body = _parse_rule_text(text).strip()
    if body[:6].upper() == "RRULE:":
        body = body[6:]
    if not body:
        raise _rule_error("empty; expected e.g. FREQ=WEEKLY;BYDAY=MO")
    if any(char in body for char in ":\r\n"):
        raise _rule_error("expected one RRULE body such as FREQ=WEEKLY;BYDAY=MO, without "
                          "DTSTART or other iCalendar lines")
    parts: dict[str, str] = {}
    for part in body.upper().split(";"):
        name, equals, value = (piece.strip() for piece in part.partition("="))
        if not equals or not name or not value:
            raise _rule_error(f"{part.strip()!r} is not NAME=VALUE")
        if name in parts:
            raise _rule_error(f"{name} is given twice")
        parts[name] = value.replace(" ", "")
    return ";".join(f"{name}={value}" for name, value in parts.items())


def _rule_error(why: str) -> ScheduleError:
    return _fault(("schedule", "rrule"), f"schedule.rrule: {why}")


def _fault(parts: tuple[str | int, ...], message: str) -> ScheduleError:
    """A ScheduleError that names its field as data (``parts``) as well as in its text."""
    return ScheduleError(message, parts=parts)


def _check_kinds(given: list[str]) -> None:
    if len(given) > 1:
        raise _fault(("schedule",),
                     f"schedule: {given[0]!r} and {given[1]!r} cannot be combined; a "
                     "schedule is times (with optional days), rrule or lunar_days")


def _check_times(times: tuple[time, ...]) -> None:
    seen: set[time] = set()
    for index, value in enumerate(times):
        if not isinstance(value, time) or value.tzinfo is not None or value.second \
                or value.microsecond:
            raise _fault(("schedule", "times", index),
                         f"schedule.times[{index}]: expected a local HH:MM, "
                         f"got {value!r}")
        if value in seen:
            raise _fault(("schedule", "times", index),
                         f"schedule.times[{index}]: {value:%H:%M} is given twice")
        seen.add(value)


def _check_lunar_days(days: tuple[int, ...]) -> None:
    for index, value in enumerate(days):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 30:
            raise _fault(("schedule", "lunar_days", index),
                         f"schedule.lunar_days[{index}]: {value!r} is not a lunar day "
                         "1 to 30")
        if value in days[:index]:
            raise _fault(("schedule", "lunar_days", index),
                         f"schedule.lunar_days[{index}]: {value} is given twice")


def _parse_times(value: object) -> tuple[time, ...]:
    if not isinstance(value, list) or not value:
        raise _fault(("schedule", "times"),
                     f"schedule.times: expected a non-empty list of HH:MM, got {value!r}")
    return tuple(_parse_time(f"schedule.times[{index}]", text, parts=("schedule", "times", index))
                 for index, text in enumerate(value))


def _parse_time(field: str, text: object, *,
                parts: tuple[str | int, ...] = ("quiet_hours",)) -> time:
    match = _HHMM.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise _fault(parts, f"{field}: expected HH:MM (00:00 to 23:59), got {text!r}")
    return time(int(match[1]), int(match[2]))


def _parse_days(value: object) -> frozenset[int]:
    if not isinstance(value, list) or not value:
        raise _fault(("schedule", "days"), f"schedule.days: expected a non-empty list of mon..sun, "
                            f"got {value!r}")
    days: list[int] = []
    for index, name in enumerate(value):
        key = name.strip().lower() if isinstance(name, str) else None
        if key not in WEEKDAYS:
            raise _fault(("schedule", "days", index), f"schedule.days[{index}]: expected one of "
                                f"{', '.join(WEEKDAYS)}, got {name!r}")
        if WEEKDAYS.index(key) in days:
            raise _fault(("schedule", "days", index),
                         f"schedule.days[{index}]: {key} is given twice")
        days.append(WEEKDAYS.index(key))
    return frozenset(days)


def _parse_lunar_days(value: object) -> tuple[int, ...]:
    if not isinstance(value, list) or not value:
        raise _fault(("schedule", "lunar_days"),
                     f"schedule.lunar_days: expected a non-empty list of days 1 to 30, "
                     f"got {value!r}")
    return tuple(value)  # checked by Recurrence


def _parse_rule_text(value: object) -> str:
    if not isinstance(value, str):
        raise _rule_error(f"expected text such as FREQ=WEEKLY;BYDAY=MO, got {value!r}")
    return value


def _parse_date(field: str, value: object) -> date | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise _fault(("schedule", field), f"schedule.{field}: expected YYYY-MM-DD, got {value!r}")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise _fault(("schedule", field), f"schedule.{field}: no such date {value!r}") from None


def _zone(tz: str | tzinfo) -> tzinfo:
    if isinstance(tz, tzinfo):
        return tz
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ScheduleError(f"unknown IANA time zone {tz!r}") from None


def _require_aware(instant: datetime, name: str) -> None:
    if not isinstance(instant, datetime) or instant.utcoffset() is None:
        raise ScheduleError(f"{name} must be an aware datetime, got {instant!r}")
