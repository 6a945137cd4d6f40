"""Bad input from a field node: a fake node floods a real controller's broker with 1,000
messages a second of junk and of oversized payloads for about 5 s (bench/node_flood.py, in a
process of its own) while the lighting coordinator has transitions due. Correctness only (the
lateness figures are the bench's): every transition happens, the refusals are counted by
reason in /metrics, a good node is still heard, nothing crashes, and the log says it once per
source, not once per message."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from datetime import timedelta
from pathlib import Path

import aiomqtt
import pytest

from controller.config import validate_config
from controller.http.metrics import RuntimeCollector
from controller.platform.clock import SystemClock
from controller.runtime import build_runtime
from drivers.simulator import SimulatedCabinet
from tests.conftest import eventually

pytestmark = pytest.mark.integration
BENCH = Path(__file__).resolve().parents[3] / "bench" / "node_flood.py"
FLOOD_S = 5.0
CIRCUITS = 8


async def test_a_flooding_node_is_counted_and_the_lights_still_switch(
        tmp_path: Path, mosquitto: int, caplog: pytest.LogCaptureFixture) -> None:
    cabinet = SimulatedCabinet()
    cabinet.add_relay_board(1, coils=8)
    port = await cabinet.start_tcp("127.0.0.1", 0)
    config = validate_config({
        "site": {"id": "flood", "latitude": 19.87, "longitude": 105.71},
        "storage": {"path": str(tmp_path / "data")},
        "lighting": {"check_interval_s": 3600, "settle_s": 0},
        "buses": [{"id": "b", "kind": "tcp", "host": "127.0.0.1", "port": port}],
        "devices": [{"id": "relay-1", "bus": "b", "unit": 1, "profile": "relay8"}],
        "circuits": [{"id": f"c{ch}", "device": "relay-1", "channel": ch}
                     for ch in range(CIRCUITS)],
        "broadcast": {"output": "null"},
        "mqtt": {"url": f"mqtt://127.0.0.1:{mosquitto}"},
    })
    clock = SystemClock()
    runtime = build_runtime(config, clock)
    tasks = [asyncio.create_task(runtime.lighting.run()),
             asyncio.create_task(runtime.bridge.run())]
    try:
        await eventually(lambda: runtime.bridge.stats.connected, "connected")
        now = clock.now()
        # Each circuit on until an instant inside the flood: CIRCUITS transitions to off.
        for ch in range(CIRCUITS):
            runtime.overrides.create(target=f"circuit:c{ch}", state="on", level=100,
                                     until=now + timedelta(seconds=1.5 + 0.4 * ch),
                                     reason="test", created_by="test", now=now)
        runtime.lighting.wake()
        await eventually(lambda: all(cabinet.coils(1)[:CIRCUITS]), "all on")
        runtime.lighting.lateness_s.clear()
        caplog.set_level(logging.WARNING, logger="firmware_bridge.bridge")
        flood = await asyncio.create_subprocess_exec(
            sys.executable, str(BENCH), "--flood", str(mosquitto), str(FLOOD_S), "flood",
            stderr=asyncio.subprocess.PIPE)
        async with aiomqtt.Client("127.0.0.1", mosquitto) as good:
            await asyncio.sleep(1.0)
            await good.publish("communectl/flood/node/spk-1/telemetry",
                               json.dumps({"fw": "1.4.2"}), qos=1)
            _, err = await flood.communicate()
        assert flood.returncode == 0, err.decode()

        await eventually(lambda: not any(cabinet.coils(1)[:CIRCUITS]), "all off")
        assert len(runtime.lighting.lateness_s) >= CIRCUITS  # every transition happened
        assert not any(task.done() for task in tasks)
        stats = runtime.bridge.stats
        assert stats.connected
        assert stats.rejected["oversized"] > 0 and stats.rejected["malformed"] > 0
        assert stats.rejected["rate_limited"] > 0
        assert stats.malformed["node_telemetry"] == \
            stats.rejected["oversized"] + stats.rejected["malformed"]
        assert {n["id"]: n.get("telemetry") for n in runtime.nodes()}["spk-1"] == \
            {"fw": "1.4.2"}
        assert "flood-1" not in {n["id"] for n in runtime.nodes()}
        metrics = {s.labels.get("reason"): s.value for family in
                   RuntimeCollector(runtime).collect() if family.name ==
                   "communectl_mqtt_rejected" for s in family.samples
                   if s.name.endswith("_total")}
        assert metrics == {reason: float(stats.rejected[reason]) for reason in
                           ("oversized", "malformed", "unknown_topic", "rate_limited")}
        said = [r for r in caplog.records if "node/flood-1" in r.getMessage()]
        assert 1 <= len(said) <= 2  # thousands refused, a line a minute at most
    finally:
        await runtime.bridge.stop()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await runtime.devices.close()
        await cabinet.stop()
