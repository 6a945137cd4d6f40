"""How long each circuit was on, and what each energy meter counted, per day of the site
(docs/reports.md): the figures the monthly report's lighting section is made of.

Nothing else keeps them: a circuit's ``desired``, ``commanded`` and ``actual`` live in the
coordinator's memory, and a meter is read on every periodic check but its reading is only
judged, never stored. So the coordinator tells this recorder what it saw at the end of every
pass, and the recorder keeps, per local day:

- per circuit, the seconds during which the relay read-back showed it on (``actual`` above
  0). The time between two passes counts with the state seen at the first of them (a pass runs
  at every switch and every ``check_interval_s``, so the state held in between); a gap longer
  than ``max_gap_s`` (the controller stopped, the clock stepped) counts nothing, and neither
  does time during which the board did not answer (the state is unknown);
- per energy meter, the first and the last reading of its total-energy register that day.

Crash-safe and light on the SD card: the counts accumulate in memory and go to storage
(table ``lighting_usage``, one document per day) every ``FLUSH_EVERY``, at the first pass of a
new day and when the coordinator stops, in one atomic ``Store`` transaction that adds the
pending seconds to what is stored. A crash loses at most the last quarter hour, never a day's
total; a failed write keeps the pending counts for the next attempt.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from controller.errors import StorageError
from controller.platform.store import Store, Tables

log = logging.getLogger(__name__)

TABLE = "lighting_usage"
FLUSH_EVERY = timedelta(minutes=15)


@dataclass(frozen=True)
class MeterDay:
    """A meter's total-energy register at its first and its last reading of a day."""

    first_kwh: float
    first_at: datetime
    last_kwh: float
    last_at: datetime

    def merged(self, later: MeterDay) -> MeterDay:
        """This day's readings followed by ``later``'s."""
        first = self if self.first_at <= later.first_at else later
        last = later if later.last_at >= self.last_at else self
        return MeterDay(first.first_kwh, first.first_at, last.last_kwh, last.last_at)


@dataclass(frozen=True)
class DayUsage:
    """One local day: seconds on per circuit, first and last reading per meter."""

    day: date
    on_s: Mapping[str, float] = field(default_factory=dict)
    meters: Mapping[str, MeterDay] = field(default_factory=dict)

    @classmethod
    def from_doc(cls, doc: Mapping[str, object]) -> DayUsage:
        on_s = doc.get("on_s") or {}
        meters = doc.get("meters") or {}
        assert isinstance(on_s, dict) and isinstance(meters, dict)
        return cls(
            day=date.fromisoformat(str(doc["id"])),
            on_s={str(k): float(v) for k, v in on_s.items()},
            meters={str(k): MeterDay(float(m["first_kwh"]),
                                     datetime.fromisoformat(m["first_at"]),
                                     float(m["last_kwh"]), datetime.fromisoformat(m["last_at"]))
                    for k, m in meters.items()})

    def to_doc(self) -> dict[str, object]:
        return {"id": self.day.isoformat(),
                "on_s": {k: round(v, 3) for k, v in sorted(self.on_s.items())},
                "meters": {k: {"first_kwh": m.first_kwh, "first_at": m.first_at.isoformat(),
                               "last_kwh": m.last_kwh, "last_at": m.last_at.isoformat()}
                           for k, m in sorted(self.meters.items())}}

    def plus(self, other: DayUsage) -> DayUsage:
        """This day's stored figures with ``other``'s (later, not yet stored) added."""
        on_s = dict(self.on_s)
        for circuit, seconds in other.on_s.items():
            on_s[circuit] = on_s.get(circuit, 0.0) + seconds
        meters = dict(self.meters)
        for meter, reading in other.meters.items():
            known = meters.get(meter)
            meters[meter] = reading if known is None else known.merged(reading)
        return DayUsage(self.day, on_s, meters)


