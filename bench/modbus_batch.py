"""Switching 64 street-light circuits (8 relay boards of 8 coils) on and off over Modbus.

Batched: one ``RelayBoard.write_channels`` (one FC15 frame) per board, boards in sequence on one
bus. Baseline, measured in the same run with the same bus and client: one ``write_coil`` (FC05)
per coil. Against the simulated cabinet served by pymodbus on TCP loopback; also the batched
case with one bus (one TCP connection) per board, switched concurrently. Then the wire time the
same switching costs on an RS-485 line at 9600 baud 8N1, computed from the frame sizes and the
3.5-character inter-frame gaps (drivers.rtu_timing).

Goal (issue): batched at least 6x faster than coil by coil.

    .venv/bin/python bench/modbus_batch.py [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

from drivers.modbus import ModbusBus
from drivers.profiles import RelayBoard
from drivers.rtu_timing import (
    SerialLine,
    write_multiple_coils_bytes,
    write_single_coil_bytes,
)
from drivers.simulator import SimulatedCabinet

BOARDS, COILS = 8, 8
UNITS = range(1, BOARDS + 1)
Switch = Callable[[bool], Awaitable[None]]


def new_bus(port: int) -> ModbusBus:
    return ModbusBus("bench", kind="tcp", host="127.0.0.1", port=port, timeout_s=1.0, retries=0)


def batched(bus: ModbusBus) -> Switch:
    boards = [RelayBoard(bus, unit, COILS) for unit in UNITS]

    async def switch(on: bool) -> None:
        for board in boards:
            await board.write_channels(dict.fromkeys(range(COILS), on), known=[not on] * COILS)

    return switch


def coil_by_coil(bus: ModbusBus) -> Switch:
    async def switch(on: bool) -> None:
        for unit in UNITS:
            for coil in range(COILS):
                await bus.write_coil(unit, coil, on)

    return switch


def batched_concurrently(buses: list[ModbusBus]) -> Switch:
    boards = [RelayBoard(bus, unit, COILS) for bus, unit in zip(buses, UNITS, strict=True)]

    async def switch(on: bool) -> None:
        await asyncio.gather(*(board.write_channels(dict.fromkeys(range(COILS), on),
                                                    known=[not on] * COILS) for board in boards))

    return switch


async def measure(cabinet: SimulatedCabinet, switch: Switch, rounds: int,
                  ) -> tuple[float, float, int]:
    """Median seconds per switch (all on, or all off), write frames per switch, coils left on."""
    await switch(False)  # connect, and start from a known state
    times_s: list[float] = []
    frames_before = cabinet.frames_served[5] + cabinet.frames_served[15]
    on_after_switching_on = 0
    for _round in range(rounds):
        for on in (True, False):
            started = time.perf_counter()
            await switch(on)
            times_s.append(time.perf_counter() - started)
            if on:
                on_after_switching_on = sum(sum(cabinet.coils(unit)) for unit in UNITS)
    frames = cabinet.frames_served[5] + cabinet.frames_served[15] - frames_before
    return statistics.median(times_s), frames / len(times_s), on_after_switching_on


def print_row(name: str, median_s: float, frames: float, on: int) -> None:
    print(f"  {name:<38} {median_s * 1000:7.2f} ms  {frames:3.0f} frames "
          f"({median_s / frames * 1e6:4.0f} us each)  {on}/{BOARDS * COILS} on after 'on'")


def print_wire_times() -> None:
    line = SerialLine(9600, 8, "N", 1)
    per_coil_s = BOARDS * COILS * line.transaction_s(*write_single_coil_bytes())
    per_board_s = BOARDS * line.transaction_s(*write_multiple_coils_bytes(COILS))
    print(f"RTU wire time at 9600 baud 8N1 (frames + 3.5-char gaps of "
          f"{line.inter_frame_gap_s * 1000:.2f} ms):")
    print(f"  coil by coil, {BOARDS * COILS} x FC05 {per_coil_s * 1000:31.1f} ms")
    print(f"  batched, {BOARDS} x FC15 {per_board_s * 1000:37.1f} ms")
    print(f"  ratio {per_coil_s / per_board_s:46.1f}x")


async def main(rounds: int) -> None:
    cabinet = SimulatedCabinet()
    for unit in UNITS:
        cabinet.add_relay_board(unit, coils=COILS)
    port = await cabinet.start_tcp()
    buses = [new_bus(port) for _ in UNITS]
    try:
        print(f"{BOARDS} boards x {COILS} coils, TCP loopback, pymodbus server, "
              f"median of {rounds} rounds of on + off:")
        baseline = await measure(cabinet, coil_by_coil(buses[0]), rounds)
        print_row("coil by coil (FC05), one bus", *baseline)
        batch = await measure(cabinet, batched(buses[0]), rounds)
        print_row("batched (FC15 per board), one bus", *batch)
        parallel = await measure(cabinet, batched_concurrently(buses), rounds)
        print_row("batched, one bus per board, concurrent", *parallel)
        print(f"  speed-up of batching on one bus {baseline[0] / batch[0]:21.1f}x (goal >= 6x)")
        print_wire_times()
    finally:
        for bus in buses:
            await bus.close()
        await cabinet.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    asyncio.run(main(parser.parse_args().rounds))
