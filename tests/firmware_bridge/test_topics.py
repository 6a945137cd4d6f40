"""The topic codec of firmware_bridge/topics.py as tables: every topic a gateway builds and
every one it reads (docs/mqtt.md), the province's view of many gateways, malformed topics and
payloads, and round trips. Pure: no broker, no I/O."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pytest

from firmware_bridge import topics
from firmware_bridge.topics import (
    HA_PREFIX,
    MAX_PAYLOAD_BYTES,
    BadPayload,
    GatewayTopic,
    HaCircuit,
    HaCommand,
    Incoming,
    parse_gateway_topic,
    parse_incoming,
)

PREFIX = "communectl"
SITE = "thieu-long"
ROOT = f"{PREFIX}/{SITE}"


def matches(topic_filter: str, topic: str) -> bool:
    """MQTT topic filter matching (MQTT 3.1.1, 4.7): ``+`` one level, ``#`` the rest."""
    wanted, levels = topic_filter.split("/"), topic.split("/")
    for index, part in enumerate(wanted):
        if part == "#":
            return True
        if index >= len(levels) or part not in ("+", levels[index]):
            return False
    return len(wanted) == len(levels)


@pytest.mark.parametrize(("topic_filter", "topic", "expected"), [
    ("a/+/c", "a/b/c", True),
    ("a/+/c", "a/b/d", False),
    ("a/+", "a/b/c", False),
    ("a/#", "a/b/c", True),
    ("a/b", "a/b", True),
    ("a/b/c", "a/b", False),
])
def test_the_filter_matcher_of_these_tests(topic_filter: str, topic: str,
                                           expected: bool) -> None:
    assert matches(topic_filter, topic) is expected


# -- topic names the gateway builds -------------------------------------------------------------

@pytest.mark.parametrize(("built", "expected"), [
    (topics.root(PREFIX, SITE), "communectl/thieu-long"),
    (topics.status(ROOT), "communectl/thieu-long/status"),
    (topics.circuit_state(ROOT, "road-5"), "communectl/thieu-long/circuit/road-5/state"),
    (topics.circuit_set(ROOT, "road-5"), "communectl/thieu-long/circuit/road-5/set"),
    (topics.circuit_set_ack(ROOT, "road-5"), "communectl/thieu-long/circuit/road-5/set/ack"),
    (topics.broadcast_now(ROOT), "communectl/thieu-long/broadcast/now"),
    (topics.announce(ROOT), "communectl/thieu-long/announce"),
    (topics.announce_ack(ROOT), "communectl/thieu-long/announce/ack"),
    (topics.events(ROOT), "communectl/thieu-long/events"),
    (topics.node_cmd(ROOT, "spk-1"), "communectl/thieu-long/node/spk-1/cmd"),
    (topics.ha_state(ROOT, "cho"), "communectl/thieu-long/circuit/cho/ha/state"),
    (topics.ha_set(ROOT, "cho"), "communectl/thieu-long/circuit/cho/ha/set"),
    (topics.ha_schedule(ROOT, "cho"), "communectl/thieu-long/circuit/cho/ha/schedule"),
])
def test_topic_names_are_those_of_docs_mqtt(built: str, expected: str) -> None:
    assert built == expected


@pytest.mark.parametrize(("accept_commands", "ha_discovery", "expected"), [
    (False, False, ["node/+/status", "node/+/telemetry", "node/+/ack"]),
    (True, False, ["node/+/status", "node/+/telemetry", "node/+/ack", "circuit/+/set",
                   "announce"]),
    (False, True, ["node/+/status", "node/+/telemetry", "node/+/ack", "homeassistant/status"]),
    (True, True, ["node/+/status", "node/+/telemetry", "node/+/ack", "circuit/+/set",
                  "announce", "homeassistant/status", "circuit/+/ha/set",
                  "circuit/+/ha/schedule"]),
])
def test_subscriptions_follow_the_settings(accept_commands: bool, ha_discovery: bool,
                                           expected: list[str]) -> None:
    found = topics.subscriptions(ROOT, accept_commands=accept_commands,
                                 ha_discovery=ha_discovery)
    assert found == [t if t.startswith(HA_PREFIX) else f"{ROOT}/{t}" for t in expected]


# -- what the gateway reads: every kind -----------------------------------------------------------

