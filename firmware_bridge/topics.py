"""The MQTT topics and payloads of SPEC (MQTT), as a pure codec: no I/O.

Root ``{prefix}/{site}``. Incoming messages are classified by ``parse_incoming`` into an
``Incoming`` or refused with ``BadPayload`` (malformed JSON, too large, wrong shape, unknown
subtopic); the bridge counts refusals by kind and carries on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

MAX_PAYLOAD_BYTES = 64 * 1024
HA_PREFIX = "homeassistant"


class BadPayload(ValueError):
    def __init__(self, kind: str, reason: str) -> None:
        self.kind = kind
        super().__init__(f"{kind}: {reason}")


@dataclass(frozen=True)
class Incoming:
    kind: str  # circuit_set | announce | node_status | node_telemetry | node_ack | ha_status
    subject: str | None  # circuit or node id
    data: Any


def root(prefix: str, site: str) -> str:
    return f"{prefix}/{site}"


def status(root_: str) -> str:
    return f"{root_}/status"


def circuit_state(root_: str, circuit: str) -> str:
    return f"{root_}/circuit/{circuit}/state"


def circuit_set(root_: str, circuit: str) -> str:
    return f"{root_}/circuit/{circuit}/set"


def circuit_set_ack(root_: str, circuit: str) -> str:
    return f"{root_}/circuit/{circuit}/set/ack"


def broadcast_now(root_: str) -> str:
    return f"{root_}/broadcast/now"


def announce(root_: str) -> str:
    return f"{root_}/announce"


def announce_ack(root_: str) -> str:
    return f"{root_}/announce/ack"


def events(root_: str) -> str:
    return f"{root_}/events"


def node_cmd(root_: str, node: str) -> str:
    return f"{root_}/node/{node}/cmd"


def subscriptions(root_: str, *, accept_commands: bool, ha_discovery: bool) -> list[str]:
    topics = [f"{root_}/node/+/status", f"{root_}/node/+/telemetry", f"{root_}/node/+/ack"]
    if accept_commands:
        topics += [f"{root_}/circuit/+/set", announce(root_)]
    if ha_discovery:
        topics.append(f"{HA_PREFIX}/status")
    return topics


def parse_incoming(root_: str, topic: str, payload: bytes) -> Incoming:
    if topic == f"{HA_PREFIX}/status":
        return Incoming("ha_status", None, _text("ha_status", payload))
    if not topic.startswith(root_ + "/"):
        raise BadPayload("unknown_topic", topic)
    parts = topic[len(root_) + 1:].split("/")
    if len(parts) == 3 and parts[0] == "circuit" and parts[2] == "set":
        return Incoming("circuit_set", parts[1], _object("circuit_set", payload))
    if parts == ["announce"]:
        data = _object("announce", payload)
        if not isinstance(data.get("id"), str) or not data["id"]:
            raise BadPayload("announce", 'an "id" (string) is required')
        return Incoming("announce", None, data)
    if len(parts) == 3 and parts[0] == "node":
        node, leaf = parts[1], parts[2]
        if leaf == "status":
            value = _text("node_status", payload)
            if value not in ("online", "offline"):
                raise BadPayload("node_status", f"expected online or offline, not {value!r}")
            return Incoming("node_status", node, value)
        if leaf == "telemetry":
            return Incoming("node_telemetry", node, _object("node_telemetry", payload))
        if leaf == "ack":
            data = _object("node_ack", payload)
            if not isinstance(data.get("id"), str):
                raise BadPayload("node_ack", 'an "id" (string) is required')
            return Incoming("node_ack", node, data)
    raise BadPayload("unknown_topic", topic)


def _bounded(kind: str, payload: bytes) -> bytes:
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise BadPayload(kind, f"{len(payload)} bytes, more than {MAX_PAYLOAD_BYTES}")
    return payload


def _text(kind: str, payload: bytes) -> str:
    try:
        return _bounded(kind, payload).decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        raise BadPayload(kind, "not UTF-8") from exc


def _object(kind: str, payload: bytes) -> dict[str, Any]:
    try:
        data = json.loads(_bounded(kind, payload))
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadPayload(kind, f"not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise BadPayload(kind, "expected a JSON object")
    return data


def ha_discovery_messages(prefix: str, site: str, site_name: str,
                          circuits: dict[str, str]) -> list[tuple[str, str]]:
    """Home Assistant MQTT discovery: one ``light`` per circuit (default schema, on/off), with
    our JSON payloads for on/off and the gateway's status as availability."""
    root_ = root(prefix, site)
    messages = []
    for circuit, name in sorted(circuits.items()):
        config = {
            "name": name, "unique_id": f"communectl_{site}_{circuit}",
            "object_id": f"{site}_{circuit}",
            "command_topic": circuit_set(root_, circuit),
            "payload_on": json.dumps({"state": "on", "duration_min": 720,
                                      "reason": "Home Assistant"}),
            "payload_off": json.dumps({"state": "off", "duration_min": 720,
                                       "reason": "Home Assistant"}),
            "state_topic": circuit_state(root_, circuit),
            "state_value_template": "{{ value_json.state }}",
            "state_on": "on", "state_off": "off",
            "availability_topic": status(root_),
            "payload_available": "online", "payload_not_available": "offline",
            "device": {"identifiers": [f"communectl_{site}"], "name": site_name or site,
                       "manufacturer": "communectl", "model": "commune gateway"},
        }
        messages.append((f"{HA_PREFIX}/light/{site}_{circuit}/config",
                         json.dumps(config, ensure_ascii=False)))
    return messages
