"""What the gateway offers the MQTT bridge (``firmware_bridge.bridge.GatewayPort``).

Commands that arrive over MQTT go through the very handlers of the HTTP API, with the same
models, checks and audit, as a caller named "mqtt": a command that the API would refuse is
refused here with the same message, and changes nothing.

Home Assistant's on/off holds until the circuit's next scheduled switch point by default
(``[mqtt] ha_override``), and its "back to schedule" button ends the circuit's overrides as
``DELETE /overrides/{id}`` does (docs/mqtt.md).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from controller.http.auth import Caller
from controller.http.errors import ApiError
from controller.http.radio_models import AnnouncementCreate
from controller.http.routes_lighting import create_override, delete_override
from controller.http.routes_radio import create_announcement
from controller.http.schedule_models import OverrideCreate
from controller.config import HA_UNTIL_NEXT_SWITCH, CircuitConfig
from controller.runtime import Runtime
from drivers.profiles import profile_info
from firmware_bridge.topics import HaCircuit, HaCommand

# Who MQTT commands act as: switching a circuit is a technician's right, announcing an
# operator's (with approval when the installation asks for it).
CIRCUIT_CALLER = Caller(name="mqtt", role="technician")
ANNOUNCE_CALLER = Caller(name="mqtt", role="operator")
HA_REASON = "Home Assistant"
# With no switch point of the schedule within this, an order from Home Assistant holds this
# long: a circuit whose programme never changes is not forced for ever.
HA_HOLD_MAX = timedelta(hours=24)


class ControllerPort:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def circuit_states(self) -> dict[str, dict[str, Any]]:
        states = {}
        for circuit in self._runtime.config.circuits:
            desired = self._runtime.lighting.circuit_view(circuit)["desired"]
            states[circuit.id] = {"state": desired["state"], "level": desired["level"],
                                  "source": desired["source"]}
        return states

    def ha_circuits(self) -> list[HaCircuit]:
        return [HaCircuit(c.id, c.name or c.id, dimmable=self._dimmable(c))
                for c in self._runtime.config.circuits]

    def _dimmable(self, circuit: CircuitConfig) -> bool:
        """Levels mean something on segments with levels and on a dimmer; a plain relay
        channel (or segments switched together) is on or off."""
        if circuit.segments:
            return bool(circuit.levels)
        kind, _ = profile_info(self._runtime.config.device(circuit.device).profile)
        return kind == "dimmer"

    def broadcast_now(self) -> dict[str, Any] | None:
        return self._runtime.broadcasts.now_playing()

    async def set_circuit(self, circuit_id: str, command: dict[str, Any]) -> None:
        # "id" names the command for its acknowledgement; it is not part of the override.
        fields = {k: v for k, v in command.items() if k != "id"}
        try:
            body = OverrideCreate.model_validate(
                {"reason": "MQTT command", **fields, "target": f"circuit:{circuit_id}"})
            await create_override(body, self._runtime, CIRCUIT_CALLER)
        except (ValidationError, ApiError) as exc:
            raise ValueError(_message(exc)) from exc

    async def ha_command(self, circuit_id: str, command: HaCommand) -> None:
        """An override of the circuit, as ``POST /overrides`` makes it, until the next
        switch point of its schedule (or as ``[mqtt] ha_override`` says)."""
        circuit = self._circuit(circuit_id)
        now = self._runtime.clock.now()
        fields: dict[str, Any] = {"target": f"circuit:{circuit.id}", "state": command.state,
                                  "reason": HA_REASON}
        fields.update(self._hold(circuit, now=now))
        if command.level is not None:
            fields["level"] = command.level
        try:
            body = OverrideCreate.model_validate(fields)
            await create_override(body, self._runtime, CIRCUIT_CALLER)
        except (ValidationError, ApiError) as exc:
            raise ValueError(_message(exc)) from exc

    def _hold(self, circuit: CircuitConfig, *, now: datetime) -> dict[str, Any]:
        setting = self._mqtt_setting()
        if setting != HA_UNTIL_NEXT_SWITCH:
            return {"duration_min": setting}
        # The schedule alone (no overrides): when does this circuit next switch?
        scheduled = self._runtime.lighting.desired(circuit, at=now, active=[])
        latest = now + HA_HOLD_MAX
        until = scheduled.until if scheduled.until and scheduled.until < latest else latest
        return {"until": until}

    def _mqtt_setting(self) -> str | int:
        mqtt = self._runtime.config.mqtt
        return mqtt.ha_override if mqtt is not None else HA_UNTIL_NEXT_SWITCH

    async def back_to_schedule(self, circuit_id: str) -> int:
        """End every override of this very circuit (group-wide ones are left to the API),
        each as ``DELETE /overrides/{id}`` ends it: noted, audited, the schedule applies."""
        circuit = self._circuit(circuit_id)
        target = f"circuit:{circuit.id}"
        ended = 0
        for override in self._runtime.overrides.active(now=self._runtime.clock.now()):
            if override["target"] != target:
                continue
            try:
                await delete_override(override["id"], self._runtime, CIRCUIT_CALLER)
                ended += 1
            except ApiError:  # ended meanwhile by someone else: that is what was asked
                continue
        return ended

    def _circuit(self, circuit_id: str) -> CircuitConfig:
        circuit = self._runtime.config.circuit(circuit_id)
        if circuit is None:
            raise ValueError(f"target: no circuit {circuit_id!r} in this installation")
        return circuit

    async def announce(self, command: dict[str, Any]) -> str:
        fields = {k: v for k, v in command.items() if k != "id"}
        try:
            body = AnnouncementCreate.model_validate(fields)
            created = await create_announcement(body, self._runtime, ANNOUNCE_CALLER)
        except (ValidationError, ApiError) as exc:
            raise ValueError(_message(exc)) from exc
        return created.id

    def node_changed(self, node_id: str, node: dict[str, Any]) -> None:
        alarms = self._runtime.alarms
        if node.get("status") == "offline":
            alarms.raise_alarm("node_offline", node_id, "field node offline (its last will, "
                               "or silent too long)", severity="warning")
        else:
            alarms.clear("node_offline", node_id, "online again")


def _message(exc: ValidationError | ApiError) -> str:
    if isinstance(exc, ApiError):
        return f"{exc.field}: {exc.detail}" if exc.field else str(exc.detail)
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return f"{where}: {first['msg']}" if where else str(first["msg"])
