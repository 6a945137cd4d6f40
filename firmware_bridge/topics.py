"""The MQTT topics and payloads (docs/mqtt.md), as a pure codec: no I/O.

Root ``{prefix}/{site}``. Incoming messages are classified by ``parse_incoming`` into an
``Incoming`` or refused with ``BadPayload`` (malformed JSON, too large, wrong shape, unknown
subtopic); the bridge counts refusals by kind and carries on. Home Assistant's topics and
discovery are at the end (docs/mqtt.md).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

MAX_PAYLOAD_BYTES = 64 * 1024
HA_PREFIX = "homeassistant"


class BadPayload(ValueError):
    def __init__(self, kind: str, reason: str) -> None:
        self.kind = kind
        super().__init__(f"{kind}: {reason}")


class Oversized(BadPayload):
    """A payload larger than ``MAX_PAYLOAD_BYTES``: refused before it is decoded."""


@dataclass(frozen=True)
class Incoming:
    # circuit_set | announce | node_status | node_telemetry | node_ack | ha_status | ha_set
    # | ha_schedule | report_day
    kind: str
    subject: str | None  # circuit or node id, or a day report's day
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


def node_status(root_: str, node: str) -> str:
    return f"{root_}/node/{node}/status"


def node_telemetry(root_: str, node: str) -> str:
    return f"{root_}/node/{node}/telemetry"


def node_ack(root_: str, node: str) -> str:
    return f"{root_}/node/{node}/ack"


def bridge_notification(root_: str) -> str:
    """Where a gateway's mosquitto bridge says whether its link to the province is up
    (``notification_topic`` in deploy/mosquitto/gateway-bridge.conf): ``1`` or ``0``."""
    return f"{root_}/bridge"


ANY = "+"  # one level of any name, in a subscription or an ACL


def gateway_writes(root_: str) -> list[str]:
    """Every topic a gateway publishes under its root (the province reads them all)."""
    return [status(root_), circuit_state(root_, ANY), circuit_set_ack(root_, ANY),
            ha_state(root_, ANY), broadcast_now(root_), events(root_), announce_ack(root_),
            node_cmd(root_, ANY), bridge_notification(root_),
            *(report(root_, period, ANY) for period in REPORT_PERIODS)]


def gateway_reads(root_: str) -> list[str]:
    """Every topic addressed to a gateway: commands (the province's and Home Assistant's)
    and its field nodes; and its own day reports, to learn which ones the broker still holds
    (``own_day_reports``)."""
    return [circuit_set(root_, ANY), announce(root_), ha_set(root_, ANY),
            ha_schedule(root_, ANY), node_status(root_, ANY), node_telemetry(root_, ANY),
            node_ack(root_, ANY), own_day_reports(root_)]


def province_commands(root_: str) -> list[str]:
    """What the province may send a gateway: announcements and circuit commands."""
    return [circuit_set(root_, ANY), announce(root_)]


# -- the province ------------------------------------------------------------------------------
#
# A province client (firmware_bridge/fleet.py) sees many gateways under one prefix: it reads
# their retained state and talks to each one's announce topic.

def fleet_status_subscriptions(prefix: str) -> list[str]:
    """What the province listens to for every gateway's retained state."""
    every = root(prefix, ANY)
    return [status(every), circuit_state(every, ANY), broadcast_now(every)]


@dataclass(frozen=True)
class GatewayTopic:
    """A topic one gateway publishes, as the province reads it."""

    site: str
    kind: str  # status | circuit_state | broadcast_now | announce_ack
    circuit: str | None = None


def parse_gateway_topic(prefix: str, topic: str) -> GatewayTopic | None:
    """``{prefix}/{site}/status``, ``.../circuit/{id}/state``, ``.../broadcast/now`` and
    ``.../announce/ack``; None for any other topic."""
    if not topic.startswith(prefix + "/"):
        return None
    site, *rest = topic[len(prefix) + 1:].split("/")
    if not site:
        return None
    if rest == ["status"]:
        return GatewayTopic(site, "status")
    if len(rest) == 3 and rest[0] == "circuit" and rest[2] == "state" and rest[1]:
        return GatewayTopic(site, "circuit_state", rest[1])
    if rest == ["broadcast", "now"]:
        return GatewayTopic(site, "broadcast_now")
    if rest == ["announce", "ack"]:
        return GatewayTopic(site, "announce_ack")
    return None


# -- one gateway -------------------------------------------------------------------------------

