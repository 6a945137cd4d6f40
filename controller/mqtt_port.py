"""What the gateway offers the MQTT bridge (``firmware_bridge.bridge.GatewayPort``).

Commands that arrive over MQTT go through the very handlers of the HTTP API, with the same
models, checks and audit, as a caller named "mqtt": a command that the API would refuse is
refused here with the same message, and changes nothing.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from controller.api.auth import Caller
from controller.api.errors import ApiError
from controller.api.radio_models import AnnouncementCreate
from controller.api.routes_lighting import create_override
from controller.api.routes_radio import create_announcement
from controller.api.schedule_models import OverrideCreate
from controller.runtime import Runtime

# Who MQTT commands act as: switching a circuit is a technician's right, announcing an
# operator's (with approval when the installation asks for it).
CIRCUIT_CALLER = Caller(name="mqtt", role="technician")
ANNOUNCE_CALLER = Caller(name="mqtt", role="operator")


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

    def circuit_names(self) -> dict[str, str]:
        return {c.id: c.name or c.id for c in self._runtime.config.circuits}

    def broadcast_now(self) -> dict[str, Any] | None:
        return self._runtime.broadcasts.now_playing()

    async def set_circuit(self, circuit_id: str, command: dict[str, Any]) -> None:
        try:
            body = OverrideCreate.model_validate(
                {"reason": "MQTT command", **command, "target": f"circuit:{circuit_id}"})
            await create_override(body, self._runtime, CIRCUIT_CALLER)
        except (ValidationError, ApiError) as exc:
            raise ValueError(_message(exc)) from exc

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