@pytest.mark.parametrize(("topic", "payload", "expected"), [
    (f"{ROOT}/circuit/road-5/set", b'{"state": "on", "duration_min": 30}',
     Incoming("circuit_set", "road-5", {"state": "on", "duration_min": 30})),
    (f"{ROOT}/circuit/road-5/set", b'{}', Incoming("circuit_set", "road-5", {})),
    (f"{ROOT}/announce", '{"id": "c1", "text": "Thông báo"}'.encode(),
     Incoming("announce", None, {"id": "c1", "text": "Thông báo"})),
    (f"{ROOT}/node/spk-1/status", b"online", Incoming("node_status", "spk-1", "online")),
    (f"{ROOT}/node/spk-1/status", b" offline\n", Incoming("node_status", "spk-1", "offline")),
    (f"{ROOT}/node/spk-1/telemetry", b'{"fw": "1.2.0", "rssi": -71}',
     Incoming("node_telemetry", "spk-1", {"fw": "1.2.0", "rssi": -71})),
    (f"{ROOT}/node/spk-1/ack", b'{"id": "n1", "ok": true}',
     Incoming("node_ack", "spk-1", {"id": "n1", "ok": True})),
    (f"{HA_PREFIX}/status", b"online", Incoming("ha_status", None, "online")),
    (f"{ROOT}/circuit/cho/ha/set", b'{"state": "ON", "brightness": 40}',
     Incoming("ha_set", "cho", HaCommand("on", 40))),
    (f"{ROOT}/circuit/cho/ha/set", b'{"state": "OFF"}',
     Incoming("ha_set", "cho", HaCommand("off", None))),
    (f"{ROOT}/circuit/cho/ha/schedule", b"PRESS", Incoming("ha_schedule", "cho", None)),
    # Its own day reports, as the broker holds them: there, or cleared (an empty message).
    (f"{ROOT}/report/day/2027-03-14", b'{"schema": 1}', Incoming("report_day", "2027-03-14",
                                                                True)),
    (f"{ROOT}/report/day/2027-03-14", b"", Incoming("report_day", "2027-03-14", False)),
])
def test_every_incoming_kind_is_read(topic: str, payload: bytes, expected: Incoming) -> None:
    assert parse_incoming(ROOT, topic, payload) == expected


# -- malformed topics and payloads --------------------------------------------------------------

TOO_LARGE = b'{"id": "c1", "text": "' + b"x" * MAX_PAYLOAD_BYTES + b'"}'


