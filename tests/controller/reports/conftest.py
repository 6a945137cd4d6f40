"""A month of a commune's data, made through the controller's own parts on a fake clock:
November 2026 at "Xã Thử Nghiệm".

- Lighting: the real lighting coordinator reconciles a simulated relay board and energy meter
  over Modbus TCP. "road-5" follows 18:00-22:00 every evening (4 h a day, 120 h in the
  month); "road-6" follows no programme and is forced on by an override on 10 November from
  19:00 to 21:00 (2 h). The meter measures both (100 W and 50 W): 12.1 kWh in the month. The
  relay board stops answering on 15 November from 12:00 to 18:00 (a ``device_offline`` alarm
  of 6 hours), and a cabinet door alarm is raised on 20 November.
- Radio: the broadcast log is written through its own API (``AirLog``), as the coordinator
  writes it: the 06:00 bulletin every day (5 minutes; missed on the 5th, failed after a minute
  on the 6th), a priority announcement in both zones, an emergency that preempts a normal
  announcement, a cancelled one, and two items just outside the month.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from controller.config import parse_config
from controller.http.app import create_app
from controller.lighting.records import OverrideRequest, circuit_target
from controller.platform.audit import Actor
from controller.platform.clock import FakeClock
from controller.radio.airlog import AirLog
from controller.radio.items import AirItem
from controller.runtime import Runtime, build_runtime
from drivers.simulator import Lamp, SimulatedCabinet
from tests.controller.conftest import ICT

MONTH_START = datetime(2026, 11, 1, 0, 0, tzinfo=ICT)
REPORTED_AT = datetime(2026, 12, 2, 9, 0, tzinfo=ICT)
RELAY_UNIT, METER_UNIT = 1, 2

CONFIG = """
[site]
id = "report-test"
name = "Xã Thử Nghiệm"
latitude = 19.87
longitude = 105.71
timezone = "Asia/Ho_Chi_Minh"

[storage]
path = "{data}"

[lighting]
check_interval_s = 21600

[[buses]]
id = "cabinet-1"
kind = "tcp"
host = "127.0.0.1"
port = {port}
timeout_s = 0.3
retries = 0

[[devices]]
id = "relay-1"
bus = "cabinet-1"
unit = 1
profile = "relay8"

[[devices]]
id = "meter-1"
bus = "cabinet-1"
unit = 2
profile = "sdm120"

[[circuits]]
id = "road-5"
name = "Đường số 5"
device = "relay-1"
channel = 0
program = "evening"
meter = "meter-1"

[[circuits]]
id = "road-6"
name = "Đường số 6"
device = "relay-1"
channel = 1
meter = "meter-1"

[[lighting_programs]]
id = "evening"
windows = [{{ on = "18:00", off = "22:00" }}]

[[amplifiers]]
id = "amp-1"
device = "relay-1"
channel = 5

[[zones]]
id = "minh-duc"
name = "Thôn Minh Đức"
device = "relay-1"
channel = 6
amplifier = "amp-1"

[[zones]]
id = "trung-tam"
name = "Trung tâm xã"
device = "relay-1"
channel = 7
amplifier = "amp-1"

