"""`fleet announce` to 20 gateways on one mosquitto: time from publishing the announcements to
the last acknowledgement. Each gateway is a real runtime with its MQTT bridge, storing the
announcement through the same handler as the HTTP API (validation, storage, audit).

Baseline in the same run: the same announce to one gateway. The broker has set_tcp_nodelay, as
deploy/mosquitto/gateway-bridge.conf sets it; ``--nagle`` runs it on mosquitto's default, where
each acknowledgement waits for a delayed ACK (docs/mqtt.md, "Province scale").

    .venv/bin/python bench/fleet_fanout.py [--nagle]
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from controller.config import parse_config
from controller.platform.clock import SystemClock
from controller.runtime import Runtime, build_runtime
from firmware_bridge.bridge import connect
from firmware_bridge.fleet import fleet_announce

GATEWAYS = 20
ROUNDS = 7
CONFIG = """
[site]
id = "{site}"
latitude = 19.87
longitude = 105.71

[storage]
path = "{data}"

[api]
public_url = "http://127.0.0.1:8080"  # where the field nodes would fetch their audio

[[zones]]
id = "loa"
nodes = ["spk-1"]

[broadcast]
output = "null"

[mqtt]
url = "mqtt://127.0.0.1:{broker}"
accept_commands = true
"""


def start_broker(folder: Path, *, nagle: bool) -> tuple[subprocess.Popen[bytes], int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = folder / "mosquitto.conf"
    config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n"
                      + ("" if nagle else "set_tcp_nodelay true\n"))
    broker = subprocess.Popen(["mosquitto", "-c", str(config)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    return broker, port


async def main(nagle: bool) -> None:
    if shutil.which("mosquitto") is None:
        sys.exit("mosquitto is not installed")
    with tempfile.TemporaryDirectory() as workdir:
        broker, port = start_broker(Path(workdir), nagle=nagle)
        await asyncio.sleep(0.3)
        runtimes: list[Runtime] = []
        tasks = []
        for index in range(GATEWAYS):
            site = f"xa-{index:02d}"
            config = parse_config(CONFIG.format(site=site, data=Path(workdir) / site,
                                                broker=port))
            runtime = build_runtime(config, SystemClock())
            runtimes.append(runtime)
            tasks.append(asyncio.create_task(runtime.bridge.run()))
        while not all(r.bridge.stats.connected for r in runtimes):
            await asyncio.sleep(0.05)
        sites = [r.config.site.id for r in runtimes]
        broker_url = f"mqtt://127.0.0.1:{port}"
        announcement = {"source": {"type": "tts", "text": "Bão số 9 sắp đổ bộ."},
                        "level": "emergency"}
        one, many = [], []
        for _ in range(ROUNDS):
            results = await fleet_announce(lambda: connect(broker_url), "communectl",
                                           sites[:1], announcement, timeout_s=10)
            one.append(max(r.ack_ms or float("inf") for r in results))
            results = await fleet_announce(lambda: connect(broker_url), "communectl", sites,
                                           announcement, timeout_s=10)
            assert all(r.outcome == "accepted" for r in results), results
            many.append(max(r.ack_ms or float("inf") for r in results))
        for runtime in runtimes:
            await runtime.bridge.stop()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        broker.terminate()
        broker.wait()
    print(f"fleet announce (emergency), {GATEWAYS} gateways in one process on one mosquitto "
          f"({'Nagle on' if nagle else 'set_tcp_nodelay'}), median of {ROUNDS}:")
    print(f"  to {GATEWAYS} gateways: every acknowledgement in after "
          f"{statistics.median(many):6.1f} ms "
          f"(max {max(many):.1f} ms)")
    print(f"  to 1 gateway (baseline): {statistics.median(one):6.1f} ms")
    print(f"  ratio: {statistics.median(many) / statistics.median(one):.1f}x for {GATEWAYS}x the "
          "gateways")


if __name__ == "__main__":
    asyncio.run(main(nagle="--nagle" in sys.argv[1:]))
