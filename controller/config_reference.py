"""``docs/configuration.md``, made from the config models themselves, so that every setting the
validator accepts is documented with its type, default, limits and meaning, and nothing else is.

    python -m controller.config_reference > docs/configuration.md

A test compares the file with this output, so a setting added without its docstring, or a
changed default, cannot slip past the documentation.
"""

from __future__ import annotations

import sys
import types
import typing
from pathlib import Path
from typing import Any

from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from controller.config import (
    AmplifierConfig,
    ApiConfig,
    BroadcastConfig,
    BroadcastProgramConfig,
    BusConfig,
    CalendarConfig,
    CircuitConfig,
    DeviceConfig,
    LightingProgramConfig,
    LightingSettings,
    MqttConfig,
    NotifyConfig,
    RecipientConfig,
    SiteConfig,
    StorageConfig,
    TalkButtonConfig,
    WindowConfig,
    ZoneConfig,
)
from controller.notify.channel_config import EmailConfig, SmsConfig, WebhookDefaults
from schedules.broadcasts import QuietHours

# (TOML header, model, what the section is); the order of the file people write.
SECTIONS: list[tuple[str, type[BaseModel], str]] = [
    ("[site]", SiteConfig, "Where the commune is: its sun times and its local clock. Required."),
    ("[storage]", StorageConfig, ("Where the controller keeps what it learns and what people "
                                 "change while it runs.")),
    ("[api]", ApiConfig, "The HTTP API and the dashboard."),
    ("[lighting]", LightingSettings, "How the lighting coordinator checks what it switched."),
    ("[[buses]]", BusConfig, "One Modbus link each: TCP, or RTU over RS-485."),
    ("[[devices]]", DeviceConfig, ("One field device each: a relay board, an energy meter or a "
                                  "dimmer.")),
    ("[[circuits]]", CircuitConfig, "One switched lighting circuit each."),
    ("[[lighting_programs]]", LightingProgramConfig,
     "Seed storage the first time an id is seen; afterwards the API and the page edit them."),
    ("windows = [{ ... }]", WindowConfig, ("One window of a lighting programme; a window belongs "
                                          "to the day it starts on.")),
    ("[[calendars]]", CalendarConfig, "Days that windows can be limited to (holidays, Tết)."),
    ("[[amplifiers]]", AmplifierConfig, "Amplifiers powered by a relay, warmed up before audio."),
    ("[[zones]]", ZoneConfig, "One loudspeaker zone each: a wired line, or speaker nodes."),
    ("[broadcast]", BroadcastConfig, "The commune radio."),
    ("[broadcast.talk_button]", TalkButtonConfig,
     ("A push-to-talk button on a relay board's digital input for the gateway's microphone "
      "(broadcast.microphone): held, it airs live in its zones; released (two reads in a "
      "row), the talk ends. A button held at start-up, or still held after its talk ended "
      "(cut by an emergency, refused), waits for a release; a board that has not answered "
      "for 2 s ends the talk at its next failed read, and is then read less often, up to "
      "every 30 s.")),
    ("[[broadcast_programs]]", BroadcastProgramConfig,
     "Recurring broadcasts; they seed storage like lighting programmes."),
    ("[mqtt]", MqttConfig, ("The broker: field nodes, Home Assistant, the province. Absent: no "
                           "MQTT.")),
    ("[notify]", NotifyConfig, ("Alarms and notable events to people ([notifications.md]"
                               "(notifications.md)).")),
    ("[[notify.recipients]]", RecipientConfig,
     ("One person or system each. Once an admin saves the recipients in the page "
      "(PUT /api/v1/notify/recipients), the stored list is used and this one is not.")),
    ("[notify.sms]", SmsConfig, "The GSM/3G/4G modem that sends SMS."),
    ("[notify.email]", EmailConfig, "The SMTP server that sends e-mail."),
    ("[notify.webhook]", WebhookDefaults, "Settings of every webhook."),
]

