"""Signed commands on a real mosquitto, a controller with ``province_commands = "signed"``:
unsigned, badly signed, expired and re-targeted commands are refused (acknowledged with the
reason, counted, logged), a good one is taken; the same announcement id sent twice makes one
announcement, also after a restart of the controller on the same data folder."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from controller.config import parse_config
from controller.errors import ConfigError
from controller.platform.clock import FakeClock
from controller.radio.records import ANNOUNCEMENTS
from controller.runtime import Runtime, build_runtime
from firmware_bridge import signing, topics
from tests.conftest import eventually
from tests.controller.conftest import API_NOON
from tests.controller.nodes.test_mqtt import CONFIG

pytestmark = pytest.mark.integration
KEY = b"0123456789abcdef-province-key"
ROOT = "communectl/thieu-long"
ANNOUNCE = {"source": {"type": "tts", "text": "Bão số 9 sắp đổ bộ."}, "level": "emergency",
            "zones": "all"}
SIGNED = '\nprovince_commands = "signed"\nprovince_key_file = "{key}"\ncommand_window_s = 60\n'


def config_text(tmp_path: Path, broker: int, cabinet_port: int) -> str:
    key_file = tmp_path / "province.key"
    key_file.write_bytes(KEY + b"\n")
    return CONFIG.format(site="thieu-long", data=tmp_path / "data", port=cabinet_port,
                         channel=0, broker=broker) + SIGNED.format(key=key_file)


async def start(text: str) -> tuple[Runtime, asyncio.Task[None]]:
    runtime = build_runtime(parse_config(text), FakeClock(API_NOON))
    task = asyncio.create_task(runtime.bridge.run())
    await eventually(lambda: runtime.bridge.stats.connected, "connected")
    return runtime, task


async def stop(runtime: Runtime, task: asyncio.Task[None]) -> None:
    await runtime.bridge.stop()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await runtime.devices.close()


@pytest.fixture
async def gateway(tmp_path: Path, mosquitto: int, api_cabinet: Any
                  ) -> AsyncIterator[tuple[Runtime, str]]:
    text = config_text(tmp_path, mosquitto, api_cabinet.tcp_port)
    runtime, task = await start(text)
    yield runtime, text
    await stop(runtime, task)


async def send(broker: int, topic: str, command: dict[str, Any], ack_topic: str
               ) -> dict[str, Any]:
    async with aiomqtt.Client("127.0.0.1", broker) as client:
        await client.subscribe(ack_topic, qos=1)
        await client.publish(topic, json.dumps(command, ensure_ascii=False), qos=1)
        async with asyncio.timeout(5):
            async for message in client.messages:
                ack: dict[str, Any] = json.loads(message.payload)
                if ack.get("id") == command.get("id"):
                    return ack
    raise AssertionError("no acknowledgement")


async def test_only_well_signed_fresh_commands_are_taken(
        gateway: tuple[Runtime, str], mosquitto: int,
        caplog: pytest.LogCaptureFixture) -> None:
    runtime, _ = gateway
    announce, ack = topics.announce(ROOT), topics.announce_ack(ROOT)
    now = time.time()
    unsigned = {**ANNOUNCE, "id": "u-1"}
    forged = signing.sign(b"not-the-province-key!", announce, {**ANNOUNCE, "id": "f-1"},
                          now=now)
    tampered = {**signing.sign(KEY, announce, {**ANNOUNCE, "id": "t-1"}, now=now),
                "level": "normal"}
    expired = signing.sign(KEY, announce, {**ANNOUNCE, "id": "e-1"}, now=now - 120)
    elsewhere = signing.sign(KEY, topics.announce("communectl/thieu-ngoc"),
                             {**ANNOUNCE, "id": "w-1"}, now=now)
    for command in [unsigned, forged, tampered, expired, elsewhere]:
        answer = await send(mosquitto, announce, command, ack)
        assert answer["accepted"] is False, command
        assert answer["error"].startswith("refused: "), answer
    assert runtime.bridge.stats.refused == {"unsigned": 1, "bad_signature": 3, "expired": 1}
    assert runtime.bridge.stats.as_json()["refused"] == {"unsigned": 1, "bad_signature": 3,
                                                         "expired": 1}
    assert any("refused" in r.getMessage() and "not signed" in r.getMessage()
               for r in caplog.records)
    assert runtime.store.all(ANNOUNCEMENTS) == []
    # A circuit command refused likewise, and its acknowledgement says why.
    circuit = topics.circuit_set(ROOT, "road-5")
    answer = await send(mosquitto, circuit, {"state": "on", "duration_min": 5, "id": "c-1"},
                        topics.circuit_set_ack(ROOT, "road-5"))
    assert answer == {"ok": False, "id": "c-1",
                      "error": 'refused: not signed (a "sig" is required)'}
    # The good one is taken.
    good = signing.sign(KEY, announce, {**ANNOUNCE, "id": "g-1"}, now=time.time())
    answer = await send(mosquitto, announce, good, ack)
    assert answer["accepted"] is True, answer
    [stored] = runtime.store.all(ANNOUNCEMENTS)
    assert stored["id"] == answer["announcement_id"] and stored["level"] == "emergency"
    answer = await send(mosquitto, circuit, signing.sign(
        KEY, circuit, {"state": "on", "duration_min": 5, "id": "c-2"}, now=time.time()),
        topics.circuit_set_ack(ROOT, "road-5"))
    assert answer == {"ok": True, "id": "c-2"}


async def test_a_replayed_announce_airs_once_across_a_restart(
        tmp_path: Path, mosquitto: int, api_cabinet: Any) -> None:
    text = config_text(tmp_path, mosquitto, api_cabinet.tcp_port)
    announce, ack = topics.announce(ROOT), topics.announce_ack(ROOT)
    command = signing.sign(KEY, announce, {**ANNOUNCE, "id": "fleet-42"}, now=time.time())
    runtime, task = await start(text)
    try:
        first = await send(mosquitto, announce, command, ack)
        again = await send(mosquitto, announce, command, ack)
    finally:
        await stop(runtime, task)
    assert first["accepted"] and again == first
    runtime, task = await start(text)  # the same data folder: the id is remembered
    try:
        after = await send(mosquitto, announce, command, ack)
        assert after == first
        assert [a["id"] for a in runtime.store.all(ANNOUNCEMENTS)] == \
            [first["announcement_id"]]
    finally:
        await stop(runtime, task)


def test_signed_without_a_usable_key_is_a_config_problem(tmp_path: Path) -> None:
    base = CONFIG.format(site="thieu-long", data=tmp_path, port=1, channel=0, broker=1)
    short = tmp_path / "short.key"
    short.write_text("abc\n")
    for extra, problem in [
            ('province_commands = "signed"\n',
             'mqtt.province_key_file: required with province_commands = "signed"'),
            (f'province_commands = "signed"\nprovince_key_file = "{tmp_path}/none"\n',
             f"mqtt.province_key_file: {tmp_path}/none: No such file or directory"),
            (f'province_commands = "signed"\nprovince_key_file = "{short}"\n',
             f"mqtt.province_key_file: {short}: a key of at least 16 bytes is needed"),
            ('province_commands = "credential"\n', "mqtt.username: required with "
             'province_commands = "credential"')]:
        with pytest.raises(ConfigError) as raised:
            parse_config(base + extra)
        assert len(raised.value.problems) == 1
        assert raised.value.problems[0].startswith(problem), raised.value.problems
