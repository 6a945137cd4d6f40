"""Lateness of scheduled transitions: due time to acknowledged relay write, for 64 circuits on
8 simulated relay boards (one Modbus TCP link on loopback), with the real coordinator on the
system clock.

Transitions come from overrides that expire at chosen instants: all 64 circuits at once (as at
sunset), and 64 staggered ones. The baseline, measured in the same run, is the floor any
transition pays: one FC15 write round trip to a board on the same link.
Goal (issue): p99 under 20 ms on loopback.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from controller.config import validate_config
from controller.platform.clock import SystemClock
from controller.runtime import build_runtime
from drivers.modbus import ModbusBus
from drivers.simulator import SimulatedCabinet

BOARDS, COILS = 8, 8
ROUNDS = 10


def config_for(port: int, data: Path) -> dict:
    return {
        "site": {"id": "bench", "latitude": 19.87, "longitude": 105.71},
        "storage": {"path": str(data)},
        "lighting": {"check_interval_s": 3600, "settle_s": 0},
        "buses": [{"id": "b", "kind": "tcp", "host": "127.0.0.1", "port": port}],
        "devices": [{"id": f"relay-{u}", "bus": "b", "unit": u, "profile": f"relay{COILS}"}
                    for u in range(1, BOARDS + 1)],
        "circuits": [{"id": f"c{u}-{ch}", "device": f"relay-{u}", "channel": ch,
                      "groups": [f"board-{u}"]}
                     for u in range(1, BOARDS + 1) for ch in range(COILS)],
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def write_floor(port: int) -> list[float]:
    samples = []
    async with ModbusBus("floor", kind="tcp", host="127.0.0.1", port=port) as bus:
        for i in range(200):
            started = time.perf_counter()
            await bus.write_coils(1, 0, [bool(i % 2)] * COILS)
            samples.append(time.perf_counter() - started)
    return samples


async def main() -> None:
    cabinet = SimulatedCabinet()
    for unit in range(1, BOARDS + 1):
        cabinet.add_relay_board(unit, coils=COILS)
    port = await cabinet.start_tcp("127.0.0.1", 0)
    floor = await write_floor(port)
    with tempfile.TemporaryDirectory() as data:
        config = validate_config(config_for(port, Path(data)))
        clock = SystemClock()
        runtime = build_runtime(config, clock)
        coordinator = asyncio.create_task(runtime.lighting.run())
        await asyncio.sleep(0.5)
        together, staggered = [], []
        for _ in range(ROUNDS):
            runtime.lighting.lateness_s.clear()
            now = clock.now()
            runtime.overrides.create(target="all", state="on", level=100,
                                     until=now + timedelta(milliseconds=300), reason="bench",
                                     created_by="bench", now=now)
            runtime.lighting.wake()
            await asyncio.sleep(0.6)
            together += list(runtime.lighting.lateness_s)[-len(config.circuits):]
        for _ in range(ROUNDS // 2):
            # Expiries 15 ms apart, starting well after the overrides are stored and applied;
            # only the expiries are measured.
            now = clock.now()
            first = now + timedelta(seconds=1.5)
            for i, circuit in enumerate(config.circuits):
                runtime.overrides.create(
                    target=f"circuit:{circuit.id}", state="on", level=100,
                    until=first + timedelta(milliseconds=15 * i), reason="bench",
                    created_by="bench", now=now)
            runtime.lighting.wake()
            await asyncio.sleep((first - clock.now()).total_seconds() - 0.2)
            runtime.lighting.lateness_s.clear()
            await asyncio.sleep(0.2 + 0.015 * len(config.circuits) + 0.3)
            staggered += list(runtime.lighting.lateness_s)
        coordinator.cancel()
        await asyncio.gather(coordinator, return_exceptions=True)
        await runtime.devices.close()
    await cabinet.stop()
    ms = 1000
    floor_p50 = statistics.median(floor) * ms
    print(f"baseline: one FC15 write round trip on loopback: p50 {floor_p50:.2f} ms, "
          f"p99 {percentile(floor, 0.99) * ms:.2f} ms")
    for name, samples in (("64 circuits at once", together), ("staggered", staggered)):
        p50, p99 = percentile(samples, 0.5) * ms, percentile(samples, 0.99) * ms
        print(f"{name}: {len(samples)} transitions, lateness p50 {p50:.2f} ms, "
              f"p99 {p99:.2f} ms, max {max(samples) * ms:.2f} ms "
              f"(p50 = {p50 / floor_p50:.1f}x the write floor)")
    worst = percentile(together + staggered, 0.99) * ms
    print(f"goal: p99 < 20 ms: {'met' if worst < 20 else 'NOT met'} (p99 {worst:.2f} ms)")


if __name__ == "__main__":
    asyncio.run(main())
