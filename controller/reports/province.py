"""The reports a gateway publishes for the province (docs/mqtt.md, "Reports for the province"),
and the province's table made of them (docs/reports.md, "The province's table").

``ReportFeed`` makes the retained day and month reports the MQTT bridge publishes: the same
figures as the monthly report (``build_monthly_report``, and ``build_day_report`` for a local
day), put in a small JSON payload with a schema version. It rebuilds only when something the
figures are made of has changed (the broadcast log or the event history grew, today's lighting
usage moved, the day turned, the clusters online changed); otherwise it hands back what it
built last, with a new ``as_of``.

``province_table`` turns the rows ``communectl fleet report`` collected from the broker
(firmware_bridge/fleet.py) into an export ``Table`` (controller/platform/exports.py): CSV with
English column names, XLSX with Vietnamese headings.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from controller.config import Config
from controller.lighting.service import LightingService
from controller.platform.clock import Clock
from controller.platform.exports import Column, Table
from controller.platform.history import History
from controller.radio.service import RadioService
from controller.reports.monthly import (
    Day,
    Month,
    MonthlyReport,
    build_day_report,
    build_monthly_report,
)
from controller.reports.sources import from_services
from firmware_bridge.topics import REPORT_SCHEMA, ReportBatch, ReportMessage

# A report made just after midnight: a second's margin, so the day has surely turned.
AFTER_MIDNIGHT_S = 1.0


def report_payload(report: MonthlyReport, *, period: Literal["day", "month"],
                   clusters_online: int, as_of: datetime) -> dict[str, Any]:
    """The report's figures as the province reads them (docs/mqtt.md): radio and lighting,
    rounded as the monthly report rounds them."""
    summary, radio, lighting = report.summary, report.radio, report.lighting
    energies = [m.energy_kwh for m in lighting.meters if m.energy_kwh is not None]
    key = report.first_day.isoformat() if period == "day" else report.month
    return {
        "schema": REPORT_SCHEMA, "site": report.site_id, "commune": summary.commune,
        "period": period, period: key,
        "first_day": report.first_day.isoformat(), "last_day": report.last_day.isoformat(),
        "complete": report.complete, "timezone": report.timezone,
        "generated_at": report.generated_at.isoformat(),
        "as_of": as_of.astimezone(ZoneInfo(report.timezone)).isoformat(),
        "radio": {
            "clusters": summary.clusters, "clusters_online": clusters_online,
            "bulletins_scheduled": summary.bulletins_scheduled,
            "bulletins_aired": summary.bulletins_aired,
            "successful_plays": summary.successful_plays,
            "emergency_bulletins": summary.emergency_bulletins,
            "minutes_aired": radio.minutes_aired,
            "missed": radio.by_outcome.get("missed", 0),
            "failed": radio.by_outcome.get("failed", 0),
            "by_outcome": dict(radio.by_outcome),
        },
        "lighting": {
            "days_recorded": lighting.days_recorded,
            "on_hours": round(sum(c.on_hours for c in lighting.circuits), 2),
            "circuits": {c.circuit: c.on_hours for c in lighting.circuits},
            "energy_kwh": round(sum(energies), 3) if energies else None,
            "meters": {m.meter: m.energy_kwh for m in lighting.meters},
            "alarms": lighting.alarms_total,
            "alarms_by_kind": dict(lighting.alarms_by_kind),
        },
    }


@dataclass
class _Built:
    fingerprint: Hashable
    payloads: list[tuple[str, str, dict[str, Any]]]


class ReportFeed:
    """The day and month reports of a running controller, for ``GatewayPort.reports``."""

    def __init__(self, config: Config, clock: Clock, *, radio: RadioService,
                 lighting: LightingService, events: History,
                 clusters_online: Callable[[], int]) -> None:
        self._config = config
        self._clock = clock
        self._radio = radio
        self._lighting = lighting
        self._events = events
        self._clusters_online = clusters_online
        self._tz = ZoneInfo(config.site.timezone)
        self._built: _Built | None = None
        self._last_day: date | None = None
        self.builds = 0  # reports built since start (the tests and the bench read it)

    async def reports(self) -> ReportBatch:
        now = self._clock.now()
        today = now.astimezone(self._tz).date()
        online = self._clusters_online()
        periods: list[Day | Month] = [Day(today), Day(today).month]
        if self._last_day != today:
            # After start-up and when a day ends: the day before (and its month when it was
            # another one), final, since this gateway may have been stopped at midnight.
            yesterday = Day(today - timedelta(days=1))
            periods += [yesterday] + ([yesterday.month] if yesterday.month != periods[1]
                                      else [])
        fingerprint = (today, self._radio.log_bytes_written(), self._events.bytes_written,
                       online, _usage_key(await asyncio.to_thread(
                           self._lighting.usage, today, today)))
        if self._built is None or self._built.fingerprint != fingerprint or \
                self._last_day != today:
            payloads = [await self._build(period, now, online) for period in periods]
            self._built = _Built(fingerprint, payloads[:2])
        else:
            payloads = self._built.payloads
        self._last_day = today
        messages = [ReportMessage(period, key, {**payload, "as_of": now.astimezone(
            self._tz).isoformat()}) for period, key, payload in payloads]
        midnight = datetime.combine(today + timedelta(days=1), time.min, tzinfo=self._tz)
        return ReportBatch(messages, (midnight - now).total_seconds() + AFTER_MIDNIGHT_S)

    async def _build(self, period: Day | Month, now: datetime,
                     online: int) -> tuple[str, str, dict[str, Any]]:
        inputs = await from_services(self._config, period, radio=self._radio,
                                     lighting=self._lighting, events=self._events)
        self.builds += 1
        if isinstance(period, Day):
            report = await asyncio.to_thread(build_day_report, self._config, period, inputs,
                                             now=now)
            return "day", str(period), report_payload(report, period="day",
                                                      clusters_online=online, as_of=now)
        report = await asyncio.to_thread(build_monthly_report, self._config, period, inputs,
                                         now=now)
        return "month", str(period), report_payload(report, period="month",
                                                    clusters_online=online, as_of=now)


def _usage_key(days: dict[date, Any]) -> Hashable:
    return tuple(sorted((d.isoformat(), tuple(sorted(u.on_s.items())),
                         tuple(sorted((m, (r.first_kwh, r.last_kwh))
                                      for m, r in u.meters.items())))
                        for d, u in days.items()))


# -- the province's table --------------------------------------------------------------------

@dataclass(frozen=True)
class ProvinceColumn:
    name: str  # the CSV header and the key of the row
    heading: str  # the XLSX heading (Vietnamese)
    kind: Literal["text", "number", "time"]


PROVINCE_COLUMNS = (
    ProvinceColumn("site", "Mã xã", "text"),
    ProvinceColumn("commune", "Xã", "text"),
    ProvinceColumn("clusters", "Số cụm loa", "number"),
    ProvinceColumn("clusters_online", "Số cụm loa hoạt động", "number"),
    ProvinceColumn("bulletins_scheduled", "Số tin, bài theo lịch", "number"),
    ProvinceColumn("bulletins_aired", "Số tin, bài đã phát", "number"),
    ProvinceColumn("successful_plays", "Số lượt phát thành công", "number"),
    ProvinceColumn("emergency_bulletins", "Số tin khẩn cấp", "number"),
    ProvinceColumn("minutes_aired", "Thời lượng phát (phút)", "number"),
    ProvinceColumn("missed", "Số tin bị lỡ", "number"),
    ProvinceColumn("failed", "Số tin phát lỗi", "number"),
    ProvinceColumn("on_hours", "Giờ sáng đèn", "number"),
    ProvinceColumn("energy_kwh", "Điện năng (kWh)", "number"),
    ProvinceColumn("alarms", "Số cảnh báo", "number"),
    ProvinceColumn("updated_at", "Cập nhật lúc", "time"),
    ProvinceColumn("online", "Đang trực tuyến", "text"),
)
SHEET = "Báo cáo tỉnh"


def province_table(rows: Sequence[dict[str, Any]], *, month: str, tz: ZoneInfo,
                   lang: Literal["vi", "en"]) -> Table:
    """One row per commune. ``rows`` are ``CommuneReport.as_json()`` of firmware_bridge/fleet.py:
    a commune with no report for the month keeps its empty cells. ``lang`` picks the column
    names: English identifiers (CSV, for scripts) or the Vietnamese headings (XLSX)."""
    columns = tuple(Column(c.name if lang == "en" else c.heading, c.kind)
                    for c in PROVINCE_COLUMNS)
    yes, no = ("yes", "no") if lang == "en" else ("có", "không")
    table_rows = []
    for row in rows:
        cells: list[Any] = []
        for column in PROVINCE_COLUMNS:
            value = row.get(column.name)
            if column.name == "online":
                value = yes if value else no
            elif column.kind == "time":
                value = _moment(value)
            elif column.kind == "number" and (isinstance(value, bool)
                                              or not isinstance(value, int | float)):
                value = None
            elif column.kind == "text":
                value = None if value is None else str(value)
            cells.append(value)
        table_rows.append(tuple(cells))
    return Table(sheet=f"{SHEET} {month}", columns=columns, rows=tuple(table_rows), tz=tz)


def _moment(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None
