"""The ACL file of ``communectl fleet acl`` in a real mosquitto that lets no one in without a
password (``allow_anonymous false``, a ``mosquitto_passwd`` file): a gateway publishes its own
status and acknowledgements, and the province receives them; the same gateway's credential
publishing another commune's status or acknowledgement, or a command, is dropped by the broker,
while the same publish under the right credential arrives."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt
import pytest

from firmware_bridge import topics
from firmware_bridge.acl import acl_file
from tests.conftest import eventually
from tests.firmware_bridge.brokers import Broker, Listener, free_port, password_file

pytestmark = pytest.mark.integration
PREFIX = "communectl"
PASSWORDS = {"province": "tỉnh-secret", "thieu-long": "long-secret", "thieu-ngoc": "ngoc-secret"}
SILENCE_S = 1.5  # the broker answers within milliseconds; a dropped publish never comes


@pytest.fixture
async def broker(tmp_path: Path) -> AsyncIterator[int]:
    out = tmp_path / "acl"
    done = subprocess.run([sys.executable, "-m", "controller.cli", "fleet", "acl", "--sites",
                           "thieu-long,thieu-ngoc", "-o", str(out)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    port = free_port()
    server = Broker(tmp_path, "province", f"listener {port} 127.0.0.1\n"
                    "allow_anonymous false\n"
                    f"password_file {password_file(tmp_path, PASSWORDS)}\n"
                    f"acl_file {out}\npersistence false\n", port)
    server.start()
    try:
        yield port
    finally:
        server.stop()


async def publish(port: int, user: str, topic: str, payload: str) -> None:
    """A QoS 1 publish: the broker acknowledges it even when the ACL drops it (MQTT 3.1.1
    has no way to say no), so the caller cannot tell; only the subscriber can."""
    async with aiomqtt.Client("127.0.0.1", port, username=user,
                              password=PASSWORDS[user]) as client:
        await client.publish(topic, payload, qos=1)


def root(site: str) -> str:
    return topics.root(PREFIX, site)


async def test_a_gateway_writes_its_own_topics_and_nobody_elses(broker: int) -> None:
    province = Listener(broker, f"{PREFIX}/#", username="province",
                        password=PASSWORDS["province"])
    await province.start()
    try:
        long_, ngoc = root("thieu-long"), root("thieu-ngoc")
        ack = json.dumps({"id": "fleet-1", "accepted": True, "announcement_id": "a1"})
        # Its own status and acknowledgements arrive.
        await publish(broker, "thieu-long", topics.status(long_), "online")
        await publish(broker, "thieu-long", topics.announce_ack(long_), ack)
        await publish(broker, "thieu-long", topics.circuit_set_ack(long_, "road-5"),
                      json.dumps({"ok": True}))
        await publish(broker, "thieu-long", topics.report(long_, "month", "2027-03"), "{}")
        await eventually(lambda: len(province.seen) == 4, "thieu-long's own publishes")
        # Another commune's status and acknowledgement, and commands: dropped.
        forged = [(topics.status(ngoc), "offline"), (topics.announce_ack(ngoc), ack),
                  (topics.circuit_set_ack(ngoc, "road-5"), json.dumps({"ok": True})),
                  (topics.announce(ngoc), json.dumps({"id": "x", "level": "emergency"})),
                  (topics.announce(long_), json.dumps({"id": "y", "level": "emergency"})),
                  (topics.circuit_set(ngoc, "road-5"), json.dumps({"state": "off"})),
                  (topics.report(ngoc, "month", "2027-03"), "{}")]
        for topic, payload in forged:
            await publish(broker, "thieu-long", topic, payload)
        await asyncio.sleep(SILENCE_S)
        assert [t for t, _ in province.seen] == [
            topics.status(long_), topics.announce_ack(long_),
            topics.circuit_set_ack(long_, "road-5"), topics.report(long_, "month", "2027-03")]
        # The control: the same publishes under the right credentials arrive.
        await publish(broker, "thieu-ngoc", topics.status(ngoc), "offline")
        await publish(broker, "thieu-ngoc", topics.announce_ack(ngoc), ack)
        await publish(broker, "province", topics.announce(ngoc), '{"id": "x"}')
        await eventually(lambda: len(province.seen) == 7, "the rightful publishes")
        assert province.payloads(topics.status(ngoc)) == ["offline"]
    finally:
        await province.stop()


async def test_a_gateway_reads_only_what_is_addressed_to_it(broker: int) -> None:
    long_, ngoc = root("thieu-long"), root("thieu-ngoc")
    own = Listener(broker, f"{PREFIX}/#", username="thieu-long",
                   password=PASSWORDS["thieu-long"])
    await own.start()
    try:
        await publish(broker, "province", topics.announce(ngoc), '{"id": "to-ngoc"}')
        await publish(broker, "thieu-ngoc", topics.status(ngoc), "online")
        await publish(broker, "thieu-ngoc", topics.report(ngoc, "day", "2027-03-14"), "{}")
        await publish(broker, "province", topics.announce(long_), '{"id": "to-long"}')
        await eventually(lambda: own.seen != [], "its own announcement")
        # Its own day reports too: it clears the old ones it finds (docs/mqtt.md).
        await publish(broker, "thieu-long", topics.report(long_, "day", "2027-03-14"), "{}")
        await eventually(lambda: len(own.seen) == 2, "its own day report")
        await asyncio.sleep(SILENCE_S)
        assert own.seen == [(topics.announce(long_), '{"id": "to-long"}'),
                            (topics.report(long_, "day", "2027-03-14"), "{}")]
    finally:
        await own.stop()


async def test_the_province_does_not_write_a_gateways_state(broker: int) -> None:
    ngoc = root("thieu-ngoc")
    watch = Listener(broker, f"{PREFIX}/#", username="province",
                     password=PASSWORDS["province"])
    await watch.start()
    try:
        await publish(broker, "province", topics.status(ngoc), "offline")
        await publish(broker, "province", topics.circuit_set(ngoc, "road-5"), '{"state":"on"}')
        await eventually(lambda: watch.seen != [], "the province's command")
        await asyncio.sleep(SILENCE_S)
        assert watch.seen == [(topics.circuit_set(ngoc, "road-5"), '{"state":"on"}')]
    finally:
        await watch.stop()


def test_bad_sites_are_one_line_each_and_status_2() -> None:
    done = subprocess.run([sys.executable, "-m", "controller.cli", "fleet", "acl", "--sites",
                           "thieu-long,Xã Cũ,province,thieu-long"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        "communectl fleet acl: --sites: 'Xã Cũ': a site id is lower case letters, digits, "
        "- and _",
        "communectl fleet acl: --sites: 'province': is the province's own user name",
        "communectl fleet acl: --sites: 'thieu-long': listed twice"]


def test_every_topic_a_gateway_publishes_or_reads_is_in_its_block() -> None:
    text = acl_file(PREFIX, ["thieu-long"])
    block = text.split("user thieu-long\n")[1]
    long_ = root("thieu-long")
    wanted = [f"topic write {t}" for t in topics.gateway_writes(long_)] + \
             [f"topic read {t}" for t in topics.gateway_reads(long_)]
    assert block.splitlines() == wanted
    for topic in [*topics.subscriptions(long_, accept_commands=True, ha_discovery=False),
                  topics.own_day_reports(long_)]:
        assert f"topic read {topic}" in block