@pytest.mark.parametrize(("topic", "payload", "kind"), [
    # Wrong prefix, wrong site, or no such subtopic.
    (f"other/{SITE}/circuit/road-5/set", b"{}", "unknown_topic"),
    (f"{PREFIX}/ha-trung/circuit/road-5/set", b"{}", "unknown_topic"),
    (f"{PREFIX}/thieu-long-2/announce", b'{"id": "c1"}', "unknown_topic"),
    (f"{ROOT}-announce", b'{"id": "c1"}', "unknown_topic"),  # the root is whole levels
    (ROOT, b"{}", "unknown_topic"),
    (f"{ROOT}/whatever", b"{}", "unknown_topic"),
    (f"{ROOT}/circuit/road-5", b"{}", "unknown_topic"),
    (f"{ROOT}/circuit/road-5/state", b"{}", "unknown_topic"),  # ours, outgoing only
    (f"{ROOT}/circuit/road-5/set/ack", b"{}", "unknown_topic"),
    (f"{ROOT}/announce/ack", b'{"id": "c1"}', "unknown_topic"),
    (f"{ROOT}/node/spk-1/cmd", b"{}", "unknown_topic"),
    (f"{ROOT}/node/spk-1/other", b"{}", "unknown_topic"),
    (f"{ROOT}/node/spk-1", b"online", "unknown_topic"),
    (f"{ROOT}/circuit/cho/ha/other", b"PRESS", "unknown_topic"),
    (f"{HA_PREFIX}/light/x/config", b"{}", "unknown_topic"),
    # Bad JSON, not an object, not UTF-8, too large.
    (f"{ROOT}/circuit/road-5/set", b"{not json", "circuit_set"),
    (f"{ROOT}/circuit/road-5/set", b"", "circuit_set"),
    (f"{ROOT}/circuit/road-5/set", b"[1, 2]", "circuit_set"),
    (f"{ROOT}/circuit/road-5/set", b'"on"', "circuit_set"),
    (f"{ROOT}/circuit/road-5/set", b"\xff\xfe", "circuit_set"),
    (f"{ROOT}/announce", TOO_LARGE, "announce"),
    (f"{ROOT}/announce", b"x" * 70_000, "announce"),
    (f"{ROOT}/node/spk-1/telemetry", b"null", "node_telemetry"),
    (f"{ROOT}/node/spk-1/telemetry", b"\xc3(", "node_telemetry"),
    # Right JSON, wrong shape.
    (f"{ROOT}/announce", b'{"source": {}}', "announce"),
    (f"{ROOT}/announce", b'{"id": ""}', "announce"),
    (f"{ROOT}/announce", b'{"id": 7}', "announce"),
    (f"{ROOT}/node/spk-1/status", b"maybe", "node_status"),
    (f"{ROOT}/node/spk-1/status", b"\xff", "node_status"),
    (f"{ROOT}/node/spk-1/status", b"o" * (MAX_PAYLOAD_BYTES + 1), "node_status"),
    (f"{ROOT}/node/spk-1/ack", b'{"ok": true}', "node_ack"),
    (f"{ROOT}/node/spk-1/ack", b'{"id": 1, "ok": true}', "node_ack"),
    (f"{HA_PREFIX}/status", b"\xff", "ha_status"),
    (f"{ROOT}/circuit/cho/ha/set", b'{"state": "on"}', "ha_set"),
    (f"{ROOT}/circuit/cho/ha/set", b'{"state": "ON", "brightness": 101}', "ha_set"),
    (f"{ROOT}/circuit/cho/ha/schedule", b"press", "ha_schedule"),
    # A day report whose key is not a day is not one of ours to clear.
    (f"{ROOT}/report/day/today", b"{}", "report_day"),
    (f"{ROOT}/report/day/20270314", b"{}", "report_day"),
    (f"{ROOT}/report/day/2027-W11-1", b"{}", "report_day"),
    (f"{ROOT}/report/day/2027-02-30", b"{}", "report_day"),
    (f"{ROOT}/report/day/2027-03-14", b"x" * 70_000, "report_day"),
    (f"{ROOT}/report/month/2027-03", b"{}", "unknown_topic"),
    (f"{ROOT}/report/day/2027-03-14/x", b"{}", "unknown_topic"),
])
def test_malformed_messages_are_refused_by_kind(topic: str, payload: bytes, kind: str) -> None:
    with pytest.raises(BadPayload) as caught:
        parse_incoming(ROOT, topic, payload)
    assert caught.value.kind == kind
    assert str(caught.value).startswith(f"{kind}: ")


def test_the_size_limit_is_on_the_bytes_and_inclusive() -> None:
    padding = MAX_PAYLOAD_BYTES - len(b'{"id":"c1","t":""}')
    at_limit = b'{"id":"c1","t":"' + b"x" * padding + b'"}'
    assert len(at_limit) == MAX_PAYLOAD_BYTES
    assert parse_incoming(ROOT, topics.announce(ROOT), at_limit).data["id"] == "c1"
    one_more = at_limit[:-2] + b'x"}'
    with pytest.raises(BadPayload) as caught:
        parse_incoming(ROOT, topics.announce(ROOT), one_more)
    assert str(caught.value) == (
        f"announce: {MAX_PAYLOAD_BYTES + 1} bytes, more than {MAX_PAYLOAD_BYTES}")


def test_another_gateway_root_on_the_same_broker_is_not_ours() -> None:
    # The prefix test is on whole levels: "thieu-long-2" does not start with our root.
    other = topics.root(PREFIX, f"{SITE}-2")
    with pytest.raises(BadPayload) as caught:
        parse_incoming(ROOT, topics.circuit_set(other, "road-5"), b"{}")
    assert caught.value.kind == "unknown_topic"


# -- round trips: what we build is what we read -------------------------------------------------

@pytest.mark.parametrize(("build", "kind", "subject"), [
    (lambda: topics.circuit_set(ROOT, "road-5"), "circuit_set", "road-5"),
    (lambda: topics.announce(ROOT), "announce", None),
    (lambda: f"{ROOT}/node/spk-1/telemetry", "node_telemetry", "spk-1"),
    (lambda: f"{ROOT}/node/spk-1/ack", "node_ack", "spk-1"),
])
def test_a_json_command_built_here_reads_back(build: Any, kind: str, subject: str | None) -> None:
    document = {"id": "c-7", "state": "on", "level": 60, "reason": "Lễ hội làng"}
    payload = json.dumps(document, ensure_ascii=False).encode()
    assert parse_incoming(ROOT, build(), payload) == Incoming(kind, subject, document)


