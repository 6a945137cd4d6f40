"""The radio as the API shows and edits it: audio files, broadcast programmes, announcements,
what is on air and the broadcast log.

A broadcast programme document has the shape of the config's ``[[broadcast_programs]]``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from controller.config import ID_PATTERN
from controller.radio.source_models import Source

Level = Literal["normal", "priority", "emergency"]
ZoneList = Annotated[list[Annotated[str, Field(pattern=ID_PATTERN)]],
                     Field(min_length=1, max_length=100)]
MAX_NAME = 200
MAX_REPEAT = 20


class AudioPublic(BaseModel):
    id: str
    name: str
    duration_s: float
    format: str
    codec: str
    size_bytes: int
    uploaded_at: datetime
    uploaded_by: str


class BroadcastProgramCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=ID_PATTERN)
    name: str = Field(default="", max_length=MAX_NAME)
    schedule: dict[str, Any] = Field(
        description='{"times": ["05:30"], "days"?: ["mon", ...]}, {"rrule": "FREQ=WEEKLY;'
                    'BYDAY=MO;BYHOUR=6;BYMINUTE=0"} or {"lunar_days": [1, 15], "times": [...]}; '
                    'optional "valid_from" and "valid_until" (dates)',
        examples=[{"times": ["05:30", "17:00"]}])
    zones: ZoneList | Literal["all"] = "all"
    level: Level = "normal"
    source: Source
    enabled: bool = True
    grace_min: Annotated[int, Field(ge=0, le=24 * 60)] | None = None
    force: bool = Field(default=False, description="store it even if it overlaps another "
                                                   "programme in the same zones")


class BroadcastProgramUpdate(BroadcastProgramCreate):
    id: str | None = Field(default=None, pattern=ID_PATTERN)  # type: ignore[assignment]


class BroadcastProgramPublic(BaseModel):
    id: str
    name: str
    schedule: dict[str, Any]
    zones: list[str] | Literal["all"]
    level: Level
    source: dict[str, Any]
    enabled: bool
    grace_min: int | None
    effective_from: datetime | None = None
    next_airings: list[datetime] = Field(default_factory=list,
                                         description="the next few occurrences")


class AnnouncementCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    at: datetime | None = Field(default=None, description="ISO 8601; absent = now; without "
                                                          "an offset, site-local time")
    source: Source
    zones: ZoneList | Literal["all"] = "all"
    level: Level = "normal"
    emergency: bool | None = Field(default=None, description="true is level emergency")
    repeat: Annotated[int, Field(ge=1, le=MAX_REPEAT)] = 1
    repeat_gap_min: Annotated[int, Field(ge=1, le=24 * 60)] = 5
    title: str = Field(default="", max_length=MAX_NAME)
    grace_min: Annotated[int, Field(ge=0, le=24 * 60)] | None = None
    force: bool = Field(default=False, description="store it even if it overlaps another "
                                                   "item in the same zones")

    @model_validator(mode="after")
    def _one_level(self) -> Self:
        if self.emergency and self.level not in ("normal", "emergency"):
            raise ValueError("emergency: true contradicts level " + self.level)
        if self.emergency:
            self.level = "emergency"
        return self


class AnnouncementPublic(BaseModel):
    id: str
    title: str
    at: datetime
    source: dict[str, Any]
    zones: list[str] | Literal["all"]
    level: Level
    repeat: int
    repeat_gap_min: int
    status: Literal["waiting_approval", "scheduled", "done", "cancelled"]
    aired: int
    next_at: datetime | None = None
    created_by: str
    created_at: datetime
    approved_by: str | None = None
    cancelled_by: str | None = None


class NowPublic(BaseModel):
    on_air: bool
    item: dict[str, Any] | None = Field(description="key, kind, ref, title, due, level, zones, "
                                                    "state (preparing | playing), started_at")
    zones_on: list[str]


class StoppedPublic(BaseModel):
    stopped: dict[str, Any]


class AirRecordPublic(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    key: str
    kind: str
    ref: str
    title: str
    level: str
    zones: list[str]
    due: datetime
    outcome: str | None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    start_offset_ms: float | None = None
    reason: str | None = None
