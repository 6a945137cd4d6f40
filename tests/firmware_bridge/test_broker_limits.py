"""The gateway's own mosquitto, on the shipped ``deploy/mosquitto/gateway-bridge.conf``,
refuses a payload over 64 KiB before the controller is sent it (its ``message_size_limit``,
the same limit as ``topics.MAX_PAYLOAD_BYTES``): the sender gets its PUBACK and stays
connected, and the controller neither reads the bytes nor counts them (docs/mqtt.md, "Bad
input"). A payload of exactly the limit still reaches the controller and is taken."""

from __future__ import annotations

import json
import re
from pathlib import Path

import aiomqtt
import pytest

from firmware_bridge.bridge import BridgeSettings, MqttBridge
from firmware_bridge.topics import MAX_PAYLOAD_BYTES
from tests.conftest import eventually
from tests.firmware_bridge.brokers import Broker, free_port
from tests.firmware_bridge.test_bridge import FakePort, serving
from tests.firmware_bridge.test_bridge_restarts import SHIPPED, SITE, render

pytestmark = pytest.mark.integration
ROOT = f"communectl/{SITE}"


def telemetry(size: int) -> bytes:
    """A JSON object of exactly ``size`` bytes."""
    empty = len(json.dumps({"fw": "1.4.2", "pad": ""}))
    return json.dumps({"fw": "1.4.2", "pad": "x" * (size - empty)}).encode()


def test_the_shipped_broker_limit_is_the_gateways() -> None:
    limits = re.findall(r"^message_size_limit (\d+)$", SHIPPED.read_text(), re.MULTILINE)
    assert limits == [str(MAX_PAYLOAD_BYTES)]


async def test_the_shipped_broker_refuses_oversized_payloads_before_the_gateway(
        tmp_path: Path) -> None:
    port = free_port()
    (tmp_path / "db").mkdir()
    broker = Broker(tmp_path, "gateway", render(SHIPPED.read_text(), SITE, {
        "listener": f"{port} 127.0.0.1",
        "persistence_location": f"{tmp_path / 'db'}/",
        "address": f"127.0.0.1:{free_port()}"}), port)  # no province there: the bridge retries
    broker.start()
    bridge = MqttBridge(BridgeSettings(url=f"mqtt://127.0.0.1:{port}", prefix="communectl",
                                       site_id=SITE), FakePort())
    try:
        async with serving(bridge), aiomqtt.Client("127.0.0.1", port) as node:
            for name, size in (("spk-big", MAX_PAYLOAD_BYTES + 1),
                               ("spk-limit", MAX_PAYLOAD_BYTES), ("spk-last", 100)):
                # QoS 1: each publish returns once the broker's PUBACK is in, the dropped
                # one's too, on the same connection.
                await node.publish(f"{ROOT}/node/{name}/telemetry", telemetry(size), qos=1)
            await eventually(lambda: bridge.nodes.get("spk-last") is not None, "the last one")
            assert {n["id"] for n in bridge.nodes.as_json()} == {"spk-limit", "spk-last"}
            limit = bridge.nodes.get("spk-limit")
            assert limit is not None
            assert len(json.dumps(limit.telemetry)) == MAX_PAYLOAD_BYTES
            assert bridge.stats.received == 2
            assert sum(bridge.stats.rejected.values()) == 0
    finally:
        broker.stop()
    assert "message_size_limit" in broker.config.read_text()