[broadcast]
output = "null"
"""


@dataclass
class Month:
    runtime: Runtime
    clock: FakeClock
    cabinet: SimulatedCabinet
    config_file: Path
    client: httpx.AsyncClient
    viewer: dict[str, str]


def air_item(key: str, due: datetime, *, title: str, level: str = "normal",
             zones: tuple[str, ...] = ("minh-duc",), kind: str = "announcement") -> AirItem:
    return AirItem(key=key, kind=kind, ref=key.split("@")[0], title=title, due=due,
                   level=level, zones=zones, source={"type": "tts", "text": title},
                   grace=timedelta(minutes=10))


def aired(log: AirLog, item: AirItem, minutes: float, outcome: str = "completed",
          reason: str | None = None) -> None:
    record = log.start(item, at=item.due)
    log.finish(record["id"], outcome, at=item.due + timedelta(minutes=minutes),
               started_at=item.due, reason=reason, due=item.due)


def write_air_log(log: AirLog) -> None:
    for day in range(1, 31):
        due = datetime(2026, 11, day, 6, 0, tzinfo=ICT)
        item = air_item(f"morning@{due.isoformat()}", due, title="Bản tin buổi sáng",
                        kind="program")
        if day == 5:
            log.record(item, "missed", at=due + timedelta(minutes=10),
                       reason="the controller was stopped")
        elif day == 6:
            aired(log, item, 1, "failed", reason="ffmpeg: decoding failed")
        else:
            aired(log, item, 5)
    both = ("minh-duc", "trung-tam")
    aired(log, air_item("ann-1#1", datetime(2026, 11, 12, 8, 0, tzinfo=ICT),
                        title="Lịch tiêm phòng", level="priority", zones=both), 3)
    aired(log, air_item("ann-2#1", datetime(2026, 11, 20, 13, 59, tzinfo=ICT),
                        title="Họp dân", zones=("trung-tam",)), 1, "preempted",
          reason="preempted by ann-3#1")
    aired(log, air_item("ann-3#1", datetime(2026, 11, 20, 14, 0, tzinfo=ICT),
                        title="=Bão số 9 đổ bộ", level="emergency", zones=both), 2.5)
    cancelled = air_item("ann-4#1", datetime(2026, 11, 25, 9, 0, tzinfo=ICT), title="Hủy")
    log.record(cancelled, "cancelled", at=cancelled.due - timedelta(hours=1),
               reason="cancelled by operator-token")
    # Outside the month: the last evening of October, the first morning of December.
    aired(log, air_item("ann-0#1", datetime(2026, 10, 31, 23, 50, tzinfo=ICT),
                        title="Tháng trước"), 4)
    aired(log, air_item("ann-5#1", datetime(2026, 12, 1, 6, 0, tzinfo=ICT),
                        title="Tháng sau"), 4)


async def pass_at(runtime: Runtime, clock: FakeClock, moment: datetime, *,
                  check: bool = True) -> None:
    """Move the fake clock (wall and monotonic) to ``moment`` and run one reconcile pass, as
    the coordinator's loop does at a switch (``check=False``) or a periodic check."""
    await clock.advance((moment - clock.now()).total_seconds())
    await runtime.lighting.reconcile(check=check)


async def run_lighting(runtime: Runtime, clock: FakeClock, cabinet: SimulatedCabinet) -> None:
    technician = Actor(name="tech", role="technician")
    await pass_at(runtime, clock, MONTH_START)
    for day in range(1, 31):
        # Switches at 18:00 and 22:00; the periodic checks (relays read back, the meter read)
        # in between.
        for hour in (6, 12, 18, 19, 21, 22, 23):
            moment = datetime(2026, 11, day, hour, 0, tzinfo=ICT)
            if day == 10 and hour == 19:
                await clock.advance((moment - clock.now()).total_seconds())
                await runtime.lighting_service.create_override(OverrideRequest(
                    target=circuit_target("road-6"), state="on", reason="hội chợ",
                    duration_min=120), technician)
            if day == 15 and hour == 12:
                cabinet.set_reply_delay(RELAY_UNIT, 1.0)  # the board stops answering
            if day == 15 and hour == 18:
                cabinet.set_reply_delay(RELAY_UNIT, 0)
            if day == 20 and hour == 12:
                runtime.alarms.raise_alarm("cabinet_door", "relay-1", "the door is open")
            await pass_at(runtime, clock, moment, check=hour not in (18, 22))
    await pass_at(runtime, clock, datetime(2026, 12, 1, 0, 0, tzinfo=ICT))


@pytest.fixture
async def month(tmp_path: Path) -> AsyncIterator[Month]:
    clock = FakeClock(MONTH_START - timedelta(minutes=1))
    cabinet = SimulatedCabinet(clock=clock.monotonic)
    cabinet.add_relay_board(RELAY_UNIT, coils=8)
    cabinet.add_meter(METER_UNIT, lamps=[Lamp(RELAY_UNIT, 0, 100.0), Lamp(RELAY_UNIT, 1, 50.0)])
    await cabinet.start_tcp("127.0.0.1", 0)
    text = CONFIG.format(data=tmp_path / "data", port=cabinet.tcp_port)
    config_file = tmp_path / "config.toml"
    config_file.write_text(text, encoding="utf-8")
    runtime = build_runtime(parse_config(text), clock)
    try:
        write_air_log(runtime.broadcasts.airlog)
        await run_lighting(runtime, clock, cabinet)
        await clock.advance((REPORTED_AT - clock.now()).total_seconds())
        secret, _ = runtime.tokens.create(name="viewer-token", role="viewer",
                                          expires_days=None, now=clock.now())
        transport = httpx.ASGITransport(app=create_app(runtime))
        async with httpx.AsyncClient(transport=transport,
                                     base_url="http://testserver/api/v1") as client:
            yield Month(runtime, clock, cabinet, config_file, client,
                        {"Authorization": f"Bearer {secret}"})
    finally:
        await runtime.devices.close()
        await cabinet.stop()
