"""Our Home Assistant payloads judged by Home Assistant's own rules.

The rules are taken, as data, from Home Assistant's MQTT integration (home-assistant/core,
``homeassistant/components/mqtt/``): the keys its discovery schemas accept for a JSON-schema
light (``light/schema_json.py`` on top of ``config.py``'s MQTT_RW_SCHEMA and ``schemas.py``'s
MQTT_ENTITY_COMMON_SCHEMA) and for a button (``button.py``), the device and origin blocks
(``schemas.py``), the keys it removed or deprecated, and what its JSON light does with a message
on its state topic (``schema_json.py`` ``_state_received``) and sends on its command topic
(``async_turn_on``/``async_turn_off``). The brightness arithmetic is ``util/color.py``'s
``value_to_brightness``/``brightness_to_value`` over ``util/scaling.py``.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from firmware_bridge.topics import (
    HA_PREFIX,
    BadPayload,
    HaCircuit,
    HaCommand,
    ha_discovery_messages,
    ha_state,
    ha_state_payload,
    parse_incoming,
)

ROOT = "communectl/thieu-long"

# -- Home Assistant's discovery schemas, as data -------------------------------------------------

MQTT_BASE = {"qos", "encoding", "group"}  # config.py SCHEMA_BASE
MQTT_RW = MQTT_BASE | {"command_topic", "optimistic", "retain", "state_topic"}  # config.py
AVAILABILITY = {"availability_topic", "availability_template", "payload_available",
                "payload_not_available", "availability_mode", "availability"}  # schemas.py
ENTITY_COMMON = AVAILABILITY | {  # schemas.py MQTT_ENTITY_COMMON_SCHEMA
    "device", "entity_picture", "origin", "enabled_by_default", "entity_category", "icon",
    "json_attributes_topic", "json_attributes_template", "default_entity_id",
    "message_expiry_interval", "unique_id", "visible_by_default"}
LIGHT_JSON = MQTT_RW | ENTITY_COMMON | {"schema"} | {  # light/schema_json.py, light/schema.py
    "brightness", "brightness_scale", "color_temp_kelvin", "effect", "effect_list", "flash",
    "flash_time_long", "flash_time_short", "max_mireds", "min_mireds", "max_kelvin",
    "min_kelvin", "name", "supported_color_modes", "transition", "white_scale"}
BUTTON = MQTT_BASE | ENTITY_COMMON | {  # button.py
    "command_template", "command_topic", "device_class", "name", "payload_press", "retain"}
ALLOWED = {"light": LIGHT_JSON, "button": BUTTON}
REQUIRED = {"light": {"command_topic"}, "button": {"command_topic"}}
# Removed from the JSON light in 2025.3 (cv.removed), deprecated (object_id, 2025.10), or basic
# schema only (state_on/state_off never existed for lights: HA dropped them silently).
FORBIDDEN = {"color_mode", "color_temp", "hs", "rgb", "xy", "object_id", "state_on",
             "state_off", "payload_on", "payload_off", "state_value_template"}
DEVICE = {"identifiers", "connections", "manufacturer", "model", "model_id", "name",
          "hw_version", "serial_number", "sw_version", "via_device", "suggested_area",
          "configuration_url"}
ORIGIN = {"name", "sw_version", "support_url"}
VALID_COLOR_MODES = {"onoff", "brightness", "color_temp", "hs", "xy", "rgb", "rgbw", "rgbww",
                     "white"}
ENTITY_OBJECT_ID = re.compile(r"^[a-z0-9_]+$")  # what async_generate_entity_id keeps

CIRCUITS = [HaCircuit("road-5", "Đường số 5", dimmable=False),
            HaCircuit("cho", "Chợ Thiệu Long", dimmable=True)]


def discovery(accept_commands: bool = True) -> list[tuple[str, str, dict[str, Any] | None]]:
    found = []
    for topic, payload in ha_discovery_messages("communectl", "thieu-long", "Thiệu Long",
                                                CIRCUITS, accept_commands=accept_commands):
        found.append((topic, topic.split("/")[1], json.loads(payload) if payload else None))
    return found


# -- what HA's JSON light does with our state, and what it sends ---------------------------------

def scale_to_ranged_value(source: tuple[float, float], target: tuple[float, float],
                          value: float) -> float:  # util/scaling.py
    return (value - (source[0] - 1)) * _states(target) / _states(source) + (target[0] - 1)


def _states(low_high: tuple[float, float]) -> float:  # util/scaling.py states_in_range
    return low_high[1] - low_high[0] + 1


def value_to_brightness(scale: tuple[float, float], value: float) -> int:  # util/color.py
    return min(255, max(1, round(scale_to_ranged_value(scale, (1, 255), value))))


def brightness_to_value(scale: tuple[float, float], brightness: int) -> float:
    return scale_to_ranged_value((1, 255), scale, brightness)


def brightness_supported(modes: list[str]) -> bool:  # components/light/__init__.py
    return any(mode in modes for mode in VALID_COLOR_MODES - {"onoff"})


def ha_state_received(config: dict[str, Any], payload: bytes) -> tuple[bool | None, int | None]:
    """schema_json.py _state_received: (is_on, brightness 0..255) after one message."""
    values = json.loads(payload)
    assert isinstance(values, dict)  # json_loads_object raises otherwise
    is_on: bool | None = None
    if values["state"] == "ON":  # a missing "state" is a KeyError in HA
        is_on = True
    elif values["state"] == "OFF":
        is_on = False
    brightness = None
    if brightness_supported(config["supported_color_modes"]) and values.get("brightness"):
        brightness = value_to_brightness((1, config.get("brightness_scale", 255)),
                                         values["brightness"])
    return is_on, brightness


def ha_turn_on(config: dict[str, Any], brightness: int | None = None) -> bytes:
    """schema_json.py async_turn_on."""
    message: dict[str, Any] = {"state": "ON"}
    if brightness is not None and brightness_supported(config["supported_color_modes"]):
        value = brightness_to_value((1, config.get("brightness_scale", 255)), brightness)
        message["brightness"] = max(round(value), 1)
    return json.dumps(message).encode()


# -- discovery -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("topic", "platform", "config"), discovery())
def test_every_discovery_key_is_one_home_assistant_knows(topic: str, platform: str,
                                                         config: dict[str, Any]) -> None:
    assert topic.startswith(f"{HA_PREFIX}/{platform}/") and topic.endswith("/config")
    assert set(config) <= ALLOWED[platform], set(config) - ALLOWED[platform]
    assert REQUIRED[platform] <= set(config)
    assert not set(config) & FORBIDDEN
    assert set(config["device"]) <= DEVICE and config["device"]["identifiers"]
    assert set(config["origin"]) <= ORIGIN and config["origin"]["name"]


@pytest.mark.parametrize(("topic", "platform", "config"), discovery())
def test_ids_and_availability(topic: str, platform: str, config: dict[str, Any]) -> None:
    domain, _, object_id = config["default_entity_id"].partition(".")
    assert (domain, bool(ENTITY_OBJECT_ID.match(object_id))) == (platform, True)
    assert config["unique_id"].startswith("communectl_thieu-long_")
    assert (config["availability_topic"], config["payload_available"],
            config["payload_not_available"]) == (f"{ROOT}/status", "online", "offline")


def test_unique_ids_differ_and_each_circuit_has_a_light_and_a_button() -> None:
    configs = [(platform, config) for _, platform, config in discovery() if config]
    assert sorted(p for p, _ in configs) == ["button", "button", "light", "light"]
    assert len({c["unique_id"] for _, c in configs}) == 4


@pytest.mark.parametrize(("circuit", "modes"), [("road-5", ["onoff"]), ("cho", ["brightness"])])
def test_lights_use_the_json_schema_with_valid_colour_modes(circuit: str,
                                                            modes: list[str]) -> None:
    config = next(c for t, p, c in discovery() if p == "light" and circuit in t)
    assert config is not None
    assert (config["schema"], config["supported_color_modes"]) == ("json", modes)
    # light/__init__.py valid_supported_color_modes: onoff and brightness stand alone.
    assert set(modes) <= VALID_COLOR_MODES and len(modes) == 1
    assert config.get("brightness_scale", 100) == 100
    assert config["state_topic"] == ha_state(ROOT, circuit)


def test_without_commands_the_button_is_removed() -> None:
    buttons = [(t, c) for t, p, c in discovery(accept_commands=False) if p == "button"]
    assert buttons == [(f"{HA_PREFIX}/button/thieu-long_cho_schedule/config", None),
                       (f"{HA_PREFIX}/button/thieu-long_road-5_schedule/config", None)]


# -- state ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("circuit", "state", "seen"), [
    ("road-5", {"state": "on", "level": 100, "source": "schedule"}, (True, None)),
    ("road-5", {"state": "off", "level": 0, "source": "override"}, (False, None)),
    ("cho", {"state": "on", "level": 100, "source": "schedule"}, (True, 255)),
    ("cho", {"state": "on", "level": 50, "source": "override"}, (True, 128)),
    ("cho", {"state": "on", "level": 1, "source": "override"}, (True, 3)),
    ("cho", {"state": "off", "level": 0, "source": "schedule"}, (False, None)),
])
def test_our_state_reads_in_home_assistant_as_it_is(circuit: str, state: dict[str, Any],
                                                    seen: tuple[bool, int | None]) -> None:
    config = next(c for t, p, c in discovery() if p == "light" and circuit in t)
    assert config is not None
    payload = json.dumps(ha_state_payload(state, dimmable=circuit == "cho")).encode()
    assert ha_state_received(config, payload) == seen


# -- commands ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("payload", "command"), [
    (b'{"state":"ON"}', HaCommand("on", None)),
    (b'{"state":"ON","brightness":50}', HaCommand("on", 50)),
    (b'{"state":"OFF"}', HaCommand("off", None)),
    (b'{"state": "OFF", "brightness": 40}', HaCommand("off", None)),
    (b'{"state":"ON","brightness":100,"transition":2}', HaCommand("on", 100)),
])
def test_commands_home_assistant_sends_are_understood(payload: bytes,
                                                      command: HaCommand) -> None:
    incoming = parse_incoming(ROOT, f"{ROOT}/circuit/cho/ha/set", payload)
    assert (incoming.kind, incoming.subject, incoming.data) == ("ha_set", "cho", command)


def test_every_level_survives_the_trip_through_home_assistant() -> None:
    config = next(c for t, p, c in discovery() if p == "light" and "cho" in t)
    assert config is not None
    back = []
    for level in range(1, 101):
        payload = json.dumps(ha_state_payload({"state": "on", "level": level},
                                              dimmable=True)).encode()
        _, brightness = ha_state_received(config, payload)
        assert brightness is not None
        sent = ha_turn_on(config, brightness)
        back.append(parse_incoming(ROOT, f"{ROOT}/circuit/cho/ha/set", sent).data.level)
    assert back == list(range(1, 101))


def test_the_button_press_is_understood() -> None:
    config = next(c for t, p, c in discovery() if p == "button" and "cho" in t)
    assert config is not None
    incoming = parse_incoming(ROOT, config["command_topic"], config["payload_press"].encode())
    assert (incoming.kind, incoming.subject) == ("ha_schedule", "cho")


@pytest.mark.parametrize(("topic", "payload", "kind"), [
    ("circuit/cho/ha/set", b'{"state":"on"}', "ha_set"),
    ("circuit/cho/ha/set", b'{"state":"TOGGLE"}', "ha_set"),
    ("circuit/cho/ha/set", b"{}", "ha_set"),
    ("circuit/cho/ha/set", b"ON", "ha_set"),
    ("circuit/cho/ha/set", b'["ON"]', "ha_set"),
    ("circuit/cho/ha/set", b'{"state":"ON","brightness":0}', "ha_set"),
    ("circuit/cho/ha/set", b'{"state":"ON","brightness":255}', "ha_set"),
    ("circuit/cho/ha/set", b'{"state":"ON","brightness":"50"}', "ha_set"),
    ("circuit/cho/ha/set", b'{"state":"ON","brightness":true}', "ha_set"),
    ("circuit/cho/ha/set", b'{"state":"ON","brightness":49.5}', "ha_set"),
    ("circuit/cho/ha/set", b"\xff\xfe", "ha_set"),
    ("circuit/cho/ha/schedule", b"press", "ha_schedule"),
    ("circuit/cho/ha/schedule", b"\xff", "ha_schedule"),
    ("circuit/cho/ha/other", b"PRESS", "unknown_topic"),
])
def test_malformed_home_assistant_commands_are_refused_by_kind(topic: str, payload: bytes,
                                                               kind: str) -> None:
    with pytest.raises(BadPayload) as caught:
        parse_incoming(ROOT, f"{ROOT}/{topic}", payload)
    assert caught.value.kind == kind
