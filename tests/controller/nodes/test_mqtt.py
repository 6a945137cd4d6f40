"""Controllers on one real mosquitto: three gateways answer one ``fleet announce``; a circuit
command over MQTT goes through the API's checks and reaches the relay; nodes show in
GET /nodes; the gateway's retained state is what ``fleet status`` reports."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Self

import aiomqtt
import pytest

from controller.config import parse_config
from controller.platform.clock import FakeClock
from controller.radio.records import ANNOUNCEMENTS, RadioBook
from controller.runtime import Runtime, build_runtime
from drivers.simulator import SimulatedCabinet
from firmware_bridge.bridge import connect
from firmware_bridge.fleet import fleet_announce, fleet_status
from tests.conftest import eventually
from tests.controller.conftest import API_NOON, RELAY_UNIT

pytestmark = pytest.mark.integration
SITES = ("thieu-long", "thieu-ngoc", "thieu-vu")

CONFIG = """
[site]
id = "{site}"
latitude = 19.87
longitude = 105.71

[storage]
path = "{data}"

[api]
public_url = "http://127.0.0.1:8080"  # where the field nodes would fetch their audio

[[buses]]
id = "cabinet"
kind = "tcp"
host = "127.0.0.1"
port = {port}
timeout_s = 0.3

[[devices]]
id = "relay-1"
bus = "cabinet"
unit = 1
profile = "relay8"

[[circuits]]
id = "road-5"
device = "relay-1"
channel = {channel}

[[zones]]
id = "loa"
nodes = ["spk-1"]

[broadcast]
output = "null"