INTRO = """\
# Configuration

The configuration file (TOML, UTF-8) describes the installation: the site, the wiring of relay
boards, meters, circuits, amplifiers and loudspeaker zones, and the connections. What people
change while the controller runs (programmes, calendars, announcements, overrides, accounts)
lives in storage and is edited through the API and the page; the programmes and calendars
written here only seed storage the first time their id is seen.

The file is found at `--config F`, else `$COMMUNECTL_CONFIG`, else
`/etc/communectl/config.toml`. `deploy/config.example.toml` is a commented starting point.

## How a file is checked

`communectl check` and `communectl run` use one validator and refuse exactly the same files:

- Every problem is reported at once, one line each, as `FILE: dotted.path: message`, e.g.
  `config.toml: circuits[2].device: unknown device 'relay-9'`; the exit status is 2 and nothing
  is started. Problems of the file as a whole have the path `(file)` (not readable, not UTF-8,
  not TOML).
- Each table and each list entry is checked on its own, so one broken entry hides nothing
  else. The references between sections (a circuit's device, a zone's amplifier, a window's
  calendar) are checked among the entries that are valid; an entry that is itself broken is
  not also reported as unknown where it is referred to.
- Time expressions, windows, calendars, quiet hours and broadcast schedules are checked by the
  same schedule code the controller runs, and handed to it already parsed. A window whose `off`
  is the same as its `on` is refused; a programme with `windows = []` is valid (always off).
- A setting whose part is not installed on this machine is refused the same way, naming what
  to install: `[mqtt]` needs the Python package aiomqtt, an `rtu` bus needs pyserial, loudspeaker
  zones need espeak-ng and ffmpeg, and an ALSA output needs aplay (alsa-utils).

## Settings

The tables below are made from the validator's own models (`controller/config.py`) by
`python -m controller.config_reference`.
"""


def render() -> str:
    parts = [INTRO]
    for header, model, what in SECTIONS:
        parts.append(f"\n### `{header}`\n\n{what}\n\n")
        parts.append("| setting | type | default | meaning |\n|---|---|---|---|\n")
        for name, field in model.model_fields.items():
            parts.append(f"| `{name}` | {_type(field)} | {_default(field)} | "
                         f"{_meaning(field)} |\n")
    return "".join(parts)


def _type(field: FieldInfo) -> str:
    text = _annotation(field.annotation)
    bounds = []
    for rule in field.metadata:
        for kind, attribute, sign in ((Ge, "ge", "≥"), (Gt, "gt", ">"), (Le, "le", "≤"),
                                      (Lt, "lt", "<")):
            if isinstance(rule, kind):
                bounds.append(f"{sign} {_number(getattr(rule, attribute))}")
    return text + (f" ({', '.join(bounds)})" if bounds else "")


def _annotation(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _annotation(args[0])
    if origin in (typing.Union, types.UnionType):
        return " or ".join(dict.fromkeys(_annotation(a) for a in args))
    if origin is typing.Literal:
        return " / ".join(f'"{a}"' if isinstance(a, str) else str(a) for a in args)
    if origin in (list, tuple):
        return "list"
    if origin is dict:
        return "table"
    if annotation is type(None):
        return "absent"
    names = {str: "text", int: "integer", float: "number", bool: "true/false", Path: "path",
             QuietHours: "text"}
    if annotation in names:
        return names[annotation]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "table"
    return getattr(annotation, "__name__", str(annotation)).replace("Config", "")


def _default(field: FieldInfo) -> str:
    if field.default is PydanticUndefined and field.default_factory is None:
        return "required"
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "absent"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, str | Path | QuietHours):
        return f'`"{value}"`' if str(value) else '`""`'
    if value in ([], {}):
        return "`[]`" if value == [] else "`{}`"
    return f"`{_number(value) if isinstance(value, int | float) else value}`"


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _meaning(field: FieldInfo) -> str:
    if not field.description:
        raise ValueError("a setting without its docstring in controller/config.py")
    return " ".join(field.description.split()).replace("|", "\\|")


if __name__ == "__main__":
    sys.stdout.write(render())
