"""DeviceManager's board read-modify-write against a real Modbus server (the simulator over TCP):
two writers that share a board (the lighting and the radio, each on its own channels) never lose
each other's bits, and the write sends only what differs."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from controller.config import validate_config
from controller.platform.clock import SystemClock
from controller.platform.devices import DeviceManager
from drivers.profiles import RelayBoard
from drivers.simulator import SimulatedCabinet

UNIT, COILS = 3, 8
BOARD = "relay-3"
# Interleaved, so that each writer's FC15 frame spans the other's channels: a frame filled from
# stale knowledge of them would switch them back.
LIGHTS = (0, 2, 4, 6)
RADIO = (1, 3, 5, 7)


@pytest.fixture
async def board(tmp_path: Path) -> AsyncIterator[tuple[SimulatedCabinet, DeviceManager]]:
    cabinet = SimulatedCabinet()
    cabinet.add_relay_board(UNIT, coils=COILS)
    port = await cabinet.start_tcp()
    config = validate_config({
        "site": {"id": "t", "latitude": 19.87, "longitude": 105.71},
        "storage": {"path": str(tmp_path / "data")},
        "buses": [{"id": "cabinet", "kind": "tcp", "host": "127.0.0.1", "port": port,
                   "timeout_s": 2.0, "retries": 0}],
        "devices": [{"id": BOARD, "bus": "cabinet", "unit": UNIT, "profile": f"relay{COILS}"}],
    })
    devices = DeviceManager(config, SystemClock())
    try:
        yield cabinet, devices
    finally:
        await devices.close()
        await cabinet.stop()


async def test_two_concurrent_writers_never_lose_each_others_bits(
        board: tuple[SimulatedCabinet, DeviceManager]) -> None:
    cabinet, devices = board
    # A slow board: each write is still in flight when the other writer wants the board.
    cabinet.set_reply_delay(UNIT, 0.005)
    last: dict[int, bool] = {}
    rng = random.Random(11)

    async def writer(channels: tuple[int, ...], rounds: int) -> None:
        for _ in range(rounds):
            targets = {ch: rng.random() < 0.5 for ch in channels}
            await devices.write_channels(BOARD, targets)
            last.update(targets)
            # What this writer set holds on the board, whatever the other did meanwhile.
            board_now = cabinet.coils(UNIT)
            assert {ch: board_now[ch] for ch in channels} == targets
            await asyncio.sleep(0)

    await asyncio.gather(writer(LIGHTS, 40), writer(RADIO, 40))
    assert cabinet.coils(UNIT) == [last[ch] for ch in range(COILS)]
    assert devices.known[BOARD] == cabinet.coils(UNIT)


async def test_the_same_writers_without_the_lock_do_lose_bits(
        board: tuple[SimulatedCabinet, DeviceManager]) -> None:
    """The control: read, then write a frame filled from that read, without the device's lock,
    and the second writer's bit is switched back by the first writer's frame."""
    cabinet, devices = board
    driver = devices.drivers[BOARD]
    assert isinstance(driver, RelayBoard)
    both_read = asyncio.Barrier(2)
    radio_wrote = asyncio.Event()

    async def lights() -> None:
        known = await driver.read_channels()
        await both_read.wait()
        await radio_wrote.wait()
        await driver.write_channels({0: True, 2: True}, known=known)  # frame 0..2, ch1 stale

    async def radio() -> None:
        known = await driver.read_channels()
        await both_read.wait()
        await driver.write_channels({1: True}, known=known)
        radio_wrote.set()

    await asyncio.gather(lights(), radio())
    assert cabinet.coils(UNIT)[:3] == [True, False, True]  # the radio's channel 1 is lost


async def test_a_write_reads_an_unknown_board_first_and_sends_only_what_differs(
        board: tuple[SimulatedCabinet, DeviceManager]) -> None:
    cabinet, devices = board
    bus = devices.buses["cabinet"]
    first = await devices.write_channels(BOARD, {1: True, 5: True})
    assert first.before == [False] * COILS  # read from the board: nothing was known
    assert first.changes == {1: True, 5: True} and first.written_at is not None
    requests = bus.stats.requests
    told: list[dict[int, object]] = []
    again = await devices.write_channels(BOARD, {1: True, 5: True, 6: False},
                                         before_write=told.append)
    assert again.changes == {} and again.written_at is None and told == []
    assert bus.stats.requests == requests  # neither read nor written: known was enough
    third = await devices.write_channels(BOARD, {5: False}, before_write=told.append)
    assert third.changes == {5: False} and told == [{5: False}]
    assert cabinet.coils(UNIT) == [False, True] + [False] * 6
    assert devices.known[BOARD] == cabinet.coils(UNIT)


async def test_the_holder_of_a_board_writes_inside_its_hold_and_others_wait(
        board: tuple[SimulatedCabinet, DeviceManager]) -> None:
    cabinet, devices = board
    order: list[str] = []

    async def other() -> None:
        await devices.write_channels(BOARD, {7: True})
        order.append("other wrote")

    async def holder() -> asyncio.Task[None]:
        async with devices.holding(BOARD):
            # Re-entered by the task that holds it: this must not wait for itself.
            await devices.write_channels(BOARD, {0: True})
            waiting = asyncio.create_task(other())
            await asyncio.sleep(0.05)
            assert not waiting.done()  # another task waits for the hold to end
            order.append("holder done")
        return waiting

    waiting = await asyncio.wait_for(holder(), 5)  # a self-deadlock fails, not hangs
    await asyncio.wait_for(waiting, 5)
    assert order == ["holder done", "other wrote"]
    assert cabinet.coils(UNIT)[0] and cabinet.coils(UNIT)[7]
