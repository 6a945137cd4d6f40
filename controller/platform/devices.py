"""The field devices of the installation: one Modbus bus worker per link, one driver per device,
and the health of each (online, last error, latency).

Health is tracked per device, not per bus: on a shared RS-485 line one dead board must not mark
its neighbours offline. A device that goes down is logged once, and once when it is back
(state transitions are logged, not every failed poll).

Every write to a relay board's coils or a dimmer's registers goes through ``write_channels``:
the read-modify-write of a board shared by the lighting and the radio, under the device's lock
(docs/architecture.md).

A device's health is a frozen record, replaced whole in ``health`` on every change: whoever
reads it (``describe``, /status, /metrics, all on the coordinators' loop) and keeps it across
an await still holds one consistent record, never one half changed (``down_since`` cleared
after it checked it was set; docs/architecture.md).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypeVar

from controller.config import Config
from controller.platform.clock import Clock
from drivers.errors import DeviceError, DeviceUnavailable
from drivers.modbus import ModbusBus
from drivers.profiles import Dimmer, EnergyMeter, RelayBoard, make_device

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class DeviceHealth:
    online: bool | None = None  # None: not asked yet
    last_error: str | None = None
    last_ok_at: datetime | None = None
    last_try_at: datetime | None = None
    down_since: datetime | None = None
    latency_s: float | None = None
    transactions: int = 0
    failures: int = 0


@dataclass(frozen=True)
class ChannelWrite:
    """What ``DeviceManager.write_channels`` did to one board."""

    before: list[Any]  # the board's channels as known (or read) when the changes were decided
    changes: dict[int, Any] = field(default_factory=dict)  # what was written; empty: nothing
    written_at: datetime | None = None  # when the board acknowledged it; None: nothing sent


class DeviceManager:
    def __init__(self, config: Config, clock: Clock) -> None:
        self._clock = clock
        self.buses: dict[str, ModbusBus] = {
            b.id: ModbusBus(b.id, kind=b.kind, host=b.host, port=b.port, baudrate=b.baudrate,
                            parity=b.parity, stopbits=b.stopbits, bytesize=b.bytesize,
                            timeout_s=b.timeout_s, retries=b.retries)
            for b in config.buses
        }
        self.drivers: dict[str, RelayBoard | EnergyMeter | Dimmer] = {}
        self.input_names: dict[str, dict[int, str]] = {}
        button = config.broadcast.talk_button
        for device in config.devices:
            # Read from input 0 to the highest one used: the alarms' and the talk button's.
            used = set(device.inputs) | (
                {button.input} if button is not None and button.device == device.id else set())
            inputs = max(used) + 1 if used else 0
            self.drivers[device.id] = make_device(device.profile, self.buses[device.bus],
                                                  device.unit, inputs=inputs)
            self.input_names[device.id] = dict(device.inputs)
        self.health: dict[str, DeviceHealth] = {d: DeviceHealth() for d in self.drivers}
        # Last known channel state of each relay board or dimmer (read back, or written since),
        # shared by every coordinator that owns channels of the board: an FC15 frame spans
        # neighbours' channels too, so it must be filled from fresh knowledge of them.
        self.known: dict[str, list[Any] | None] = dict.fromkeys(self.drivers)
        # Held around a read-modify-write of one device, so that the lighting and the radio
        # coordinators never interleave between the read and the write (``holding``).
        self.locks: dict[str, asyncio.Lock] = {d: asyncio.Lock() for d in self.drivers}
        self._holders: dict[str, asyncio.Task[Any] | None] = {}
        self._config = config

    @asynccontextmanager
    async def holding(self, device_id: str) -> AsyncIterator[None]:
        """Hold the device's lock. The task that holds it may enter again (``write_channels``
        inside a longer transaction of its caller) without waiting for itself; only that task:
        work it hands to another task (``asyncio.wait_for``, ``shield``, ``gather``) waits for
        the hold to end like any other writer."""
        task = asyncio.current_task()
        if task is not None and self._holders.get(device_id) is task:
            yield
            return
        async with self.locks[device_id]:
            self._holders[device_id] = task
            try:
                yield
            finally:
                self._holders.pop(device_id, None)

    async def read_channels(self, device_id: str) -> list[Any]:
        """A relay board's coils or a dimmer's levels, read now and kept in ``known``."""
        driver = self.drivers[device_id]
        if isinstance(driver, RelayBoard):
            values: list[Any] = await self.call(device_id, lambda d: d.read_channels())
        elif isinstance(driver, Dimmer):
            values = await self.call(device_id, lambda d: d.read_levels())
        else:
            raise TypeError(f"{device_id} has no channels to read (a {driver.kind})")
        self.known[device_id] = list(values)
        return list(values)

    async def write_channels(
            self, device_id: str, targets: Mapping[int, Any], *,
            before_write: Callable[[dict[int, Any]], None] | None = None) -> ChannelWrite:
        """Bring ``targets`` (channel -> on/off for a relay board, level for a dimmer) onto the
        board, writing only the channels that differ from what is known of it, and keep
        ``known`` up to date. Under the device's lock from the read to the write: a relay
        board's FC15 frame spans the neighbours' channels too, filled from ``known``, so a
        second writer must not change them in between. The board is read first when nothing
        is known of it. ``before_write`` is told the changes just before they are sent.
        DeviceError propagates; ``known`` is then left as it was."""
        driver = self.drivers[device_id]
        async with self.holding(device_id):
            known = self.known[device_id]
            if known is None:
                known = await self.read_channels(device_id)
            before = list(known)
            changes = {ch: v for ch, v in targets.items() if before[ch] != v}
            if not changes:
                return ChannelWrite(before)
            if before_write is not None:
                before_write(changes)
            if isinstance(driver, RelayBoard):
                await self.call(device_id, lambda d: d.write_channels(changes, known=before))
            elif isinstance(driver, Dimmer):
                # Without ``known``: a dimmer gets one frame per run of changed channels,
                # never a neighbour rewritten (drivers.profiles.Dimmer.write_levels).
                await self.call(device_id, lambda d: d.write_levels(changes))
            else:
                raise TypeError(f"{device_id} has no channels to write (a {driver.kind})")
            written_at = self._clock.now()
            self.known[device_id] = [changes.get(i, v) for i, v in enumerate(before)]
            return ChannelWrite(before, changes, written_at)

    async def call(self, device_id: str, operation: Callable[[Any], Awaitable[T]]) -> T:
        """Run one driver operation, keeping the device's health; DeviceError propagates."""
        started = self._clock.monotonic()
        health = self.health[device_id]
        self.health[device_id] = replace(health, last_try_at=self._clock.now(),
                                         transactions=health.transactions + 1)
        try:
            result = await operation(self.drivers[device_id])
        except DeviceError as exc:
            # Read again: another operation on this device may have ended while this one ran.
            health = self.health[device_id]
            went_down = isinstance(exc, DeviceUnavailable) and health.online is not False
            self.health[device_id] = replace(
                health, failures=health.failures + 1, last_error=str(exc),
                online=False if went_down else health.online,
                down_since=self._clock.now() if went_down else health.down_since)
            if went_down:
                log.warning("device %s is offline: %s", device_id, exc)
            raise
        health = self.health[device_id]
        if health.online is False:
            log.info("device %s is back online", device_id)
        self.health[device_id] = replace(health, latency_s=self._clock.monotonic() - started,
                                         last_ok_at=self._clock.now(), online=True,
                                         down_since=None)
        return result

    async def probe(self, device_id: str) -> dict[str, Any]:
        """Ask a device once for what it holds: reachable, latency, what it read."""
        driver = self.drivers[device_id]
        started = self._clock.monotonic()
        try:
            if isinstance(driver, RelayBoard):
                channels = await self.call(device_id, lambda d: d.read_channels())
                read: dict[str, Any] = {"channels": channels}
                if driver.inputs:
                    read["inputs"] = await self.call(device_id, lambda d: d.read_inputs())
            elif isinstance(driver, EnergyMeter):
                reading = await self.call(device_id, lambda d: d.read())
                read = {"voltage_v": reading.voltage_v, "current_a": reading.current_a,
                        "power_w": reading.power_w, "energy_kwh": reading.energy_kwh}
            else:
                read = {"levels": await self.call(device_id, lambda d: d.read_levels())}
        except DeviceError as exc:
            return {"id": device_id, "reachable": False, "error": str(exc),
                    "latency_ms": None, "read": None}
        latency_ms = round((self._clock.monotonic() - started) * 1000, 2)
        return {"id": device_id, "reachable": True, "error": None, "latency_ms": latency_ms,
                "read": read}

    def describe(self, device_id: str) -> dict[str, Any]:
        device = self._config.device(device_id)
        health = self.health[device_id]
        bus_stats = self.buses[device.bus].stats
        return {
            "id": device_id,
            "bus": device.bus,
            "unit": device.unit,
            "profile": device.profile,
            "online": health.online,
            "last_error": health.last_error,
            "last_ok_at": health.last_ok_at.isoformat() if health.last_ok_at else None,
            "down_since": health.down_since.isoformat() if health.down_since else None,
            "latency_ms": round(health.latency_s * 1000, 2) if health.latency_s else None,
            "transactions": health.transactions,
            "failures": health.failures,
            "bus_requests": bus_stats.requests,
        }

    async def close(self) -> None:
        for bus in self.buses.values():
            await bus.close()
