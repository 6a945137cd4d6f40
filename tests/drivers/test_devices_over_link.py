"""Relay boards, meters and dimmers against the simulated cabinet, over TCP and over RTU."""

from __future__ import annotations

import pytest

from drivers.errors import DeviceProtocolError, DeviceUnavailable
from drivers.profiles import Dimmer, EnergyMeter, RelayBoard
from drivers.simulator import MAINS_V
from tests.drivers.cabinet_layout import (
    ABSENT_UNIT,
    BIG_RELAY_UNIT,
    DIMMER_UNIT,
    METER_UNIT,
    RELAY_UNIT,
    Link,
)

pytestmark = pytest.mark.integration

FC01, FC05, FC15, FC16 = 1, 5, 15, 16


def relay(link: Link) -> RelayBoard:
    return RelayBoard(link.bus, RELAY_UNIT, 8, inputs=2)


def meter(link: Link) -> EnergyMeter:
    return EnergyMeter(link.bus, METER_UNIT)


def dimmer(link: Link) -> Dimmer:
    return Dimmer(link.bus, DIMMER_UNIT, 4)


async def test_coils_written_one_by_one_read_back(link: Link) -> None:
    await link.bus.write_coil(RELAY_UNIT, 3, True)
    await link.bus.write_coil(RELAY_UNIT, 6, True)

    assert await relay(link).read_channels() == [False, False, False, True,
                                                 False, False, True, False]
    assert link.cabinet.coils(RELAY_UNIT) == [False, False, False, True, False, False, True, False]


async def test_write_channels_is_one_fc15_frame_spanning_the_changes(link: Link) -> None:
    known = [False, False, True, False, False, False, False, False]
    await link.bus.write_coils(RELAY_UNIT, 0, known)
    link.cabinet.frames_served.clear()

    await relay(link).write_channels({1: True, 5: True}, known=known)

    assert link.cabinet.frames_served == {FC15: 1}
    # Channel 2 lies inside the span and keeps its known state; 6 and 7 were not touched.
    assert link.cabinet.coils(RELAY_UNIT) == [False, True, True, False, False, True, False, False]


async def test_switching_sixteen_channels_costs_one_frame(link: Link) -> None:
    board = RelayBoard(link.bus, BIG_RELAY_UNIT, 16)
    link.cabinet.frames_served.clear()

    await board.write_channels(dict.fromkeys(range(16), True), known=[False] * 16)

    assert link.cabinet.frames_served == {FC15: 1}
    assert await board.read_channels() == [True] * 16


async def test_nothing_to_change_sends_nothing(link: Link) -> None:
    link.cabinet.frames_served.clear()

    await relay(link).write_channels({}, known=[False] * 8)

    assert link.cabinet.frames_served == {}


async def test_discrete_inputs_show_door_and_breaker(link: Link) -> None:
    link.cabinet.set_input(RELAY_UNIT, 1, True)

    assert await relay(link).read_inputs() == [False, True]


async def test_meter_follows_the_lamps(link: Link) -> None:
    await relay(link).write_channels({0: True, 1: True}, known=[False] * 8)

    reading = await meter(link).read()

    assert reading.voltage_v == pytest.approx(MAINS_V)
    assert reading.power_w == pytest.approx(250.0)
    assert reading.current_a == pytest.approx(250.0 / MAINS_V, rel=1e-6)


async def test_meter_counts_energy_while_lamps_burn(link: Link) -> None:
    await relay(link).write_channels({0: True}, known=[False] * 8)
    before = (await meter(link).read()).energy_kwh

    link.clock.advance(2 * 3600)

    assert (await meter(link).read()).energy_kwh - before == pytest.approx(0.3, rel=1e-5)


async def test_failed_lamp_draws_nothing_when_switched_on(link: Link) -> None:
    await relay(link).write_channels({0: True, 1: True}, known=[False] * 8)
    link.cabinet.fail_lamp(RELAY_UNIT, 0)

    reading = await meter(link).read()

    assert reading.power_w == pytest.approx(100.0)
    assert await relay(link).read_channels() == [True, True] + [False] * 6