def stored_usage(store: Store, first: date, last: date) -> dict[date, DayUsage]:
    """The days ``first`` to ``last`` (both included) as storage holds them."""
    days = {}
    for doc in store.all(TABLE):
        try:
            usage = DayUsage.from_doc(doc)
        except (KeyError, TypeError, ValueError, AssertionError):
            log.warning("%s: skipped a document that does not read: %r", TABLE, doc.get("id"))
            continue
        if first <= usage.day <= last:
            days[usage.day] = usage
    return days


class UsageRecorder:
    """Told by the lighting coordinator what it saw; keeps the days in storage."""

    def __init__(self, store: Store, tz: ZoneInfo, *, max_gap_s: float,
                 flush_every: timedelta = FLUSH_EVERY) -> None:
        self._store = store
        self._tz = tz
        self._max_gap = timedelta(seconds=max_gap_s)
        self._flush_every = flush_every
        self._seen: tuple[datetime, dict[str, bool | None]] | None = None
        self._pending: dict[date, DayUsage] = {}
        self._flushed_at: datetime | None = None
        self._lock = threading.Lock()  # the pending days: the flush runs in a worker thread

    async def observe(self, at: datetime, on: Mapping[str, bool | None]) -> None:
        """The circuits' state at the end of a pass (True on, False off, None unknown);
        the time since the previous pass counts with what that pass saw."""
        if self._seen is not None:
            since, states = self._seen
            if timedelta(0) < at - since <= self._max_gap:
                for circuit, state in states.items():
                    if state:
                        self._add_on(circuit, since, at)
        self._seen = (at, dict(on))
        if self._flush_due(at):
            await asyncio.to_thread(self.flush, at)

    def meter(self, meter_id: str, at: datetime, energy_kwh: float) -> None:
        reading = MeterDay(energy_kwh, at, energy_kwh, at)
        self._add(DayUsage(at.astimezone(self._tz).date(), meters={meter_id: reading}))

    def flush(self, at: datetime | None = None) -> None:
        """Add what is pending to storage, in one transaction; on a storage failure the
        counts stay pending for the next flush."""
        with self._lock:
            pending, self._pending = self._pending, {}
        if at is not None:
            self._flushed_at = at
        if not pending:
            return
        try:
            with self._store.transaction() as tables:
                for usage in pending.values():
                    tables.put(TABLE, _stored(tables, usage.day).plus(usage).to_doc())
        except StorageError as exc:
            log.error("lighting usage not stored, kept for the next try: %s", exc)
            for usage in pending.values():
                self._add(usage)

    def days(self, first: date, last: date) -> dict[date, DayUsage]:
        """Stored days with what is still pending added: the figures as of now."""
        days = stored_usage(self._store, first, last)
        with self._lock:
            pending = [u for u in self._pending.values() if first <= u.day <= last]
        for usage in pending:
            known = days.get(usage.day)
            days[usage.day] = usage if known is None else known.plus(usage)
        return days

    def _flush_due(self, at: datetime) -> bool:
        if self._flushed_at is None:
            self._flushed_at = at
            return False
        new_day = at.astimezone(self._tz).date() != self._flushed_at.astimezone(self._tz).date()
        return bool(self._pending) and (new_day or at - self._flushed_at >= self._flush_every
                                        or at < self._flushed_at)

    def _add_on(self, circuit: str, start: datetime, end: datetime) -> None:
        # Split at the site's midnights: each day gets its own seconds.
        while start < end:
            local = start.astimezone(self._tz)
            midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(),
                                        tzinfo=self._tz)
            stop = min(end, midnight)
            seconds = (stop - start).total_seconds()
            self._add(DayUsage(local.date(), on_s={circuit: seconds}))
            start = stop

    def _add(self, usage: DayUsage) -> None:
        with self._lock:
            known = self._pending.get(usage.day)
            self._pending[usage.day] = usage if known is None else known.plus(usage)


def _stored(tables: Tables, day: date) -> DayUsage:
    doc = tables.get(TABLE, day.isoformat())
    return DayUsage(day) if doc is None else DayUsage.from_doc(doc)
