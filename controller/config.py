"""The installation file (TOML), validated once at the edge into typed, frozen objects.

The config describes the installation: site, wiring, connections. What people change while the
controller runs (programmes, calendars, overrides, tokens) lives in storage; the programmes and
calendars written here only seed storage on first start (see ``controller.lighting.programs``).

Every problem is reported at once, one line each, as ``dotted.path: message``; ``load_config``
raises ``ConfigError`` carrying those lines and nothing is started.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import ssl
import tomllib
from collections.abc import Mapping, Sequence
from datetime import time
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from controller.errors import ConfigError
from controller.notify.channel_config import EmailConfig, SmsConfig, WebhookDefaults
from controller.radio.source_models import Source
from drivers.profiles import profile_info
from firmware_bridge.signing import read_key
from schedules.broadcasts import QuietHours, Recurrence
from schedules.calendars import Calendar
from schedules.errors import ScheduleError
from schedules.expressions import parse_time_expression
from schedules.lighting import Window

DEFAULT_CONFIG_PATH = "/etc/communectl/config.toml"
ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
Identifier = Annotated[str, Field(pattern=ID_PATTERN)]


class FieldProblem(ValueError):
    """A validator's complaint about a part below the place it checks (``parts``, e.g.
    ``("dates", 1)``), carried as data so that the config's dotted path and the API's ``field``
    point at that part without anyone reading the message."""

    def __init__(self, parts: tuple[str | int, ...], message: str) -> None:
        self.parts = parts
        self.message = message
        super().__init__(message)


class _Frozen(BaseModel):
    # The docstring under each field is its description: docs/configuration.md is made from
    # them (python -m controller.config_reference).
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class SiteConfig(_Frozen):
    id: Identifier
    """Short id of the site: lower case, digits, - and _; used in MQTT topics."""
    name: str = ""
    """The commune's name as people write it, e.g. "Xã Thiệu Long"."""
    latitude: float = Field(ge=-90, le=90)
    """Degrees north (negative: south), for sunrise and sunset."""
    longitude: float = Field(ge=-180, le=180)
    """Degrees east (negative: west)."""
    elevation: float = 0.0
    """Metres above sea level."""
    timezone: str = "Asia/Ho_Chi_Minh"
    """IANA time zone of the site; every HH:MM in the config is local to it."""

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
    """Folder for the database, the audio library, the logs and the aired WAV files."""
    history_days: int = Field(default=400, ge=1)
    """Events, audit and broadcast log older than this are pruned."""


# Listen addresses meaning "every interface", which no client can connect to as such.
WILDCARD_HOSTS = frozenset({"0.0.0.0", "::", ""})


class ApiConfig(_Frozen):
    host: str = "0.0.0.0"
    """Address the HTTP API and the dashboard listen on."""
    port: int = Field(default=8080, ge=0, le=65535)
    """Port of the HTTP API and the dashboard (0: any free port)."""
    public_url: str | None = Field(default=None, pattern=r"^https?://[^/]+$")
    """How field nodes reach this gateway (they fetch broadcast audio from it), e.g.
    "http://192.168.1.10:8080"; default: host and port above, which must then be an address
    (zones with nodes need one when host is "0.0.0.0")."""
    front_process: bool = True
    """HTTP in a process of its own, so that a flood of requests cannot delay a relay or a
    broadcast (about 40 MiB more); false: one process, for a board with little memory and few
    users."""


class LightingSettings(_Frozen):
    check_interval_s: float = Field(default=30.0, gt=0)
    """How often relays are read back and meters checked."""
    offline_retry_s: float = Field(default=5.0, gt=0)
    """How often a board that does not answer is tried again."""
    settle_s: float = Field(default=5.0, ge=0)
    """Time lamps need after switching before their current is judged."""
    lamp_min_w: float = Field(default=5.0, ge=0)
    """Below this power with the circuit on: lamp failure."""
    off_max_w: float = Field(default=5.0, ge=0)
    """Above this power with every circuit off: day-burner."""


class BusConfig(_Frozen):
    id: Identifier
    """Id of the Modbus link, named by devices."""
    kind: Literal["tcp", "rtu"]
    """"tcp" (Modbus TCP, or an RTU-over-TCP gateway) or "rtu" (RS-485 serial)."""
    host: str | None = None
    """tcp: the address of the board or gateway."""
    port: int | str
    """tcp: a port number (502); rtu: the serial device, e.g. "/dev/ttyUSB0"."""
    timeout_s: float = Field(default=1.0, gt=0, le=30)
    """How long to wait for an answer; keep it short so one dead board cannot stall the link."""
    retries: int = Field(default=2, ge=0, le=10)
    """Further attempts after a timeout before the device counts as offline."""
    baudrate: int = Field(default=9600, gt=0)
    """rtu: line speed."""
    parity: Literal["N", "E", "O"] = "N"
    """rtu: "N", "E" or "O"."""
    stopbits: Literal[1, 2] = 1
    """rtu: 1 or 2."""
    bytesize: Literal[7, 8] = 8
    """rtu: 7 or 8."""

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
    """Id of the device, named by circuits, zones and amplifiers."""
    bus: str
    """The bus it is on."""
    unit: int = Field(ge=1, le=247)
    """Its Modbus unit (slave) address, 1 to 247."""
    profile: str
    """What it is: relayN (N coils from 0, e.g. relay8), an energy meter (sdm120), or dimmer."""
    inputs: dict[int, str] = {}
    """Digital inputs mapped to alarms, e.g. { 0 = "cabinet-door", 1 = "breaker-tripped" }."""


