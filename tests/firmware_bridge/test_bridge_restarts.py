"""The link as it runs for real: a gateway's local mosquitto on the shipped
``deploy/mosquitto/gateway-bridge.conf`` (its placeholders filled in, nothing else changed but
the listener's port and the persistence folder), bridged over TLS with the gateway's password to
a province mosquitto with the generated ACL; a real controller on the local broker and a
province-side subscriber. Each broker is restarted in turn:

- the province: what the gateway published at QoS 1 while it was down (an alarm, an event, a
  changed circuit state) reaches the province once it is back, each once, and the retained
  state is there for a newcomer;
- the gateway's broker: the controller reconnects and publishes its status and state again,
  the province sees them, and an alarm raised meanwhile arrives once; an announcement the
  province sent meanwhile reaches the gateway's broker once, which holds it for the
  controller's persistent session, so the controller takes it, once, without a resend;
- the gateway's broker back without its persistence file: the status and every retained state
  are there again, from the controller.

And old day reports the controller clears on its broker are cleared at the province too: the
bridge carries the empty retained message like any other report.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiomqtt
import pytest

from controller.config import parse_config
from controller.platform.clock import FakeClock
from controller.radio.records import RadioBook
from controller.runtime import Runtime, build_runtime
from drivers.simulator import SimulatedCabinet
from firmware_bridge.acl import acl_file
from firmware_bridge.bridge import tls_context
from tests.conftest import eventually
from tests.controller.conftest import API_NOON, RELAY_UNIT
from tests.firmware_bridge.brokers import Broker, Listener, certificates, free_port, password_file

pytestmark = pytest.mark.integration

SITE = "thieu-long"
ROOT = f"communectl/{SITE}"
PASSWORDS = {SITE: "long-secret", "province": "tinh-secret"}
SHIPPED = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto" / "gateway-bridge.conf"
# The bridge retries after restart_timeout (5 s, then longer): waits for it are this long.
RELINK_S = 40.0
RETAINED_S = 10.0

CONTROLLER = """
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
port = {cabinet}
timeout_s = 0.3

[[devices]]
id = "relay-1"
bus = "cabinet"
unit = {unit}
profile = "relay8"

[[circuits]]
id = "road-5"
device = "relay-1"
channel = 0

[[zones]]
id = "loa"
nodes = ["spk-1"]

[broadcast]
output = "null"

