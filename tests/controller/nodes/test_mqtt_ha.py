"""Home Assistant end to end, on a real mosquitto: a gateway with discovery, and a client that
does what Home Assistant's MQTT light (JSON schema) and button do with it. The scheduled
switch-on is ON in Home Assistant's terms, its commands move the relays and hold until the next
switch point of the schedule, and its "back to schedule" button ends the hold."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Self

import aiomqtt
import pytest

from controller.config import parse_config
from controller.platform.clock import FakeClock
from controller.runtime import Runtime, build_runtime
from drivers.simulator import SimulatedCabinet
from tests.conftest import eventually
from tests.controller.conftest import API_NOON, ICT, RELAY_UNIT

pytestmark = pytest.mark.integration
ROOT = "communectl/thieu-long"
EVENING = datetime.combine(API_NOON.date(), datetime.min.time(), tzinfo=ICT) + \
    timedelta(hours=18, minutes=30)

CONFIG = """
[site]
id = "thieu-long"
name = "Xã Thiệu Long"
latitude = 19.87
longitude = 105.71
timezone = "Asia/Ho_Chi_Minh"

[storage]
path = "{data}"

[lighting]
settle_s = 0

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
name = "Đường số 5"
device = "relay-1"
channel = 0
program = "evening"

[[circuits]]
id = "cho"
name = "Chợ Thiệu Long"
device = "relay-1"
segments = {{ a = 1, b = 2 }}
levels = {{ 50 = ["a"], 100 = ["a", "b"] }}
program = "evening"

[[lighting_programs]]
id = "evening"
windows = [
  {{ on = "18:00", off = "22:00" }},
  {{ on = "22:00", off = "23:00", level = 50 }},
]

[mqtt]
url = "mqtt://127.0.0.1:{broker}"
accept_commands = true
ha_discovery = true
"""


class HomeAssistant:
    """What Home Assistant keeps of our topics: the discovery configs, and per light what its
    JSON schema makes of the last message on the state topic (schema_json.py)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.configs: dict[str, dict[str, Any]] = {}
        self.last: dict[str, dict[str, Any]] = {}
        self.client: aiomqtt.Client | None = None
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        ready = asyncio.Event()

        async def listen() -> None:
            async with aiomqtt.Client("127.0.0.1", self.port) as client:
                self.client = client
                await client.subscribe("homeassistant/+/+/config", qos=1)
                await client.subscribe(f"{ROOT}/circuit/+/ha/state", qos=1)
                ready.set()
                async for message in client.messages:
                    topic, payload = str(message.topic), bytes(message.payload)
                    if topic.startswith("homeassistant/") and payload:
                        self.configs[topic] = json.loads(payload)
                    elif not topic.startswith("homeassistant/"):
                        self.last[topic] = json.loads(payload)

        self.task = asyncio.create_task(listen())
        await asyncio.wait_for(ready.wait(), 10)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.task is not None
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)

    def entity(self, platform: str, unique_id: str) -> dict[str, Any] | None:
        return next((c for t, c in self.configs.items() if t.startswith(
            f"homeassistant/{platform}/") and c["unique_id"] == unique_id), None)

    def light(self, circuit: str) -> tuple[bool | None, int | None]:
        """(is_on, brightness 0..255) as Home Assistant shows the light; (None, None) before
        its discovery and first state arrived."""
        config = self.entity("light", f"communectl_thieu-long_{circuit}")
        values = self.last.get(config["state_topic"]) if config else None
        if config is None or values is None:
            return None, None
        is_on = {"ON": True, "OFF": False}.get(values["state"])
        brightness = None
        if "brightness" in config["supported_color_modes"] and values.get("brightness"):
            brightness = min(255, max(1, round(values["brightness"] * 255
                                               / config["brightness_scale"])))
        return is_on, brightness

    async def turn(self, circuit: str, state: str, brightness: int | None = None) -> None:
        config = self.entity("light", f"communectl_thieu-long_{circuit}")
        assert config is not None
        message: dict[str, Any] = {"state": state}
        if brightness is not None:  # async_turn_on: brightness_to_value over the scale
            message["brightness"] = max(round(brightness * config["brightness_scale"] / 255), 1)
        assert self.client is not None
        await self.client.publish(config["command_topic"], json.dumps(message), qos=1)

    async def press_back_to_schedule(self, circuit: str) -> None:
        config = self.entity("button", f"communectl_thieu-long_{circuit}_schedule")
        assert config is not None and self.client is not None
        await self.client.publish(config["command_topic"], config["payload_press"], qos=1)


@pytest.fixture
async def gateway(request: pytest.FixtureRequest, tmp_path: Path, mosquitto: int,
                  api_cabinet: SimulatedCabinet) -> AsyncIterator[tuple[Runtime, FakeClock]]:
    """A gateway at 18:30; a test may add lines to its [mqtt] (indirect parameter)."""
    clock = FakeClock(EVENING)
    text = CONFIG.format(data=tmp_path / "data", port=api_cabinet.tcp_port, broker=mosquitto)
    runtime = build_runtime(parse_config(text + getattr(request, "param", "")), clock)
    tasks = [asyncio.create_task(runtime.bridge.run()),
             asyncio.create_task(runtime.lighting.run())]
    await eventually(lambda: runtime.bridge.stats.connected, "connected")
    yield runtime, clock
    await runtime.bridge.stop()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await runtime.devices.close()