class CircuitConfig(_Frozen):
    id: Identifier
    """Id of the lighting circuit."""
    name: str = ""
    """Its name as people say it, e.g. "Đường số 5"."""
    device: str
    """The relay board or dimmer that switches it."""
    channel: int | None = Field(default=None, ge=0)
    """The relay channel (from 0), for a circuit on one relay."""
    segments: dict[str, int] = {}
    """Several relays: segment name -> channel, e.g. { a = 1, b = 2 }."""
    levels: dict[int, list[str]] = {}
    """With segments: level -> segments that are on, e.g. { 100 = ["a", "b"], 50 = ["a"] }."""
    groups: list[Identifier] = []
    """Groups it belongs to, for overrides of many circuits at once."""
    program: str | None = None
    """The lighting programme it follows; none: always off unless overridden."""
    meter: str | None = None
    """An energy meter whose power tells whether its lamps draw current."""

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
    """One window of a lighting programme; each field is checked by the schedule code itself
    (``schedules.windows``), so the config and the API accept exactly the same windows."""

    on: str
    """When it switches on: HH:MM, sunrise/sunset/dawn/dusk with an offset (sunset+5m), earliest(a,
    b) or latest(a, b)."""
    off: str
    """When it switches off: the first such time after on."""
    level: int = Field(default=100, ge=0, le=100)
    """Level while the window lasts, 0 to 100."""
    days: list[int | str] | None = None
    """Weekdays it applies to (0 = Monday, or "mon".."sun"); absent: every day."""
    calendar: str | None = None
    """Only on the days of this calendar."""

    @field_validator("on", "off")
    @classmethod
    def _expression(cls, value: str) -> str:
        try:
            parse_time_expression(value)
        except ScheduleError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("off")
    @classmethod
    def _has_length(cls, value: str, info: ValidationInfo) -> str:
        on = info.data.get("on")
        if on is not None and parse_time_expression(on) == parse_time_expression(value):
            raise ValueError(f"{value} is the same as on; a window needs a length")
        return value

    @field_validator("days")
    @classmethod
    def _weekdays(cls, value: list[int | str] | None) -> list[int | str] | None:
        if value is not None:
            try:
                Window.parse("00:00", "01:00", days=value)
            except ScheduleError as exc:
                raise ValueError(str(exc).removeprefix("days: ")) from None
        return value


class LightingProgramConfig(_Frozen):
    id: Identifier
    """Id of the programme, named by circuits."""
    name: str = ""
    """Its name as people say it."""
    windows: list[WindowConfig]
    """Its windows; where they overlap the highest level wins; [] is always off."""


class CalendarConfig(_Frozen):
    id: Identifier
    """Id of the calendar, named by windows."""
    name: str = ""
    """Its name as people say it."""
    dates: list[str] = []
    """Dates: "MM-DD" every year, "lunar:MM-DD" in the lunar calendar, or "YYYY-MM-DD"."""
    ranges: list[tuple[str, str]] = []
    """Date ranges, both ends included: [["2027-02-05", "2027-02-10"]]."""
    public_holidays: str | None = None
    """Add a country's public holidays, e.g. "VN" (Tết included)."""

    @model_validator(mode="after")
    def _understood(self) -> CalendarConfig:
        try:
            self._calendar(self.dates, self.ranges, self.public_holidays)
        except ScheduleError as exc:
            culprit = self._culprit()
            message = str(exc).removeprefix(f"calendar {self.id!r}: ")
            if culprit:
                message = message.removeprefix(f"{culprit[0]}: ")
            raise FieldProblem(culprit, message) from None
        return self

    def _calendar(self, dates: list[str], ranges: list[tuple[str, str]],
                  public_holidays: str | None) -> Calendar:
        return Calendar(id=self.id, dates=tuple(dates),
                        ranges=tuple((start, end) for start, end in ranges),
                        public_holidays=public_holidays)

    def _culprit(self) -> tuple[str | int, ...]:
        """The entry to blame: the schedule code names the value, not its place, so each
        entry is tried alone (only once the whole calendar failed)."""
        pieces: list[tuple[tuple[str | int, ...], tuple[Any, Any, Any]]] = [
            *((("dates", i), ([d], [], None)) for i, d in enumerate(self.dates)),
            *((("ranges", i), ([], [r], None)) for i, r in enumerate(self.ranges)),
            (("public_holidays",), ([], [], self.public_holidays)),
        ]
        for parts, piece in pieces:
            try:
                self._calendar(*piece)
            except ScheduleError:
                return parts
        return ()


