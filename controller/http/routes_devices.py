"""Field devices: link health per device, and a probe that asks one device now."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from controller.http.auth import Technician, Viewer
from controller.http.bodies import json_router
from controller.http.context import RuntimeDep
from controller.http.errors import not_found
from controller.http.models import DevicePublic, ProbePublic
from controller.http.views import devices_public
from controller.runtime import Runtime

router = json_router(tags=["devices"])


@router.get("/devices", summary="Every device: online, last error, latency")
async def list_devices(runtime: RuntimeDep, caller: Viewer) -> list[DevicePublic]:
    return devices_public(runtime)


@router.get("/devices/{device_id}", summary="One device")
async def get_device(device_id: str, runtime: RuntimeDep, caller: Viewer) -> DevicePublic:
    check_device(runtime, device_id)
    return DevicePublic.model_validate(runtime.devices.describe(device_id))


@router.post("/devices/{device_id}/probe",
             summary="Ask the device once: reachable, latency, what it holds")
async def probe_device(device_id: str, runtime: RuntimeDep, caller: Technician) -> ProbePublic:
    # Reads only; the bus worker serialises it with the coordinators' traffic.
    check_device(runtime, device_id)
    return ProbePublic.model_validate(await runtime.devices.probe(device_id))


def check_device(runtime: Runtime, device_id: str) -> None:
    if device_id not in runtime.devices.drivers:
        raise not_found("device", device_id)


class NodePublic(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    status: str = Field(description="online | offline (its MQTT last will, or silent too long)")
    last_seen: datetime | None = None
    telemetry: dict[str, Any] = Field(default_factory=dict,
                                      description='what the node reports: {"fw", "rssi", ...}')


@router.get("/nodes", summary="Field nodes (IP/4G speakers, lamp-post controllers) on MQTT")
async def list_nodes(runtime: RuntimeDep, caller: Viewer) -> list[NodePublic]:
    return [NodePublic.model_validate(n) for n in runtime.nodes()]