def relays(cabinet: SimulatedCabinet) -> list[bool]:
    return [bool(c) for c in cabinet.coils(RELAY_UNIT)[:3]]


async def test_home_assistant_sees_the_schedule_and_its_orders_hold_until_the_next_switch(
        gateway: tuple[Runtime, FakeClock], mosquitto: int,
        api_cabinet: SimulatedCabinet) -> None:
    runtime, clock = gateway
    async with HomeAssistant(mosquitto) as ha:
        # 18:30, inside the 18:00-22:00 window: on by the schedule, and ON in HA's terms.
        await eventually(lambda: relays(api_cabinet) == [True, True, True], "scheduled on")
        await eventually(lambda: ha.light("road-5") == (True, None), "road-5 ON in HA")
        await eventually(lambda: ha.light("cho") == (True, 255), "cho ON at full in HA")

        # HA switches road-5 off and dims the market to half: the relays follow.
        await ha.turn("road-5", "OFF")
        await ha.turn("cho", "ON", brightness=128)
        await eventually(lambda: relays(api_cabinet) == [False, True, False], "HA's orders")
        await eventually(lambda: ha.light("road-5") == (False, None), "road-5 OFF in HA")
        await eventually(lambda: ha.light("cho") == (True, 128), "cho at half in HA")
        holds = {o.target: o.until for o in runtime.lighting_service.overrides()}
        ten_pm = EVENING.replace(hour=22, minute=0)
        assert holds == {"circuit:road-5": ten_pm, "circuit:cho": ten_pm}

        # Still held a minute before the next switch point ...
        await clock.set(ten_pm - timedelta(minutes=1))
        await asyncio.sleep(0.3)
        assert relays(api_cabinet) == [False, True, False]
        # ... and the schedule's 22:00 step (to 50 %) applies again after it.
        await clock.set(ten_pm + timedelta(seconds=1))
        await eventually(lambda: relays(api_cabinet) == [True, True, False], "schedule at 22:00")
        await eventually(lambda: ha.light("road-5") == (True, None), "road-5 ON again")

        # Off again from HA (held until 23:00), then "back to schedule": on at 50 % again.
        await ha.turn("road-5", "OFF")
        await eventually(lambda: relays(api_cabinet)[0] is False, "road-5 off by HA")
        held = runtime.lighting_service.overrides()
        assert [(o.target, o.until.isoformat()) for o in held] == [
            ("circuit:road-5", EVENING.replace(hour=23, minute=0).isoformat())]
        await ha.press_back_to_schedule("road-5")
        await eventually(lambda: relays(api_cabinet) == [True, True, False], "back to schedule")
        await eventually(lambda: ha.light("road-5") == (True, None), "road-5 ON in HA")
        assert runtime.lighting_service.overrides() == []

        def ended() -> list[tuple[str, str]]:
            return [(e["actor"], e["target"]) for e in runtime.audit.query()
                    if e["action"] == "override.delete"]

        await eventually(lambda: ended() != [], "the end of the hold audited")
        assert ended() == [("mqtt", held[0].id)]
    assert runtime.bridge.stats.malformed == {}


async def test_a_malformed_order_from_home_assistant_is_counted_and_changes_nothing(
        gateway: tuple[Runtime, FakeClock], mosquitto: int,
        api_cabinet: SimulatedCabinet) -> None:
    runtime, _ = gateway
    await eventually(lambda: relays(api_cabinet) == [True, True, True], "scheduled on")
    async with aiomqtt.Client("127.0.0.1", mosquitto) as client:
        await client.publish(f"{ROOT}/circuit/road-5/ha/set", b'{"state": "off"}', qos=1)
        await client.publish(f"{ROOT}/circuit/nowhere/ha/set", b'{"state": "OFF"}', qos=1)
        await client.publish(f"{ROOT}/circuit/road-5/ha/schedule", b"\xff", qos=1)
    await eventually(lambda: sum(runtime.bridge.stats.malformed.values()) == 3, "counted")
    assert runtime.bridge.stats.malformed == {"ha_set": 2, "ha_schedule": 1}
    assert runtime.lighting_service.overrides() == []
    assert relays(api_cabinet) == [True, True, True]


@pytest.mark.parametrize("gateway", ["ha_override = 45\n"], indirect=True)
async def test_a_hold_of_fixed_minutes_when_configured(
        gateway: tuple[Runtime, FakeClock], mosquitto: int,
        api_cabinet: SimulatedCabinet) -> None:
    runtime, clock = gateway
    async with HomeAssistant(mosquitto) as ha:
        await eventually(lambda: ha.light("road-5") == (True, None), "road-5 ON in HA")
        await ha.turn("road-5", "OFF")
        await eventually(lambda: relays(api_cabinet)[0] is False, "road-5 off by HA")
    [held] = runtime.lighting_service.overrides()
    assert held.until == EVENING + timedelta(minutes=45)
    await clock.set(EVENING + timedelta(minutes=46))
    await eventually(lambda: relays(api_cabinet)[0] is True, "the schedule again after 45 min")