class AmplifierConfig(_Frozen):
    id: Identifier
    """Id of the amplifier, named by zones."""
    device: str
    """The relay board that powers it."""
    channel: int = Field(ge=0)
    """The relay channel."""
    warmup_s: float = Field(default=3.0, ge=0, le=60)
    """How long before the first sample it is switched on."""


class ZoneConfig(_Frozen):
    id: Identifier
    """Id of the loudspeaker zone (a village's line, or IP/4G speaker nodes)."""
    name: str = ""
    """Its name as people say it, e.g. "Thôn Minh Đức"."""
    device: str | None = None
    """Wired zone: the relay board that switches its line."""
    channel: int | None = Field(default=None, ge=0)
    """Wired zone: the relay channel."""
    amplifier: str | None = None
    """The amplifier that feeds it."""
    nodes: list[str] = []
    """IP/4G loudspeaker nodes that play for it (by their MQTT node id)."""

    @model_validator(mode="after")
    def _wired_somehow(self) -> ZoneConfig:
        if (self.device is None) != (self.channel is None):
            raise ValueError("a wired zone needs both device and channel")
        if self.device is None and not self.nodes:
            raise ValueError("give device and channel, or nodes")
        return self


def _quiet_hours(value: object) -> QuietHours | None:
    if isinstance(value, QuietHours) or value is None:
        return value
    if not isinstance(value, str):
        raise ValueError('expected "HH:MM-HH:MM" as a string')
    try:
        return QuietHours.parse(value)
    except ScheduleError as exc:
        raise ValueError(str(exc).removeprefix("quiet_hours: ")) from None


# Parsed once here; the radio coordinator receives the QuietHours value itself.
QuietHoursSetting = Annotated[
    QuietHours | None,
    PlainValidator(_quiet_hours),
    PlainSerializer(lambda q: str(q) if q else None, return_type=str | None),
]


class TalkButtonConfig(_Frozen):
    """A push-to-talk button wired to a relay board's digital input: while it is held, the
    gateway's microphone airs live in its zones."""

    device: str
    """The relay board whose digital input the button is wired to."""
    input: int = Field(ge=0)
    """The input (from 0); not one of the board's alarm inputs."""
    zones: list[str] | Literal["all"] = "all"
    """Zone ids, or "all"."""
    level: Literal["normal", "priority", "emergency"] = "normal"
    """"emergency" cuts into whatever plays; "normal" and "priority" are refused while
    anything is on air (press again once it is free)."""
    poll_ms: int = Field(default=200, ge=50, le=2000)
    """How often the input is read (each read is one short Modbus request on the bus)."""
    pressed_reads: Literal["closed", "open"] = "closed"
    """Which state of the input means held: "open" for a normally-closed button."""


class BroadcastConfig(_Frozen):
    output: str = "default"
    """Where audio goes: an ALSA device ("default", "hw:1,0"), "file:DIR" (one WAV per aired item)
    or "null"."""
    quiet_hours: QuietHoursSetting = QuietHours(time(22, 0), time(5, 0))
    """"HH:MM-HH:MM": nothing but emergencies sounds then; empty: no quiet hours."""
    tts_voice: str = "vi"
    """espeak-ng voice for text read out."""
    require_approval: bool = False
    """An operator's announcement waits for a technician's or admin's approval."""
    grace_min: int = Field(default=10, ge=0)
    """An item due while the controller was down may still play this late; later it is missed."""
    max_upload_mb: int = Field(default=50, gt=0)
    """Largest audio file accepted."""
    volume: float = Field(default=1.0, ge=0, le=2)
    """Software gain on every item (1.0: as recorded)."""
    chime: bool = True
    """A chime before announcements."""
    tts_words_per_minute: int = Field(default=140, ge=80, le=300)
    """Speaking rate of text read out."""
    stream_connect_timeout_s: float = Field(default=5.0, gt=0, le=60)
    """Relayed stations: how long to wait for the first bytes before the fallback file plays."""
    microphone: str = ""
    """A microphone on the gateway for live talks: its ALSA capture device ("default",
    "plughw:1,0"), read with arecord; empty: none."""
    microphone_max_min: int = Field(default=30, ge=1, le=240)
    """A talk from the gateway's microphone ends after this many minutes: nobody holds a
    microphone open that long, but a phone that lost its link or a stuck button might."""
    talk_button: TalkButtonConfig | None = None
    """A push-to-talk button for the gateway's microphone: { device, input, zones, level }."""

    @field_validator("output")
    @classmethod
    def _output(cls, value: str) -> str:
        if not value.strip():
            raise ValueError('give an ALSA device ("default", "hw:1,0"), "file:DIR" or "null"')
        if value.startswith("file:") and not value.removeprefix("file:").strip():
            raise ValueError('"file:" needs a folder, e.g. "file:/var/lib/communectl/air"')
        return value