[mqtt]
url = "mqtt://127.0.0.1:{local}"
accept_commands = true
"""


def render(text: str, site: str, settings: dict[str, str]) -> str:
    """The shipped file as an installer fills it in: ``SITE`` replaced in every setting, and
    each directive of ``settings`` given its value. Each directive must be in the file once
    and ``SITE`` at least once, so a change to the file fails here rather than being
    silently tested as something else."""
    lines, found = [], dict.fromkeys(settings, 0)
    for line in text.splitlines():
        if line and not line.startswith("#"):
            line = re.sub(r"\bSITE\b", site, line)
            directive = line.split(" ", 1)[0]
            if directive in settings:
                found[directive] += 1
                line = f"{directive} {settings[directive]}"
        lines.append(line)
    assert all(n == 1 for n in found.values()), f"not once in {SHIPPED}: {found}"
    rendered = "\n".join(lines) + "\n"
    assert not re.search(r"^[^#].*\bSITE\b", rendered, re.MULTILINE)
    return rendered


@dataclass
class Link:
    province: Broker
    local: Broker
    runtime: Runtime
    watch: Listener  # the province's subscriber to everything of the gateway
    local_watch: Listener  # the same on the gateway's broker, also a persistent session
    ca: Path

    def province_client(self, identifier: str | None = None) -> aiomqtt.Client:
        return aiomqtt.Client("127.0.0.1", self.province.port, username="province",
                              password=PASSWORDS["province"], tls_context=tls_context(str(self.ca)),
                              identifier=identifier)

    def events(self, listener: Listener | None = None) -> list[dict[str, object]]:
        return [json.loads(p) for p in (listener or self.watch).payloads(f"{ROOT}/events")]


@pytest.fixture
async def link(tmp_path: Path) -> AsyncIterator[Link]:
    files = certificates(tmp_path / "pki")
    (tmp_path / "acl").write_text(acl_file("communectl", [SITE]))
    province_port, local_port = free_port(), free_port()
    (tmp_path / "province-db").mkdir()
    (tmp_path / "local-db").mkdir()
    province = Broker(tmp_path, "province", f"listener {province_port} 127.0.0.1\n"
                      f"cafile {files['ca']}\ncertfile {files['cert']}\n"
                      f"keyfile {files['key']}\nallow_anonymous false\n"
                      f"password_file {password_file(tmp_path, PASSWORDS)}\n"
                      f"acl_file {tmp_path / 'acl'}\npersistence true\n"
                      f"persistence_location {tmp_path / 'province-db'}/\n", province_port)
    local = Broker(tmp_path, "gateway", render(SHIPPED.read_text(), SITE, {
        "listener": f"{local_port} 127.0.0.1",
        "persistence_location": f"{tmp_path / 'local-db'}/",
        "address": f"127.0.0.1:{province_port}",
        "bridge_cafile": str(files["ca"]),
        "remote_password": PASSWORDS[SITE]}), local_port)
    cabinet = SimulatedCabinet()
    cabinet.add_relay_board(RELAY_UNIT, coils=8)
    await cabinet.start_tcp("127.0.0.1", 0)
    async with contextlib.AsyncExitStack() as cleanup:
        # Whatever fails while the link is set up, what was started is stopped.
        cleanup.push_async_callback(cabinet.stop)
        province.start()
        cleanup.callback(province.stop)
        # A persistent session (and the province's persistence): what the bridge delivers
        # while this subscriber is away (the province restarting) waits for it.
        watch = Listener(province_port, f"{ROOT}/#", username="province",
                         password=PASSWORDS["province"],
                         tls_context=tls_context(str(files["ca"])),
                         identifier="province-watch", clean_session=False)
        await watch.start()
        cleanup.push_async_callback(watch.stop)
        local.start()
        cleanup.callback(local.stop)
        local_watch = Listener(local_port, f"{ROOT}/#", identifier="gateway-watch",
                               clean_session=False)
        await local_watch.start()
        cleanup.push_async_callback(local_watch.stop)
        runtime = build_runtime(parse_config(CONTROLLER.format(
            site=SITE, data=tmp_path / "data", cabinet=cabinet.tcp_port, unit=RELAY_UNIT,
            local=local_port)), FakeClock(API_NOON))
        cleanup.push_async_callback(runtime.devices.close)
        tasks = [asyncio.create_task(runtime.bridge.run()),
                 asyncio.create_task(runtime.lighting.run())]

        async def stop_tasks() -> None:
            await runtime.bridge.stop()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        cleanup.push_async_callback(stop_tasks)
        link = Link(province, local, runtime, watch, local_watch, files["ca"])
        await eventually(lambda: runtime.bridge.stats.connected, "controller connected")
        await eventually(lambda: watch.payloads(f"{ROOT}/bridge")[-1:] == ["1"],
                         "the bridge up at the province", timeout_s=RELINK_S)
        await eventually(lambda: "online" in watch.payloads(f"{ROOT}/status")
                         and watch.payloads(f"{ROOT}/circuit/road-5/state") != [],
                         "the gateway's state at the province")
        yield link


async def retained(link: Link, *wanted: str) -> dict[str, str]:
    """What a newcomer at the province gets of ``wanted``: their retained messages (each
    flagged retained), once all have come or after ``RETAINED_S``."""
    found: dict[str, str] = {}
    async with link.province_client() as client:
        await client.subscribe(f"{ROOT}/#", qos=1)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(RETAINED_S):
                async for message in client.messages:
                    if message.retain and isinstance(message.payload, bytes):
                        found[str(message.topic)] = message.payload.decode()
                    if set(wanted) <= set(found):
                        break
    return found


def state(payload: str | None) -> object:
    return json.loads(payload or "{}").get("state")


async def command_on_local_broker(link: Link, command_id: str) -> None:
    async with aiomqtt.Client("127.0.0.1", link.local.port) as client:
        await client.publish(f"{ROOT}/circuit/road-5/set", json.dumps(
            {"state": "on", "duration_min": 30, "id": command_id}), qos=1)


async def test_what_the_gateway_sends_while_the_province_is_down_arrives_once(
        link: Link) -> None:
    link.province.stop()
    await link.watch.stop()
    runtime = link.runtime
    runtime.alarms.raise_alarm("test_alarm", "road-5", "raised while the province is down")
    runtime.alarms.note("test_event", "road-5", "noted while the province is down")
    await command_on_local_broker(link, "while-down")  # the circuit's state changes
    # Acknowledged by the gateway's broker: from here on it is the bridge's to deliver.
    await eventually(lambda: {e["kind"] for e in link.events(link.local_watch)} >=
                     {"test_alarm", "test_event"}, "events at the gateway's broker")
    await eventually(lambda: state(
        ([None, *link.local_watch.payloads(f"{ROOT}/circuit/road-5/state")])[-1]) == "on",
        "the new state at the gateway's broker")

    link.province.start()
    await link.watch.start()
    await eventually(lambda: {e["kind"] for e in link.events()} >= {"test_alarm", "test_event"},
                     "the queued events at the province", timeout_s=RELINK_S)
    runtime.alarms.note("marker", "site", "after the province is back")
    await eventually(lambda: "marker" in {e["kind"] for e in link.events()}, "the marker")
    kinds = [e["kind"] for e in link.events()]
    assert kinds.count("test_alarm") == 1 and kinds.count("test_event") == 1, kinds
    assert kinds.count("marker") == 1, kinds
    assert state(link.watch.payloads(f"{ROOT}/circuit/road-5/state")[-1]) == "on"
    assert json.loads(link.watch.payloads(f"{ROOT}/circuit/road-5/set/ack")[-1]) == \
        {"ok": True, "id": "while-down"}

    held = await retained(link, f"{ROOT}/status", f"{ROOT}/circuit/road-5/state",
                          f"{ROOT}/bridge")
    assert held[f"{ROOT}/status"] == "online"
    assert state(held.get(f"{ROOT}/circuit/road-5/state")) == "on"
    assert held[f"{ROOT}/bridge"] == "1"


async def test_after_the_gateways_broker_restarts_state_comes_again_and_commands_arrive(
        link: Link, monkeypatch: pytest.MonkeyPatch) -> None:
    runtime = link.runtime
    handed_over: list[str] = []  # the announcements the controller received, by id
    port = runtime.bridge._port
    take = port.announce

    async def counted(command: dict[str, object]) -> str:
        handed_over.append(str(command["id"]))
        return await take(command)

    monkeypatch.setattr(port, "announce", counted)
    statuses = len(link.watch.payloads(f"{ROOT}/status"))
    states = len(link.watch.payloads(f"{ROOT}/circuit/road-5/state"))
    link.local.stop()  # saves every persistent session, the controller's too
    await link.local_watch.stop()
    await eventually(lambda: not runtime.bridge.stats.connected, "controller disconnected")
    announcement = {"id": "bao-so-9", "source": {"type": "tts", "text": "Bão số 9 sắp đổ bộ."},
                    "level": "emergency", "zones": "all"}
    async with link.province_client() as client:
        # PUBACK from the province: the command is in the bridge's session there.
        await client.publish(f"{ROOT}/announce", json.dumps(announcement), qos=1)
    runtime.alarms.raise_alarm("test_alarm", "road-5", "raised while the gateway's broker is down")

    link.local.start()
    await link.local_watch.start()
    # The bridge hands the queued command to the gateway's broker, once, and that broker holds
    # it for the controller's session (persistent, subscribed at QoS 1) until the controller is
    # back, whichever of the two links up first: no resend needed.
    await eventually(lambda: len(link.local_watch.payloads(f"{ROOT}/announce")) == 1,
                     "the queued announcement at the gateway's broker", timeout_s=RELINK_S)
    await eventually(lambda: runtime.bridge.stats.connected and
                     runtime.bridge.stats.connects == 2, "controller reconnected")
    await eventually(lambda: len(link.watch.payloads(f"{ROOT}/status")) > statuses and
                     len(link.watch.payloads(f"{ROOT}/circuit/road-5/state")) > states,
                     "status and state published again, at the province", timeout_s=RELINK_S)
    assert link.watch.payloads(f"{ROOT}/status")[-1] == "online"
    await eventually(lambda: link.watch.payloads(f"{ROOT}/announce/ack") != [],
                     "the announcement acknowledged, at the province", timeout_s=RELINK_S)
    await eventually(lambda: "test_alarm" in {e["kind"] for e in link.events()},
                     "the alarm raised meanwhile, at the province", timeout_s=RELINK_S)
    runtime.alarms.note("marker", "site", "after the gateway's broker is back")
    await eventually(lambda: "marker" in {e["kind"] for e in link.events()}, "the marker")

    assert handed_over == ["bao-so-9"]
    acks = [json.loads(p) for p in link.watch.payloads(f"{ROOT}/announce/ack")]
    assert [(a["id"], a["accepted"]) for a in acks] == [("bao-so-9", True)], acks
    assert [a.id for a in RadioBook(runtime.store).announcements()] == \
        [acks[0]["announcement_id"]]
    assert [e["kind"] for e in link.events()].count("test_alarm") == 1
    assert len(link.local_watch.payloads(f"{ROOT}/announce")) == 1


async def test_a_gateway_broker_back_without_its_persistence_gets_the_state_again(
        link: Link, tmp_path: Path) -> None:
    """With its file the broker keeps its retained messages itself; without it (a card
    replaced, the file lost) they are there again only because the controller publishes its
    status and every retained state again on each connection."""
    runtime = link.runtime
    link.local.stop()
    await link.local_watch.stop()
    await eventually(lambda: not runtime.bridge.stats.connected, "controller disconnected")
    (tmp_path / "local-db" / "mosquitto.db").unlink()
    link.local.start()
    await eventually(lambda: runtime.bridge.stats.connects == 2, "controller reconnected")
    wanted = (f"{ROOT}/status", f"{ROOT}/circuit/road-5/state", f"{ROOT}/broadcast/now")
    found: dict[str, str] = {}

    async def newcomer() -> None:
        async with aiomqtt.Client("127.0.0.1", link.local.port) as client:
            await client.subscribe(f"{ROOT}/#", qos=1)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(0.5):
                    async for message in client.messages:
                        if message.retain and isinstance(message.payload, bytes):
                            found[str(message.topic)] = message.payload.decode()

    async def has_all() -> bool:
        await newcomer()
        return set(wanted) <= set(found)

    for _ in range(20):  # a bounded wait: the controller's state loop runs every second
        if await has_all():
            break
    assert set(wanted) <= set(found), found
    assert found[f"{ROOT}/status"] == "online"
    assert state(found[f"{ROOT}/circuit/road-5/state"]) == "off"


async def test_old_day_reports_cleared_at_the_gateway_are_gone_at_the_province(
        link: Link) -> None:
    # The controller's clock says 2026-11-26: the days kept are 2026-10-28 to 2026-11-26.
    old, recent = f"{ROOT}/report/day/2026-10-01", f"{ROOT}/report/day/2026-11-20"
    async with aiomqtt.Client("127.0.0.1", link.local.port) as earlier:  # an earlier run's
        for topic in (old, recent):
            await earlier.publish(topic, '{"schema": 1}', qos=1, retain=True)
    await eventually(lambda: link.watch.payloads(old) == ['{"schema": 1}', ""],
                     "the old day reported, then cleared, at the province")
    held = await retained(link, recent, f"{ROOT}/report/day/2026-11-26")
    assert held[recent] == '{"schema": 1}'
    assert json.loads(held[f"{ROOT}/report/day/2026-11-26"])["day"] == "2026-11-26"
    assert old not in held