@pytest.mark.parametrize("circuit", ["road-5", "cho", "đường-1", "a_b"])
def test_every_subscription_hears_the_topic_it_is_for(circuit: str) -> None:
    every = topics.subscriptions(ROOT, accept_commands=True, ha_discovery=True)
    for topic in (topics.circuit_set(ROOT, circuit), topics.announce(ROOT),
                  f"{ROOT}/node/{circuit}/status", f"{ROOT}/node/{circuit}/telemetry",
                  f"{ROOT}/node/{circuit}/ack", f"{HA_PREFIX}/status",
                  topics.ha_set(ROOT, circuit), topics.ha_schedule(ROOT, circuit)):
        assert any(matches(f, topic) for f in every), topic
    # ... and none hears what the gateway itself publishes.
    for topic in (topics.status(ROOT), topics.circuit_state(ROOT, circuit),
                  topics.circuit_set_ack(ROOT, circuit), topics.broadcast_now(ROOT),
                  topics.announce_ack(ROOT), topics.events(ROOT),
                  topics.node_cmd(ROOT, circuit), topics.ha_state(ROOT, circuit)):
        assert not any(matches(f, topic) for f in every), topic


@pytest.mark.parametrize(("state", "dimmable", "command"), [
    ({"state": "on", "level": 40}, True, HaCommand("on", 40)),
    ({"state": "on", "level": 100}, True, HaCommand("on", 100)),
    ({"state": "on", "level": None}, True, HaCommand("on", 100)),
    ({"state": "on", "level": 40}, False, HaCommand("on", None)),
    ({"state": "off", "level": 0}, True, HaCommand("off", None)),
    ({"state": "off", "level": 0}, False, HaCommand("off", None)),
])
def test_our_home_assistant_state_reads_back_as_the_same_command(
        state: dict[str, Any], dimmable: bool, command: HaCommand) -> None:
    # Home Assistant's JSON light uses one shape for state and command, so our state payload
    # sent back on the command topic must mean what it showed.
    payload = json.dumps(topics.ha_state_payload(state, dimmable=dimmable)).encode()
    assert topics.parse_ha_command(payload) == command


@pytest.mark.parametrize("level", [1, 2, 50, 99, 100])
def test_every_level_goes_out_and_back_whole(level: int) -> None:
    out = topics.ha_state_payload({"state": "on", "level": level}, dimmable=True)
    assert out == {"state": "ON", "brightness": level}
    incoming = parse_incoming(ROOT, topics.ha_set(ROOT, "cho"), json.dumps(out).encode())
    assert incoming == Incoming("ha_set", "cho", HaCommand("on", level))


def test_discovery_names_the_topics_the_gateway_reads_and_writes() -> None:
    circuits = [HaCircuit("road-5", "Đường số 5", dimmable=False),
                HaCircuit("cho", "Chợ", dimmable=True)]
    messages = dict(topics.ha_discovery_messages(PREFIX, SITE, "Thiệu Long", circuits,
                                                 accept_commands=True))
    assert sorted(messages) == [
        f"{HA_PREFIX}/button/{SITE}_cho_schedule/config",
        f"{HA_PREFIX}/button/{SITE}_road-5_schedule/config",
        f"{HA_PREFIX}/light/{SITE}_cho/config",
        f"{HA_PREFIX}/light/{SITE}_road-5/config",
    ]
    light = json.loads(messages[f"{HA_PREFIX}/light/{SITE}_cho/config"])
    assert (light["command_topic"], light["state_topic"], light["availability_topic"]) == (
        topics.ha_set(ROOT, "cho"), topics.ha_state(ROOT, "cho"), topics.status(ROOT))
    assert light["name"] == "Chợ"  # not escaped: ensure_ascii=False
    assert "Chợ" in messages[f"{HA_PREFIX}/light/{SITE}_cho/config"]
    button = json.loads(messages[f"{HA_PREFIX}/button/{SITE}_cho_schedule/config"])
    pressed = parse_incoming(ROOT, button["command_topic"], button["payload_press"].encode())
    assert pressed == Incoming("ha_schedule", "cho", None)
    # Without commands the buttons' configs are empty, which removes them.
    without = dict(topics.ha_discovery_messages(PREFIX, SITE, "", circuits,
                                                accept_commands=False))
    assert without[f"{HA_PREFIX}/button/{SITE}_cho_schedule/config"] == ""
    assert json.loads(without[f"{HA_PREFIX}/light/{SITE}_cho/config"])["device"]["name"] == SITE


