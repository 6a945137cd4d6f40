"""The one-screen summary that ``communectl check`` prints for a valid config."""

from __future__ import annotations

from datetime import UTC, datetime

from controller.config import Config
from controller.lighting.programs import site_of
from schedules.errors import NoSunEvent
from schedules.solar import sun_event


def summarise(config: Config, *, source: str, now: datetime | None = None) -> str:
    site = site_of(config)
    today = (now or datetime.now(UTC)).astimezone(site.tz).date()
    sun = []
    for event in ("sunrise", "sunset"):
        try:
            sun.append(f"{event} {sun_event(site, today, event).strftime('%H:%M')}")
        except NoSunEvent as exc:
            sun.append(f"no {event} ({exc.reason})")
    s = config.site
    lines = [
        f"config OK: {source}",
        (f"site      {s.id} — {s.name or s.id} ({s.latitude:.4f}, {s.longitude:.4f}, "
         f"{s.timezone}); today {today}: {', '.join(sun)}"),
        f"storage   {config.storage.path}",
        f"api       http://{config.api.host}:{config.api.port}/",
        f"buses     {len(config.buses)}: " + ", ".join(
            f"{b.id} ({b.kind} {b.host + ':' if b.host else ''}{b.port})" for b in config.buses),
        f"devices   {len(config.devices)}: " + ", ".join(
            f"{d.id} ({d.profile} @ {d.bus}/{d.unit})" for d in config.devices),
        f"circuits  {len(config.circuits)}: " + ", ".join(
            f"{c.id}→{c.program or 'no programme'}" for c in config.circuits),
        (f"programmes {len(config.lighting_programs)}, calendars {len(config.calendars)}, "
         f"groups {len(config.groups)}"),
        (f"radio     {len(config.zones)} zones, {len(config.amplifiers)} amplifiers, "
         f"{len(config.broadcast_programs)} broadcast programmes, "
         f"output {config.broadcast.output}" + _microphone(config)),
        f"mqtt      {config.mqtt.url if config.mqtt else 'off'}",
    ]
    return "\n".join(lines)


def _microphone(config: Config) -> str:
    broadcast = config.broadcast
    if not broadcast.microphone:
        return ""
    button = broadcast.talk_button
    return f", microphone {broadcast.microphone}" + (
        "" if button is None else
        f" with a talk button on {button.device} input {button.input} ({button.level})")
