"""The reports a gateway publishes for the province (docs/mqtt.md): a real controller (its
broadcast coordinator and MQTT bridge on a fake clock) airs an emergency announcement sent by
``fleet announce`` through a real mosquitto, then its retained day and month reports carry the
figures of the monthly report; the day that ends is published again, complete; nothing is
rebuilt while nothing changes."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from controller.config import parse_config
from controller.platform.clock import FakeClock
from controller.reports.monthly import Day, build_day_report
from controller.reports.sources import from_services
from controller.runtime import Runtime, build_runtime
from drivers.simulator import SimulatedCabinet
from firmware_bridge.bridge import connect
from firmware_bridge.fleet import fleet_announce
from tests.conftest import eventually, require_program
from tests.controller.conftest import ICT, radio_config_text

pytestmark = pytest.mark.integration
SITE = "radio-test"
START = datetime(2026, 11, 26, 9, 0, tzinfo=ICT)  # the 06:00 programme is long past
MQTT = """
[mqtt]
url = "mqtt://127.0.0.1:{broker}"
accept_commands = true
report_interval_min = 0.005
"""


class Gateway:
    def __init__(self, data: Path, cabinet: SimulatedCabinet, broker: int) -> None:
        self.clock = FakeClock(START)
        text = radio_config_text(data, cabinet.tcp_port) + MQTT.format(broker=broker)
        self.runtime: Runtime = build_runtime(parse_config(text), self.clock)
        self.tasks: list[asyncio.Task[None]] = []

    async def run_until(self, condition: Callable[[], bool], *, step_s: float = 0.25) -> None:
        started = time.monotonic()
        while not condition():
            assert time.monotonic() - started < 60, "not reached in real time"
            await self.clock.advance(step_s)
            await asyncio.sleep(0.003)


@pytest.fixture
async def gateway(tmp_path: Path, mosquitto: int,
                  radio_cabinet: SimulatedCabinet) -> AsyncIterator[Gateway]:
    require_program("espeak-ng")
    require_program("ffmpeg")
    gateway = Gateway(tmp_path / "data", radio_cabinet, mosquitto)
    runtime = gateway.runtime
    gateway.tasks = [asyncio.create_task(runtime.broadcasts.run()),
                     asyncio.create_task(runtime.bridge.run())]
    await eventually(lambda: runtime.bridge.stats.connected, "connected")
    yield gateway
    await runtime.bridge.stop()
    for task in gateway.tasks:
        task.cancel()
    await asyncio.gather(*gateway.tasks, return_exceptions=True)
    await runtime.devices.close()


async def retained(port: int, pattern: str, *, until: Callable[[dict[str, Any]], bool],
                   timeout_s: float = 10.0) -> dict[str, dict[str, Any]]:
    """Messages on ``pattern`` by topic, as mosquitto_sub would show them, until ``until`` is
    true of what was collected."""
    seen: dict[str, dict[str, Any]] = {}
    async with aiomqtt.Client("127.0.0.1", port) as client:
        await client.subscribe(pattern, qos=1)
        async with asyncio.timeout(timeout_s):
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                seen[str(message.topic)] = json.loads(message.payload)
                if until(seen):
                    return seen
    raise AssertionError("unreachable")


def day_topic(day: str) -> str:
    return f"communectl/{SITE}/report/day/{day}"


MONTH_TOPIC = f"communectl/{SITE}/report/month/2026-11"


async def test_reports_after_an_announcement_aired_and_when_the_day_ends(
        gateway: Gateway, mosquitto: int) -> None:
    runtime = gateway.runtime
    # At start-up: today, this month and yesterday, retained, nothing aired yet.
    first = await retained(mosquitto, f"communectl/{SITE}/report/#", until=lambda s: len(s) >= 3)
    assert set(first) == {day_topic("2026-11-26"), day_topic("2026-11-25"), MONTH_TOPIC}
    assert first[day_topic("2026-11-26")]["radio"]["bulletins_aired"] == 0

    results = await fleet_announce(
        lambda: connect(f"mqtt://127.0.0.1:{mosquitto}"), "communectl", [SITE],
        {"source": {"type": "tts", "text": "Khẩn cấp: bão số 9 sắp đổ bộ."},
         "level": "emergency", "zones": ["trung-tam"]}, timeout_s=5)
    assert results[0].outcome == "accepted"
    key = f"announcement:{results[0].announcement_id}#1"
    await gateway.run_until(lambda: any(r["key"] == key and r.get("outcome") == "completed"
                                        for r in runtime.broadcasts.airlog.query()))
    record = next(r for r in runtime.broadcasts.airlog.query() if r["key"] == key)
    minutes = round((datetime.fromisoformat(record["ended_at"])
                     - datetime.fromisoformat(record["started_at"])).total_seconds() / 60, 2)
    assert minutes > 0

    def aired(seen: dict[str, dict[str, Any]]) -> bool:
        return all(seen.get(t, {}).get("radio", {}).get("successful_plays") == 1
                   for t in (day_topic("2026-11-26"), MONTH_TOPIC))

    seen = await retained(mosquitto, f"communectl/{SITE}/report/+/+", until=aired)
    day = seen[day_topic("2026-11-26")]
    assert {k: day[k] for k in ("schema", "site", "period", "day", "first_day", "last_day",
                                "complete")} == {
        "schema": 1, "site": SITE, "period": "day", "day": "2026-11-26",
        "first_day": "2026-11-26", "last_day": "2026-11-26", "complete": False}
    radio = day["radio"]
    assert {k: radio[k] for k in ("clusters", "clusters_online", "bulletins_scheduled",
                                  "bulletins_aired", "successful_plays",
                                  "emergency_bulletins", "minutes_aired", "missed",
                                  "failed")} == {
        "clusters": 2, "clusters_online": 2, "bulletins_scheduled": 1, "bulletins_aired": 1,
        "successful_plays": 1, "emergency_bulletins": 1, "minutes_aired": minutes,
        "missed": 0, "failed": 0}
    month = seen[MONTH_TOPIC]
    assert (month["period"], month["month"], month["first_day"], month["last_day"]) == \
        ("month", "2026-11", "2026-11-01", "2026-11-30")
    assert month["radio"]["emergency_bulletins"] == 1
    assert month["lighting"] == {"days_recorded": 0, "on_hours": 0.0, "circuits": {},
                                 "energy_kwh": None, "meters": {}, "alarms": 0,
                                 "alarms_by_kind": {}}
    # The same figures as the report the API makes (no second implementation).
    inputs = await from_services(runtime.config, Day(START.date()), radio=runtime.radio_service,
                                 lighting=runtime.lighting_service, events=runtime.events)
    report = build_day_report(runtime.config, Day(START.date()), inputs, now=gateway.clock.now())
    assert radio["bulletins_scheduled"] == report.summary.bulletins_scheduled
    assert radio["minutes_aired"] == report.summary.play_time_min

    # Nothing changes as time goes on: checked again and re-published with a new as_of,
    # never rebuilt.
    feed = runtime.bridge._port.report_feed.__self__  # the ReportFeed behind the port
    builds = feed.builds
    again = await retained(mosquitto, MONTH_TOPIC, until=lambda s: True)
    await gateway.clock.advance(60)
    later = await retained(mosquitto, MONTH_TOPIC, until=lambda s: s[MONTH_TOPIC]["as_of"]
                           != again[MONTH_TOPIC]["as_of"])
    assert later[MONTH_TOPIC]["radio"] == again[MONTH_TOPIC]["radio"]
    assert feed.builds == builds

    # The day ends: the 26th again, complete, and the 27th begins.
    await gateway.clock.set(datetime(2026, 11, 27, 0, 0, 30, tzinfo=ICT))

    def turned(seen: dict[str, dict[str, Any]]) -> bool:
        return seen.get(day_topic("2026-11-26"), {}).get("complete") is True and \
            day_topic("2026-11-27") in seen

    seen = await retained(mosquitto, f"communectl/{SITE}/report/day/+", until=turned)
    assert seen[day_topic("2026-11-26")]["radio"]["successful_plays"] == 1
    assert seen[day_topic("2026-11-27")]["radio"]["bulletins_scheduled"] == 0
