"""Telemetry from 1,000 simulated field nodes at one message per second each, into a gateway
that also drives 64 circuits on 8 simulated relay boards: the gateway process's CPU share and
its lighting transition lateness, against the same gateway without the node traffic (the
baseline, measured in the same run). The nodes are simulated by a separate process, so its CPU
is not counted.
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api_load import staggered_lateness
from fleet_fanout import start_broker

from controller.config import validate_config
from controller.platform.clock import SystemClock
from controller.runtime import build_runtime
from drivers.simulator import SimulatedCabinet

NODES = 1000
LOAD_S = 12
BOARDS, COILS = 8, 8

GENERATOR = """
import asyncio, json, sys, time
import aiomqtt
port, nodes, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
async def client(first, count):
    async with aiomqtt.Client("127.0.0.1", port) as c:
        for n in range(first, first + count):
            await c.publish(f"communectl/bench/node/n{n:04d}/status", "online", qos=1, retain=True)
        start = time.monotonic()
        second = 0
        while time.monotonic() - start < seconds:
            for n in range(first, first + count):
                await c.publish(f"communectl/bench/node/n{n:04d}/telemetry",
                                json.dumps({"fw": "1.4.2", "rssi": -70 - n % 20, "uptime": second}))
            second += 1
            await asyncio.sleep(max(0.0, start + second - time.monotonic()))
async def main():
    per = nodes // 10
    await asyncio.gather(*(client(i * per, per) for i in range(10)))
asyncio.run(main())
"""


def config_for(port: int, broker: int, data: Path) -> dict:
    return {
        "site": {"id": "bench", "latitude": 19.87, "longitude": 105.71},
        "storage": {"path": str(data)},
        "lighting": {"check_interval_s": 3600, "settle_s": 0},
        "buses": [{"id": "b", "kind": "tcp", "host": "127.0.0.1", "port": port}],
        "devices": [{"id": f"relay-{u}", "bus": "b", "unit": u, "profile": f"relay{COILS}"}
                    for u in range(1, BOARDS + 1)],
        "circuits": [{"id": f"c{u}-{ch}", "device": f"relay-{u}", "channel": ch}
                     for u in range(1, BOARDS + 1) for ch in range(COILS)],
        "broadcast": {"output": "null"},
        "mqtt": {"url": f"mqtt://127.0.0.1:{broker}"},
    }


async def window(runtime: Any, rounds: int) -> tuple[float, list[float]]:
    cpu, wall = time.process_time(), time.monotonic()
    lateness = await staggered_lateness(runtime, rounds)
    return (time.process_time() - cpu) / (time.monotonic() - wall), lateness


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def main() -> None:
    if shutil.which("mosquitto") is None:
        sys.exit("mosquitto is not installed")
    cabinet = SimulatedCabinet()
    for unit in range(1, BOARDS + 1):
        cabinet.add_relay_board(unit, coils=COILS)
    port = await cabinet.start_tcp("127.0.0.1", 0)
    with tempfile.TemporaryDirectory() as workdir:
        broker, broker_port = start_broker(Path(workdir), nagle=False)
        await asyncio.sleep(0.3)
        runtime = build_runtime(validate_config(config_for(port, broker_port,
                                                           Path(workdir) / "data")),
                                SystemClock())
        tasks = [asyncio.create_task(runtime.lighting.run()),
                 asyncio.create_task(runtime.bridge.run())]
        while not runtime.bridge.stats.connected:
            await asyncio.sleep(0.05)
        quiet_cpu, quiet = await window(runtime, rounds=5)
        generator = await asyncio.create_subprocess_exec(
            sys.executable, "-c", GENERATOR, str(broker_port), str(NODES), str(LOAD_S + 3))
        while len(runtime.nodes()) < NODES:
            await asyncio.sleep(0.1)
        received_before = runtime.bridge.stats.received
        started = time.monotonic()
        loaded_cpu, loaded = await window(runtime, rounds=5)
        rate = (runtime.bridge.stats.received - received_before) / (time.monotonic() - started)
        await generator.wait()
        online = sum(n["status"] == "online" for n in runtime.nodes())
        await runtime.bridge.stop()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await runtime.devices.close()
        broker.terminate()
        broker.wait()
    await cabinet.stop()
    ms = 1000
    print(f"{NODES} nodes x 1 telemetry message/s into a gateway with 64 circuits on 8 boards:")
    print(f"  messages handled: {rate:,.0f}/s; nodes in the registry: {online} online")
    print(f"  gateway CPU share: {loaded_cpu:.1%} of one core with the nodes, "
          f"{quiet_cpu:.1%} without (baseline)")
    print(f"  lateness with the nodes:    p50 {statistics.median(loaded) * ms:5.2f} ms  "
          f"p99 {percentile(loaded, 0.99) * ms:5.2f} ms  (n={len(loaded)})")
    print(f"  lateness without (baseline): p50 {statistics.median(quiet) * ms:5.2f} ms  "
          f"p99 {percentile(quiet, 0.99) * ms:5.2f} ms  (n={len(quiet)})")


if __name__ == "__main__":
    asyncio.run(main())
