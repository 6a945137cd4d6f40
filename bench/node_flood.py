"""One field node gone wrong: 1,000 messages a second, half junk (not JSON, or JSON that is
not an object) and half oversized (70 kB, above the 64 KiB limit), on its telemetry topic,
into a gateway that drives 64 circuits on 8 simulated relay boards. The gateway's lighting
transition lateness under the flood is set against the same gateway quiet (measured first, in
the same run), as bench/lateness.py measures it (due time to the acknowledged relay write,
overrides expiring 15 ms apart). The flood comes from a process of its own, so its CPU is not
the gateway's, and lasts until the loaded measurement ends.

The broker is the gateway's own as shipped: the local part of
deploy/mosquitto/gateway-bridge.conf (everything before its ``connection``; the listener on a
free port, persistence off), so its ``message_size_limit`` refuses the oversized payloads
before they reach the gateway. ``--no-size-limit`` runs it without that line, as before.

    .venv/bin/python bench/node_flood.py [--no-size-limit]
    .venv/bin/python bench/node_flood.py --flood PORT SECONDS [SITE]   # only the flood (the tests)
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

RATE_PER_S = 1000
FLOOD_MAX_S = 60.0  # the flood is stopped when the measurement ends; this is a safety net
ROUNDS = 5
OVERSIZED_BYTES = 70_000
FLOOD_TOPIC = "communectl/{site}/node/flood-1/telemetry"
SHIPPED = Path(__file__).resolve().parents[1] / "deploy" / "mosquitto" / "gateway-bridge.conf"


async def flood(port: int, seconds: float, *, site: str = "bench",
                rate_per_s: int = RATE_PER_S, stop: asyncio.Event | None = None) -> int:
    """Publish junk and oversized payloads, alternately, at ``rate_per_s`` (QoS 0) for
    ``seconds`` or until ``stop`` is set; returns how many were sent."""
    import aiomqtt

    topic = FLOOD_TOPIC.format(site=site)
    junk = (b"{not json", b"[1, 2, 3]", b"\xff\xfe\x00", b"null")
    big = b"{" + b" " * OVERSIZED_BYTES + b"}"
    sent, batch = 0, 10
    async with aiomqtt.Client("127.0.0.1", port, max_queued_outgoing_messages=100_000) as c:
        start = time.monotonic()
        while time.monotonic() - start < seconds and not (stop and stop.is_set()):
            for i in range(batch):
                await c.publish(topic, big if (sent + i) % 2 else junk[(sent + i) % 4], qos=0)
            sent += batch
            await asyncio.sleep(max(0.0, start + sent / rate_per_s - time.monotonic()))
    return sent


async def flood_until_stopped(port: int, seconds: float, site: str) -> int:
    """The flood as a process: SIGTERM ends it cleanly, and it says how many it sent."""
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    return await flood(port, seconds, site=site, stop=stop)


def gateway_broker(folder: Path, *, size_limit: bool) -> tuple[subprocess.Popen[bytes], int]:
    """mosquitto on the local part of the shipped gateway-bridge.conf, without the bridge."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    lines = []
    for line in SHIPPED.read_text().splitlines():
        directive = line.split(" ", 1)[0]
        if directive == "connection":
            break
        if directive == "listener":
            line = f"listener {port} 127.0.0.1"
        elif directive == "persistence":
            line = "persistence false"
        elif directive == "persistence_location" or \
                (directive == "message_size_limit" and not size_limit):
            continue
        lines.append(line)
    config = folder / "mosquitto.conf"
    config.write_text("\n".join(lines) + "\n")
    broker = subprocess.Popen(["mosquitto", "-c", str(config)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    return broker, port


def cpu_s(pid: int) -> float:
    """A process's user and system CPU so far (proc(5), /proc/pid/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def figures(name: str, values: list[float]) -> str:
    ms = 1000
    return (f"  lateness {name}: p50 {statistics.median(values) * ms:5.2f} ms  "
            f"p99 {percentile(values, 0.99) * ms:5.2f} ms  max {max(values) * ms:5.2f} ms  "
            f"(n={len(values)})")


async def main(size_limit: bool) -> None:
    from api_load import staggered_lateness
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
        broker, broker_port = gateway_broker(Path(workdir), size_limit=size_limit)
        await asyncio.sleep(0.3)
        runtime = build_runtime(validate_config(config_for(port, broker_port,
                                                           Path(workdir) / "data")),
                                SystemClock())
        tasks = [asyncio.create_task(runtime.lighting.run()),
                 asyncio.create_task(runtime.bridge.run())]
        while not runtime.bridge.stats.connected:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        cpu, wall = time.process_time(), time.monotonic()
        quiet = await staggered_lateness(runtime, ROUNDS)
        quiet_cpu = (time.process_time() - cpu) / (time.monotonic() - wall)
        generator = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--flood", str(broker_port), str(FLOOD_MAX_S),
            stderr=asyncio.subprocess.PIPE)
        await asyncio.sleep(0.5)  # the flood under way
        received, cpu, wall = runtime.bridge.stats.received, time.process_time(), \
            time.monotonic()
        others = {"mosquitto": (broker.pid, cpu_s(broker.pid)),
                  "the flooding node": (generator.pid, cpu_s(generator.pid))}
        loaded = await staggered_lateness(runtime, ROUNDS)
        elapsed = time.monotonic() - wall
        rate = (runtime.bridge.stats.received - received) / elapsed
        cpu_share = (time.process_time() - cpu) / elapsed
        other_cpu = {name: (cpu_s(pid) - before) / elapsed
                     for name, (pid, before) in others.items()}
        covered = generator.returncode is None
        generator.terminate()
        _, err = await generator.communicate()
        sent = int(err.decode().split("sent ")[-1])
        flood_s = elapsed + 0.5
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
    print(f"one node flooding {RATE_PER_S} msg/s (junk and {OVERSIZED_BYTES // 1000} kB "
          f"payloads) into a gateway with 64 circuits on 8 boards, its broker "
          f"{'with' if size_limit else 'without'} message_size_limit:")
    print(f"  sent {sent} in about {flood_s:.1f} s ({sent / flood_s:,.0f}/s; the flood lasted "
          f"the whole measurement: {covered}); reaching the gateway: {rate:,.0f}/s")
    print(f"  gateway CPU {cpu_share:.1%} of one core (quiet {quiet_cpu:.1%}); "
          + ", ".join(f"{name} {share:.1%}" for name, share in other_cpu.items())
          + f"; still connected: {connected}")
    print(f"  rejected by the gateway: {rejected}")
    print(figures("under the flood", loaded))
    print(figures("quiet (baseline)", quiet))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--flood"]:
        sent = asyncio.run(flood_until_stopped(
            int(sys.argv[2]), float(sys.argv[3]), sys.argv[4] if len(sys.argv) > 4 else "bench"))
        print(f"sent {sent}", file=sys.stderr)
    else:
        asyncio.run(main(size_limit="--no-size-limit" not in sys.argv[1:]))
