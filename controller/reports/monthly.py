"""The monthly report ("báo cáo tháng", docs/reports.md): one calendar month of the site's
time zone, the radio and the lighting, as one frozen record.

``build_monthly_report`` is a pure function of the config, the month, what the stores hold
(``ReportInputs``: the broadcast log, the event history, the lighting's daily usage) and the
instant it is built at (``now``, injected: a month still running is counted up to then). It
reads no clock and no file; ``controller.reports.sources`` gathers its inputs, from a running
controller's services or from the data folder, and ``xlsx``, ``html`` and ``text`` render it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from controller.config import Config
from controller.errors import InvalidInput
from controller.lighting.usage import DayUsage, MeterDay
from controller.radio.airlog import OUTCOMES
from controller.radio.items import TEST_KIND
from drivers.profiles import profile_info

LEVELS = ("normal", "priority", "emergency")
IN_PROGRESS = "in_progress"  # an item on air (its outcome not yet written) as the report is made
# An alarm opened this long before the month is still looked for: a device offline since then
# counts as offline from the month's first second.
ALARM_LOOKBACK = timedelta(days=31)
# Broadcast log records are filed by when they were written, which may follow the item's due
# time (an item missed while the controller was stopped is logged when it starts again).
AIR_LOG_MARGIN = timedelta(days=2)
_MONTH = re.compile(r"(\d{4})-(\d{2})")
FIRST_YEAR, LAST_YEAR = 2000, 2999


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month:
        """``YYYY-MM``; anything else is ``InvalidInput`` on the field ``month``."""
        match = _MONTH.fullmatch(text.strip())
        if match is None:
            raise InvalidInput(f"expected a month as YYYY-MM (2026-11), not {text!r}",
                               parts=("month",))
        year, month = int(match.group(1)), int(match.group(2))
        if not 1 <= month <= 12:
            raise InvalidInput(f"{text!r}: the month must be 01 to 12", parts=("month",))
        if not FIRST_YEAR <= year <= LAST_YEAR:
            raise InvalidInput(f"{text!r}: the year must be {FIRST_YEAR} to {LAST_YEAR}",
                               parts=("month",))
        return cls(year, month)

    @classmethod
    def containing(cls, moment: datetime, tz: ZoneInfo) -> Month:
        local = moment.astimezone(tz)
        return cls(local.year, local.month)

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    @property
    def last_day(self) -> date:
        return self.next.first_day - timedelta(days=1)

    def bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """[first local midnight, the next month's first local midnight)."""
        return (datetime.combine(self.first_day, time.min, tzinfo=tz),
                datetime.combine(self.next.first_day, time.min, tzinfo=tz))

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


@dataclass(frozen=True, order=True)
class Day:
    """One local day, reported exactly as a month is (the province's daily figures,
    docs/mqtt.md): the same record, with ``first_day == last_day``."""

    day: date

    @property
    def first_day(self) -> date:
        return self.day

    @property
    def last_day(self) -> date:
        return self.day

    @property
    def month(self) -> Month:
        return Month(self.day.year, self.day.month)

    def bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """[the day's local midnight, the next one)."""
        return (datetime.combine(self.day, time.min, tzinfo=tz),
                datetime.combine(self.day + timedelta(days=1), time.min, tzinfo=tz))

    def __str__(self) -> str:
        return self.day.isoformat()


Period = Month | Day


def check_not_future(month: Month, *, now: datetime, tz: ZoneInfo) -> None:
    if month > Month.containing(now, tz):
        raise InvalidInput(f"{month} has not begun yet", parts=("month",))


@dataclass(frozen=True)
class ReportInputs:
    """What the stores hold for the month: broadcast log records (filtered by due time
    here), event history records (alarms, from ``ALARM_LOOKBACK`` before the month), and the
    lighting's daily usage (controller/lighting/usage.py)."""

    air: Sequence[Mapping[str, object]]
    events: Sequence[Mapping[str, object]]
    usage: Mapping[date, DayUsage]


# -- the record ------------------------------------------------------------------------------

@dataclass(frozen=True)
class ProvincialSummary:
    """The block a provincial report of grassroots radio asks for."""

    commune: str
    clusters: int  # loudspeaker zones configured
    bulletins_scheduled: int  # items due in the month, whatever became of them
    bulletins_aired: int  # items that began to sound
    successful_plays: int  # items played to their end ("completed")
    emergency_bulletins: int
    play_time_min: float


@dataclass(frozen=True)
class AirRow:
    due: datetime
    outcome: str
    kind: str
    ref: str
    title: str
    level: str
    zones: tuple[str, ...]
    zone_names: tuple[str, ...]
    started_at: datetime | None
    ended_at: datetime | None
    minutes: float | None  # None: it never sounded, or its end is not known
    reason: str | None


@dataclass(frozen=True)
class ZoneMinutes:
    zone: str
    name: str
    items: int
    minutes: float


@dataclass(frozen=True)
class RadioSection:
    items: int
    items_aired: int  # began to sound
    by_outcome: dict[str, int]
    by_level: dict[str, int]
    minutes_aired: float
    by_zone: tuple[ZoneMinutes, ...]
    missed_failed: tuple[AirRow, ...]
    emergencies: tuple[AirRow, ...]


@dataclass(frozen=True)
class CircuitHours:
    circuit: str
    name: str
    on_hours: float


@dataclass(frozen=True)
class MeterEnergy:
    meter: str
    circuits: tuple[str, ...]
    energy_kwh: float | None  # None: fewer than two readings, or the register went back
    first_kwh: float | None
    first_at: datetime | None
    last_kwh: float | None
    last_at: datetime | None
    note: str | None


@dataclass(frozen=True)
class DeviceAvailability:
    device: str
    profile: str
    online_pct: float
    offline_min: float
    outages: int


@dataclass(frozen=True)
class LightingSection:
    days_recorded: int  # days of the month with usage stored (the controller ran)
    circuits: tuple[CircuitHours, ...]
    meters: tuple[MeterEnergy, ...]
    alarms_total: int
    alarms_by_kind: dict[str, int]
    devices: tuple[DeviceAvailability, ...]


@dataclass(frozen=True)
class MonthlyReport:
    month: str  # YYYY-MM
    first_day: date
    last_day: date
    period_start: datetime
    period_end: datetime  # the month's end, or the moment it was built if the month runs on
    complete: bool
    generated_at: datetime
    site_id: str
    site_name: str
    timezone: str
    summary: ProvincialSummary
    radio: RadioSection
    lighting: LightingSection


# -- building it -----------------------------------------------------------------------------

def build_monthly_report(config: Config, month: Month, inputs: ReportInputs, *,
                         now: datetime) -> MonthlyReport:
    return _build(config, month, str(month), inputs, now=now)


def build_day_report(config: Config, day: Day, inputs: ReportInputs, *,
                     now: datetime) -> MonthlyReport:
    """One local day, with the month's figures and rules; ``month`` names the month the day
    belongs to, ``first_day`` and ``last_day`` are the day."""
    return _build(config, day, str(day.month), inputs, now=now)


def _build(config: Config, month: Period, label: str, inputs: ReportInputs, *,
           now: datetime) -> MonthlyReport:
    tz = ZoneInfo(config.site.timezone)
    start, end = month.bounds(tz)
    period_end = max(start, min(end, now))
    radio = _radio(config, inputs.air, start=start, end=end)
    summary = ProvincialSummary(
        commune=config.site.name or config.site.id, clusters=len(config.zones),
        bulletins_scheduled=radio.items,
        bulletins_aired=radio.items_aired,
        successful_plays=radio.by_outcome.get("completed", 0),
        emergency_bulletins=radio.by_level.get("emergency", 0),
        play_time_min=radio.minutes_aired)
    lighting = _lighting(config, inputs, month, start=start, period_end=period_end)
    return MonthlyReport(
        month=label, first_day=month.first_day, last_day=month.last_day,
        period_start=start, period_end=period_end, complete=now >= end,
        generated_at=now.astimezone(tz), site_id=config.site.id,
        site_name=config.site.name or config.site.id, timezone=config.site.timezone,
        summary=summary, radio=radio, lighting=lighting)


def _rows(config: Config, records: Iterable[Mapping[str, object]], start: datetime,
          end: datetime) -> list[AirRow]:
    names = {zone.id: zone.name or zone.id for zone in config.zones}
    rows = []
    for record in records:
        due = _moment(record.get("due"))
        if due is None or not start <= due < end:
            continue
        if record.get("kind") == TEST_KIND:
            continue  # a technician's test tone is in the log, but it is not a bulletin
        started, ended = _moment(record.get("started_at")), _moment(record.get("ended_at"))
        zones = tuple(str(z) for z in _list(record.get("zones")))
        outcome = record.get("outcome")
        minutes = None
        if started is not None and ended is not None and ended >= started:
            minutes = (ended - started).total_seconds() / 60
        rows.append(AirRow(
            due=due, outcome=str(outcome) if outcome else IN_PROGRESS,
            kind=str(record.get("kind") or ""), ref=str(record.get("ref") or ""),
            title=str(record.get("title") or ""), level=str(record.get("level") or "normal"),
            zones=zones, zone_names=tuple(names.get(z, z) for z in zones), started_at=started,
            ended_at=ended, minutes=minutes, reason=_text(record.get("reason"))))
    rows.sort(key=lambda r: r.due)
    return rows


def _radio(config: Config, records: Sequence[Mapping[str, object]], *, start: datetime,
           end: datetime) -> RadioSection:
    rows = _rows(config, records, start, end)
    outcomes = Counter(r.outcome for r in rows)
    levels = Counter(r.level for r in rows)
    by_outcome = {o: outcomes.get(o, 0) for o in OUTCOMES}
    by_outcome |= {o: n for o, n in sorted(outcomes.items()) if o not in by_outcome}
    by_level = {lv: levels.get(lv, 0) for lv in LEVELS}
    by_level |= {lv: n for lv, n in sorted(levels.items()) if lv not in by_level}
    zone_minutes: dict[str, float] = {}
    zone_items: Counter[str] = Counter()
    for row in rows:
        if row.minutes is not None:
            for zone in row.zones:
                zone_minutes[zone] = zone_minutes.get(zone, 0.0) + row.minutes
                zone_items[zone] += 1
    known = [z.id for z in config.zones]
    names = {z.id: z.name or z.id for z in config.zones}
    by_zone = tuple(
        ZoneMinutes(zone, names.get(zone, zone), zone_items[zone],
                    round(zone_minutes.get(zone, 0.0), 2))
        for zone in known + sorted(set(zone_minutes) - set(known)))
    return RadioSection(
        items=len(rows), items_aired=sum(1 for r in rows if r.started_at is not None),
        by_outcome=by_outcome, by_level=by_level,
        minutes_aired=round(sum(r.minutes or 0.0 for r in rows), 2), by_zone=by_zone,
        missed_failed=tuple(r for r in rows if r.outcome in ("missed", "failed")),
        emergencies=tuple(r for r in rows if r.level == "emergency"))


def _lighting(config: Config, inputs: ReportInputs, month: Period, *, start: datetime,
              period_end: datetime) -> LightingSection:
    days = [u for d, u in sorted(inputs.usage.items())
            if month.first_day <= d <= month.last_day]
    circuits = tuple(
        CircuitHours(c.id, c.name or c.id,
                     round(sum(u.on_s.get(c.id, 0.0) for u in days) / 3600, 2))
        for c in config.circuits)
    meters = tuple(_meter(device.id, [c.id for c in config.circuits if c.meter == device.id],
                          [u.meters[device.id] for u in days if device.id in u.meters])
                   for device in config.devices if _kind(device.profile) == "meter")
    alarms = [e for e in inputs.events
              if e.get("type") == "alarm" and _within(e.get("time"), start, period_end)]
    kinds = Counter(str(e.get("kind")) for e in alarms)
    devices = tuple(_availability(device.id, device.profile, inputs.events, start=start,
                                  end=period_end) for device in config.devices)
    return LightingSection(
        days_recorded=len(days), circuits=circuits, meters=meters, alarms_total=len(alarms),
        alarms_by_kind=dict(sorted(kinds.items())), devices=devices)


def _meter(meter_id: str, circuits: list[str], readings: list[MeterDay]) -> MeterEnergy:
    if not readings:
        return MeterEnergy(meter_id, tuple(circuits), None, None, None, None, None,
                           "no reading stored this month")
    first = min(readings, key=lambda m: m.first_at)
    last = max(readings, key=lambda m: m.last_at)
    energy: float | None = round(last.last_kwh - first.first_kwh, 3)
    note = None
    if energy is not None and energy < 0:
        energy, note = None, "the meter's total went back (meter replaced or reset)"
    elif first.first_at == last.last_at:
        energy, note = None, "a single reading this month"
    return MeterEnergy(meter_id, tuple(circuits), energy, first.first_kwh, first.first_at,
                       last.last_kwh, last.last_at, note)


def _availability(device_id: str, profile: str, events: Iterable[Mapping[str, object]], *,
                  start: datetime, end: datetime) -> DeviceAvailability:
    """Offline: from a ``device_offline`` alarm's raising to its clearing (or to ``end``
    while it is open), within [start, end)."""
    spans = []
    for event in events:
        if (event.get("type"), event.get("kind"), event.get("target")) != \
                ("alarm", "device_offline", device_id):
            continue
        raised = _moment(event.get("time"))
        if raised is None:
            continue
        cleared = _moment(event.get("cleared_at")) or end
        since, until = max(raised, start), min(cleared, end)
        if until > since:
            spans.append((since, until))
    spans.sort()
    offline = timedelta(0)
    reach = start
    for since, until in spans:  # overlapping spans count once
        since = max(since, reach)
        if until > since:
            offline += until - since
            reach = until
    period = (end - start).total_seconds()
    online_pct = 100.0 if period <= 0 else 100 * (1 - offline.total_seconds() / period)
    return DeviceAvailability(device_id, profile, round(online_pct, 2),
                              round(offline.total_seconds() / 60, 2), len(spans))


def _kind(profile: str) -> str | None:
    try:
        return profile_info(profile)[0]
    except ValueError:
        return None


def _moment(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _within(value: object, start: datetime, end: datetime) -> bool:
    moment = _moment(value)
    return moment is not None and start <= moment < end


def _list(value: object) -> list[object]:
    return list(value) if isinstance(value, list | tuple) else []


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