[mqtt]
url = "mqtt://127.0.0.1:{broker}"
accept_commands = true
"""


@pytest.fixture
async def gateways(tmp_path: Path, mosquitto: int,
                   api_cabinet: SimulatedCabinet) -> AsyncIterator[list[Runtime]]:
    runtimes, tasks = [], []
    for channel, site in enumerate(SITES):
        text = CONFIG.format(site=site, data=tmp_path / site, port=api_cabinet.tcp_port,
                             channel=channel, broker=mosquitto)
        runtime = build_runtime(parse_config(text), FakeClock(API_NOON))
        runtimes.append(runtime)
        tasks.append(asyncio.create_task(runtime.bridge.run()))
        tasks.append(asyncio.create_task(runtime.lighting.run()))
    await eventually(lambda: all(r.bridge.stats.connected for r in runtimes), "connected")
    yield runtimes
    for runtime in runtimes:
        await runtime.bridge.stop()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for runtime in runtimes:
        await runtime.devices.close()


async def test_three_gateways_answer_one_fleet_announce(gateways: list[Runtime],
                                                        mosquitto: int) -> None:
    announcement = {"source": {"type": "tts", "text": "Bão số 9 sắp đổ bộ."},
                    "level": "emergency", "zones": "all"}
    results = await fleet_announce(lambda: connect(f"mqtt://127.0.0.1:{mosquitto}"),
                                   "communectl", [*SITES, "xa-vang"], announcement,
                                   timeout_s=3)
    assert [(r.site, r.outcome) for r in results] == [
        *((site, "accepted") for site in SITES), ("xa-vang", "silent")]
    for runtime, result in zip(gateways, results, strict=False):
        stored = RadioBook(runtime.store).announcement(result.announcement_id)
        assert stored is not None and stored.level == "emergency"
        assert runtime.audit.query()[-1]["actor"] == "mqtt"


async def test_a_bad_announcement_is_refused_with_the_apis_message(
        gateways: list[Runtime], mosquitto: int) -> None:
    results = await fleet_announce(lambda: connect(f"mqtt://127.0.0.1:{mosquitto}"),
                                   "communectl", ["thieu-long"],
                                   {"source": {"type": "tts", "text": "x"}, "zones": ["nowhere"]},
                                   timeout_s=3)
    assert (results[0].outcome, results[0].error) == ("refused", "zones.0: no zone 'nowhere'")
    assert gateways[0].store.all(ANNOUNCEMENTS) == []


async def test_a_circuit_command_reaches_the_relay_and_fleet_status_sees_it(
        gateways: list[Runtime], mosquitto: int, api_cabinet: SimulatedCabinet) -> None:
    async with aiomqtt.Client("127.0.0.1", mosquitto) as client:
        await client.subscribe("communectl/thieu-ngoc/circuit/road-5/set/ack", qos=1)
        await client.publish("communectl/thieu-ngoc/circuit/road-5/set",
                             json.dumps({"state": "on", "duration_min": 30, "id": "c-1"}),
                             qos=1)
        async with asyncio.timeout(5):
            async for message in client.messages:
                assert json.loads(message.payload) == {"ok": True, "id": "c-1"}
                break
    await eventually(lambda: api_cabinet.coils(RELAY_UNIT)[1], "relay of thieu-ngoc on")
    await asyncio.sleep(1.2)  # one state interval: the retained state follows
    found = {g.site: g for g in await fleet_status(
        lambda: connect(f"mqtt://127.0.0.1:{mosquitto}"), "communectl", listen_s=0.5)}
    assert set(found) == set(SITES)
    assert found["thieu-ngoc"].circuits["road-5"]["source"] == "override"
    assert found["thieu-long"].circuits["road-5"]["state"] == "off"


async def test_nodes_show_in_the_api_and_raise_an_alarm_when_offline(
        gateways: list[Runtime], mosquitto: int) -> None:
    runtime = gateways[0]
    async with aiomqtt.Client("127.0.0.1", mosquitto) as node:
        await node.publish("communectl/thieu-long/node/spk-1/status", "online", qos=1,
                           retain=True)
        await node.publish("communectl/thieu-long/node/spk-1/telemetry",
                           json.dumps({"fw": "1.4.2", "rssi": -71}), qos=1)
        # Registered by its status first (a retained one may even be there already), its
        # telemetry a moment later: wait for what the node said last, not for the node alone.
        await eventually(lambda: [n.get("telemetry") for n in runtime.nodes()] == [
            {"fw": "1.4.2", "rssi": -71}], "node registered with its telemetry")
        await node.publish("communectl/thieu-long/node/spk-1/status", "offline", qos=1,
                           retain=True)
        await eventually(lambda: runtime.alarms.is_open("node_offline", "spk-1"), "alarm")


class FakeNode:
    """A field node's firmware in miniature: status, telemetry, and answers to commands; an
    ``ota`` makes it "reboot" into the new version (or into the old one when told to fail)."""

    def __init__(self, port: int, site: str, node: str, *, fw: str = "1.4.2",
                 broken_update: bool = False) -> None:
        self.port, self.root = port, f"communectl/{site}/node/{node}"
        self.fw, self.broken_update = fw, broken_update
        self.commands: list[dict[str, object]] = []
        self.task: asyncio.Task[None] | None = None

    async def run(self) -> None:
        async with aiomqtt.Client("127.0.0.1", self.port) as client:
            await client.subscribe(f"{self.root}/cmd", qos=1)
            await client.publish(f"{self.root}/status", "online", qos=1, retain=True)
            await client.publish(f"{self.root}/telemetry", json.dumps({"fw": self.fw}), qos=1)
            async for message in client.messages:
                command = json.loads(message.payload)
                self.commands.append(command)
                await client.publish(f"{self.root}/ack",
                                     json.dumps({"id": command["id"], "ok": True}), qos=1)
                if command["op"] == "ota" and not self.broken_update:
                    self.fw = str(command["version"])
                    await client.publish(f"{self.root}/telemetry",
                                         json.dumps({"fw": self.fw}), qos=1)

    def __enter__(self) -> Self:
        self.task = asyncio.create_task(self.run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.task is not None
        self.task.cancel()


async def test_a_broadcast_in_a_node_zone_commands_its_nodes(
        gateways: list[Runtime], mosquitto: int) -> None:
    runtime = gateways[0]
    nodes = runtime.broadcasts.nodes
    assert nodes is not None
    with FakeNode(mosquitto, "thieu-long", "spk-1") as node:
        await eventually(lambda: runtime.nodes() != [], "node registered")
        part = type("Part", (), {"wav": None, "url": "http://radio.example/live.mp3",
                                 "duration_s": 60.0})()
        failed = await nodes.play("announcement:a#1", ("loa",), [part], level="emergency",
                                  volume=0.8)
        assert failed == []
        assert await nodes.stop("announcement:a#1", ("loa",)) == []
        assert [c["op"] for c in node.commands] == ["play", "stop"]
        assert node.commands[0]["parts"] == [{"stream": "http://radio.example/live.mp3",
                                              "duration_s": 60.0}]


async def test_firmware_rolls_out_canary_first_and_stops_on_failure(
        gateways: list[Runtime], mosquitto: int, tmp_path: Path) -> None:
    runtime = gateways[0]
    assert runtime.firmware is not None
    runtime.firmware.back_timeout_s = 3
    image = tmp_path / "fw.bin"
    image.write_bytes(b"\x7fELF firmware image" * 100)
    doc = runtime.firmware.add(image, version="1.5.0", uploaded_by="admin")
    with FakeNode(mosquitto, "thieu-long", "spk-1") as good, \
            FakeNode(mosquitto, "thieu-long", "spk-2") as other:
        await eventually(lambda: len(runtime.nodes()) == 2, "nodes registered")
        rollout = runtime.firmware.start(doc, ["spk-1", "spk-2"], by="admin")
        await runtime.firmware.tasks[rollout["id"]]
        done = runtime.store.get("rollouts", rollout["id"])
        assert (done["status"], done["nodes"]) == ("done", {"spk-1": "updated",
                                                            "spk-2": "updated"})
        assert good.commands[0]["sha256"] == doc["sha256"] and other.fw == "1.5.0"
    with FakeNode(mosquitto, "thieu-long", "spk-3", broken_update=True) as broken, \
            FakeNode(mosquitto, "thieu-long", "spk-4") as untouched:
        await eventually(lambda: len(runtime.nodes()) == 4, "more nodes")
        rollout = runtime.firmware.start(doc, ["spk-3", "spk-4"], by="admin")
        await runtime.firmware.tasks[rollout["id"]]
        failed = runtime.store.get("rollouts", rollout["id"])
        assert failed["status"] == "failed" and "spk-3" in failed["reason"]
        assert (broken.fw, untouched.commands) == ("1.4.2", [])


async def test_fleet_commands_of_the_cli(gateways: list[Runtime], mosquitto: int) -> None:
    communectl = Path(sys.executable).parent / "communectl"
    broker = f"mqtt://127.0.0.1:{mosquitto}"
    status = await asyncio.create_subprocess_exec(
        str(communectl), "fleet", "status", "--broker", broker, "--listen", "0.5",
        "--format", "json", stdout=asyncio.subprocess.PIPE)
    listed = json.loads((await status.communicate())[0])
    announce = await asyncio.create_subprocess_exec(
        str(communectl), "fleet", "announce", "--broker", broker, "--sites",
        "thieu-long,xa-vang", "--text", "Thông báo khẩn.", "--level", "emergency",
        "--timeout", "2", stdout=asyncio.subprocess.PIPE)
    printed = (await announce.communicate())[0].decode()
    assert [g["status"] for g in listed] == ["online"] * 3
    assert announce.returncode == 1  # xa-vang never answered
    assert "thieu-long" in printed and "accepted" in printed and "silent" in printed
    assert gateways[0].bridge.stats.malformed == {}


async def test_metrics_show_the_mqtt_link(gateways: list[Runtime]) -> None:
    import httpx

    from controller.http.app import create_app

    runtime = gateways[0]
    secret, _ = runtime.tokens.create(name="prom", role="viewer", expires_days=None,
                                      now=runtime.clock.now())
    transport = httpx.ASGITransport(app=create_app(runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        text = (await client.get("/metrics", headers={"Authorization": f"Bearer {secret}"})).text
    assert "communectl_mqtt_connected 1.0" in text
    assert 'communectl_modbus_latency_seconds{bus="cabinet",quantile="0.99"}' in text
    # The MQTT families as Prometheus reads them (docs/metrics.md).
    import subprocess

    from tests.conftest import require_program

    checked = subprocess.run([require_program("promtool"), "check", "metrics"], input=text,
                             capture_output=True, text=True, timeout=30, check=False)
    assert (checked.returncode, checked.stdout, checked.stderr) == (0, "", "")
