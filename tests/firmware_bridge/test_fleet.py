"""``fleet status``, ``fleet announce`` and ``fleet report`` against a real mosquitto, with
gateways imitated by small MQTT clients that follow the topics of docs/mqtt.md (the controllers'
own bridge is tested in test_bridge and in the end-to-end test of three controllers)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from firmware_bridge.fleet import fleet_announce, fleet_report, fleet_status
from tests.firmware_bridge.brokers import Broker, free_port

pytestmark = pytest.mark.integration
PREFIX = "communectl"


@pytest.fixture
def shipped_queues(tmp_path: Path) -> Iterator[int]:
    """A mosquitto with its queues as shipped (max_queued_messages 1000, 20 in flight), unlike
    the ``mosquitto`` fixture's 10,000; yields the port."""
    port = free_port()
    broker = Broker(tmp_path, "province", f"listener {port} 127.0.0.1\n"
                    "allow_anonymous true\npersistence false\n", port)
    broker.start()
    try:
        yield port
    finally:
        broker.stop()


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


async def test_status_ends_once_the_retained_state_is_in_and_misses_none(
        shipped_queues: int) -> None:
    """A province's retained state is more than the broker queues for one client at QoS 1
    (1,000 by default): 400 gateways with 4 circuits each, all listed, long before listen_s."""
    state = json.dumps({"state": "on", "level": 100, "source": "schedule"})
    async with aiomqtt.Client("127.0.0.1", shipped_queues,
                              max_inflight_messages=100) as gateway:
        for n in range(400):
            root = f"{PREFIX}/xa-{n:03d}"
            await gateway.publish(f"{root}/status", "online", qos=1, retain=True)
            for circuit in ("road-1", "road-2", "lane-1", "market"):
                await gateway.publish(f"{root}/circuit/{circuit}/state", state, qos=1,
                                      retain=True)
    started = time.monotonic()
    found = await fleet_status(connector(shipped_queues), PREFIX, listen_s=10)
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


def report_payload(site: str, month: str, n: int) -> str:
    """A month report as a gateway publishes it (docs/mqtt.md), about 700 bytes."""
    return json.dumps({
        "schema": 1, "site": site, "commune": f"Xã {site}", "period": "month", "month": month,
        "first_day": f"{month}-01", "last_day": f"{month}-31", "complete": False,
        "timezone": "Asia/Ho_Chi_Minh", "generated_at": f"{month}-14T20:00:00+07:00",
        "as_of": f"{month}-14T20:05:00+07:00",
        "radio": {"clusters": 2, "clusters_online": 1, "bulletins_scheduled": 6,
                  "bulletins_aired": 5, "successful_plays": n, "emergency_bulletins": 1,
                  "minutes_aired": 21.0, "missed": 1, "failed": 1,
                  "by_outcome": {"completed": 4, "preempted": 0, "failed": 1, "missed": 1,
                                 "skipped": 0, "cancelled": 0}},
        "lighting": {"days_recorded": 14, "on_hours": 20.0, "circuits": {"road-5": 20.0},
                     "energy_kwh": 10.5, "meters": {"meter-1": 10.5}, "alarms": 2,
                     "alarms_by_kind": {"cabinet_door": 2}}}, ensure_ascii=False)


async def test_report_ends_once_the_retained_reports_are_in_and_misses_none(
        shipped_queues: int) -> None:
    """600 gateways' month reports and statuses (1,200 retained messages, more than the 1,000
    mosquitto queues for one client at QoS 1 on its defaults), and another month's and the
    days' reports beside them: every row, long before listen_s."""
    async with aiomqtt.Client("127.0.0.1", shipped_queues,
                              max_inflight_messages=100) as gateway:
        for n in range(600):
            site = f"xa-{n:03d}"
            root = f"{PREFIX}/{site}"
            await gateway.publish(f"{root}/status", "online" if n % 3 else "offline",
                                  qos=1, retain=True)
            for month in ("2027-02", "2027-03"):
                await gateway.publish(f"{root}/report/month/{month}",
                                      report_payload(site, month, n), qos=1, retain=True)
            await gateway.publish(f"{root}/report/day/2027-03-14",
                                  report_payload(site, "2027-03", n), qos=1, retain=True)
    started = time.monotonic()
    rows = await fleet_report(connector(shipped_queues), PREFIX, "2027-03", listen_s=10)
    assert time.monotonic() - started < 3
    assert len(rows) == 600
    assert all(r.reported and r.figures["successful_plays"] == n
               for n, r in enumerate(rows))
    assert [r.status for r in rows] == ["online" if n % 3 else "offline" for n in range(600)]