class BroadcastProgramConfig(_Frozen):
    """A recurring broadcast; seeds storage like a lighting programme, then the API edits it."""

    id: Identifier
    """Id of the broadcast programme."""
    name: str = ""
    """Its title as people say it, e.g. "Bản tin sáng"."""
    schedule: dict[str, Any]
    """When it recurs: { times = ["06:00"], days = [...] }, an RFC 5545 rrule, or lunar_days."""
    zones: list[str] | Literal["all"] = "all"
    """Zone ids, or "all"."""
    level: Literal["normal", "priority", "emergency"] = "normal"
    """"normal", "priority" or "emergency"."""
    source: Source
    """What plays: { type = "tts", text }, { type = "audio", audio_id }, { type = "stream", url,
    duration_s }, or a playlist."""
    enabled: bool = True
    """false: kept, but not aired."""
    grace_min: int | None = Field(default=None, ge=0)
    """This programme's own grace time; absent: broadcast.grace_min."""

    @field_validator("schedule")
    @classmethod
    def _recurrence(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            Recurrence.parse(value)
        except ScheduleError as exc:
            # The schedule code gives the part it refused as data (("schedule", "times", 1)),
            # and its message begins with that path spelled out; the field path here already
            # ends in "schedule".
            if exc.parts[:1] == ("schedule",):
                spelled = "".join(f"[{p}]" if isinstance(p, int) else f".{p}"
                                  for p in exc.parts).lstrip(".")
                message = str(exc).removeprefix(f"{spelled}: ")
                raise FieldProblem(exc.parts[1:], message) from None
            raise ValueError(str(exc)) from None
        return value


HA_UNTIL_NEXT_SWITCH = "until_next_switch"
HA_OVERRIDE_MAX_MIN = 7 * 24 * 60  # as an override made through the API


class MqttConfig(_Frozen):
    url: str = "mqtt://127.0.0.1:1883"
    """The broker: mqtt://host:port, or mqtts://host:port for TLS."""
    prefix: str = "communectl"
    """First level of every topic."""
    accept_commands: bool = False
    """Take circuit and announcement commands from the broker."""
    ha_discovery: bool = False
    """Announce circuits to Home Assistant by MQTT discovery."""
    username: str | None = None
    """Broker user name."""
    password: str | None = None
    """Broker password."""
    ha_override: str | int = HA_UNTIL_NEXT_SWITCH
    """How long an on/off from Home Assistant holds: "until_next_switch" or a number of minutes
    (docs/mqtt.md)."""
    report_interval_min: float = Field(default=5, gt=0, le=1440)
    """How often the day's and month's reports for the province are checked and re-published
    (minutes; docs/mqtt.md)."""
    province_commands: Literal["any", "credential", "signed"] = "any"
    """Which commands (announce, circuit/+/set) are taken, with accept_commands: "any" that the
    broker delivers; "credential": the same, but the gateway must log in (username), for the
    broker's ACL (communectl fleet acl) to let only the province write them; "signed": only
    those signed with province_key_file (docs/mqtt.md)."""
    province_key_file: Path | None = None
    """File holding the province's shared key for "signed" commands (at least 16 bytes, e.g.
    from openssl rand -hex 32)."""
    command_window_s: float = Field(default=300, gt=0, le=86400)
    """How far a signed command's "ts" may be from the gateway's clock, either way (seconds)."""

    password_file: Path | None = None
    """A file holding the broker password (instead of password), readable by the service only."""
    ca_file: Path | None = None
    """With mqtts://: the CA certificate (PEM) that signed the broker's; absent: the system's
    CAs."""
    cert_file: Path | None = None
    """With mqtts://: this gateway's client certificate (PEM), when the broker asks for one."""
    key_file: Path | None = None
    """The private key of cert_file (PEM), unless cert_file holds it."""

    @model_validator(mode="after")
    def _credentials(self) -> MqttConfig:
        if self.password is not None and self.password_file is not None:
            raise FieldProblem(("password_file",), "give password or password_file, not both")
        if self.password_file is not None:
            try:
                self.password_file.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise FieldProblem(("password_file",), f"{self.password_file}: "
                                   f"{getattr(exc, 'strerror', None) or exc}") from None
        tls = {"ca_file": self.ca_file, "cert_file": self.cert_file, "key_file": self.key_file}
        for name, path in tls.items():
            if path is not None and not self.url.startswith("mqtts://"):
                raise FieldProblem((name,), 'needs a TLS url ("mqtts://host:port")')
        if self.key_file is not None and self.cert_file is None:
            raise FieldProblem(("key_file",), "is the key of cert_file, which is not given")
        try:
            context = ssl.create_default_context(
                cafile=None if self.ca_file is None else str(self.ca_file))
        except (OSError, ssl.SSLError) as exc:
            raise FieldProblem(("ca_file",), f"{self.ca_file}: not a CA certificate "
                               f"({getattr(exc, 'strerror', None) or exc})") from None
        if self.cert_file is not None:
            try:
                context.load_cert_chain(self.cert_file, self.key_file)
            except (OSError, ssl.SSLError) as exc:
                raise FieldProblem(("cert_file",), f"{self.cert_file}: not a certificate "
                                   f"with its key ({getattr(exc, 'strerror', None) or exc})"
                                   ) from None
        return self

    def broker_password(self) -> str | None:
        """password, or the first line of password_file."""
        if self.password_file is None:
            return self.password
        lines = self.password_file.read_text(encoding="utf-8").splitlines()
        return lines[0].strip() if lines else ""

    @model_validator(mode="after")
    def _province(self) -> MqttConfig:
        if self.province_commands == "signed":
            if self.province_key_file is None:
                raise FieldProblem(("province_key_file",),
                                   'required with province_commands = "signed"')
            try:
                read_key(self.province_key_file)
            except ValueError as exc:
                raise FieldProblem(("province_key_file",), str(exc)) from None
        if self.province_commands == "credential" and not self.username:
            raise FieldProblem(("username",), 'required with province_commands = "credential": '
                               "the broker's ACL needs to know who the gateway is")
        return self

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


NotifyChannel = Literal["sms", "email", "webhook"]
NotifySeverity = Literal["info", "warning", "alarm"]  # controller.platform.alarms.SEVERITIES
_PHONE = re.compile(r"^\+?[0-9]{6,15}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_URL = re.compile(r"^https?://[^/\s]+(/\S*)?$")


class RecipientConfig(_Frozen):
    id: Identifier
    """Short id of the recipient (lower case, digits, - and _), named by `communectl notify
    test --recipient`."""
    name: str = ""
    """Who it is, e.g. "Anh Tuấn (kỹ thuật)"."""
    channel: NotifyChannel
    """How they are reached: "sms" (needs [notify.sms]), "email" (needs [notify.email]) or
    "webhook"."""
    address: str
    """A phone number ("+84912345678"), an e-mail address, or the webhook's http(s) URL."""
    secret: str | None = None
    """Webhook only: the HMAC-SHA256 key of the X-Communectl-Signature header."""
    severities: list[NotifySeverity] = ["alarm"]
    """Which severities they are told of: "alarm", "warning", "info"."""
    kinds: list[str] | Literal["all"] = "all"
    """Which kinds of incident (docs/notifications.md lists them), or "all"."""
    quiet_hours: QuietHoursSetting = None
    """"HH:MM-HH:MM" local time: what is not an alarm waits until they end; empty: none."""
    digest: bool = False
    """One message a day at notify.digest_at summarising the last 24 hours, instead of one per
    incident."""

    @model_validator(mode="after")
    def _address_fits(self) -> RecipientConfig:
        pattern, what = {"sms": (_PHONE, 'a phone number such as "+84912345678"'),
                         "email": (_EMAIL, "an e-mail address"),
                         "webhook": (_URL, "an http:// or https:// URL")}[self.channel]
        if not pattern.fullmatch(self.address):
            raise FieldProblem(("address",), f"expected {what} for channel "
                                             f"{self.channel!r}, got {self.address!r}")
        if self.secret is not None and self.channel != "webhook":
            raise FieldProblem(("secret",), "only a webhook takes a secret")
        if not self.severities:
            raise FieldProblem(("severities",), "give at least one severity")
        return self


def _digest_at(value: object) -> time:
    if isinstance(value, time):
        return value
    if not isinstance(value, str) or not re.fullmatch(r"\d{2}:\d{2}", value):
        raise ValueError(f'expected "HH:MM", got {value!r}')
    try:
        return time.fromisoformat(value)
    except ValueError:
        raise ValueError(f'expected "HH:MM", got {value!r}') from None


LocalTime = Annotated[time, PlainValidator(_digest_at),
                      PlainSerializer(lambda t: f"{t:%H:%M}", return_type=str)]


def recipient_problems(recipients: Sequence[RecipientConfig], *, sms: bool,
                       email: bool) -> list[tuple[tuple[str | int, ...], str]]:
    """What is wrong between recipients and the channels set up: (parts, message) each."""
    problems: list[tuple[tuple[str | int, ...], str]] = []
    seen: set[str] = set()
    for index, recipient in enumerate(recipients):
        if recipient.id in seen:
            problems.append(((index, "id"), f"duplicate id {recipient.id!r}"))
        seen.add(recipient.id)
        if recipient.channel == "sms" and not sms:
            problems.append(((index, "channel"), "sms needs [notify.sms] (the modem's port)"))
        if recipient.channel == "email" and not email:
            problems.append(((index, "channel"), "email needs [notify.email] (the server)"))
    return problems


class NotifyConfig(_Frozen):
    enabled: bool = True
    """Send notifications; false: none is sent by itself (a test still is)."""
    sms: SmsConfig | None = None
    """The GSM modem ([notify.sms]); docs/notifications.md, "Channels"."""
    email: EmailConfig | None = None
    """The mail server ([notify.email])."""
    webhook: WebhookDefaults = WebhookDefaults()
    """Settings of every webhook ([notify.webhook])."""
    burst_s: float = Field(default=60.0, ge=0, le=3600)
    """Incidents to one recipient within this many seconds of the first go as one message."""
    digest_at: LocalTime = time(7, 0)
    """Local "HH:MM" at which recipients with digest = true get the day's summary."""
    recipients: list[RecipientConfig] = []
    """Who is told ([[notify.recipients]]); an admin's edit in the page replaces this list
    (it is then kept in storage)."""

    @model_validator(mode="after")
    def _recipients_fit(self) -> NotifyConfig:
        problems = recipient_problems(self.recipients, sms=self.sms is not None,
                                      email=self.email is not None)
        if problems:
            parts, message = problems[0]
            raise FieldProblem(("recipients", *parts), message)
        return self


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
    notify: NotifyConfig = NotifyConfig()

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
    """--config, else $COMMUNECTL_CONFIG, else the system path (docs/configuration.md)."""
    return Path(explicit or os.environ.get("COMMUNECTL_CONFIG") or DEFAULT_CONFIG_PATH)


def load_config(path: Path) -> Config:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError([f"(file): cannot read: {exc.strerror}"], str(path)) from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        problem = (f"(file): not UTF-8 text: byte 0x{data[exc.start]:02x} on line {line} "
                   "(save the file as UTF-8)")
        raise ConfigError([problem], str(path)) from None
    return parse_config(text, source=str(path))


def parse_config(text: str, *, source: str = "<config>") -> Config:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"(file): not valid TOML: {exc}"], source) from None
    return validate_config(raw, source=source)


