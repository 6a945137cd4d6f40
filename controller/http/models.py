"""What the API answers about the installation: health, status, circuits, devices, events,
audit and tokens. The lighting schedule's own documents are in ``schedule_models``.

Handlers return these models, never dicts: FastAPI serialises a declared model with pydantic's
serialiser, about 30 times cheaper than ``jsonable_encoder`` on a dict (docs/libraries.md, FastAPI).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Role = Literal["viewer", "operator", "technician", "admin"]  # controller.platform.tokens.ROLES
State = Literal["on", "off"]
Severity = Literal["info", "warning", "alarm"]  # controller.platform.alarms.SEVERITIES
# As controller.platform.tokens checks it.
TOKEN_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"





class ErrorBody(BaseModel):
    code: str = Field(description="machine-readable, e.g. not_found, invalid, conflict")
    message: str
    field: str | None = Field(default=None,
                              description="dotted path of the input to blame, if one is")
    retry_at: datetime | None = Field(
        default=None, description="when to try again (a sign-in that must wait or is locked)")


class ErrorPublic(BaseModel):
    error: ErrorBody


class HealthPublic(BaseModel):
    status: Literal["ok", "degraded"] = Field(
        description="degraded while an alarm of severity 'alarm' is open or a device is offline")
    clock_synced: bool
    version: str


# -- time expressions as structured terms (schedules.explain) -----------------------------------

SunEvent = Literal["sunrise", "sunset", "dawn", "dusk"]  # schedules.solar.EVENTS


class ClockTerm(BaseModel):
    """A site-local wall time: ``23:00``."""

    kind: Literal["clock"]
    time: str = Field(description="HH:MM, site-local")


class SunTerm(BaseModel):
    """A sun event with an offset: ``sunset+5m`` is event sunset, offset_min 5."""

    kind: Literal["sun"]
    event: SunEvent
    offset_min: int = Field(description="minutes after the event; negative: before it")


class CombinedTerm(BaseModel):
    """``earliest(a, b)``: whichever comes first; ``latest(a, b)``: whichever comes last."""

    kind: Literal["earliest", "latest"]
    of: list[TimeTerm]


TimeTerm = Annotated[ClockTerm | SunTerm | CombinedTerm, Field(discriminator="kind")]
CombinedTerm.model_rebuild()


class WindowExplained(BaseModel):
    """A lighting window's times as terms for a page to put in words (no words in it)."""

    on: TimeTerm
    off: TimeTerm
    level: int
    days: list[int] | None = Field(description="weekdays, 0 = Monday; null: every day")
    calendar: str | None = Field(description="calendar id, or null")


class OverrideExplained(BaseModel):
    id: str
    until: datetime
    reason: str
    created_by: str


class DesiredExplained(BaseModel):
    """Why a circuit is in its state, as data (no words): the programme's window in force, or
    the next one while no window is; or the override that decides."""

    source: Literal["schedule", "override", "default", "failsafe"]
    window: WindowExplained | None = Field(
        description="schedule: the window in force; default: the window that switches next, "
                    "if within two days; else null")
    window_index: int | None = Field(description="that window's index in the programme")
    window_in_force: bool
    until: datetime | None = Field(description="the next switch time, if known")
    override: OverrideExplained | None = Field(description="override: the one that decides")


# -- circuits ----------------------------------------------------------------------------------

class DesiredPublic(BaseModel):
    state: State
    level: int
    source: Literal["schedule", "override", "default", "failsafe"]
    rule: str | None = Field(description="the window or override that decides")
    since: datetime | None = None
    until: datetime | None = Field(default=None, description="when it next changes, if known")
    explained: DesiredExplained = Field(description="the same, as structured terms")


class CommandedPublic(BaseModel):
    state: State
    level: int
    at: datetime


class ActualPublic(BaseModel):
    state: State
    level: int
    read_at: datetime


class CircuitPublic(BaseModel):
    id: str
    name: str
    groups: list[str]
    program: str | None
    desired: DesiredPublic = Field(description="what the rules say")
    commanded: CommandedPublic | None = Field(description="what was last written")
    actual: ActualPublic | None = Field(description="what the device read back; null if unknown")
    device_online: bool | None = Field(description="null until the device was first asked")


# -- devices and events ------------------------------------------------------------------------

class DevicePublic(BaseModel):
    id: str
    bus: str
    unit: int
    profile: str
    online: bool | None = Field(description="null until the device was first asked")
    last_error: str | None
    last_ok_at: datetime | None
    down_since: datetime | None
    latency_ms: float | None
    transactions: int
    failures: int
    bus_requests: int = Field(description="Modbus frames sent on the device's bus, retries too")


class ProbePublic(BaseModel):
    id: str
    reachable: bool
    error: str | None
    latency_ms: float | None
    read: dict[str, Any] | None = Field(description="what the device holds, by register kind")


