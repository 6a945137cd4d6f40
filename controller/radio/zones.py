"""Loudspeaker zones and their amplifiers, switched through the same device workers as the
lights: ``DeviceManager.write_channels`` (controller.platform.devices) does the board's
read-modify-write under its lock, with the shared ``known`` channel state, one FC15 frame per board.

What should be on is a pure function of what is on air: the zones of the airing item, and every
amplifier that feeds one of them. ``apply(zones)`` reconciles the relays with that and says when
the amplifiers are warm: an amplifier switched on now is ready ``warmup_s`` later, one that was
already on is ready at once (so an emergency that cuts into a programme does not wait).

Zones made of field nodes (IP/4G receivers) have no relay here; the MQTT bridge addresses them.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass

from controller.config import Config
from controller.platform.alarms import AlarmBook
from controller.platform.clock import Clock
from controller.platform.devices import DeviceManager
from drivers.errors import DeviceError
from drivers.profiles import RelayBoard

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Output:
    kind: str  # "zone" | "amplifier"
    id: str
    device: str
    channel: int


class ZoneSwitch:
    def __init__(self, *, config: Config, devices: DeviceManager, alarms: AlarmBook,
                 clock: Clock) -> None:
        self._config = config
        self._devices = devices
        self._alarms = alarms
        self._clock = clock
        self._on_since_mono: dict[str, float] = {}  # amplifier id -> when it was switched on
        self.active: frozenset[str] = frozenset()
        self.failures: dict[str, str] = {}  # device id -> last error, while it fails
        outputs = [_Output("zone", z.id, z.device, z.channel) for z in config.zones
                   if z.device is not None and z.channel is not None]
        outputs += [_Output("amplifier", a.id, a.device, a.channel) for a in config.amplifiers]
        self._outputs_by_device: dict[str, list[_Output]] = defaultdict(list)
        for output in outputs:
            self._outputs_by_device[output.device].append(output)

    def amplifiers_of(self, zones: frozenset[str] | set[str]) -> set[str]:
        return {z.amplifier for z in self._config.zones if z.id in zones and z.amplifier}

    def warmup_s(self, zones: frozenset[str] | set[str]) -> float:
        """How long before its first sample an item for ``zones`` must switch on, at most."""
        amplifiers = [self._config.amplifier(a) for a in self.amplifiers_of(zones)]
        return max((a.warmup_s for a in amplifiers if a is not None), default=0.0)

    async def apply(self, zones: frozenset[str] | set[str]) -> float:
        """Switch exactly ``zones`` (and their amplifiers) on and everything else off.
        Returns the monotonic time at which every needed amplifier is warm.

        A board that does not answer raises an alarm and is skipped: the item still airs in
        the zones that work, and the next ``apply`` tries that board again."""
        zones = frozenset(zones)
        amplifiers = self.amplifiers_of(zones)
        now_mono = self._clock.monotonic()
        for amp in list(self._on_since_mono):
            if amp not in amplifiers:
                del self._on_since_mono[amp]
        for device_id, outputs in self._outputs_by_device.items():
            targets = {o.channel: (o.id in zones if o.kind == "zone" else o.id in amplifiers)
                       for o in outputs}
            await self._apply_device(device_id, targets)
            for output in outputs:
                if output.kind == "amplifier" and output.id in amplifiers and \
                        output.id not in self._on_since_mono:
                    self._on_since_mono[output.id] = now_mono
        self.active = zones
        ready = [self._on_since_mono[a] + (self._config.amplifier(a).warmup_s)  # type: ignore[union-attr]
                 for a in amplifiers if a in self._on_since_mono]
        return max(ready, default=now_mono)

    async def _apply_device(self, device_id: str, targets: dict[int, bool]) -> None:
        """Write the channels of one board that differ."""
        driver = self._devices.drivers[device_id]
        assert isinstance(driver, RelayBoard)  # config.cross_check: zones need relay boards
        try:
            changes = (await self._devices.write_channels(device_id, targets)).changes
        except DeviceError as exc:
            self._devices.known[device_id] = None  # read it again next time
            if device_id not in self.failures:
                log.warning("zones on %s not switched: %s", device_id, exc)
            self.failures[device_id] = str(exc)
            self._alarms.raise_alarm("zone_switch_failed", device_id,
                                     f"zones or amplifier not switched: {exc}")
            return
        if not changes:
            self._ok(device_id)
            return
        log.info("zones on %s: %s", device_id,
                 ", ".join(f"ch{ch} {'on' if v else 'off'}" for ch, v in sorted(changes.items())))
        self._ok(device_id)

    def _ok(self, device_id: str) -> None:
        if self.failures.pop(device_id, None) is not None:
            self._alarms.clear("zone_switch_failed", device_id, "answers again")
