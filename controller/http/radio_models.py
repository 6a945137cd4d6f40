"""The radio as the API shows and edits it: audio files, broadcast programmes, announcements,
what is on air and the broadcast log.

What callers send (``AnnouncementCreate``, ``BroadcastProgramCreate``) is the radio's own
(``controller.radio.requests``); these are what the API answers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from controller.radio.library import MAX_NAME_CHARS

# What callers send lives with the radio, which MQTT validates with too.
from controller.radio.requests import (  # noqa: F401
    AnnouncementCreate,
    BroadcastProgramCreate,
    BroadcastProgramUpdate,
    Level,
    ZoneToneCreate,
)


class AudioUsePublic(BaseModel):
    kind: Literal["broadcast_program", "announcement"]
    id: str
    name: str = Field(description="the programme's name, the announcement's title")


class AudioPublic(BaseModel):
    id: str
    name: str
    duration_s: float
    format: str
    codec: str
    size_bytes: int
    uploaded_at: datetime
    uploaded_by: str
    used_by: list[AudioUsePublic] = Field(
        description="the broadcast programmes, and the announcements that may still air, that "
                    "play it (a file in use cannot be deleted)")


class AudioRename(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=MAX_NAME_CHARS,
                      description=f"the name shown, 1 to {MAX_NAME_CHARS} characters")


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


class ZonePublic(BaseModel):
    id: str
    name: str = Field(description="its name, else its id")
    on: bool = Field(description="switched on now")
    amplifier: str | None = Field(description="the amplifier that feeds it, if any")
    nodes: list[str] = Field(description="IP/4G loudspeaker nodes that play for it")


class ZoneTonePublic(BaseModel):
    key: str = Field(description="the item's key, as GET /broadcasts/now and the log show it")
    zone: str
    seconds: int
    frequency_hz: int
    starts_at: datetime = Field(description="when it should sound, once the amplifier is warm")
    ends_at: datetime = Field(description="when it should end")


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


class LivePublic(BaseModel):
    """A live talk ("Phát trực tiếp") as it goes."""

    id: str
    key: str = Field(description="its item's key, as GET /broadcasts/now and the log show it")
    person: str
    source: Literal["page", "gateway"]
    zones: list[str]
    level: Literal["normal", "priority", "emergency"]
    state: Literal["waiting", "on_air", "ended"] = Field(
        description="waiting: the zones warm up (speak once on_air); ended: logged")
    received_s: float = Field(description="audio received so far, seconds")
    aired_s: float = Field(description="audio aired so far, silence of gaps included")
    gaps: int = Field(description="runs of silence put in because the audio came late")
    silence_s: float
    dropped_s: float = Field(description="audio dropped to keep the delay bounded")
    peak: float = Field(description="the last chunk's peak, 0..1 (the gateway microphone)")
    outcome: str | None = Field(description="as the broadcast log has it, once ended")
    reason: str | None
    recording: str | None = Field(description="the recording's audio id in the library, "
                                              "once kept")
