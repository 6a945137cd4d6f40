"""The MQTT bridge against a real mosquitto: retained status and state, the last will,
commands with their answers, Home Assistant discovery, field nodes and their commands, bad
payloads counted and ignored, a broker that dies and comes back, and old day reports cleared.
The topic codec itself is tested without a broker in test_topics.py."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import statistics
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Self

import aiomqtt
import pytest

from firmware_bridge.bridge import (
    BridgeSettings,
    MqttBridge,
    NodeRefused,
    NodeTimeout,
    connect,
)
from firmware_bridge.fleet import fleet_announce
from firmware_bridge.topics import (
    DAY_REPORTS_KEPT,
    HaCircuit,
    HaCommand,
    ReportBatch,
    ReportMessage,
)
from tests.conftest import eventually, require_program
from tests.firmware_bridge.brokers import Broker, free_port

pytestmark = pytest.mark.integration
ROOT = "communectl/thieu-long"
WAIT_S = 10.0


class FakePort:
    def __init__(self) -> None:
        self.states = {"road-5": {"state": "off", "level": 0, "source": "schedule"}}
        self.commands: list[tuple[str, dict[str, Any]]] = []
        self.node_changes: list[tuple[str, str]] = []

    def circuit_states(self) -> dict[str, dict[str, Any]]:
        return dict(self.states)

    def ha_circuits(self) -> list[HaCircuit]:
        return [HaCircuit("road-5", "Đường số 5", dimmable=False)]

    def broadcast_now(self) -> dict[str, Any] | None:
        return None

    async def set_circuit(self, circuit_id: str, command: dict[str, Any]) -> None:
        if command.get("state") not in ("on", "off"):
            raise ValueError("state: expected on or off")
        self.commands.append((circuit_id, command))

    async def announce(self, command: dict[str, Any]) -> str:
        if "source" not in command:
            raise ValueError("source: field required")
        self.commands.append(("announce", command))
        return "ann-1"

    def node_changed(self, node_id: str, node: dict[str, Any]) -> None:
        self.node_changes.append((node_id, node["status"]))

    async def ha_command(self, circuit_id: str, command: HaCommand) -> None:
        self.commands.append((circuit_id, {"ha": command}))

    async def reports(self) -> ReportBatch:
        return ReportBatch([], 3600.0)

    async def back_to_schedule(self, circuit_id: str) -> int:
        self.commands.append((circuit_id, {"ha": "back to schedule"}))
        return 0


class Watcher:
    """An outside client recording everything under a topic filter."""

    def __init__(self, port: int, *filters: str) -> None:
        self.port, self.filters = port, filters
        self.seen: list[tuple[str, str, bool]] = []
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        ready = asyncio.Event()

        async def watch() -> None:
            async with aiomqtt.Client("127.0.0.1", self.port) as client:
                for topic_filter in self.filters:
                    await client.subscribe(topic_filter, qos=1)
                ready.set()
                async for message in client.messages:
                    self.seen.append((str(message.topic), bytes(message.payload).decode(),
                                      message.retain))

        self.task = asyncio.create_task(watch())
        await asyncio.wait_for(ready.wait(), WAIT_S)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.task is not None
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)

    def last(self, topic: str) -> str | None:
        found = [payload for t, payload, _ in self.seen if t == topic]
        return found[-1] if found else None


async def publish(port: int, topic: str, payload: str | bytes, *, retain: bool = False) -> None:
    async with aiomqtt.Client("127.0.0.1", port) as client:
        await client.publish(topic, payload, qos=1, retain=retain)


@pytest.fixture
async def running(mosquitto: int) -> AsyncIterator[tuple[MqttBridge, FakePort]]:
    port = FakePort()
    bridge = MqttBridge(BridgeSettings(url=f"mqtt://127.0.0.1:{mosquitto}", prefix="communectl",
                                       site_id="thieu-long", accept_commands=True,
                                       ha_discovery=True, state_interval_s=0.05), port)
    task = asyncio.create_task(bridge.run())
    await eventually(lambda: bridge.stats.connected, "connected")
    yield bridge, port
    await bridge.stop()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_status_state_and_clean_offline(mosquitto: int) -> None:
    async with Watcher(mosquitto, f"{ROOT}/#") as watcher:
        port = FakePort()
        bridge = MqttBridge(BridgeSettings(url=f"mqtt://127.0.0.1:{mosquitto}",
                                           prefix="communectl", site_id="thieu-long",
                                           state_interval_s=0.05), port)
        task = asyncio.create_task(bridge.run())
        await eventually(lambda: watcher.last(f"{ROOT}/status") == "online", "online")
        await eventually(lambda: watcher.last(f"{ROOT}/circuit/road-5/state") is not None,
                         "state")
        port.states["road-5"] = {"state": "on", "level": 100, "source": "override"}
        await eventually(lambda: json.loads(watcher.last(f"{ROOT}/circuit/road-5/state")
                                            or "{}").get("state") == "on", "state change")
        await bridge.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await eventually(lambda: watcher.last(f"{ROOT}/status") == "offline", "offline")
    # Retained: a client arriving later still learns the gateway is offline.
    async with Watcher(mosquitto, f"{ROOT}/status") as late:
        await eventually(lambda: late.seen == [(f"{ROOT}/status", "offline", True)], "retained")


async def test_the_will_says_offline_when_the_process_is_killed(mosquitto: int,
                                                                tmp_path: Path) -> None:
    script = tmp_path / "gateway.py"
    script.write_text(f"""