_TABLES: dict[str, type[BaseModel]] = {
    "site": SiteConfig, "storage": StorageConfig, "api": ApiConfig,
    "lighting": LightingSettings, "broadcast": BroadcastConfig, "mqtt": MqttConfig,
    "notify": NotifyConfig}
_LISTS: dict[str, type[BaseModel]] = {
    "buses": BusConfig, "devices": DeviceConfig, "circuits": CircuitConfig,
    "lighting_programs": LightingProgramConfig, "calendars": CalendarConfig,
    "amplifiers": AmplifierConfig, "zones": ZoneConfig,
    "broadcast_programs": BroadcastProgramConfig}


def validate_config(raw: dict[str, Any], *, source: str = "<config>") -> Config:
    """The one validator of an installation, used by every command (``check``, ``run`` and the
    rest): every problem at once, one ``dotted.path: message`` each, or the typed Config.

    Each table and each list entry is validated on its own, so one broken entry hides nothing
    else; the references between sections are then checked among the entries that are valid,
    counting the ids of broken entries as known (a circuit on a device whose unit is wrong is
    not also "on an unknown device")."""
    problems: list[str] = []
    typed: dict[str, Any] = {}
    broken_ids: dict[str, set[str]] = {section: set() for section in _LISTS}
    positions: dict[str, list[int]] = {}
    for key in raw:
        if key not in _TABLES and key not in _LISTS:
            known = ", ".join(sorted([*_TABLES, *_LISTS]))
            problems.append(f"{key}: unknown section (expected one of {known})")
    if "site" not in raw:
        problems.append("site: is required")
    for key, model in _TABLES.items():
        if key not in raw:
            continue
        if not isinstance(raw[key], dict):
            problems.append(f"{key}: expected a table ([{key}])")
            continue
        item, item_problems = _validate_entry(model, raw[key], key)
        problems += item_problems
        if item is not None:
            typed[key] = item
        else:  # the checks across sections do not judge its defaults
            broken_ids[key] = {key}
    for key, model in _LISTS.items():
        if key not in raw:
            continue
        entries = raw[key]
        if not isinstance(entries, list):
            problems.append(f"{key}: expected a list of tables ([[{key}]])")
            continue
        valid = []
        for index, entry in enumerate(entries):
            path = f"{key}[{index}]"
            if not isinstance(entry, dict):
                problems.append(f"{path}: expected a table")
                continue
            item, item_problems = _validate_entry(model, entry, path)
            problems += item_problems
            if item is not None:
                valid.append((index, item))
            elif isinstance(entry.get("id"), str):
                broken_ids[key].add(entry["id"])
        typed[key] = [item for _, item in valid]
        positions[key] = [index for index, _ in valid]
    # References are checked even when a table is broken (an invalid site says nothing about
    # the wiring), so the entries that are valid are assembled without validating them again.
    partial = Config.model_construct(**typed)
    problems += cross_check(partial, broken_ids=broken_ids, positions=positions)
    if problems:
        raise ConfigError(list(dict.fromkeys(problems)), source)
    return Config.model_validate(typed)


