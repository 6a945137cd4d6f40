"""What a caller asks the radio for (an announcement, a broadcast programme, a test tone in a
zone), validated as the HTTP API and MQTT both receive it (docs/api.md, docs/mqtt.md): the
radio service takes these.

A broadcast programme has the shape of the config's ``[[broadcast_programs]]``.
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
TONE_SECONDS = (1, 10)  # a test tone's shortest and longest
DEFAULT_TONE_SECONDS = 3


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


class ZoneToneCreate(BaseModel):
    """A test tone in one zone (the zone is the path's)."""

    model_config = ConfigDict(extra="forbid")

    seconds: Annotated[int, Field(ge=TONE_SECONDS[0], le=TONE_SECONDS[1])] = Field(
        default=DEFAULT_TONE_SECONDS,
        description=f"how long it sounds, {TONE_SECONDS[0]} to {TONE_SECONDS[1]} s")


class LiveStart(BaseModel):
    """A live talk ("Phát trực tiếp"): where, how urgent, and from which microphone."""

    model_config = ConfigDict(extra="forbid")

    zones: ZoneList | Literal["all"] = Field(description='zone ids, or "all"')
    level: Literal["normal", "priority", "emergency"] = "normal"
    source: Literal["page", "gateway"] = Field(
        default="page", description="page: PCM streamed to POST /live/audio (the page's "
        "WebSocket /api/v1/live); gateway: the microphone on the gateway (technician)")