import asyncio, sys
sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
from firmware_bridge.bridge import BridgeSettings, MqttBridge
from tests.firmware_bridge.test_bridge import FakePort
asyncio.run(MqttBridge(BridgeSettings(url="mqtt://127.0.0.1:{mosquitto}", prefix="communectl",
                                      site_id="thieu-long"), FakePort()).run())
""")
    async with Watcher(mosquitto, f"{ROOT}/status") as watcher:
        # A plain Popen inside async code: it is only started here and killed below.
        process = subprocess.Popen([sys.executable, str(script)])
        try:
            await eventually(lambda: watcher.last(f"{ROOT}/status") == "online", "online")
        finally:
            process.kill()
            process.wait()
        await eventually(lambda: watcher.last(f"{ROOT}/status") == "offline", "will")


async def test_commands_are_answered_and_bad_ones_change_nothing(
        running: tuple[MqttBridge, FakePort], mosquitto: int) -> None:
    bridge, port = running
    async with Watcher(mosquitto, f"{ROOT}/circuit/+/set/ack", f"{ROOT}/announce/ack") as acks:
        await publish(mosquitto, f"{ROOT}/circuit/road-5/set", "{garbage")
        await publish(mosquitto, f"{ROOT}/circuit/road-5/set", '{"state": "dim"}')
        await publish(mosquitto, f"{ROOT}/circuit/road-5/set",
                      '{"state": "on", "duration_min": 60, "reason": "test"}')
        await publish(mosquitto, f"{ROOT}/announce",
                      json.dumps({"id": "a1", "source": {"type": "tts", "text": "Xin chào"}}))
        await publish(mosquitto, f"{ROOT}/announce", json.dumps({"id": "a2"}))
        await eventually(lambda: len(acks.seen) == 4, "four answers")
    answers = [json.loads(p) for _, p, _ in acks.seen]
    assert {"ok": False, "error": "state: expected on or off"} in answers
    assert {"ok": True} in answers
    assert {"id": "a1", "accepted": True, "announcement_id": "ann-1"} in answers
    assert {"id": "a2", "accepted": False, "error": "source: field required"} in answers
    assert [c for c, _ in port.commands] == ["road-5", "announce"]
    assert bridge.stats.malformed["circuit_set"] >= 1


async def test_commands_are_not_even_heard_unless_accepted(mosquitto: int) -> None:
    port = FakePort()
    bridge = MqttBridge(BridgeSettings(url=f"mqtt://127.0.0.1:{mosquitto}", prefix="communectl",
                                       site_id="thieu-long"), port)
    task = asyncio.create_task(bridge.run())
    await eventually(lambda: bridge.stats.connected, "connected")
    await publish(mosquitto, f"{ROOT}/circuit/road-5/set", '{"state": "on"}')
    await asyncio.sleep(0.3)
    await bridge.stop()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert (port.commands, bridge.stats.received) == ([], 0)


async def test_home_assistant_discovery_and_its_birth_message(
        running: tuple[MqttBridge, FakePort], mosquitto: int) -> None:
    async with Watcher(mosquitto, "homeassistant/light/#") as watcher:
        await eventually(lambda: len(watcher.seen) == 1, "discovery (retained)")
        config = json.loads(watcher.seen[0][1])
        assert config["command_topic"] == f"{ROOT}/circuit/road-5/ha/set"
        assert config["availability_topic"] == f"{ROOT}/status"
        await publish(mosquitto, "homeassistant/status", "online")
        await eventually(lambda: len(watcher.seen) == 2, "announced again on HA's birth")


async def test_home_assistant_state_and_commands(running: tuple[MqttBridge, FakePort],
                                                 mosquitto: int) -> None:
    bridge, port = running
    async with Watcher(mosquitto, f"{ROOT}/circuit/road-5/ha/state") as watcher:
        await eventually(lambda: watcher.seen != [], "HA state (retained)")
        assert json.loads(watcher.seen[-1][1]) == {"state": "OFF"}
        port.states["road-5"] = {"state": "on", "level": 100, "source": "override"}
        await eventually(lambda: watcher.seen[-1][1] == '{"state":"ON"}', "ON for HA")
    await publish(mosquitto, f"{ROOT}/circuit/road-5/ha/set", '{"state": "TOGGLE"}')
    await publish(mosquitto, f"{ROOT}/circuit/road-5/ha/set", '{"state": "ON"}')
    await publish(mosquitto, f"{ROOT}/circuit/road-5/ha/schedule", "PRESS")
    await eventually(lambda: len(port.commands) == 2, "HA command and button press")
    assert port.commands == [("road-5", {"ha": HaCommand("on", None)}),
                             ("road-5", {"ha": "back to schedule"})]
    assert bridge.stats.malformed == {"ha_set": 1}


async def test_field_nodes_register_go_offline_and_answer_commands(
        running: tuple[MqttBridge, FakePort], mosquitto: int) -> None:
    bridge, port = running
    node_root = f"{ROOT}/node/spk-07"
    will = aiomqtt.Will(f"{node_root}/status", "offline", qos=1, retain=True)
    answer: dict[str, Any] = {"ok": True}

    async def node() -> None:
        async with aiomqtt.Client("127.0.0.1", mosquitto, will=will) as client:
            await client.subscribe(f"{node_root}/cmd", qos=1)
            await client.publish(f"{node_root}/status", "online", qos=1, retain=True)
            await client.publish(f"{node_root}/telemetry",
                                 json.dumps({"fw": "1.4.2", "rssi": -71}), qos=1)
            async for message in client.messages:
                command = json.loads(message.payload)
                if answer is not None:
                    await client.publish(f"{node_root}/ack",
                                         json.dumps({"id": command["id"], **answer}), qos=1)

    task = asyncio.create_task(node())
    await eventually(lambda: bridge.nodes.get("spk-07") is not None
                     and bridge.nodes.get("spk-07").telemetry.get("fw") == "1.4.2", "node")
    assert (await bridge.node_command("spk-07", "volume", level=80))["ok"] is True
    answer = {"ok": False, "error": "busy"}
    with pytest.raises(NodeRefused, match="busy"):
        await bridge.node_command("spk-07", "play")
    answer = None  # type: ignore[assignment]
    with pytest.raises(NodeTimeout):
        await bridge.node_command("spk-07", "stop", timeout_s=0.3)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    # What the broker publishes for it when its link drops (its will; the broker's part is
    # shown with a killed process in test_the_will_says_offline_when_the_process_is_killed).
    await publish(mosquitto, f"{node_root}/status", "offline", retain=True)
    await eventually(lambda: bridge.nodes.get("spk-07").status == "offline", "node offline")
    assert ("spk-07", "offline") in port.node_changes


async def test_the_bridge_comes_back_with_the_broker(tmp_path: Path) -> None:
    program = require_program("mosquitto")
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        broker_port = probe.getsockname()[1]
    config = tmp_path / "m.conf"
    config.write_text(f"listener {broker_port} 127.0.0.1\nallow_anonymous true\n")

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen([program, "-c", str(config)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)

    broker = start()
    port = FakePort()
    bridge = MqttBridge(BridgeSettings(url=f"mqtt://127.0.0.1:{broker_port}",
                                       prefix="communectl", site_id="thieu-long",
                                       state_interval_s=0.05), port)
    task = asyncio.create_task(bridge.run())
    try:
        await eventually(lambda: bridge.stats.connected, "connected")
        broker.kill()
        broker.wait()
        await eventually(lambda: not bridge.stats.connected, "noticed the broker is gone")
        broker = start()  # no persistence: the new broker knows nothing retained
        await eventually(lambda: bridge.stats.connects == 2, "reconnected")
        async with Watcher(broker_port, f"{ROOT}/#") as watcher:
            await eventually(lambda: watcher.last(f"{ROOT}/status") == "online"
                             and watcher.last(f"{ROOT}/circuit/road-5/state") is not None,
                             "state published again")
        assert bridge.stats.disconnects == 1
    finally:
        await bridge.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        broker.kill()
        broker.wait()


def outside_client(program: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([require_program(program), *args], capture_output=True, text=True,
                          timeout=WAIT_S, check=False)


async def test_outside_clients_see_the_gateway_and_cannot_crash_it(
        running: tuple[MqttBridge, FakePort], mosquitto: int) -> None:
    bridge, port = running
    await eventually(lambda: bridge.stats.published >= 3, "state published")
    seen = await asyncio.to_thread(outside_client, "mosquitto_sub", "-p", str(mosquitto),
                                   "-t", f"{ROOT}/status", "-C", "1", "-v")
    assert seen.stdout.strip() == f"{ROOT}/status online"
    for payload in ("not json", "[]", '{"state": 7}'):
        sent = await asyncio.to_thread(outside_client, "mosquitto_pub", "-p", str(mosquitto),
                                       "-t", f"{ROOT}/circuit/road-5/set", "-m", payload)
        assert sent.returncode == 0
    await eventually(lambda: bridge.stats.malformed["circuit_set"] == 3, "three counted")
    assert port.commands == [] and bridge.stats.connected


class ReportingPort(FakePort):
    """Reports as the controller's feed makes them (controller/reports/province.py): today,
    the day before and this month; ``today`` is the local date, moved by the test."""

    def __init__(self, today: date) -> None:
        super().__init__()
        self.today = today

    async def reports(self) -> ReportBatch:
        days = (self.today, self.today - timedelta(days=1))
        messages = [ReportMessage("day", d.isoformat(), {"schema": 1, "day": d.isoformat()})
                    for d in days]
        month = self.today.isoformat()[:7]
        messages.append(ReportMessage("month", month, {"schema": 1, "month": month}))
        return ReportBatch(messages, 3600.0)


def day_topic(day: date, root: str = ROOT) -> str:
    return f"{root}/report/day/{day.isoformat()}"


async def held(port: int, topic_filter: str) -> set[str]:
    """The topics under ``topic_filter`` that hold a retained message, as a newcomer finds
    them (nothing more for 0.3 s after subscribing)."""
    found: set[str] = set()
    async with aiomqtt.Client("127.0.0.1", port) as client:
        await client.subscribe(topic_filter, qos=1)
        messages = aiter(client.messages)
        with contextlib.suppress(TimeoutError):
            while True:
                message = await asyncio.wait_for(anext(messages), 0.3)
                assert message.retain and message.payload
                found.add(str(message.topic))
    return found


async def test_day_reports_older_than_the_window_are_cleared(mosquitto: int) -> None:
    today = date(2027, 3, 14)
    other = "communectl/ha-trung"
    # What an earlier run of this gateway left on the broker, 40 days of reports and two
    # months, and another gateway's old day, which is not ours to clear.
    async with aiomqtt.Client("127.0.0.1", mosquitto) as earlier:
        for n in range(1, 41):
            await earlier.publish(day_topic(today - timedelta(days=n)), '{"schema": 1}', qos=1,
                                  retain=True)
        for month in ("2027-01", "2027-02"):
            await earlier.publish(f"{ROOT}/report/month/{month}", '{"schema": 1}', qos=1,
                                  retain=True)
        await earlier.publish(day_topic(date(2027, 1, 1), other), '{"schema": 1}', qos=1,
                              retain=True)
    port = ReportingPort(today)
    bridge = MqttBridge(BridgeSettings(url=f"mqtt://127.0.0.1:{mosquitto}", prefix="communectl",
                                       site_id="thieu-long", report_interval_s=0.05), port)

    def kept(up_to: date) -> set[str]:
        return {day_topic(up_to - timedelta(days=n)) for n in range(DAY_REPORTS_KEPT)}

    months = {f"{ROOT}/report/month/{m}" for m in ("2027-01", "2027-02", "2027-03")}
    async with Watcher(mosquitto, f"{ROOT}/report/day/+") as watcher:
        task = asyncio.create_task(bridge.run())
        try:
            # Cleared as soon as the bridge has seen them retained and knows today.
            expired = {day_topic(today - timedelta(days=n)) for n in range(31, 41)}
            await eventually(lambda: {t for t, p, _ in watcher.seen if p == ""} >= expired,
                             "the 10 days before the window cleared")
            assert await held(mosquitto, f"{ROOT}/report/#") == kept(today) | months
            # Days pass, one at a time: each new day pushes the oldest out.
            for n in range(1, 6):
                port.today = today + timedelta(days=n)
                await eventually(lambda: watcher.last(day_topic(port.today)) not in (None, ""),
                                 f"day {n} reported")
                await eventually(lambda: watcher.last(day_topic(
                    port.today - timedelta(days=DAY_REPORTS_KEPT))) == "",
                                 f"the day leaving the window on day {n} cleared")
            assert await held(mosquitto, f"{ROOT}/report/#") == \
                kept(today + timedelta(days=5)) | months
            assert await held(mosquitto, f"{other}/report/#") == {day_topic(date(2027, 1, 1),
                                                                            other)}
            assert bridge.stats.rejected == {} and bridge.stats.malformed == {}
        finally:
            await bridge.stop()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def bridge_for(port: FakePort, broker: int, *, accept_commands: bool = True) -> MqttBridge:
    return MqttBridge(BridgeSettings(url=f"mqtt://127.0.0.1:{broker}", prefix="communectl",
                                     site_id="thieu-long", accept_commands=accept_commands,
                                     state_interval_s=0.05), port)


@contextlib.asynccontextmanager
async def serving(bridge: MqttBridge) -> AsyncIterator[MqttBridge]:
    task = asyncio.create_task(bridge.run())
    try:
        await eventually(lambda: bridge.stats.connected, "connected")
        yield bridge
    finally:
        await bridge.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_a_circuit_command_delivered_twice_is_taken_once(mosquitto: int) -> None:
    """QoS 1 is at least once: the broker delivers again what it had no PUBACK for. The same
    id on the same circuit is answered alike and makes one override; another id, or the same
    id on another circuit, is another command."""
    port = FakePort()
    command = json.dumps({"state": "on", "duration_min": 30, "id": "fleet-7"})
    async with serving(bridge_for(port, mosquitto)), \
            Watcher(mosquitto, f"{ROOT}/circuit/+/set/ack") as acks:
        for _ in range(3):
            await publish(mosquitto, f"{ROOT}/circuit/road-5/set", command)
        await publish(mosquitto, f"{ROOT}/circuit/lane-2/set", command)
        await publish(mosquitto, f"{ROOT}/circuit/road-5/set",
                      json.dumps({"state": "off", "id": "fleet-8"}))
        await eventually(lambda: len(acks.seen) == 5, "five answers")
    assert [(c, m.get("id")) for c, m in port.commands] == [
        ("road-5", "fleet-7"), ("lane-2", "fleet-7"), ("road-5", "fleet-8")]
    assert [json.loads(p) for t, p, _ in acks.seen if t.endswith("road-5/set/ack")] == \
        [{"ok": True, "id": "fleet-7"}] * 3 + [{"ok": True, "id": "fleet-8"}]


async def test_a_command_sent_while_the_gateway_is_away_is_taken_when_it_is_back(
        mosquitto: int) -> None:
    """The gateway's session outlives its connection (a stable client id, CleanSession 0):
    the broker holds a QoS 1 command sent while the gateway restarts, and hands it over when
    it connects again."""
    first, second = FakePort(), FakePort()
    async with serving(bridge_for(first, mosquitto)) as bridge:
        client_id = bridge.client_id
    await publish(mosquitto, f"{ROOT}/announce",
                  json.dumps({"id": "while-away", "source": {"type": "tts", "text": "Alô"}}))
    async with Watcher(mosquitto, f"{ROOT}/announce/ack") as acks, \
            serving(bridge_for(second, mosquitto)) as bridge:
        assert bridge.client_id == client_id == "communectl-thieu-long"
        await eventually(lambda: acks.seen != [], "the held announcement answered")
    assert first.commands == []
    assert [(c, m["id"]) for c, m in second.commands] == [("announce", "while-away")]
    assert json.loads(acks.seen[0][1]) == {"id": "while-away", "accepted": True,
                                           "announcement_id": "ann-1"}


async def test_a_session_from_a_config_that_took_commands_gives_none_after(
        mosquitto: int) -> None:
    """Back with accept_commands off, the session's command subscriptions are dropped; a
    command the broker held from before is refused, counted, and makes no change."""
    async with serving(bridge_for(FakePort(), mosquitto)):
        pass
    await publish(mosquitto, f"{ROOT}/circuit/road-5/set", '{"state": "on", "id": "held"}')
    port = FakePort()
    async with serving(bridge_for(port, mosquitto, accept_commands=False)) as bridge:
        await eventually(lambda: bridge.stats.rejected["unknown_topic"] == 1,
                         "the held command refused")
        received = bridge.stats.received
        await publish(mosquitto, f"{ROOT}/circuit/road-5/set", '{"state": "on", "id": "new"}')
        await publish(mosquitto, f"{ROOT}/node/spk-1/status", "online")  # after it, heard
        await eventually(lambda: bridge.nodes.get("spk-1") is not None, "the node")
        assert bridge.stats.received == received + 1
    assert port.commands == []


async def test_a_command_is_answered_without_waiting_for_a_delayed_ack(tmp_path: Path) -> None:
    """TCP_NODELAY on our sockets and mosquitto's set_tcp_nodelay (as gateway-bridge.conf
    sets it): a command's answer follows the PUBACK at once, rather than 40 ms later when the
    peer's delayed ACK lets Nagle's algorithm send it (43 ms a command before, on loopback)."""
    port = free_port()
    broker = Broker(tmp_path, "gateway", f"listener {port} 127.0.0.1\nallow_anonymous true\n"
                    "persistence false\nset_tcp_nodelay true\n", port)
    broker.start()
    url = f"mqtt://127.0.0.1:{port}"
    try:
        async with serving(bridge_for(FakePort(), port)):
            took_ms = []
            for _ in range(9):
                result, = await fleet_announce(lambda: connect(url), "communectl",
                                               ["thieu-long"], {"source": {"type": "tts"}},
                                               timeout_s=5)
                assert result.outcome == "accepted" and result.ack_ms is not None
                took_ms.append(result.ack_ms)
        assert statistics.median(took_ms) < 20, took_ms
        async with connect(url) as client:
            assert client._client.socket().getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    finally:
        broker.stop()