class EventPublic(BaseModel):
    """An alarm (a condition, open until ``cleared_at``) or a notable event."""

    model_config = ConfigDict(extra="allow")  # events carry details of their kind

    id: str
    time: datetime
    type: str = Field(description='"alarm" (a condition) or "event"')
    severity: str = Field(description="info, warning or alarm")
    kind: str
    target: str
    message: str
    cleared_at: datetime | None = None
    acked_by: str | None = None
    acked_at: datetime | None = None


# -- plan ----------------------------------------------------------------------------------------

class PlanEntryPublic(BaseModel):
    """One lighting transition, as ``communectl plan --format json`` prints it."""

    time: datetime
    kind: Literal["lighting"]
    target: str = Field(description="circuit id")
    state: State
    level: int = Field(ge=0, le=100)
    rule: str | None
    program: str = Field(description="lighting programme id")
    name: str = Field(description="the circuit's name")


class PlanBroadcastPublic(BaseModel):
    """One airing of a broadcast programme or an announcement (controller.plan)."""

    time: datetime
    kind: Literal["broadcast"]
    target: str = Field(description="programme or announcement id")
    state: Literal["on"]
    level: int = Field(description="always 100: the zones are switched on")
    rule: str = Field(description='what gives this airing, e.g. "06:00 every day"')
    program: str | None = Field(description="programme id; null for an announcement")
    name: str
    item: Literal["program", "announcement"]
    key: str = Field(description="the airing's key in the broadcast log")
    zones: list[str]
    zone_names: list[str]
    broadcast_level: Literal["normal", "priority", "emergency"]
    duration_s: int = Field(description="expected length, whole seconds")
    end: datetime = Field(description="time + duration_s")
    source_type: str = Field(description="tts, audio, stream or playlist")
    status: Literal["scheduled", "waiting_approval"]


PlanItemPublic = Annotated[PlanEntryPublic | PlanBroadcastPublic, Field(discriminator="kind")]


class PlanNotePublic(BaseModel):
    """Something left out on a day, and why (no sunset on a polar day, quiet hours)."""

    day: date
    program: str
    rule: str
    reason: str


class LunarDatePublic(BaseModel):
    year: int
    month: int
    day: int
    leap: bool = Field(description="a leap month (tháng nhuận)")


class PlanDatePublic(BaseModel):
    date: date
    lunar: LunarDatePublic | None = Field(
        description="None outside the years the lunar calendar covers")


class PlanPublic(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: date = Field(alias="from", description="first local day; a plan day runs noon to noon")
    days: int
    entries: list[PlanItemPublic]
    skipped: list[PlanNotePublic]
    dates: list[PlanDatePublic] = Field(
        description="each local day of the window with its date in the Vietnamese lunar "
                    "calendar (mùng 1, rằm: day 1, day 15)")


# -- status --------------------------------------------------------------------------------------

class SitePublic(BaseModel):
    id: str
    name: str
    timezone: str
    latitude: float
    longitude: float
    local_time: datetime
    sunset: datetime | None = Field(default=None, description="today's, local; null on a "
                                                              "polar day or night")
    sunrise: datetime | None = Field(default=None, description="tomorrow's, local")
    microphone: bool = Field(default=False, description="the gateway has a microphone for "
                                                        "live talks (broadcast.microphone)")


class CountsPublic(BaseModel):
    circuits: int
    circuits_on: int = Field(description="circuits whose desired state is on")
    devices: int
    devices_online: int
    devices_offline: int
    alarms_open: int
    overrides_active: int


class StatusPublic(BaseModel):
    site: SitePublic
    time: datetime
    started_at: datetime
    circuits: list[CircuitPublic]
    devices: list[DevicePublic]
    alarms: list[EventPublic] = Field(description="open alarms, oldest first")
    next_events: list[PlanEntryPublic] = Field(description="lighting transitions, next 24 h")
    zones: list[dict[str, Any]] = Field(description="loudspeaker zones: id, name, on")
    nodes: list[dict[str, Any]] = Field(description="field nodes (MQTT; none without it)")
    broadcast: dict[str, Any] | None = Field(description="what is on air, or null")
    mqtt: dict[str, Any] | None = Field(
        default=None, description="the MQTT bridge: connected, connects, published, received, "
                                  "malformed payloads by kind, events dropped; null without MQTT")
    counts: CountsPublic


# -- admin ---------------------------------------------------------------------------------------

class AuditRecordPublic(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    time: datetime
    actor: str = Field(description="the token's name")
    role: Role
    action: str = Field(description="e.g. override.create, lighting_program.update")
    target: str
    details: dict[str, Any]


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=TOKEN_NAME_PATTERN,
                      description="1-64 letters, digits, '.', '_', '@' or '-'")
    role: Role
    expires_days: Annotated[int, Field(strict=True, ge=1, le=3660)] | None = None


class TokenPublic(BaseModel):
    name: str
    role: str
    created_at: datetime
    expires_at: datetime | None
    expired: bool
    last4: str = Field(description="the secret's last four characters")


class TokenCreated(TokenPublic):
    secret: str = Field(description="shown once; only its hash is stored")
