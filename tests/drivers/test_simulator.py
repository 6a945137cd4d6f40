"""The simulated cabinet's own behaviour: what it serves, what it keeps, what it refuses."""

from __future__ import annotations

import pytest

from drivers.errors import DeviceUnavailable
from drivers.modbus import ModbusBus
from drivers.simulator import MAINS_V, Lamp, SimulatedCabinet
from tests.drivers.cabinet_layout import (
    ABSENT_UNIT,
    DIMMER_UNIT,
    METER_UNIT,
    RELAY_UNIT,
    FakeMonotonic,
    Link,
)


@pytest.mark.integration
async def test_unit_it_does_not_serve_gets_no_answer_at_all(link: Link) -> None:
    # pymodbus 3.16 would answer exception 4 (DEVICE_FAILURE) for a unit it has no SimDevice
    # for; the cabinet drops the request, as an absent board on a real line would.
    with pytest.raises(DeviceUnavailable, match="no answer"):
        await link.bus.read_holding_registers(ABSENT_UNIT, 0, 1)

    assert link.cabinet.frames_served == {}


@pytest.mark.integration
async def test_state_survives_stop_and_start(tcp_link: Link) -> None:
    await tcp_link.bus.write_coils(RELAY_UNIT, 0, [True, False, True])
    await tcp_link.bus.write_register(DIMMER_UNIT, 2, 40)
    await tcp_link.cabinet.stop()
    await tcp_link.start()

    assert await tcp_link.bus.read_coils(RELAY_UNIT, 0, 3) == [True, False, True]
    assert await tcp_link.bus.read_holding_registers(DIMMER_UNIT, 0, 4) == [0, 0, 40, 0]


@pytest.mark.integration
async def test_frames_are_counted_per_function_code(tcp_link: Link) -> None:
    await tcp_link.bus.write_coil(RELAY_UNIT, 0, True)
    await tcp_link.bus.write_coils(RELAY_UNIT, 0, [True, True])
    await tcp_link.bus.read_coils(RELAY_UNIT, 0, 8)
    await tcp_link.bus.read_input_registers(METER_UNIT, 0, 2)

    assert tcp_link.cabinet.frames_served == {5: 1, 15: 1, 1: 1, 4: 1}


@pytest.mark.integration
async def test_two_cabinets_on_their_own_ports() -> None:
    first, second = SimulatedCabinet(), SimulatedCabinet()
    first.add_relay_board(RELAY_UNIT)
    second.add_relay_board(RELAY_UNIT)
    async with first, second:
        ports = [await first.start_tcp(), await second.start_tcp()]
        async with ModbusBus("b", kind="tcp", host="127.0.0.1", port=ports[1]) as bus:
            await bus.write_coil(RELAY_UNIT, 5, True)

    assert (first.coils(RELAY_UNIT)[5], second.coils(RELAY_UNIT)[5]) == (False, True)


def test_energy_is_power_times_time_across_changes() -> None:
    clock = FakeMonotonic()
    cabinet = SimulatedCabinet(clock=clock)
    cabinet.add_relay_board(RELAY_UNIT)
    cabinet.add_meter(METER_UNIT, lamps=[Lamp(RELAY_UNIT, 0, 100.0)])
    cabinet.set_leakage(METER_UNIT, 1.0)  # 230 W from the start

    clock.advance(3600)
    cabinet.stick_relay(RELAY_UNIT, 0, True)  # +100 W
    clock.advance(1800)

    reading = cabinet.meter_reading(METER_UNIT)
    assert reading.energy_kwh == pytest.approx(0.230 + 0.330 / 2)
    assert reading.current_a == pytest.approx(330.0 / MAINS_V)


def test_lamps_are_copied_so_faults_stay_in_their_cabinet() -> None:
    lamps = [Lamp(RELAY_UNIT, 0, 100.0)]
    cabinet = SimulatedCabinet()
    cabinet.add_relay_board(RELAY_UNIT)
    cabinet.add_meter(METER_UNIT, lamps=lamps)

    cabinet.fail_lamp(RELAY_UNIT, 0)

    assert lamps[0].failed is False


def test_meter_lamp_must_sit_on_an_existing_output() -> None:
    cabinet = SimulatedCabinet()
    cabinet.add_relay_board(RELAY_UNIT, coils=4)

    with pytest.raises(ValueError, match="no such output"):
        cabinet.add_meter(METER_UNIT, lamps=[Lamp(RELAY_UNIT, 4, 100.0)])


def test_a_unit_is_added_once() -> None:
    cabinet = SimulatedCabinet()
    cabinet.add_relay_board(RELAY_UNIT)

    with pytest.raises(ValueError, match="already"):
        cabinet.add_dimmer(RELAY_UNIT)


def test_failing_a_lamp_nobody_measures_is_a_mistake() -> None:
    cabinet = SimulatedCabinet()
    cabinet.add_relay_board(RELAY_UNIT)

    with pytest.raises(ValueError, match="no meter has a lamp"):
        cabinet.fail_lamp(RELAY_UNIT, 0)


async def test_an_empty_cabinet_does_not_start() -> None:
    with pytest.raises(ValueError, match="no devices"):
        await SimulatedCabinet().start_tcp()
