"""The installation file (TOML), validated once at the edge into typed, frozen objects.

The config describes the installation: site, wiring, connections. What people change while the
controller runs (programmes, calendars, overrides, tokens) lives in storage; the programmes and
calendars written here only seed storage on first start (see ``controller.programs``).

Every problem is reported at once, one line each, as ``dotted.path: message``; ``load_config``
raises ``ConfigError`` carrying those lines and nothing is started.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from controller.source_models import Source
from drivers.errors import ConfigError
from drivers.profiles import profile_info
from schedules.broadcasts import Recurrence
from schedules.calendars import Calendar
from schedules.errors import ScheduleError
from schedules.lighting import Window

DEFAULT_CONFIG_PATH = "/etc/communectl/config.toml"
ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
Identifier = Annotated[str, Field(pattern=ID_PATTERN)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SiteConfig(_Frozen):
    id: Identifier
    name: str = ""
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    elevation: float = 0.0
    timezone: str = "Asia/Ho_Chi_Minh"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r}") from None
        return value


class StorageConfig(_Frozen):
    path: Path = Path("/var/lib/communectl")
    history_days: int = Field(default=400, ge=1)  # events and audit older than this are pruned


class ApiConfig(_Frozen):
    host: str = "0.0.0.0"
    port: int = Field(default=8080, ge=0, le=65535)
    # How field nodes reach this gateway (they fetch broadcast audio from it), e.g.
    # "http://192.168.1.10:8080"; default: host and port above.
    public_url: str | None = Field(default=None, pattern=r"^https?://[^/]+$")
    # HTTP in a process of its own (controller.api.front): a flood of requests cannot delay a
    # relay or a broadcast, at the cost of about 40 MiB. false: one process, for a board with
    # little memory and few users.
    front_process: bool = True


class LightingSettings(_Frozen):
    check_interval_s: float = Field(default=30.0, gt=0)  # periodic read-back and meter check
    offline_retry_s: float = Field(default=5.0, gt=0)  # how often a dead board is tried again
    settle_s: float = Field(default=5.0, ge=0)  # lamps need a moment before current flows
    lamp_min_w: float = Field(default=5.0, ge=0)  # below this with the circuit on: lamp failure
    off_max_w: float = Field(default=5.0, ge=0)  # above this with every circuit off: day-burner


class BusConfig(_Frozen):
    id: Identifier
    kind: Literal["tcp", "rtu"]
    host: str | None = None
    port: int | str
    timeout_s: float = Field(default=1.0, gt=0, le=30)
    retries: int = Field(default=2, ge=0, le=10)
    baudrate: int = Field(default=9600, gt=0)
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    bytesize: Literal[7, 8] = 8

    @model_validator(mode="after")
    def _port_matches_kind(self) -> BusConfig:
        if self.kind == "tcp":
            if not isinstance(self.port, int) or not 0 < self.port < 65536:
                raise ValueError("a tcp bus needs port = 1..65535")
            if not self.host:
                raise ValueError("a tcp bus needs host")
        elif not isinstance(self.port, str):
            raise ValueError('an rtu bus needs port = "/dev/ttyUSB0" (a serial device path)')
        return self


class DeviceConfig(_Frozen):
    id: Identifier
    bus: str
    unit: int = Field(ge=1, le=247)  # Modbus serial line spec: 1..247 are individual addresses
    profile: str
    # discrete input index -> alarm name, e.g. { 0 = "cabinet-door", 1 = "breaker-tripped" }
    inputs: dict[int, str] = {}


class CircuitConfig(_Frozen):
    id: Identifier
    name: str = ""
    device: str
    channel: int | None = Field(default=None, ge=0)
    segments: dict[str, int] = {}
    levels: dict[int, list[str]] = {}
    groups: list[Identifier] = []
    program: str | None = None
    meter: str | None = None

    @model_validator(mode="after")
    def _wiring(self) -> CircuitConfig:
        if (self.channel is None) == (not self.segments):
            raise ValueError("give either channel or segments")
        if self.levels and not self.segments:
            raise ValueError("levels need segments")
        for level, names in self.levels.items():
            if not 0 < level <= 100:
                raise ValueError(f"level {level} must be 1..100")
            unknown = sorted(set(names) - set(self.segments))
            if unknown:
                raise ValueError(f"level {level} names unknown segments {unknown}")
        return self

    @property
    def channels(self) -> list[int]:
        return [self.channel] if self.channel is not None else sorted(self.segments.values())

    def segment_channels(self, level: int) -> set[int]:
        """The relay channels that are on at a level: the largest configured level <= it."""
        if level <= 0:
            return set()
        if self.channel is not None:
            return {self.channel}
        if not self.levels:  # segments without levels: all of them together
            return set(self.segments.values())
        fitting = [lv for lv in self.levels if lv <= level]
        chosen = max(fitting) if fitting else min(self.levels)
        return {self.segments[name] for name in self.levels[chosen]}

    def level_of(self, on_channels: set[int]) -> int:
        """The level that a set of closed relays shows (read-back), 0 when none is on."""
        if not on_channels:
            return 0
        if self.channel is not None or not self.levels:
            return 100
        for level in sorted(self.levels, reverse=True):
            if {self.segments[n] for n in self.levels[level]} == on_channels:
                return level
        return max(self.levels)


class WindowConfig(_Frozen):
    on: str
    off: str
    level: int = Field(default=100, ge=0, le=100)
    days: list[int | str] | None = None
    calendar: str | None = None


class LightingProgramConfig(_Frozen):
    id: Identifier
    name: str = ""
    windows: list[WindowConfig]


class CalendarConfig(_Frozen):
    id: Identifier
    name: str = ""
    dates: list[str] = []
    ranges: list[tuple[str, str]] = []
    public_holidays: str | None = None


class AmplifierConfig(_Frozen):
    id: Identifier
    device: str
    channel: int = Field(ge=0)
    warmup_s: float = Field(default=3.0, ge=0, le=60)


class ZoneConfig(_Frozen):
    id: Identifier
    name: str = ""
    device: str | None = None
    channel: int | None = Field(default=None, ge=0)
    amplifier: str | None = None
    nodes: list[str] = []

    @model_validator(mode="after")
    def _wired_somehow(self) -> ZoneConfig:
        if (self.device is None) != (self.channel is None):
            raise ValueError("a wired zone needs both device and channel")
        if self.device is None and not self.nodes:
            raise ValueError("give device and channel, or nodes")
        return self


class BroadcastConfig(_Frozen):
    output: str = "default"
    quiet_hours: str | None = "22:00-05:00"
    tts_voice: str = "vi"
    require_approval: bool = False
    grace_min: int = Field(default=10, ge=0)
    max_upload_mb: int = Field(default=50, gt=0)
    volume: float = Field(default=1.0, ge=0, le=2)       # software gain on every item
    chime: bool = True                                   # a ding-dong before announcements
    tts_words_per_minute: int = Field(default=140, ge=80, le=300)
    # Relayed stations: how long to wait for the first bytes before playing the fallback.
    stream_connect_timeout_s: float = Field(default=5.0, gt=0, le=60)

    @field_validator("quiet_hours")
    @classmethod
    def _hours(cls, value: str | None) -> str | None:
        if value and not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d", value):
            raise ValueError('expected "HH:MM-HH:MM"')
        return value


class BroadcastProgramConfig(_Frozen):
    """A recurring broadcast; seeds storage like a lighting programme, then the API edits it."""

    id: Identifier
    name: str = ""
    schedule: dict[str, Any]
    zones: list[str] | Literal["all"] = "all"
    level: Literal["normal", "priority", "emergency"] = "normal"
    source: Source
    enabled: bool = True
    grace_min: int | None = Field(default=None, ge=0)


HA_UNTIL_NEXT_SWITCH = "until_next_switch"
HA_OVERRIDE_MAX_MIN = 7 * 24 * 60  # as an override made through the API


class MqttConfig(_Frozen):
    url: str = "mqtt://127.0.0.1:1883"
    prefix: str = "communectl"
    accept_commands: bool = False
    ha_discovery: bool = False
    username: str | None = None
    password: str | None = None
    # How long an on/off from Home Assistant holds: until the circuit's next scheduled switch
    # point, or a number of minutes (docs/mqtt.md).
    ha_override: str | int = HA_UNTIL_NEXT_SWITCH

    @field_validator("url")
    @classmethod
    def _scheme(cls, value: str) -> str:
        if not re.match(r"^mqtts?://[^/]+", value):
            raise ValueError('expected "mqtt://host:port" or "mqtts://host:port"')
        return value

    @field_validator("ha_override", mode="before")
    @classmethod
    def _ha_override(cls, value: object) -> str | int:
        if value == HA_UNTIL_NEXT_SWITCH:
            return HA_UNTIL_NEXT_SWITCH
        if isinstance(value, int) and not isinstance(value, bool) and \
                1 <= value <= HA_OVERRIDE_MAX_MIN:
            return value
        raise ValueError(f'expected "{HA_UNTIL_NEXT_SWITCH}" or a number of minutes, 1 to '
                         f'{HA_OVERRIDE_MAX_MIN} (a week), not {value!r}')


class Config(_Frozen):
    site: SiteConfig
    storage: StorageConfig = StorageConfig()
    api: ApiConfig = ApiConfig()
    lighting: LightingSettings = LightingSettings()
    buses: list[BusConfig] = []
    devices: list[DeviceConfig] = []
    circuits: list[CircuitConfig] = []
    lighting_programs: list[LightingProgramConfig] = []
    calendars: list[CalendarConfig] = []
    amplifiers: list[AmplifierConfig] = []
    zones: list[ZoneConfig] = []
    broadcast: BroadcastConfig = BroadcastConfig()
    broadcast_programs: list[BroadcastProgramConfig] = []
    mqtt: MqttConfig | None = None

    def bus(self, bus_id: str) -> BusConfig:
        return next(b for b in self.buses if b.id == bus_id)

    def zone(self, zone_id: str) -> ZoneConfig | None:
        return next((z for z in self.zones if z.id == zone_id), None)

    def amplifier(self, amplifier_id: str) -> AmplifierConfig | None:
        return next((a for a in self.amplifiers if a.id == amplifier_id), None)

    def device(self, device_id: str) -> DeviceConfig:
        return next(d for d in self.devices if d.id == device_id)

    def circuit(self, circuit_id: str) -> CircuitConfig | None:
        return next((c for c in self.circuits if c.id == circuit_id), None)

    @property
    def groups(self) -> set[str]:
        return {g for c in self.circuits for g in c.groups}


def config_path(explicit: str | None) -> Path:
    """--config, else $COMMUNECTL_CONFIG, else the system path (SPEC: CLI)."""
    return Path(explicit or os.environ.get("COMMUNECTL_CONFIG") or DEFAULT_CONFIG_PATH)


def load_config(path: Path) -> Config:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"cannot read: {exc.strerror}"], str(path)) from exc
    return parse_config(text, source=str(path))


def parse_config(text: str, *, source: str = "<config>") -> Config:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"not valid TOML: {exc}"], source) from exc
    return validate_config(raw, source=source)


def validate_config(raw: dict[str, Any], *, source: str = "<config>") -> Config:
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_pydantic_problems(exc, raw), source) from None
    problems = cross_check(config)
    if problems:
        raise ConfigError(problems, source)
    return config


def _pydantic_problems(exc: ValidationError, raw: dict[str, Any]) -> list[str]:
    problems = []
    for error in exc.errors():
        loc = [str(p) for p in error["loc"] if p != "[key]" and not str(p).startswith("function-")]
        # unions report one error per branch: the branch names are noise for a reader
        loc = [p for p in loc if p not in {"int", "str", "list[int]", "MqttConfig"}]
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "missing":
            message = "is required"
        problems.append(f"{_dotted(loc)}: {message}")
    return list(dict.fromkeys(problems))


def _dotted(loc: list[str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if part.isdigit() and out else (("." if out else "") + part)
    return out or "(top)"


def cross_check(config: Config) -> list[str]:
    """References between sections, unique ids, channels within a board, schedule syntax."""
    problems: list[str] = []
    for section in ("buses", "devices", "circuits", "lighting_programs", "calendars",
                    "amplifiers", "zones", "broadcast_programs"):
        seen: set[str] = set()
        for index, item in enumerate(getattr(config, section)):
            if item.id in seen:
                problems.append(f"{section}[{index}].id: duplicate id {item.id!r}")
            seen.add(item.id)

    buses = {b.id for b in config.buses}
    devices = {d.id: d for d in config.devices}
    kinds: dict[str, tuple[str, int]] = {}
    for i, device in enumerate(config.devices):
        if device.bus not in buses:
            problems.append(f"devices[{i}].bus: unknown bus {device.bus!r}")
        try:
            kinds[device.id] = profile_info(device.profile)
        except ValueError as exc:
            problems.append(f"devices[{i}].profile: {exc}")
            continue
        if device.inputs and kinds[device.id][0] != "relay":
            problems.append(f"devices[{i}].inputs: only relay boards have digital inputs")
    seen_units: dict[tuple[str, int], str] = {}
    for i, device in enumerate(config.devices):
        key = (device.bus, device.unit)
        if key in seen_units:
            problems.append(f"devices[{i}].unit: unit {device.unit} on bus {device.bus!r} "
                            f"is already device {seen_units[key]!r}")
        seen_units[key] = device.id

    calendars = {c.id for c in config.calendars}
    for i, cal in enumerate(config.calendars):
        try:
            Calendar(id=cal.id, dates=tuple(cal.dates), ranges=tuple(map(tuple, cal.ranges)),
                     public_holidays=cal.public_holidays)
        except ScheduleError as exc:
            problems.append(f"calendars[{i}]: {exc}")
    programs = {p.id for p in config.lighting_programs}
    for i, program in enumerate(config.lighting_programs):
        for j, window in enumerate(program.windows):
            path = f"lighting_programs[{i}].windows[{j}]"
            try:
                Window.parse(window.on, window.off, level=window.level, days=window.days,
                             calendar=window.calendar)
            except ScheduleError as exc:
                problems.append(f"{path}: {exc}")
            if window.calendar and window.calendar not in calendars:
                problems.append(f"{path}.calendar: unknown calendar {window.calendar!r}")

    used_channels: dict[tuple[str, int], str] = {}

    def claim(path: str, device_id: str, channel: int, owner: str, wanted: tuple[str, ...]) -> None:
        if device_id not in devices:
            problems.append(f"{path}: unknown device {device_id!r}")
            return
        kind, count = kinds.get(device_id, ("", 0))
        if kind and kind not in wanted:
            problems.append(f"{path}: device {device_id!r} is a {kind}, not a {'/'.join(wanted)}")
        elif count and channel >= count:
            problems.append(f"{path}: channel {channel} is beyond the {count} channels "
                            f"of {device_id!r}")
        key = (device_id, channel)
        if key in used_channels:
            problems.append(f"{path}: channel {channel} of {device_id!r} is already used by "
                            f"{used_channels[key]!r}")
        used_channels[key] = owner

    for i, circuit in enumerate(config.circuits):
        for channel in circuit.channels:
            claim(f"circuits[{i}].device", circuit.device, channel, circuit.id,
                  ("relay", "dimmer"))
        if circuit.segments and kinds.get(circuit.device, ("",))[0] == "dimmer":
            problems.append(f"circuits[{i}].segments: segments need a relay board, "
                            "a dimmer takes a level")
        if circuit.program and circuit.program not in programs:
            problems.append(f"circuits[{i}].program: unknown lighting programme "
                            f"{circuit.program!r}")
        if circuit.meter is not None:
            if circuit.meter not in devices:
                problems.append(f"circuits[{i}].meter: unknown device {circuit.meter!r}")
            elif kinds.get(circuit.meter, ("meter",))[0] != "meter":
                problems.append(f"circuits[{i}].meter: device {circuit.meter!r} is not a meter")
        if circuit.id in config.groups:
            problems.append(f"circuits[{i}].id: {circuit.id!r} is also a group name")
    amplifiers = {a.id for a in config.amplifiers}
    for i, amp in enumerate(config.amplifiers):
        claim(f"amplifiers[{i}].device", amp.device, amp.channel, amp.id, ("relay",))
    for i, zone in enumerate(config.zones):
        if zone.device is not None and zone.channel is not None:
            claim(f"zones[{i}].device", zone.device, zone.channel, zone.id, ("relay",))
        if zone.amplifier and zone.amplifier not in amplifiers:
            problems.append(f"zones[{i}].amplifier: unknown amplifier {zone.amplifier!r}")
    zones = {z.id for z in config.zones}
    for i, program in enumerate(config.broadcast_programs):
        try:
            Recurrence.parse(program.schedule)
        except ScheduleError as exc:
            problems.append(f"broadcast_programs[{i}].{exc}"
                            if str(exc).startswith("schedule.")
                            else f"broadcast_programs[{i}].schedule: {exc}")
        for zone in [] if program.zones == "all" else program.zones:
            if zone not in zones:
                problems.append(f"broadcast_programs[{i}].zones: unknown zone {zone!r}")
    return problems
