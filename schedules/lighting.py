"""Lighting programmes over time: the level a circuit should be at, and when it changes.

Windows (see ``schedules.windows``) are united; where they overlap the highest level wins;
level 0 is off. A window whose sun event does not happen (polar day or night) is skipped and
``plan`` says why: nothing here raises for it.

All instants are handled in UTC and given back in the site's zone.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from schedules.calendars import Calendar
from schedules.errors import ScheduleError
from schedules.expressions import MAX_OFFSET
from schedules.solar import Site, clear_sun_cache
from schedules.timeline import Span, changes, winner_at
from schedules.windows import MAX_WINDOW, Program, Window, clear_span_cache

__all__ = ["Desired", "LitSpan", "Night", "Program", "SkippedWindow", "Transition", "Window",
           "clear_caches", "desired_state", "nights", "plan", "transitions"]

_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Desired:
    state: str  # "on" | "off"
    level: int  # 0..100
    rule: str | None  # the window that decides, None when no window contains the instant
    since: datetime | None  # when this level began, if within the search horizon
    until: datetime | None  # when it next changes, if within the search horizon
    # Which of the programme's windows (their index) decides now, as ``rule`` says in text,
    # and which decides from ``until`` on; not part of equality, which compares the states.
    window: int | None = field(default=None, compare=False)
    next_window: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Transition:
    time: datetime
    state: str  # "on" | "off"
    level: int
    rule: str | None  # the window now deciding, or the one that just ended
    window: int | None = field(default=None, compare=False)  # that window's index


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
    # Windows of D-2 and D-1 may still be lit on D (_horizon); D+1 and D+2 give `until`.
    first_day, last_day = day - 2 * _DAY, day + 2 * _DAY
    spans, _ = _spans(program.windows, site, calendars, first_day, last_day)
    exact_from, exact_to = _horizon(site, first_day, last_day)
    at_utc = at.astimezone(UTC)
    winner = winner_at(spans, at_utc)
    level = winner.level if winner else 0
    points = changes(spans)
    since = max((c.time for c in points if c.time <= at_utc), default=None)
    until = min((c.time for c in points if c.time > at_utc), default=None)
    if until is not None and until >= exact_to:
        until = None
    following = winner_at(spans, until) if until is not None else None
    return Desired(
        state=_state(level), level=level, rule=winner.rule if winner else None,
        since=since.astimezone(site.tz) if since and since >= exact_from else None,
        until=until.astimezone(site.tz) if until else None,
        window=winner.rank if winner else None,
        next_window=following.rank if following else None)


def transitions(program: Program, site: Site, calendars: Mapping[str, Calendar], *,
                start: datetime, end: datetime) -> list[Transition]:
    """Every change of the programme's level in [start, end), in order (the state already in
    force at ``start`` is not a transition)."""
    return plan(program, site, calendars, start=start, end=end)[0]


def plan(program: Program, site: Site, calendars: Mapping[str, Calendar], *,
         start: datetime, end: datetime) -> tuple[list[Transition], list[SkippedWindow]]:
    """The transitions in [start, end), and the windows of the local days it touches that were
    skipped because a sun event they need does not happen."""
    _require_aware(start, "start")
    _require_aware(end, "end")
    if end < start:
        raise ScheduleError(f"plan ends ({end.isoformat()}) before it starts "
                            f"({start.isoformat()})")
    _require_calendars(program, calendars)
    used = tuple(sorted((cid, calendars[cid]) for cid in program.calendar_ids))
    found, skipped = _plan(program.windows, site, used, start.astimezone(UTC),
                           end.astimezone(UTC))
    return list(found), list(skipped)


@dataclass(frozen=True)
class LitSpan:
    """The programme lit at ``level`` from ``on`` to ``off`` (None: beyond what is known)."""

    on: datetime
    off: datetime | None
    level: int
    window: int | None  # the deciding window's index
    rule: str | None


@dataclass(frozen=True)
class Night:
    """One plan day (local noon to the next noon, so that a night is whole): what is lit in
    it, and the windows of that local day skipped for want of a sun event."""

    day: date
    spans: tuple[LitSpan, ...]
    skipped: tuple[SkippedWindow, ...]


def nights(program: Program, site: Site, calendars: Mapping[str, Calendar], *, first: date,
           days: int) -> list[Night]:
    """``days`` plan days from ``first``: ``plan``'s transitions paired into lit spans, each
    in the plan day it begins (a level change inside a night ends one span and begins the
    next); a span still lit at a day's end goes on to the programme's next change."""
    if days < 1:
        raise ScheduleError(f"days must be at least 1, got {days}")
    start = datetime.combine(first, time(12), tzinfo=site.tz)
    end = datetime.combine(first + days * _DAY, time(12), tzinfo=site.tz)
    found, skipped = plan(program, site, calendars, start=start, end=end)
    spans: list[LitSpan] = []
    at_start = desired_state(program, site, calendars, at=start)
    if at_start.level and (not found or found[0].time > start):
        spans.append(LitSpan(at_start.since or start,
                             found[0].time if found else at_start.until,
                             at_start.level, at_start.window, at_start.rule))
    for index, change in enumerate(found):
        if not change.level:
            continue
        if index + 1 < len(found):
            off: datetime | None = found[index + 1].time
        else:
            off = desired_state(program, site, calendars, at=change.time).until
        spans.append(LitSpan(change.time, off, change.level, change.window, change.rule))
    # A span lit since before ``start`` is shown on the first day.
    return [Night(day, tuple(s for s in spans if max(_plan_day(s.on, site), first) == day),
                  tuple(s for s in skipped if s.day == day))
            for day in (first + n * _DAY for n in range(days))]


def _plan_day(instant: datetime, site: Site) -> date:
    local = instant.astimezone(site.tz)
    return local.date() - (_DAY if local.time() < time(12) else timedelta(0))


def clear_caches(*, keep_sun_events: bool = False) -> None:
    """Forget cached window spans and plans, and sun events unless told to keep them
    (benchmarks measure what each cache is worth)."""
    if not keep_sun_events:
        clear_sun_cache()
    clear_span_cache()
    _plan.cache_clear()


# Keyed by the windows, not the programme's id: circuits with copies of one programme share
# it. A year of transitions is ~1,500 small objects, so only a few plans are kept.
@functools.lru_cache(maxsize=16)
def _plan(windows: tuple[Window, ...], site: Site, calendars: tuple[tuple[str, Calendar], ...],
          start: datetime, end: datetime) -> tuple[tuple[Transition, ...],
                                                   tuple[SkippedWindow, ...]]:
    first_shown, last_shown = start.astimezone(site.tz).date(), end.astimezone(site.tz).date()
    # Windows of the two days before can still be lit at `start`, and one of the day after
    # may open before `end` (_horizon).
    spans, skipped = _spans(windows, site, dict(calendars), first_shown - 2 * _DAY,
                            last_shown + _DAY)
    found = (Transition(c.time.astimezone(site.tz), _state(c.level), c.level, c.rule, c.window)
             for c in changes(spans) if start <= c.time < end)
    shown = (s for s in skipped
             if first_shown <= s.day <= last_shown and _midnight_utc(site, s.day) < end)
    return tuple(found), tuple(shown)


def _spans(windows: tuple[Window, ...], site: Site, calendars: Mapping[str, Calendar],
           first_day: date, last_day: date) -> tuple[list[Span], list[SkippedWindow]]:
    spans: list[Span] = []
    skipped: list[SkippedWindow] = []
    day = first_day
    while day <= last_day:
        for index, window in enumerate(windows):
            if not window.applies_on(day, calendars):
                continue
            try:
                on, off = window.span_utc(site, day)
            except ScheduleError as exc:  # NoSunEvent, or a window longer than MAX_WINDOW
                skipped.append(SkippedWindow(day, index, window.rule, str(exc)))
                continue
            spans.append(Span(on, off, window.level, index, window.rule))
        day += _DAY
    return spans, skipped


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


def _require_aware(instant: datetime, name: str) -> None:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ScheduleError(f"{name} must be an aware datetime, got {instant.isoformat()}")


def _require_calendars(program: Program, calendars: Mapping[str, Calendar]) -> None:
    for index, window in enumerate(program.windows):
        if window.calendar is not None and window.calendar not in calendars:
            raise ScheduleError(f"programme {program.id!r}: windows[{index}]: unknown calendar "
                                f"{window.calendar!r}")
