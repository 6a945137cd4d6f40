"""What the gateway offers the MQTT bridge (``firmware_bridge.bridge.GatewayPort``).

Commands that arrive over MQTT go through the same services as the HTTP API, with the same
payload models, checks and audit, as a caller named "mqtt": a command that the API would refuse
is refused here with the same message, and changes nothing.

Home Assistant's on/off holds until the circuit's next scheduled switch point by default
(``[mqtt] ha_override``), and its "back to schedule" button ends the circuit's overrides as
``DELETE /overrides/{id}`` does (docs/mqtt.md).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from controller.config import HA_UNTIL_NEXT_SWITCH, CircuitConfig
from controller.errors import RequestError
from controller.lighting.orders import OverrideOrder
from controller.lighting.records import State, circuit_target
from controller.platform.audit import Actor
from controller.radio.requests import AnnouncementCreate
from drivers.profiles import profile_info
from firmware_bridge.topics import HaCircuit, HaCommand, ReportBatch

if TYPE_CHECKING:  # the runtime builds this port: importing it back would be a cycle
    from controller.runtime import Runtime

# Who MQTT commands act as: switching a circuit is a technician's right, announcing an
# operator's (with approval when the installation asks for it).
CIRCUIT_CALLER = Actor(name="mqtt", role="technician")
ANNOUNCE_CALLER = Actor(name="mqtt", role="operator")
COMMANDS_SEEN = "mqtt_commands"  # store table: the announce ids taken, and when
COMMANDS_KEPT_S = 7 * 24 * 3600.0  # longer than any signed command's window (at most a day)
log = logging.getLogger(__name__)
HA_REASON = "Home Assistant"


class ControllerPort:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._announce_lock = asyncio.Lock()
        # The province's reports (controller.reports.province.ReportFeed.reports), set by the
        # runtime: the nodes do not import the reports, which stand above them.
        self.report_feed: Callable[[], Awaitable[ReportBatch]] | None = None

    async def reports(self) -> ReportBatch:
        if self.report_feed is None:
            return ReportBatch([], 24 * 3600.0)
        return await self.report_feed()

    def clusters_online(self) -> int:
        """Loudspeaker zones that can sound now: a wired zone whose relay board answers (no
        open ``device_offline``), a zone of nodes with at least one node online."""
        runtime = self._runtime
        online_nodes = {n["id"] for n in runtime.nodes() if n.get("status") == "online"}
        count = 0
        for zone in runtime.config.zones:
            if zone.device is not None:
                count += not runtime.alarms.is_open("device_offline", zone.device)
            else:
                count += any(node in online_nodes for node in zone.nodes)
        return count

    def circuit_states(self) -> dict[str, dict[str, Any]]:
        return {circuit_id: {"state": d.state, "level": d.level, "source": d.source}
                for circuit_id, d in self._runtime.lighting_service.applied().items()}

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
        now = self._runtime.radio_service.now_playing()
        return None if now is None else now.as_json()

    async def set_circuit(self, circuit_id: str, command: dict[str, Any]) -> None:
        # "id" names the command for its acknowledgement; it is not part of the override.
        fields = {k: v for k, v in command.items() if k != "id"}
        try:
            order = OverrideOrder.model_validate(
                {"reason": "MQTT command", **fields, "target": circuit_target(circuit_id)})
            await self._runtime.lighting_service.create_override(order.request(),
                                                                 CIRCUIT_CALLER)
        except (ValidationError, RequestError) as exc:
            raise ValueError(_message(exc)) from exc

    async def ha_command(self, circuit_id: str, command: HaCommand) -> None:
        """An override of the circuit, as ``POST /overrides`` makes it, until the next
        switch point of its schedule (or as ``[mqtt] ha_override`` says)."""
        setting = self._mqtt_setting()
        minutes = None if setting == HA_UNTIL_NEXT_SWITCH else int(setting)
        if command.state not in ("on", "off"):  # the topic codec sends nothing else
            raise ValueError(f"state: {command.state!r} is neither on nor off")
        state: State = "on" if command.state == "on" else "off"
        try:
            await self._runtime.lighting_service.hold(
                circuit_id, state, level=command.level, reason=HA_REASON, actor=CIRCUIT_CALLER,
                minutes=minutes)
        except RequestError as exc:
            raise ValueError(_message(exc)) from exc

    def _mqtt_setting(self) -> str | int:
        mqtt = self._runtime.config.mqtt
        return mqtt.ha_override if mqtt is not None else HA_UNTIL_NEXT_SWITCH

    async def back_to_schedule(self, circuit_id: str) -> int:
        """End every override of this very circuit (group-wide ones are left to the API),
        each as ``DELETE /overrides/{id}`` ends it: noted, audited, the schedule applies."""
        try:
            return await self._runtime.lighting_service.end_circuit_overrides(
                circuit_id, CIRCUIT_CALLER)
        except RequestError as exc:
            raise ValueError(_message(exc)) from exc

    async def announce(self, command: dict[str, Any]) -> str:
        """An announcement from the broker, once per command ``id``: the same id again (a
        replay, or the province sending twice) gets the first one's announcement and airs
        nothing more. The ids taken are kept in the store for ``COMMANDS_KEPT_S``, so a
        restart does not forget them."""
        fields = {k: v for k, v in command.items() if k != "id"}
        async with self._announce_lock:  # two copies at once: the second waits for the first
            seen = await asyncio.to_thread(self._runtime.store.get, COMMANDS_SEEN,
                                           str(command["id"]))
            if seen is not None:
                log.info("announce %s already taken (%s): not aired again", command["id"],
                         seen["announcement_id"])
                return str(seen["announcement_id"])
            try:
                request = AnnouncementCreate.model_validate(fields)
                created = await self._runtime.radio_service.announce(request,
                                                                     actor=ANNOUNCE_CALLER)
            except (ValidationError, RequestError) as exc:
                raise ValueError(_message(exc)) from exc
            await asyncio.to_thread(self._remember, str(command["id"]), created.id)
        return created.id

    def _remember(self, command_id: str, announcement_id: str) -> None:
        now = self._runtime.clock.now()
        oldest = (now - timedelta(seconds=COMMANDS_KEPT_S)).isoformat()
        with self._runtime.store.transaction() as tables:
            for old in tables.all(COMMANDS_SEEN):
                if str(old.get("at", "")) < oldest:
                    tables.delete(COMMANDS_SEEN, old["id"])
            tables.put(COMMANDS_SEEN, {"id": command_id, "announcement_id": announcement_id,
                                       "at": now.isoformat()})

    def node_changed(self, node_id: str, node: dict[str, Any]) -> None:
        alarms = self._runtime.alarms
        if node.get("status") == "offline":
            alarms.raise_alarm("node_offline", node_id, "field node offline (its last will, "
                               "or silent too long)", severity="warning")
        else:
            alarms.clear("node_offline", node_id, "online again")


def _message(exc: ValidationError | RequestError) -> str:
    if isinstance(exc, RequestError):
        return str(exc)  # "field: message", or the message alone
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return f"{where}: {first['msg']}" if where else str(first["msg"])
