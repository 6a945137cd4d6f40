"""The lighting schedule as the API edits it: overrides, lighting programmes and calendars.

Programme and calendar documents have the shape of the config's ``[[lighting_programs]]`` and
``[[calendars]]`` (``controller.config``), so one document can move between a config file and
the API; the create models extend the config models with size limits for what comes over the
network.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from controller.http.models import Instant, State
from controller.config import (
    ID_PATTERN,
    CalendarConfig,
    LightingProgramConfig,
    WindowConfig,
)

MAX_OVERRIDE_MIN = 7 * 24 * 60  # a forgotten override ends within a week
MAX_WINDOWS = 48
MAX_CALENDAR_ENTRIES = 1000
MAX_NAME = 200
TARGET_PATTERN = rf"^(all|(circuit|group):{ID_PATTERN.strip('^$')})$"


class OverrideCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    target: str = Field(pattern=TARGET_PATTERN, examples=["circuit:road-5", "group:main-road",
                                                          "all"])
    state: State
    level: Annotated[int, Field(strict=True, ge=1, le=100)] | None = Field(
        default=None, description="1-100, default 100; ignored when the state is off")
    duration_min: Annotated[int, Field(strict=True, ge=1, le=MAX_OVERRIDE_MIN)] | None = Field(
        default=None, description="give this or until")
    until: Instant | None = Field(
        default=None, description="ISO-8601 with an offset, within a week; or duration_min")
    reason: str = Field(min_length=1, max_length=200)

    @model_validator(mode="after")
    def _one_end(self) -> Self:
        if (self.duration_min is None) == (self.until is None):
            raise ValueError("give exactly one of duration_min and until")
        return self


class OverridePublic(BaseModel):
    id: str
    target: str
    state: State
    level: int
    until: datetime
    reason: str
    created_by: str
    created_at: datetime


class LightingProgramCreate(LightingProgramConfig):
    name: str = Field(default="", max_length=MAX_NAME)
    windows: list[WindowConfig] = Field(max_length=MAX_WINDOWS)


class LightingProgramUpdate(BaseModel):
    """A whole programme, replacing the stored one; ``id`` may be sent back as read."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(default=None, description="if given, must be the id in the path")
    name: str = Field(default="", max_length=MAX_NAME)
    windows: list[WindowConfig] = Field(max_length=MAX_WINDOWS)


class LightingProgramPublic(BaseModel):
    id: str
    name: str
    windows: list[WindowConfig]
    circuits: list[str] = Field(description="circuits of the config that follow it")


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
