"""The lighting coordinator against real Modbus servers (the simulator over TCP), on a clock the
test moves: start-up in the evening, transitions, overrides, a board that goes away and comes
back, and the alarms a cabinet can raise."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from controller.config import Config, parse_config
from controller.platform.clock import FakeClock
from controller.runtime import Runtime, build_runtime
from drivers.modbus import ModbusBus
from drivers.simulator import Lamp, SimulatedCabinet
from tests.conftest import eventually

ICT = ZoneInfo("Asia/Ho_Chi_Minh")
# An ordinary Tuesday (no holiday): at Thiệu Long sunset is about 17:15, sunrise about 06:15.
EVENING = datetime(2026, 11, 24, 20, 0, tzinfo=ICT)
NOON = datetime(2026, 11, 24, 12, 0, tzinfo=ICT)

CONFIG = """
[site]
id = "test-site"
latitude = 19.87
longitude = 105.71
timezone = "Asia/Ho_Chi_Minh"

[storage]
path = "{data}"

[lighting]
check_interval_s = 30
offline_retry_s = 5
settle_s = 0

[[buses]]
id = "north"
kind = "tcp"
host = "127.0.0.1"
port = {north}
timeout_s = 0.3
retries = 0

[[buses]]
id = "south"
kind = "tcp"
host = "127.0.0.1"
port = {south}
timeout_s = 0.3
retries = 0

[[devices]]
id = "relay-n"
bus = "north"
unit = 1
profile = "relay8"
inputs = {{ 0 = "cabinet-door" }}

[[devices]]
id = "meter-n"
bus = "north"
unit = 2
profile = "sdm120"

[[devices]]
id = "relay-s"
bus = "south"
unit = 1
profile = "relay8"

[[circuits]]
id = "road-5"
device = "relay-n"
channel = 0
groups = ["main-road"]
program = "part-night"
meter = "meter-n"

[[circuits]]
id = "qt-axis"
device = "relay-n"
segments = {{ a = 1, b = 2 }}
levels = {{ 100 = ["a", "b"], 50 = ["a"] }}
groups = ["main-road"]
program = "half-after-23"

[[circuits]]
id = "south-lane"
device = "relay-s"
channel = 5
program = "part-night"

[[lighting_programs]]
id = "part-night"
windows = [
  {{ on = "sunset+5m", off = "earliest(23:00, sunrise-10m)" }},
  {{ on = "04:30", off = "sunrise-10m" }},
]