def _validate_entry(model: type[BaseModel], data: dict[str, Any],
                    path: str) -> tuple[Any, list[str]]:
    try:
        return model.model_validate(data), []
    except ValidationError as exc:
        return None, [f"{path}{'.' if p and not p.startswith('[') else ''}{p}: {m}"
                      for p, m in _pydantic_problems(exc)]


def _pydantic_problems(exc: ValidationError) -> list[tuple[str, str]]:
    problems = []
    for error in exc.errors():
        loc = [str(p) for p in error["loc"] if p != "[key]" and not str(p).startswith("function-")]
        # unions report one error per branch: the branch names are noise for a reader
        loc = [p for p in loc if p not in {"int", "str", "list[int]", "MqttConfig", "list[str]",
                                           "literal['all']"}]
        cause = error.get("ctx", {}).get("error")
        if isinstance(cause, FieldProblem):
            loc += [str(p) for p in cause.parts]
            message = cause.message
        else:
            message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "missing":
            message = "is required"
        elif error["type"] == "extra_forbidden":
            message = "unknown setting"
        problems.append((_dotted(loc), message))
    return list(dict.fromkeys(problems))


def _dotted(loc: list[str]) -> str:
    out = ""
    for part in loc:
        if not part:
            continue
        if part.startswith("["):
            out += part
        else:
            out += f"[{part}]" if part.isdigit() and out else (("." if out else "") + part)
    return out