async def test_leakage_shows_current_with_every_relay_off(link: Link) -> None:
    link.cabinet.set_leakage(METER_UNIT, 0.5)

    reading = await meter(link).read()

    assert reading.current_a == pytest.approx(0.5, rel=1e-6)
    assert await relay(link).read_channels() == [False] * 8


async def test_stuck_relay_reads_back_other_than_written(link: Link) -> None:
    link.cabinet.stick_relay(RELAY_UNIT, 2, False)

    await relay(link).write_channels({1: True, 2: True}, known=[False] * 8)

    assert await relay(link).read_channels() == [False, True] + [False] * 6


async def test_dimmer_levels_and_the_lamp_power_they_give(link: Link) -> None:
    await dimmer(link).write_levels({0: 50, 1: 75})

    assert await dimmer(link).read_levels() == [50, 75, 0, 0]
    assert (await meter(link).read()).power_w == pytest.approx(100.0)


async def test_dimmer_levels_across_a_gap_use_known_for_one_frame(link: Link) -> None:
    link.cabinet.frames_served.clear()

    await dimmer(link).write_levels({0: 10, 3: 40}, known=[0, 20, 30, 0])

    assert link.cabinet.frames_served == {FC16: 1}
    assert link.cabinet.levels(DIMMER_UNIT) == [10, 20, 30, 40]


async def test_dimmer_levels_across_a_gap_without_known_leave_the_gap_alone(link: Link) -> None:
    await dimmer(link).write_level(1, 20)
    link.cabinet.frames_served.clear()

    await dimmer(link).write_levels({0: 10, 3: 40})

    assert link.cabinet.frames_served == {FC16: 2}
    assert link.cabinet.levels(DIMMER_UNIT) == [10, 20, 0, 40]


async def test_exception_response_is_a_protocol_error_without_retry(link: Link) -> None:
    requests_before = link.bus.stats.requests

    with pytest.raises(DeviceProtocolError, match=r"cabinet-1/unit 1: .*ILLEGAL_ADDRESS"):
        await link.bus.read_coils(RELAY_UNIT, 100, 1)

    assert link.bus.stats.requests == requests_before + 1


async def test_value_the_device_refuses_is_a_protocol_error(link: Link) -> None:
    with pytest.raises(DeviceProtocolError, match="ILLEGAL_VALUE"):
        await link.bus.write_register(DIMMER_UNIT, 0, 150)


async def test_absent_unit_is_silent_and_the_line_still_serves_the_others(link: Link) -> None:
    with pytest.raises(DeviceUnavailable, match=r"cabinet-1/unit 9: no answer"):
        await link.bus.read_coils(ABSENT_UNIT, 0, 1)

    # On RTU a late or stray reply must not be taken for the next request's answer.
    await link.bus.write_coil(RELAY_UNIT, 4, True)
    assert (await relay(link).read_channels())[4] is True


async def test_stopped_cabinet_is_unavailable_and_the_same_bus_recovers(link: Link) -> None:
    await relay(link).write_channels({7: True}, known=[False] * 8)
    await link.cabinet.stop()

    with pytest.raises(DeviceUnavailable, match="cabinet-1/unit 1"):
        await relay(link).read_channels()

    await link.start()
    assert await relay(link).read_channels() == [False] * 7 + [True]


async def test_late_reply_on_rtu_is_not_taken_for_the_next_answer(rtu_link: Link) -> None:
    # RTU frames carry no transaction id: a reply that arrives after the timeout would answer
    # the next request with old data unless the bus lets the line go quiet first.
    board = relay(rtu_link)
    rtu_link.cabinet.set_reply_delay(RELAY_UNIT, 1.5 * rtu_link.bus.timeout_s)
    with pytest.raises(DeviceUnavailable):
        await board.read_inputs()

    rtu_link.cabinet.set_reply_delay(RELAY_UNIT, 0)
    rtu_link.cabinet.set_input(RELAY_UNIT, 0, True)

    assert await board.read_inputs() == [True, False]
