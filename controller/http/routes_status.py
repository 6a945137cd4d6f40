"""At a glance: ``GET /health`` (no token: for load balancers and watchdogs) and
``GET /status`` (everything a technician's phone shows on its first screen)."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from fastapi import Request, Response

from controller.http.auth import Viewer
from controller.http.bodies import json_router
from controller.http.context import RuntimeDep
from controller.http.models import CountsPublic, HealthPublic, SitePublic, StatusPublic
from controller.http.views import (
    circuits_public,
    devices_public,
    event_public,
    plan_between,
    plan_entry_public,
)
from controller.lighting.programs import site_of
from controller.runtime import Runtime
from schedules.errors import NoSunEvent
from schedules.solar import sun_event

NEXT_EVENTS_HORIZON = timedelta(hours=24)
NEXT_EVENTS_SHOWN = 10

router = json_router(tags=["status"])


def clock_synced(runtime: Runtime) -> bool:
    """True until the runtime can tell (it gains a ``clock_synced`` check with NTP support)."""
    synced = getattr(runtime, "clock_synced", True)
    return bool(synced() if callable(synced) else synced)


def is_degraded(runtime: Runtime) -> bool:
    alarm_open = any(r.get("severity") == "alarm" for r in runtime.alarms.open_alarms())
    # One copy of the health records (each frozen), then iterate the copy: the dict belongs
    # to the coordinators' loop (docs/architecture.md).
    device_down = any(h.online is False for h in tuple(runtime.devices.health.values()))
    return alarm_open or device_down


@router.get("/health", summary="Liveness, without a token")
async def health(runtime: RuntimeDep) -> HealthPublic:
    return HealthPublic(status="degraded" if is_degraded(runtime) else "ok",
                        clock_synced=clock_synced(runtime), version=runtime.version)


# /status is what every phone polls. It is built at most once per this many seconds, and at
# once after a change made through storage (an override, a programme), on the air or in the
# alarms; what the lights do on their own shows within the second. Built fresh, it costs some
# milliseconds of CPU that the coordinators share. The public listener (controller.http.front)
# keeps a mirror of it and asks again with If-None-Match: a 304 costs a stat and a comparison.
STATUS_MAX_AGE_S = 1.0


@router.get("/status", summary="Site, circuits, devices, alarms and what happens next",
            response_model=StatusPublic)
async def status(runtime: RuntimeDep, caller: Viewer, request: Request) -> Response:
    on_air = runtime.radio_service.now_playing()
    key = (runtime.store.revision(), on_air.item.key if on_air else None,
           on_air.state if on_air else None, len(runtime.alarms.open_alarms()))
    mono = runtime.clock.monotonic()
    cached = runtime.status_cache
    if cached is None or cached[0] != key or mono - cached[1] > STATUS_MAX_AGE_S:
        body = build_status(runtime).model_dump_json().encode()
        etag = f'"{hashlib.blake2b(body, digest_size=12).hexdigest()}"'
        cached = (key, mono, body, etag)
        runtime.status_cache = cached
    headers = {"ETag": cached[3], "Cache-Control": "no-cache"}
    if request.headers.get("if-none-match") == cached[3]:
        return Response(status_code=304, headers=headers)
    return Response(cached[2], media_type="application/json", headers=headers)


def tonights_sun(runtime: Runtime, now: datetime) -> dict[str, datetime | None]:
    """Today's sunset and tomorrow's sunrise at the site (None where the sun does not)."""
    site = site_of(runtime.config)
    today = now.astimezone(site.tz).date()
    found: dict[str, datetime | None] = {}
    for name, day in (("sunset", today), ("sunrise", today + timedelta(days=1))):
        try:
            found[name] = sun_event(site, day, name)
        except NoSunEvent:
            found[name] = None
    return found


def build_status(runtime: Runtime) -> StatusPublic:
    now = runtime.clock.now()
    site = runtime.config.site
    circuits = circuits_public(runtime)
    devices = devices_public(runtime)
    alarms = [event_public(r) for r in runtime.alarms.open_alarms()]
    on_air, zones_on = runtime.radio_service.now_playing(), runtime.radio_service.zones_on()
    entries, _ = plan_between(runtime, start=now, end=now + NEXT_EVENTS_HORIZON)
    counts = CountsPublic(
        circuits=len(circuits),
        circuits_on=sum(c.desired.state == "on" for c in circuits),
        devices=len(devices),
        devices_online=sum(d.online is True for d in devices),
        devices_offline=sum(d.online is False for d in devices),
        alarms_open=len(alarms),
        overrides_active=len(runtime.lighting_service.overrides()),
    )
    return StatusPublic(
        site=SitePublic(id=site.id, name=site.name or site.id, timezone=site.timezone,
                        latitude=site.latitude, longitude=site.longitude,
                        local_time=now.astimezone(site_of(runtime.config).tz),
                        microphone=bool(runtime.config.broadcast.microphone),
                        **tonights_sun(runtime, now)),
        time=now,
        started_at=runtime.started_at,
        circuits=circuits,
        devices=devices,
        alarms=alarms,
        next_events=[plan_entry_public(e) for e in entries[:NEXT_EVENTS_SHOWN]],
        zones=[{"id": z.id, "name": z.name or z.id, "on": z.id in zones_on}
               for z in runtime.config.zones],
        nodes=runtime.nodes(),
        broadcast=None if on_air is None else on_air.as_json(),
        mqtt=runtime.bridge.stats.as_json() if runtime.bridge is not None else None,
        counts=counts,
    )