def cross_check(config: Config, *,
                broken_ids: Mapping[str, set[str]] | None = None,
                positions: Mapping[str, Sequence[int]] | None = None) -> list[str]:
    """References between sections, unique ids, channels within a board. ``broken_ids`` are
    the ids of entries that failed their own validation: referring to them is not a second
    problem (their own lines already say what is wrong). ``positions`` gives, per section, the
    index in the file of each valid entry, so that paths name the entry as the file has it."""
    broken = {section: set(ids) for section, ids in (broken_ids or {}).items()}
    places = positions or {}

    def at(section: str, index: int) -> str:
        return f"{section}[{places[section][index] if section in places else index}]"

    problems: list[str] = []
    for section in ("buses", "devices", "circuits", "lighting_programs", "calendars",
                    "amplifiers", "zones", "broadcast_programs"):
        seen: set[str] = set()
        for index, item in enumerate(getattr(config, section)):
            if item.id in seen:
                problems.append(f"{at(section, index)}.id: duplicate id {item.id!r}")
            seen.add(item.id)

    buses = {b.id for b in config.buses} | broken.get("buses", set())
    devices = {d.id: d for d in config.devices}
    broken_devices = broken.get("devices", set())
    kinds: dict[str, tuple[str, int]] = {}
    for i, device in enumerate(config.devices):
        if device.bus not in buses:
            problems.append(f"{at('devices', i)}.bus: unknown bus {device.bus!r}")
        try:
            kinds[device.id] = profile_info(device.profile)
        except ValueError as exc:
            problems.append(f"{at('devices', i)}.profile: {exc}")
            continue
        if device.inputs and kinds[device.id][0] != "relay":
            problems.append(f"{at('devices', i)}.inputs: only relay boards have digital inputs")
    seen_units: dict[tuple[str, int], str] = {}
    for i, device in enumerate(config.devices):
        key = (device.bus, device.unit)
        if key in seen_units:
            problems.append(f"{at('devices', i)}.unit: unit {device.unit} on bus {device.bus!r} "
                            f"is already device {seen_units[key]!r}")
        seen_units[key] = device.id

    calendars = {c.id for c in config.calendars} | broken.get("calendars", set())
    programs = {p.id for p in config.lighting_programs} | broken.get("lighting_programs", set())
    for i, program in enumerate(config.lighting_programs):
        for j, window in enumerate(program.windows):
            if window.calendar and window.calendar not in calendars:
                problems.append(f"{at('lighting_programs', i)}.windows[{j}].calendar: "
                                f"unknown calendar {window.calendar!r}")

    used_channels: dict[tuple[str, int], str] = {}

    def claim(path: str, device_id: str, channel: int, owner: str, wanted: tuple[str, ...]) -> None:
        if device_id not in devices:
            if device_id not in broken_devices:
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
            claim(f"{at('circuits', i)}.device", circuit.device, channel, circuit.id,
                  ("relay", "dimmer"))
        if circuit.segments and kinds.get(circuit.device, ("",))[0] == "dimmer":
            problems.append(f"{at('circuits', i)}.segments: segments need a relay board, "
                            "a dimmer takes a level")
        if circuit.program and circuit.program not in programs:
            problems.append(f"{at('circuits', i)}.program: unknown lighting programme "
                            f"{circuit.program!r}")
        if circuit.meter is not None and circuit.meter not in broken_devices:
            if circuit.meter not in devices:
                problems.append(f"{at('circuits', i)}.meter: unknown device {circuit.meter!r}")
            elif kinds.get(circuit.meter, ("meter",))[0] != "meter":
                problems.append(
                    f"{at('circuits', i)}.meter: device {circuit.meter!r} is not a meter")
        if circuit.id in config.groups:
            problems.append(f"{at('circuits', i)}.id: {circuit.id!r} is also a group name")
    amplifiers = {a.id for a in config.amplifiers} | broken.get("amplifiers", set())
    for i, amp in enumerate(config.amplifiers):
        claim(f"{at('amplifiers', i)}.device", amp.device, amp.channel, amp.id, ("relay",))
    for i, zone in enumerate(config.zones):
        if zone.device is not None and zone.channel is not None:
            claim(f"{at('zones', i)}.device", zone.device, zone.channel, zone.id, ("relay",))
        if zone.amplifier and zone.amplifier not in amplifiers:
            problems.append(f"{at('zones', i)}.amplifier: unknown amplifier {zone.amplifier!r}")
    zones = {z.id for z in config.zones} | broken.get("zones", set())
    for i, broadcast in enumerate(config.broadcast_programs):
        for zone_id in [] if broadcast.zones == "all" else broadcast.zones:
            if zone_id not in zones:
                problems.append(f"{at('broadcast_programs', i)}.zones: unknown zone {zone_id!r}")
    node_zones = [z.id for z in config.zones if z.nodes]
    if node_zones and "api" not in broken and config.api.public_url is None \
            and config.api.host in WILDCARD_HOSTS:
        problems.append(
            f"api.public_url: the field nodes of {', '.join(node_zones)} fetch their audio "
            f"from the gateway at this address, and host {config.api.host!r} is none they can "
            f'reach: give the one they use, e.g. "http://192.168.1.10:{config.api.port or 8080}"')
    if config.broadcast.talk_button is not None:
        problems += _talk_button_problems(config, config.broadcast.talk_button, kinds, zones,
                                          broken_devices)
    return problems


