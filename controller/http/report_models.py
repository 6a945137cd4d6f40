"""The monthly report as the API answers it (``GET /api/v1/reports/monthly``, docs/reports.md):
the fields of ``controller.reports.monthly.MonthlyReport``, read from it by attribute."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field


class _FromRecord(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ProvincialSummaryPublic(_FromRecord):
    commune: str = Field(description="the site's name (xã)")
    clusters: int = Field(description="loudspeaker zones configured (cụm loa)")
    bulletins_scheduled: int = Field(description="items due in the month, whatever their outcome")
    bulletins_aired: int = Field(description="items that began to sound")
    successful_plays: int = Field(description="items played to their end (completed)")
    emergency_bulletins: int = Field(description="items of level emergency")
    play_time_min: float = Field(description="minutes aired, first sample to end")


class AirRowPublic(_FromRecord):
    due: datetime
    outcome: str
    kind: str
    ref: str
    title: str
    level: str
    zones: list[str]
    zone_names: list[str]
    started_at: datetime | None
    ended_at: datetime | None
    minutes: float | None = Field(description="null: it never sounded, or its end is unknown")
    reason: str | None


class ZoneMinutesPublic(_FromRecord):
    zone: str
    name: str
    items: int = Field(description="items that sounded in the zone")
    minutes: float


class RadioSectionPublic(_FromRecord):
    items: int
    items_aired: int
    by_outcome: dict[str, int] = Field(description="every outcome of the broadcast log, "
                                       "zero included; in_progress for an item on air")
    by_level: dict[str, int]
    minutes_aired: float
    by_zone: list[ZoneMinutesPublic]
    missed_failed: list[AirRowPublic]
    emergencies: list[AirRowPublic]


class CircuitHoursPublic(_FromRecord):
    circuit: str
    name: str
    on_hours: float


class MeterEnergyPublic(_FromRecord):
    meter: str
    circuits: list[str]
    energy_kwh: float | None = Field(description="last reading of the month minus the first; "
                                     "null with a note when it cannot be told")
    first_kwh: float | None
    first_at: datetime | None
    last_kwh: float | None
    last_at: datetime | None
    note: str | None


class DeviceAvailabilityPublic(_FromRecord):
    device: str
    profile: str
    online_pct: float = Field(description="share of the period without a device_offline alarm")
    offline_min: float
    outages: int


class LightingSectionPublic(_FromRecord):
    days_recorded: int = Field(description="days of the month with lighting usage stored")
    circuits: list[CircuitHoursPublic]
    meters: list[MeterEnergyPublic]
    alarms_total: int
    alarms_by_kind: dict[str, int]
    devices: list[DeviceAvailabilityPublic]


class MonthlyReportPublic(_FromRecord):
    month: str = Field(examples=["2026-11"])
    first_day: date
    last_day: date
    period_start: datetime
    period_end: datetime = Field(description="the month's end, or now for the current month")
    complete: bool
    generated_at: datetime
    site_id: str
    site_name: str
    timezone: str
    summary: ProvincialSummaryPublic
    radio: RadioSectionPublic
    lighting: LightingSectionPublic
