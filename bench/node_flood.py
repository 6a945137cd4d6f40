"""One field node gone wrong: 1,000 messages a second for FLOOD_S seconds, half junk (not
JSON, or JSON that is not an object) and half oversized (70 kB, above the 64 KiB limit), on
its telemetry topic, into a gateway that drives 64 circuits on 8 simulated relay boards. The
gateway's lighting transition lateness under the flood is set against the same gateway quiet
(measured first, in the same run), as bench/lateness.py measures it (due time to the
acknowledged relay write, overrides expiring 15 ms apart). The flood comes from a process of
its own, so its CPU is not the gateway's.

    .venv/bin/python bench/node_flood.py
    .venv/bin/python bench/node_flood.py --flood PORT SECONDS   # only the flood (the tests)
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

RATE_PER_S = 1000
FLOOD_S = 8.0
OVERSIZED_BYTES = 70_000
FLOOD_TOPIC = "communectl/{site}/node/flood-1/telemetry"


async def flood(port: int, seconds: float, *, site: str = "bench",
                rate_per_s: int = RATE_PER_S) -> int:
    """Publish junk and oversized payloads, alternately, at ``rate_per_s`` (QoS 0) for
    ``seconds``; returns how many were sent."""
    import aiomqtt

    topic = FLOOD_TOPIC.format(site=site)
    junk = (b"{not json", b"[1, 2, 3]", b"\xff\xfe\x00", b"null")
    big = b"{" + b" " * OVERSIZED_BYTES + b"}"
    sent, batch = 0, 10
    async with aiomqtt.Client("127.0.0.1", port, max_queued_outgoing_messages=100_000) as c:
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            for i in range(batch):
                await c.publish(topic, big if (sent + i) % 2 else junk[(sent + i) % 4], qos=0)
            sent += batch
            await asyncio.sleep(max(0.0, start + sent / rate_per_s - time.monotonic()))
    return sent


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def main() -> None:
    from api_load import staggered_lateness
    from fleet_fanout import start_broker
    from node_load import config_for

    from controller.config import validate_config
    from controller.platform.clock import SystemClock
    from controller.runtime import build_runtime
    from drivers.simulator import SimulatedCabinet

    if shutil.which("mosquitto") is None:
        sys.exit("mosquitto is not installed")
    cabinet = SimulatedCabinet()
    for unit in range(1, 9):
        cabinet.add_relay_board(unit, coils=8)
    port = await cabinet.start_tcp("127.0.0.1", 0)
    with tempfile.TemporaryDirectory() as workdir:
        broker, broker_port = start_broker(Path(workdir))
        await asyncio.sleep(0.3)
        runtime = build_runtime(validate_config(config_for(port, broker_port,
                                                           Path(workdir) / "data")),
                                SystemClock())
        tasks = [asyncio.create_task(runtime.lighting.run()),
                 asyncio.create_task(runtime.bridge.run())]
        while not runtime.bridge.stats.connected:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        quiet = await staggered_lateness(runtime, 5)
        generator = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--flood", str(broker_port), str(FLOOD_S))
        await asyncio.sleep(0.5)  # the flood under way
        received, cpu, wall = runtime.bridge.stats.received, time.process_time(), \
            time.monotonic()
        loaded = await staggered_lateness(runtime, 5)
        elapsed = time.monotonic() - wall
        rate = (runtime.bridge.stats.received - received) / elapsed
        cpu_share = (time.process_time() - cpu) / elapsed
        await generator.wait()
        rejected = dict(runtime.bridge.stats.rejected)
        connected = runtime.bridge.stats.connected
        await runtime.bridge.stop()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await runtime.devices.close()
        broker.terminate()
        broker.wait()
    await cabinet.stop()
    ms = 1000
    print(f"one node flooding {RATE_PER_S} msg/s (junk and {OVERSIZED_BYTES // 1000} kB "
          f"payloads) into a gateway with 64 circuits on 8 boards:")
    print(f"  messages reaching the gateway: {rate:,.0f}/s; gateway CPU {cpu_share:.1%} of "
          f"one core; still connected: {connected}")
    print(f"  rejected: {rejected}")
    print(f"  lateness under the flood: p50 {statistics.median(loaded) * ms:5.2f} ms  "
          f"p99 {percentile(loaded, 0.99) * ms:5.2f} ms  max {max(loaded) * ms:5.2f} ms  "
          f"(n={len(loaded)})")
    print(f"  lateness quiet (baseline): p50 {statistics.median(quiet) * ms:5.2f} ms  "
          f"p99 {percentile(quiet, 0.99) * ms:5.2f} ms  max {max(quiet) * ms:5.2f} ms  "
          f"(n={len(quiet)})")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--flood"]:
        sent = asyncio.run(flood(int(sys.argv[2]), float(sys.argv[3]),
                                 site=sys.argv[4] if len(sys.argv) > 4 else "bench"))
        print(f"sent {sent}", file=sys.stderr)
    else:
        asyncio.run(main())