[[lighting_programs]]
id = "half-after-23"
windows = [
  {{ on = "sunset+5m", off = "23:00", level = 100 }},
  {{ on = "23:00", off = "sunrise-10m", level = 50 }},
]
"""


class Site:
    """Two cabinets (two buses), a config pointing at them, and runtimes on a fake clock."""

    def __init__(self, data: Path, north: SimulatedCabinet, south: SimulatedCabinet,
                 ports: tuple[int, int]) -> None:
        self.data, self.north, self.south, self.ports = data, north, south, ports
        self.config: Config = parse_config(CONFIG.format(data=data, north=ports[0],
                                                         south=ports[1]))

    def runtime(self, at: datetime) -> Runtime:
        return build_runtime(self.config, FakeClock(at))


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    north, south = SimulatedCabinet(), SimulatedCabinet()
    north.add_relay_board(1, coils=8, inputs=8)
    north.add_meter(2, lamps=[Lamp(1, 0, 150.0) for _ in range(10)])
    south.add_relay_board(1, coils=8, inputs=8)
    ports = (await north.start_tcp("127.0.0.1", 0), await south.start_tcp("127.0.0.1", 0))
    yield Site(tmp_path / "data", north, south, ports)
    await north.stop()
    await south.stop()


async def test_started_in_the_evening_the_lights_go_on_at_once(site: Site) -> None:
    runtime = site.runtime(EVENING)
    await runtime.lighting.reconcile(check=True)
    assert site.north.coils(1)[:3] == [True, True, True]
    assert site.south.coils(1)[5] is True
    view = runtime.lighting_service.circuit("road-5")
    assert view.desired.source == "schedule"
    assert view.desired.rule.startswith("sunset+5m")
    assert view.actual.state == "on"
    await runtime.devices.close()


async def test_at_noon_nothing_is_on_and_the_source_is_the_default(site: Site) -> None:
    runtime = site.runtime(NOON)
    await runtime.lighting.reconcile(check=True)
    assert site.north.coils(1)[:3] == [False, False, False]
    view = runtime.lighting_service.circuit("road-5")
    assert (view.desired.state, view.desired.source) == ("off", "default")
    await runtime.devices.close()


async def test_half_the_lamps_after_23_and_part_night_off(site: Site) -> None:
    runtime = site.runtime(EVENING.replace(hour=23, minute=30))
    await runtime.lighting.reconcile(check=True)
    # road-5 off (part-night), qt-axis at 50 %: segment a (channel 1) only
    assert site.north.coils(1)[:3] == [False, True, False]
    view = runtime.lighting_service.circuit("qt-axis")
    assert (view.desired.level, view.actual.level) == (50, 50)
    await runtime.devices.close()


async def test_the_running_coordinator_switches_at_the_transition(site: Site) -> None:
    clock = FakeClock(EVENING.replace(hour=22, minute=59))
    runtime = build_runtime(site.config, clock)
    task = asyncio.create_task(runtime.lighting.run())
    await eventually(lambda: site.north.coils(1)[:3] == [True, True, True])
    await clock.advance(60)
    await eventually(lambda: site.north.coils(1)[:3] == [False, True, False])
    assert list(runtime.lighting.lateness_s)  # the transition was measured
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await runtime.devices.close()


async def test_override_wins_expires_and_survives_a_restart(site: Site) -> None:
    runtime = site.runtime(NOON)
    runtime.overrides.create(target="group:main-road", state="on", level=100,
                             until=NOON + timedelta(minutes=30), reason="maintenance",
                             created_by="test", now=NOON)
    await runtime.lighting.reconcile(check=True)
    assert site.north.coils(1)[:3] == [True, True, True]
    assert site.south.coils(1)[5] is False  # not in the group
    await runtime.devices.close()

    restarted = site.runtime(NOON + timedelta(minutes=10))  # same storage, new process
    await restarted.lighting.reconcile(check=True)
    view = restarted.lighting_service.circuit("road-5")
    assert view.desired.source == "override"
    assert site.north.coils(1)[:3] == [True, True, True]
    await restarted.devices.close()

    expired = site.runtime(NOON + timedelta(minutes=31))
    await expired.lighting.reconcile(check=True)
    assert site.north.coils(1)[:3] == [False, False, False]
    await expired.devices.close()


async def test_restart_in_the_middle_of_the_night_does_not_restore_a_stale_state(
        site: Site) -> None:
    # Before the power cut someone left every relay closed by hand.
    evening = site.runtime(EVENING)
    await evening.lighting.reconcile(check=True)
    await evening.devices.close()
    async with ModbusBus("by-hand", kind="tcp", host="127.0.0.1", port=site.ports[0]) as bus:
        await bus.write_coils(1, 0, [True] * 8)
    night = site.runtime(EVENING.replace(hour=23, minute=59) + timedelta(hours=2))  # 01:59
    await night.lighting.reconcile(check=True)
    # part-night is off at 02:00, qt-axis at half; channels no circuit owns are left alone
    assert site.north.coils(1) == [False, True, False, True, True, True, True, True]
    await night.devices.close()


async def test_a_dead_board_raises_an_alarm_and_is_rewritten_when_it_returns(
        site: Site) -> None:
    clock = FakeClock(NOON)
    runtime = build_runtime(site.config, clock)
    await runtime.lighting.reconcile(check=True)
    await site.south.stop()
    runtime.overrides.create(target="all", state="on", level=100,
                             until=NOON + timedelta(hours=2), reason="test",
                             created_by="test", now=NOON)
    await runtime.lighting.reconcile()
    # the north board keeps working while the south one is gone
    assert site.north.coils(1)[:3] == [True, True, True]
    assert runtime.alarms.is_open("device_offline", "relay-s")
    assert runtime.devices.health["relay-s"].online is False

    await site.south.start_tcp("127.0.0.1", site.ports[1])
    await clock.advance(runtime.config.lighting.offline_retry_s)
    await runtime.lighting.reconcile()
    assert site.south.coils(1)[5] is True
    assert not runtime.alarms.is_open("device_offline", "relay-s")
    kinds = [(e["kind"], "cleared_at" in e) for e in runtime.events.query()]
    assert ("device_offline", True) in kinds
    await runtime.devices.close()


async def test_lamp_failure_and_day_burner_from_the_meter(site: Site) -> None:
    runtime = site.runtime(EVENING)
    await runtime.lighting.reconcile(check=True)
    assert not runtime.alarms.is_open("lamp_failure", "road-5")
    site.north.fail_lamp(1, 0)
    await runtime.lighting.reconcile(check=True)
    assert runtime.alarms.is_open("lamp_failure", "road-5")
    await runtime.devices.close()

    day = site.runtime(NOON)
    site.north.stick_relay(1, 0, True)  # a welded contactor: lamps burn by day
    site.north.fail_lamp(1, 0, failed=False)
    await day.lighting.reconcile(check=True)
    assert day.alarms.is_open("day_burner", "road-5")
    assert day.alarms.is_open("relay_not_following", "road-5")
    assert not day.alarms.is_open("lamp_failure", "road-5")  # adopted, then cleared
    await day.devices.close()


async def test_a_mapped_input_raises_and_clears_its_alarm(site: Site) -> None:
    runtime = site.runtime(NOON)
    site.north.set_input(1, 0, True)
    await runtime.lighting.reconcile(check=True)
    assert runtime.alarms.is_open("cabinet-door", "relay-n")
    site.north.set_input(1, 0, False)
    await runtime.lighting.reconcile(check=True)
    assert not runtime.alarms.is_open("cabinet-door", "relay-n")
    await runtime.devices.close()


async def test_one_frame_per_board_for_a_transition(site: Site) -> None:
    runtime = site.runtime(NOON)
    await runtime.lighting.reconcile(check=True)
    writes_before = site.north.frames_served[15] + site.north.frames_served[5]
    runtime.overrides.create(target="all", state="on", level=100,
                             until=NOON + timedelta(hours=1), reason="t", created_by="t",
                             now=NOON)
    await runtime.lighting.reconcile()
    # road-5 and both segments of qt-axis change on relay-n: one FC15 frame, no FC05
    assert site.north.frames_served[15] + site.north.frames_served[5] - writes_before == 1
    await runtime.devices.close()


async def test_the_coordinator_over_an_rs485_line(socat_pty_pair: tuple[str, str],
                                                  tmp_path: Path) -> None:
    """The same reconcile over Modbus RTU: a serial pty pair stands in for the RS-485 line."""
    cabinet_end, gateway_end = socat_pty_pair
    cabinet = SimulatedCabinet()
    cabinet.add_relay_board(1, coils=8, inputs=8)
    await cabinet.start_rtu(cabinet_end, baudrate=19200)
    text = (CONFIG.replace('kind = "tcp"\nhost = "127.0.0.1"\nport = {north}',
                           f'kind = "rtu"\nport = "{gateway_end}"\nbaudrate = 19200')
            .replace("timeout_s = 0.3", "timeout_s = 0.5", 1))
    config = parse_config(text.format(data=tmp_path / "data", south=1))
    config = config.model_copy(update={
        "circuits": [c for c in config.circuits if c.id == "qt-axis"],
        "devices": [d for d in config.devices if d.id == "relay-n"]})
    runtime = build_runtime(config, FakeClock(EVENING.replace(hour=23, minute=30)))
    try:
        await runtime.lighting.reconcile(check=True)
        assert cabinet.coils(1)[:3] == [False, True, False]
        view = runtime.lighting_service.circuit("qt-axis")
        assert view.actual.level == 50
    finally:
        await runtime.devices.close()
        await cabinet.stop()


# -- relays changed behind the controller's back ---------------------------------------------

def drift_events(runtime: Runtime) -> list[dict[str, object]]:
    return [e for e in runtime.events.query() if e["kind"] == "relay_drift"]


def drift_counter(runtime: Runtime) -> dict[tuple[str, ...], float]:
    """``communectl_relay_drift_total`` as /metrics exposes it, by (device, circuit, reason)."""
    from prometheus_client import generate_latest
    from prometheus_client.parser import text_string_to_metric_families

    from controller.http.metrics import metrics_registry

    text = generate_latest(metrics_registry(runtime)).decode()
    return {(s.labels["device"], s.labels["circuit"], s.labels["reason"]): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples if s.name == "communectl_relay_drift_total"}


async def test_a_relay_switched_by_a_second_master_is_restored_and_recorded_once(
        site: Site) -> None:
    clock = FakeClock(EVENING)  # every circuit on
    runtime = build_runtime(site.config, clock)
    task = asyncio.create_task(runtime.lighting.run())
    try:
        await eventually(lambda: site.north.coils(1)[:3] == [True, True, True])
        async with ModbusBus("second-master", kind="tcp", host="127.0.0.1",
                             port=site.ports[0]) as bus:
            await bus.write_coil(1, 0, False)  # road-5 off, behind the controller's back
        assert site.north.coils(1)[0] is False
        assert drift_events(runtime) == []

        await clock.advance(runtime.config.lighting.check_interval_s)
        await eventually(lambda: site.north.coils(1)[0] is True)
        await eventually(lambda: len(drift_events(runtime)) == 1)
        (event,) = drift_events(runtime)
        assert (event["severity"], event["target"], event["device"], event["channel"],
                event["found"], event["expected"], event["restored"], event["reason"]) == \
            ("warning", "road-5", "relay-n", 0, "off", "on", "on", "changed_while_online")
        assert "relay-n channel 0" in str(event["message"])

        # Put right, it is one occurrence: the next checks find nothing more to say.
        reconciles = runtime.lighting.reconciles
        await clock.advance(runtime.config.lighting.check_interval_s)
        await eventually(lambda: runtime.lighting.reconciles > reconciles)
        await clock.advance(runtime.config.lighting.check_interval_s)
        await eventually(lambda: runtime.lighting.reconciles > reconciles + 1)
        assert len(drift_events(runtime)) == 1
        assert drift_counter(runtime) == {("relay-n", "road-5", "changed_while_online"): 1.0}
        assert not runtime.alarms.is_open("relay_not_following", "road-5")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await runtime.devices.close()


async def test_a_relay_that_does_not_follow_our_write_is_an_alarm_not_drift(site: Site) -> None:
    runtime = site.runtime(NOON)
    await runtime.lighting.reconcile(check=True)
    site.north.stick_relay(1, 0, False)  # a dead coil: it stays open whatever we write
    runtime.overrides.create(target="circuit:road-5", state="on", level=100,
                             until=NOON + timedelta(hours=1), reason="test",
                             created_by="test", now=NOON)
    await runtime.lighting.reconcile()
    for _ in range(3):
        await runtime.lighting.reconcile(check=True)
    assert runtime.alarms.is_open("relay_not_following", "road-5")
    assert drift_events(runtime) == []
    assert drift_counter(runtime) == {}
    await runtime.devices.close()


async def test_a_board_back_after_a_power_cut_is_its_own_reason(site: Site) -> None:
    clock = FakeClock(EVENING)
    runtime = build_runtime(site.config, clock)
    await runtime.lighting.reconcile(check=True)
    assert site.south.coils(1)[5] is True
    await site.south.stop()
    await runtime.lighting.reconcile(check=True)
    assert runtime.alarms.is_open("device_offline", "relay-s")

    # The board comes back from a power cut with every relay open.
    await site.south.start_tcp("127.0.0.1", site.ports[1])
    async with ModbusBus("power-on", kind="tcp", host="127.0.0.1", port=site.ports[1]) as bus:
        await bus.write_coils(1, 0, [False] * 8)
    await clock.advance(runtime.config.lighting.offline_retry_s)
    await runtime.lighting.reconcile()
    assert site.south.coils(1)[5] is True
    (event,) = drift_events(runtime)
    assert (event["device"], event["channel"], event["found"], event["restored"],
            event["reason"]) == ("relay-s", 5, "off", "on", "changed_while_offline")
    assert drift_counter(runtime) == {("relay-s", "south-lane", "changed_while_offline"): 1.0}
    await runtime.devices.close()