def subscriptions(root_: str, *, accept_commands: bool, ha_discovery: bool) -> list[str]:
    topics = [node_status(root_, ANY), node_telemetry(root_, ANY), node_ack(root_, ANY)]
    if accept_commands:
        topics += province_commands(root_)
    if ha_discovery:
        topics.append(f"{HA_PREFIX}/status")
    if accept_commands and ha_discovery:
        topics += ha_subscriptions(root_)
    return topics


def parse_incoming(root_: str, topic: str, payload: bytes) -> Incoming:
    if topic == f"{HA_PREFIX}/status":
        return Incoming("ha_status", None, _text("ha_status", payload))
    if not topic.startswith(root_ + "/"):
        raise BadPayload("unknown_topic", topic)
    parts = topic[len(root_) + 1:].split("/")
    if len(parts) == 3 and parts[0] == "circuit" and parts[2] == "set":
        return Incoming("circuit_set", parts[1], _object("circuit_set", payload))
    if (from_home_assistant := _parse_ha(parts, payload)) is not None:
        return from_home_assistant
    if parts == ["announce"]:
        data = _object("announce", payload)
        if not isinstance(data.get("id"), str) or not data["id"]:
            raise BadPayload("announce", 'an "id" (string) is required')
        return Incoming("announce", None, data)
    if len(parts) == 3 and parts[0] == "report" and parts[1] == "day":
        # Its own day report, retained on the broker (data: whether it holds one, or an
        # empty message cleared it).
        return Incoming("report_day", _day_key(parts[2]),
                        bool(_bounded("report_day", payload)))
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


def source_of(root_: str, topic: str) -> str:
    """Who an incoming message comes from, for rate limits and logs: ``node/{id}`` for a field
    node, ``circuit/{id}`` for a circuit's commands, else the first level under the root
    (``announce``), or the first level of a topic outside it (``homeassistant``)."""
    if topic.startswith(root_ + "/"):
        parts = topic[len(root_) + 1:].split("/")
        if len(parts) >= 2 and parts[0] in ("node", "circuit"):
            return f"{parts[0]}/{parts[1][:64]}"
        return parts[0][:64]
    return topic.split("/", 1)[0][:64]


def _bounded(kind: str, payload: bytes) -> bytes:
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise Oversized(kind, f"{len(payload)} bytes, more than {MAX_PAYLOAD_BYTES}")
    return payload


def _text(kind: str, payload: bytes) -> str:
    try:
        return _bounded(kind, payload).decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        raise BadPayload(kind, "not UTF-8") from exc


