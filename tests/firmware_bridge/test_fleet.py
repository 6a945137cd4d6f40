"""``fleet status`` and ``fleet announce`` against a real mosquitto, with gateways imitated by
small MQTT clients that follow the topics of docs/mqtt.md (the controllers' own bridge is tested in
test_bridge and in the end-to-end test of three controllers)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiomqtt
import pytest

from firmware_bridge.fleet import fleet_announce, fleet_status

pytestmark = pytest.mark.integration
PREFIX = "communectl"


def connector(port: int) -> Any:
    return lambda: aiomqtt.Client("127.0.0.1", port)


async def fake_gateway(port: int, site: str, *, accept: bool = True) -> None:
    """Publishes its retained state, then answers every announcement."""
    will = aiomqtt.Will(f"{PREFIX}/{site}/status", "offline", qos=1, retain=True)
    async with aiomqtt.Client("127.0.0.1", port, will=will) as client:
        await client.publish(f"{PREFIX}/{site}/status", "online", qos=1, retain=True)
        await client.publish(f"{PREFIX}/{site}/circuit/road-5/state",
                             json.dumps({"state": "on", "level": 100, "source": "schedule"}),
                             qos=1, retain=True)
        await client.subscribe(f"{PREFIX}/{site}/announce", qos=1)
        async for message in client.messages:
            command = json.loads(message.payload)
            ack = {"id": command["id"], "accepted": accept}
            if not accept:
                ack["error"] = "zones.0: no zone 'x'"
            await client.publish(f"{PREFIX}/{site}/announce/ack", json.dumps(ack), qos=1)


@contextlib.asynccontextmanager
async def gateways(port: int, **sites: bool) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(fake_gateway(port, site, accept=accept))
             for site, accept in sites.items()]
    await asyncio.sleep(0.3)  # connected and subscribed
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def test_status_lists_every_gateway_online_or_not(mosquitto: int) -> None:
    async with aiomqtt.Client("127.0.0.1", mosquitto) as gone:  # a gateway that went away
        await gone.publish(f"{PREFIX}/xa-cu/status", "offline", qos=1, retain=True)
    async with gateways(mosquitto, **{"thieu-long": True, "thieu-ngoc": True}):
        found = await fleet_status(connector(mosquitto), PREFIX, listen_s=0.7)
    assert [(g.site, g.status) for g in found] == [
        ("thieu-long", "online"), ("thieu-ngoc", "online"), ("xa-cu", "offline")]
    assert found[0].circuits == {"road-5": {"state": "on", "level": 100, "source": "schedule"}}


async def test_status_ends_once_the_retained_state_is_in_and_misses_none(mosquitto: int) -> None:
    """A province's retained state is more than the broker queues for one client at QoS 1
    (1,000 by default): 400 gateways with 4 circuits each, all listed, long before listen_s."""
    state = json.dumps({"state": "on", "level": 100, "source": "schedule"})
    async with aiomqtt.Client("127.0.0.1", mosquitto, max_inflight_messages=100) as gateway:
        for n in range(400):
            root = f"{PREFIX}/xa-{n:03d}"
            await gateway.publish(f"{root}/status", "online", qos=1, retain=True)
            for circuit in ("road-1", "road-2", "lane-1", "market"):
                await gateway.publish(f"{root}/circuit/{circuit}/state", state, qos=1,
                                      retain=True)
    started = time.monotonic()
    found = await fleet_status(connector(mosquitto), PREFIX, listen_s=10)
    assert time.monotonic() - started < 3
    assert len(found) == 400
    assert all(g.status == "online" and len(g.circuits) == 4 for g in found)


async def test_announce_reports_acks_refusals_and_silence(mosquitto: int) -> None:
    announcement = {"source": {"type": "tts", "text": "Bão số 9."}, "level": "emergency"}
    async with gateways(mosquitto, **{"thieu-long": True, "thieu-ngoc": False}):
        results = await fleet_announce(connector(mosquitto), PREFIX,
                                       ["thieu-long", "thieu-ngoc", "silent-one"],
                                       announcement, timeout_s=1.5)
    assert [(r.site, r.outcome) for r in results] == [
        ("thieu-long", "accepted"), ("thieu-ngoc", "refused"), ("silent-one", "silent")]
    assert results[1].error == "zones.0: no zone 'x'"
    assert results[0].ack_ms is not None
