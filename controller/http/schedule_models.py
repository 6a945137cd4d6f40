"""The lighting schedule as the API edits it: overrides, lighting programmes and calendars.

Programme and calendar documents have the shape of the config's ``[[lighting_programs]]`` and
``[[calendars]]`` (``controller.config``), so one document can move between a config file and
the API; the create models extend the config models with size limits for what comes over the
network.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from controller.config import (
    CalendarConfig,
    LightingProgramConfig,
    WindowConfig,
)
from controller.http.models import State, WindowExplained
from controller.lighting.orders import OverrideOrder
from controller.lighting.records import (
    CalendarView,
    LightingCalendar,
    LightingProgram,
    Override,
    ProgramView,
    ProgramWindow,
)
from controller.lighting.service import ProgramPreview
from schedules.explain import window_terms

MAX_WINDOWS = 48
MAX_CALENDAR_ENTRIES = 1000
MAX_NAME = 200


class OverrideCreate(OverrideOrder):
    """An override as ``POST /overrides`` takes it: the same shape as MQTT's circuit set
    payload (``controller.lighting.orders``)."""


class OverridePublic(BaseModel):
    id: str
    target: str
    state: State
    level: int
    until: datetime
    reason: str
    created_by: str
    created_at: datetime

    @classmethod
    def of(cls, override: Override) -> OverridePublic:
        return cls(id=override.id, target=override.target, state=override.state,
                   level=override.level, until=override.until, reason=override.reason,
                   created_by=override.created_by, created_at=override.created_at)


class LightingProgramCreate(LightingProgramConfig):
    name: str = Field(default="", max_length=MAX_NAME)
    windows: list[WindowConfig] = Field(max_length=MAX_WINDOWS)


class LightingProgramUpdate(BaseModel):
    """A whole programme, replacing the stored one; ``id`` may be sent back as read."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(default=None, description="if given, must be the id in the path")
    name: str = Field(default="", max_length=MAX_NAME)
    windows: list[WindowConfig] = Field(max_length=MAX_WINDOWS)
    windows_explained: list[WindowExplained] | None = Field(
        default=None, max_length=MAX_WINDOWS,
        description="read-only: ignored, so that a programme may be sent back as it was read")


class LightingProgramPublic(BaseModel):
    id: str
    name: str
    windows: list[WindowConfig]
    windows_explained: list[WindowExplained] | None = Field(
        description="the windows' times as structured terms, in the same order (null if the "
                    "stored programme no longer parses)")
    circuits: list[str] = Field(description="circuits of the config that follow it")


class LightingPreviewCreate(BaseModel):
    """Windows to try before saving them as a programme (``id`` and ``name`` may come along
    and are ignored), and the plan days to show."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: str | None = Field(default=None, description="ignored")
    name: str = Field(default="", max_length=MAX_NAME, description="ignored")
    windows: list[WindowConfig] = Field(max_length=MAX_WINDOWS)
    from_: date | None = Field(default=None, alias="from",
                               description="first plan day, local; default today")
    days: int = Field(default=7, ge=1, le=31, description="plan days, 1 to 31")


class PreviewSpanPublic(BaseModel):
    on: datetime = Field(description="switched on (or to this level), local")
    off: datetime | None = Field(description="switched off or to another level, local; null "
                                             "if beyond what is known (two days ahead)")
    level: int
    window: int | None = Field(description="index of the deciding window")


class PreviewSkippedPublic(BaseModel):
    """A window left out on a day, as GET /plan's skipped reports it."""

    day: date
    window: int = Field(description="index of the window")
    rule: str
    reason: str = Field(description='e.g. "no sunset on 2026-06-21: polar day"')


class PreviewNightPublic(BaseModel):
    day: date = Field(description="the plan day: local noon to the next noon")
    spans: list[PreviewSpanPublic]
    skipped: list[PreviewSkippedPublic]


class LightingPreviewPublic(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: date = Field(alias="from")
    days: int
    timezone: str = Field(description="the site's; every time is local to it")
    windows_explained: list[WindowExplained]
    nights: list[PreviewNightPublic]


class CalendarCreate(CalendarConfig):
    name: str = Field(default="", max_length=MAX_NAME)
    dates: list[str] = Field(default=[], max_length=MAX_CALENDAR_ENTRIES)
    ranges: list[tuple[str, str]] = Field(default=[], max_length=MAX_CALENDAR_ENTRIES)


class CalendarUpdate(BaseModel):
    """A whole calendar, replacing the stored one; ``id`` may be sent back as read."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(default=None, description="if given, must be the id in the path")
    name: str = Field(default="", max_length=MAX_NAME)
    dates: list[str] = Field(default=[], max_length=MAX_CALENDAR_ENTRIES)
    ranges: list[tuple[str, str]] = Field(default=[], max_length=MAX_CALENDAR_ENTRIES)
    public_holidays: str | None = None


class CalendarPublic(BaseModel):
    id: str
    name: str
    dates: list[str]
    ranges: list[tuple[str, str]]
    public_holidays: str | None
    programs: list[str] = Field(description="stored programmes with a window on this calendar")


# -- between the API's models and the service's records -----------------------------------------

def window_record(window: WindowConfig) -> ProgramWindow:
    return ProgramWindow(on=window.on, off=window.off, level=window.level,
                         days=None if window.days is None else tuple(window.days),
                         calendar=window.calendar)


def program_record(program_id: str, name: str, windows: list[WindowConfig]) -> LightingProgram:
    return LightingProgram(id=program_id, name=name,
                           windows=tuple(window_record(w) for w in windows))


def preview_public(preview: ProgramPreview, timezone: str) -> LightingPreviewPublic:
    tz = ZoneInfo(timezone)
    return LightingPreviewPublic.model_validate({
        "from": preview.first, "days": preview.days, "timezone": timezone,
        "windows_explained": [window_terms(w) for w in preview.parsed.windows],
        "nights": [PreviewNightPublic(
            day=night.day,
            spans=[PreviewSpanPublic(on=s.on.astimezone(tz),
                                     off=None if s.off is None else s.off.astimezone(tz),
                                     level=s.level, window=s.window) for s in night.spans],
            skipped=[PreviewSkippedPublic(day=k.day, window=k.window_index, rule=k.rule,
                                          reason=k.reason) for k in night.skipped])
            for night in preview.nights]})


def program_public(view: ProgramView) -> LightingProgramPublic:
    program = view.program
    # Built without validation: the windows were checked when they were stored, and parsing
    # their times again to answer would be one more parse of each.
    windows = [WindowConfig.model_construct(
        on=w.on, off=w.off, level=w.level, days=None if w.days is None else list(w.days),
        calendar=w.calendar) for w in program.windows]
    explained = None if view.parsed is None else [
        WindowExplained.model_validate(window_terms(w)) for w in view.parsed.windows]
    return LightingProgramPublic(id=program.id, name=program.name, windows=windows,
                                 windows_explained=explained, circuits=list(view.circuits))


def calendar_record(calendar_id: str, name: str, dates: list[str],
                    ranges: list[tuple[str, str]],
                    public_holidays: str | None) -> LightingCalendar:
    return LightingCalendar(id=calendar_id, name=name, dates=tuple(dates),
                            ranges=tuple(ranges), public_holidays=public_holidays)


def calendar_public(view: CalendarView) -> CalendarPublic:
    calendar = view.calendar
    return CalendarPublic(id=calendar.id, name=calendar.name, dates=list(calendar.dates),
                          ranges=list(calendar.ranges), public_holidays=calendar.public_holidays,
                          programs=list(view.programs))