def _object(kind: str, payload: bytes) -> dict[str, Any]:
    bounded = _bounded(kind, payload)  # outside the try: BadPayload is a ValueError too
    try:
        data = json.loads(bounded)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadPayload(kind, f"not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise BadPayload(kind, "expected a JSON object")
    return data



# -- Home Assistant ----------------------------------------------------------------------------
#
# Home Assistant's MQTT light, JSON schema (homeassistant/components/mqtt/light/schema_json.py
# in home-assistant/core): the state topic carries {"state": "ON"|"OFF", "brightness": N}, and
# "state" is compared case-sensitively with "ON" and "OFF". Our circuit state topic says "on" and
# "off" for the clients that read it today, so Home Assistant gets topics of its own under
# {root}/circuit/{id}/ha/ (docs/mqtt.md).

HA_ON, HA_OFF = "ON", "OFF"
HA_PRESS = "PRESS"  # a button's default payload_press (homeassistant/components/mqtt/button.py)
HA_BRIGHTNESS_SCALE = 100  # brightness is our level, 1..100
HA_SCHEDULE_BUTTON = "Theo lịch / Back to schedule"


@dataclass(frozen=True)
class HaCircuit:
    """What Home Assistant is told about a circuit: dimmable when it has levels (segments with
    levels, or a dimmer), else on/off only."""

    id: str
    name: str
    dimmable: bool


@dataclass(frozen=True)
class HaCommand:
    """A light command from Home Assistant, in our terms."""

    state: str  # "on" | "off"
    level: int | None  # 1..100 when Home Assistant sent a brightness


def ha_state(root_: str, circuit: str) -> str:
    return f"{root_}/circuit/{circuit}/ha/state"


def ha_set(root_: str, circuit: str) -> str:
    return f"{root_}/circuit/{circuit}/ha/set"


def ha_schedule(root_: str, circuit: str) -> str:
    return f"{root_}/circuit/{circuit}/ha/schedule"


def ha_subscriptions(root_: str) -> list[str]:
    return [ha_set(root_, ANY), ha_schedule(root_, ANY)]


def ha_state_payload(state: dict[str, Any], *, dimmable: bool) -> dict[str, Any]:
    """Our circuit state as Home Assistant's JSON light reads it. Brightness only for a
    dimmable circuit that is on: Home Assistant ignores a brightness of 0 anyway."""
    on = state.get("state") == "on"
    payload: dict[str, Any] = {"state": HA_ON if on else HA_OFF}
    if dimmable and on:
        payload["brightness"] = int(state.get("level") or HA_BRIGHTNESS_SCALE)
    return payload


def parse_ha_command(payload: bytes) -> HaCommand:
    """What Home Assistant's JSON light publishes on its command topic: ``{"state": "ON"}``,
    ``{"state": "ON", "brightness": 50}`` or ``{"state": "OFF"}``. Other keys it may add
    (``transition``, ``flash``, ``effect``: we announce none of them) are ignored, as its own
    parser ignores keys it does not know."""
    data = _object("ha_set", payload)
    state = data.get("state")
    if state not in (HA_ON, HA_OFF):
        raise BadPayload("ha_set", f'"state" must be "ON" or "OFF", not {state!r}')
    brightness = data.get("brightness")
    if brightness is None or state == HA_OFF:
        return HaCommand("on" if state == HA_ON else "off", None)
    if isinstance(brightness, bool) or not isinstance(brightness, int | float) or \
            not 0 < brightness <= HA_BRIGHTNESS_SCALE or brightness != int(brightness):
        raise BadPayload("ha_set", f'"brightness" must be a whole number 1..'
                                   f'{HA_BRIGHTNESS_SCALE}, not {brightness!r}')
    return HaCommand("on", int(brightness))


def _parse_ha(parts: list[str], payload: bytes) -> Incoming | None:
    """``circuit/{id}/ha/set`` and ``circuit/{id}/ha/schedule``, else None."""
    if len(parts) != 4 or parts[0] != "circuit" or parts[2] != "ha":
        return None
    if parts[3] == "set":
        return Incoming("ha_set", parts[1], parse_ha_command(payload))
    if parts[3] == "schedule":
        pressed = _text("ha_schedule", payload)
        if pressed != HA_PRESS:
            raise BadPayload("ha_schedule", f"expected {HA_PRESS}, not {pressed[:40]!r}")
        return Incoming("ha_schedule", parts[1], None)
    return None


def ha_discovery_messages(prefix: str, site: str, site_name: str, circuits: list[HaCircuit], *,
                          accept_commands: bool) -> list[tuple[str, str]]:
    """Home Assistant MQTT discovery (retained): per circuit a JSON-schema ``light`` and, when
    commands are accepted, a ``button`` that returns the circuit to its schedule. Without
    commands the button's config is published empty, which removes it from Home Assistant.

    Keys are those of Home Assistant's discovery schemas (mqtt/schemas.py, mqtt/config.py,
    light/schema_json.py, button.py); ``default_entity_id`` replaces ``object_id``, deprecated
    in 2025.10.
    """
    root_ = root(prefix, site)
    device = {"identifiers": [f"communectl_{site}"], "name": site_name or site,
              "manufacturer": "communectl", "model": "commune gateway"}
    availability = {"availability_topic": status(root_), "payload_available": "online",
                    "payload_not_available": "offline"}
    object_base = _entity_slug(site)
    messages = []
    for circuit in sorted(circuits, key=lambda c: c.id):
        object_id = f"{object_base}_{_entity_slug(circuit.id)}"
        light: dict[str, Any] = {
            "name": circuit.name, "unique_id": f"communectl_{site}_{circuit.id}",
            "default_entity_id": f"light.{object_id}", "schema": "json",
            "command_topic": ha_set(root_, circuit.id),
            "state_topic": ha_state(root_, circuit.id),
            "supported_color_modes": ["brightness" if circuit.dimmable else "onoff"],
            # Relays and our dimmers neither flash nor fade: HA must not offer either.
            "flash": False, "transition": False, "qos": 1,
            **availability, "device": device, "origin": {"name": "communectl"},
        }
        if circuit.dimmable:
            light["brightness_scale"] = HA_BRIGHTNESS_SCALE
        messages.append((f"{HA_PREFIX}/light/{site}_{circuit.id}/config",
                         json.dumps(light, ensure_ascii=False)))
        button_topic = f"{HA_PREFIX}/button/{site}_{circuit.id}_schedule/config"
        if not accept_commands:
            messages.append((button_topic, ""))
            continue
        button = {
            "name": f"{circuit.name}: {HA_SCHEDULE_BUTTON}",
            "unique_id": f"communectl_{site}_{circuit.id}_schedule",
            "default_entity_id": f"button.{object_id}_back_to_schedule",
            "command_topic": ha_schedule(root_, circuit.id), "payload_press": HA_PRESS,
            "icon": "mdi:calendar-clock", "qos": 1,
            **availability, "device": device, "origin": {"name": "communectl"},
        }
        messages.append((button_topic, json.dumps(button, ensure_ascii=False)))
    return messages


def _entity_slug(identifier: str) -> str:
    """Entity ids take [a-z0-9_]; our ids may also hold '-'."""
    return identifier.replace("-", "_")


# -- reports for the province ------------------------------------------------------------------
#
# Every gateway publishes, retained, its figures per local day and per month
# (``{root}/report/day/YYYY-MM-DD``, ``{root}/report/month/YYYY-MM``); the payload is a JSON
# object with ``"schema": REPORT_SCHEMA`` (docs/mqtt.md, "Reports for the province"). The
# province reads the month topics of every site (``communectl fleet report``).

REPORT_SCHEMA = 1
REPORT_PERIODS = ("day", "month")
# A gateway keeps its day reports on the broker for the last this many local days, today
# included, and clears older ones (docs/mqtt.md, "Reports for the province"); a month's
# reports stay, since the province's table reads months.
DAY_REPORTS_KEPT = 31


@dataclass(frozen=True)
class ReportMessage:
    """One report a gateway publishes: ``period`` is day or month, ``key`` its date
    (``2027-03-14``) or month (``2027-03``)."""

    period: str
    key: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class ReportBatch:
    """What to publish now, and in how many seconds the next batch is due at the latest (the
    end of the local day)."""

    messages: list[ReportMessage]
    next_in_s: float


def report(root_: str, period: str, key: str) -> str:
    if period not in REPORT_PERIODS:
        raise ValueError(f"report period {period!r}: expected day or month")
    return f"{root_}/report/{period}/{key}"


def own_day_reports(root_: str) -> str:
    """What a gateway subscribes to (at QoS 0) to learn which of its day reports the broker
    holds: they come retained right after the subscription, and its own publishes after."""
    return report(root_, "day", ANY)


def expired_day_reports(days: Iterable[str], *, today: str,
                        kept_days: int = DAY_REPORTS_KEPT) -> list[str]:
    """Those of ``days`` (day report keys, ``YYYY-MM-DD``) before the last ``kept_days``
    local days up to ``today``, oldest first: the ones to clear."""
    first_kept = (date.fromisoformat(today) - timedelta(days=kept_days - 1)).isoformat()
    return sorted(day for day in days if day < first_kept)


def day_leaving_window(today: str, *, kept_days: int = DAY_REPORTS_KEPT) -> str:
    """The day that left the window when ``today`` began: cleared even if the gateway never
    saw it retained (a local broker that lost its persistence, while the province's still
    holds it)."""
    return (date.fromisoformat(today) - timedelta(days=kept_days)).isoformat()


def _day_key(key: str) -> str:
    """A day report's key, which must be an ISO date: only those are ours to clear."""
    try:
        parsed = date.fromisoformat(key)
    except ValueError:
        raise BadPayload("report_day", f"{key[:40]!r} is not a day (YYYY-MM-DD)") from None
    if parsed.isoformat() != key:  # fromisoformat also takes 20270314 and 2027-W11-1
        raise BadPayload("report_day", f"{key[:40]!r} is not a day (YYYY-MM-DD)")
    return key


def fleet_report_subscriptions(prefix: str, month: str) -> list[str]:
    """What the province listens to for one month's table: every site's retained month
    report, and its status (online now or not)."""
    return [f"{prefix}/+/report/month/{month}", f"{prefix}/+/status"]


def parse_report_topic(prefix: str, topic: str) -> tuple[str, str, str] | None:
    """``{prefix}/{site}/report/{period}/{key}`` as (site, period, key); None otherwise."""
    if not topic.startswith(prefix + "/"):
        return None
    parts = topic[len(prefix) + 1:].split("/")
    if len(parts) == 4 and parts[0] and parts[1] == "report" and parts[2] in REPORT_PERIODS \
            and parts[3]:
        return parts[0], parts[2], parts[3]
    return None


def parse_report(payload: bytes) -> dict[str, Any]:
    """A report payload as the province reads it; ``BadPayload`` (kind ``report``) when it is
    too large, not a JSON object, or of another schema."""
    data = _object("report", payload)
    if data.get("schema") != REPORT_SCHEMA:
        raise BadPayload("report", f"schema {data.get('schema')!r}, expected {REPORT_SCHEMA}")
    for section in ("radio", "lighting"):
        if not isinstance(data.get(section), dict):
            raise BadPayload("report", f'"{section}" must be an object')
    return data