# -- the province: many gateways under one prefix -----------------------------------------------

@pytest.mark.parametrize(("topic", "expected"), [
    (topics.status(ROOT), GatewayTopic(SITE, "status")),
    (topics.circuit_state(ROOT, "road-5"), GatewayTopic(SITE, "circuit_state", "road-5")),
    (topics.broadcast_now(ROOT), GatewayTopic(SITE, "broadcast_now")),
    (topics.announce_ack(ROOT), GatewayTopic(SITE, "announce_ack")),
    (f"{PREFIX}/ha-trung/status", GatewayTopic("ha-trung", "status")),
    # Not a gateway's published topic, or not under the prefix.
    (f"other/{SITE}/status", None),
    (f"{PREFIX}-2/{SITE}/status", None),
    (f"{PREFIX}//status", None),
    (PREFIX, None),
    (ROOT, None),
    (topics.announce(ROOT), None),
    (topics.circuit_set(ROOT, "road-5"), None),
    (topics.circuit_set_ack(ROOT, "road-5"), None),
    (f"{ROOT}/circuit//state", None),
    (topics.ha_state(ROOT, "cho"), None),
    (topics.events(ROOT), None),
    (f"{ROOT}/status/extra", None),
])
def test_the_province_reads_a_gateway_topic(topic: str, expected: GatewayTopic | None) -> None:
    assert parse_gateway_topic(PREFIX, topic) == expected


@pytest.mark.parametrize("site", [SITE, "ha-trung", "xa_1"])
def test_the_province_hears_every_retained_topic_a_gateway_publishes(site: str) -> None:
    root = topics.root(PREFIX, site)
    listened = topics.fleet_status_subscriptions(PREFIX)
    for topic in (topics.status(root), topics.circuit_state(root, "road-5"),
                  topics.broadcast_now(root)):
        assert any(matches(f, topic) for f in listened), topic
        seen = parse_gateway_topic(PREFIX, topic)
        assert seen is not None and seen.site == site
    # Another prefix on the same broker is another province's.
    assert not any(matches(f, topics.status(topics.root("other", site))) for f in listened)


def test_the_province_announce_reaches_the_gateway_and_its_answer_comes_back() -> None:
    # fleet_announce publishes on announce(root) and listens on announce_ack(root): the first
    # is one the gateway subscribes to and reads, the second one it publishes.
    gateway_listens = topics.subscriptions(ROOT, accept_commands=True, ha_discovery=False)
    sent = topics.announce(topics.root(PREFIX, SITE))
    assert any(matches(f, sent) for f in gateway_listens)
    incoming = parse_incoming(ROOT, sent, b'{"id": "fleet-1", "source": {"type": "tts"}}')
    assert incoming.kind == "announce" and incoming.data["id"] == "fleet-1"
    answer = parse_gateway_topic(PREFIX, topics.announce_ack(ROOT))
    assert answer == GatewayTopic(SITE, "announce_ack")


# -- day reports kept: the last DAY_REPORTS_KEPT local days ------------------------------------

@pytest.mark.parametrize(("today", "first_kept"), [
    ("2027-03-31", "2027-03-01"),
    ("2027-03-14", "2027-02-12"),
    ("2027-01-15", "2026-12-16"),  # across a year
    ("2028-03-01", "2028-01-31"),  # 2028 is a leap year: 29 days of February in between
    ("2027-03-01", "2027-01-30"),
])
def test_day_reports_older_than_the_window_are_the_ones_to_clear(today: str,
                                                                 first_kept: str) -> None:
    first = date.fromisoformat(first_kept)
    assert (date.fromisoformat(today) - first).days + 1 == topics.DAY_REPORTS_KEPT
    days = [(first + timedelta(days=n)).isoformat() for n in range(-3, 31)]
    assert topics.expired_day_reports(reversed(days), today=today) == days[:3]
    assert topics.day_leaving_window(today) == days[2]


def test_a_gateway_hears_its_own_day_reports_and_may_read_them() -> None:
    own = topics.own_day_reports(ROOT)
    assert matches(own, topics.report(ROOT, "day", "2027-03-14"))
    assert not matches(own, topics.report(ROOT, "month", "2027-03"))
    assert not matches(own, topics.report(topics.root(PREFIX, "ha-trung"), "day",
                                          "2027-03-14"))
    assert own in topics.gateway_reads(ROOT) and own in topics.gateway_writes(ROOT)