def _talk_button_problems(config: Config, button: TalkButtonConfig,
                          kinds: Mapping[str, tuple[str, int]], zones: set[str],
                          broken_devices: set[str]) -> list[str]:
    path = "broadcast.talk_button"
    problems = []
    if not config.broadcast.microphone:
        problems.append(f"{path}: the button talks through the gateway's microphone: "
                        "set broadcast.microphone")
    devices = {d.id: d for d in config.devices}
    device = devices.get(button.device)
    if device is None:
        if button.device not in broken_devices:
            problems.append(f"{path}.device: unknown device {button.device!r}")
    elif kinds.get(button.device, ("relay",))[0] != "relay":
        problems.append(f"{path}.device: device {button.device!r} is a "
                        f"{kinds[button.device][0]}; only relay boards have digital inputs")
    elif button.input in device.inputs:
        problems.append(f"{path}.input: input {button.input} of {button.device!r} is already "
                        f"the alarm {device.inputs[button.input]!r}")
    if not config.zones:
        problems.append(f"{path}.zones: there are no zones to talk in")
    for zone_id in [] if button.zones == "all" else button.zones:
        if zone_id not in zones:
            problems.append(f"{path}.zones: unknown zone {zone_id!r}")
    return problems


def missing_parts(config: Config) -> list[str]:
    """What this installation names that is not installed on this machine, one
    ``dotted.path: message`` each, saying what to install. ``check`` and ``run`` both refuse
    such a config (exit 2) rather than start a controller that fails later, or a service that
    systemd restarts forever."""
    problems = []
    if config.mqtt is not None and importlib.util.find_spec("aiomqtt") is None:
        problems.append("mqtt: needs the Python package aiomqtt "
                        "(pip install 'aiomqtt>=2.5,<3', or reinstall communectl)")
    for index, bus in enumerate(config.buses):
        if bus.kind == "rtu" and importlib.util.find_spec("serial") is None:
            problems.append(f"buses[{index}].kind: an rtu bus needs pyserial "
                            "(pip install 'pymodbus[serial]')")
            break
    if config.zones:
        programs = {"espeak-ng": ("broadcast.tts_voice", "speech needs espeak-ng",
                                  "apt-get install espeak-ng"),
                    "ffmpeg": ("broadcast", "audio files and relayed stations need ffmpeg",
                               "apt-get install ffmpeg"),
                    "ffprobe": ("broadcast", "audio uploads are checked with ffprobe",
                                "apt-get install ffmpeg")}
        output = config.broadcast.output
        if output != "null" and not output.startswith("file:"):
            programs["aplay"] = ("broadcast.output", f"the ALSA output {output!r} needs aplay",
                                 "apt-get install alsa-utils")
        for program, (path, why, install) in programs.items():
            if shutil.which(program) is None:
                problems.append(f"{path}: {why}, which is not installed ({install})")
    return problems


def load_installation(path: Path) -> Config:
    """The config that ``check`` and ``run`` accept: valid, and runnable on this machine."""
    config = load_config(path)
    require_installed(config, source=str(path))
    return config


def require_installed(config: Config, *, source: str) -> None:
    problems = missing_parts(config)
    if problems:
        raise ConfigError(problems, source)
