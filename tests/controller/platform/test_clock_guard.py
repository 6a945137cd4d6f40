"""Clock safety on the injectable clock: an implausible boot time makes the lights fail safe
(on) and holds the radio to emergencies; setting the clock re-evaluates everything at once,
and nothing airs twice or out of its window."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from controller.config import parse_config
from controller.platform.clock import FakeClock
from controller.radio.records import Announcement, RadioBook
from controller.runtime import build_runtime
from drivers.simulator import SimulatedCabinet
from tests.controller.conftest import API_CONFIG, API_NOON, ICT, RELAY_UNIT

pytestmark = pytest.mark.integration

BOOT_TIME = datetime(2019, 12, 31, 23, 59, tzinfo=ICT)  # a Raspberry Pi without RTC


async def test_an_implausible_clock_lights_everything_until_it_is_set(
        tmp_path: Path, api_cabinet: SimulatedCabinet) -> None:
    clock = FakeClock(BOOT_TIME)
    config = parse_config(API_CONFIG.format(data=tmp_path / "data", port=api_cabinet.tcp_port))
    runtime = build_runtime(config, clock)
    assert runtime.guard is not None
    runtime.guard.check()
    await runtime.lighting.reconcile()
    assert api_cabinet.coils(RELAY_UNIT)[:2] == [True, True]  # fail safe: on
    assert runtime.lighting_service.circuits()[0].desired.source == "failsafe"
    assert runtime.alarms.is_open("clock_implausible", "clock")
    assert runtime.clock_synced() is False

    await clock.set(API_NOON)  # NTP steps the clock to an ordinary noon
    runtime.guard.check()
    await runtime.lighting.reconcile()
    assert api_cabinet.coils(RELAY_UNIT)[:2] == [False, False]  # the schedule again
    assert not runtime.alarms.is_open("clock_implausible", "clock")
    assert runtime.guard.steps == 1
    await runtime.devices.close()


async def test_the_radio_holds_all_but_emergencies_on_an_untrusted_clock(
        tmp_path: Path, api_cabinet: SimulatedCabinet) -> None:
    clock = FakeClock(BOOT_TIME)
    config = parse_config(API_CONFIG.format(data=tmp_path / "data", port=api_cabinet.tcp_port))
    runtime = build_runtime(config, clock)
    assert runtime.guard is not None
    runtime.guard.check()
    now = clock.now()
    # Stored as a record: this installation has no zones, which the service would refuse.
    RadioBook(runtime.store).put_announcement(Announcement(
        id="ann-1", at=now, zones=(), level="normal", status="scheduled",
        source={"type": "tts", "text": "Xin chào."}, created_at=now, created_by="test"))
    await runtime.broadcasts.step()
    assert runtime.broadcasts.current is None  # held, not aired at a wrong hour
    assert runtime.broadcasts.airlog.query() == []  # and not judged either
    await runtime.devices.close()


async def test_a_step_wakes_the_coordinators_and_an_unsynchronised_clock_is_reported(
        tmp_path: Path, api_cabinet: SimulatedCabinet) -> None:
    clock = FakeClock(API_NOON)
    config = parse_config(API_CONFIG.format(data=tmp_path / "data", port=api_cabinet.tcp_port))
    runtime = build_runtime(config, clock)
    guard = runtime.guard
    assert guard is not None
    woken: list[str] = []
    guard.on_step.append(lambda: woken.append("step"))
    guard._synchronised = lambda: False  # what adjtimex says on a gateway without NTP yet
    guard.check()
    await clock.advance(30)  # time passing is not a step
    guard.check()
    assert (woken, guard.trusted, runtime.clock_synced()) == ([], True, False)
    assert runtime.alarms.is_open("clock_unsynchronised", "clock")
    await clock.set(API_NOON + timedelta(hours=7))  # a person sets the clock
    guard.check()
    assert woken == ["step"]
    await runtime.devices.close()
