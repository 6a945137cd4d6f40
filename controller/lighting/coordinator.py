"""The lighting coordinator: what the circuits should be, what was written, what the relays say.

One code path reconciles at start-up, at every programme transition, on an override, when a
device answers again and on the periodic check (docs/architecture.md, Conventions):

1. compute the desired state of every circuit, a pure function of (config, storage, now);
2. per device, compare it with the last known state of the channels (read back at start and
   on every periodic check) and write only the difference, in one frame per device;
3. read back to verify, and keep ``desired``, ``commanded`` and ``actual`` apart per circuit;
4. on the periodic check also read the meters and digital inputs, and raise or clear alarms:
   device offline, relay not following, lamp failure, day-burner, mapped inputs;
5. a channel whose read-back differs from what we last wrote and saw it hold was changed
   behind our back (a hand switch, a second Modbus master, a board that lost power): the
   reconcile puts it right, and says so once in a ``relay_drift`` event (docs/metrics.md).

Devices are reconciled concurrently, so a dead board only delays the boards that share its
serial line; its desired state is written again as soon as it answers (it is retried every
``offline_retry_s``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from controller.config import CircuitConfig, Config
from controller.lighting.overrides import OverrideBook
from controller.lighting.programs import ProgramBook, site_of
from controller.lighting.records import Desired, Override
from controller.lighting.usage import UsageRecorder
from controller.platform import clock as clocks
from controller.platform.alarms import AlarmBook
from controller.platform.coordinator import DecisionLoop
from controller.platform.devices import DeviceManager
from drivers.errors import DeviceError, DeviceUnavailable
from drivers.profiles import Dimmer, EnergyMeter, RelayBoard
from schedules.calendars import Calendar
from schedules.lighting import Program, desired_state

log = logging.getLogger(__name__)

# A transition whose due time is older than this when we get to it is a catch-up after a
# restart or an outage, not a measure of scheduling lateness.
LATENESS_HORIZON_S = 60.0

# Why a verified channel no longer holds its value (``relay_drift`` events and the counter).
DRIFT_ONLINE = "changed_while_online"  # a hand switch, a second Modbus master
DRIFT_OFFLINE = "changed_while_offline"  # found so when the device answered again (power cut)


@dataclass(frozen=True)
class CircuitRecord:
    """What the coordinator knows of a circuit. Frozen, and replaced whole in ``records`` on
    each change: a reader (the API, the MQTT state, on the same loop) that keeps one across an
    await never sees a level from one read beside the time of another, nor a level cleared
    under it (docs/architecture.md)."""

    desired: Desired | None = None
    commanded_level: int | None = None
    commanded_at: datetime | None = None
    actual_level: int | None = None
    read_at: datetime | None = None


class LightingCoordinator:
    def __init__(self, *, config: Config, clock: clocks.Clock, programs: ProgramBook,
                 overrides: OverrideBook, devices: DeviceManager, alarms: AlarmBook) -> None:
        self._config = config
        self._clock = clock
        self._programs = programs
        self._overrides = overrides
        self._devices = devices
        self._alarms = alarms
        self._site = site_of(config)
        self._settings = config.lighting
        self.records: dict[str, CircuitRecord] = {c.id: CircuitRecord() for c in config.circuits}
        self._circuits_by_device: dict[str, list[CircuitConfig]] = {}
        for circuit in config.circuits:
            self._circuits_by_device.setdefault(circuit.device, []).append(circuit)
        self._meters: dict[str, list[CircuitConfig]] = {}
        for circuit in config.circuits:
            if circuit.meter:
                self._meters.setdefault(circuit.meter, []).append(circuit)
        self._decisions = DecisionLoop(clock)
        self._next_check_mono = float("-inf")
        self._retry_at_mono: dict[str, float] = {}
        self._due: dict[str, datetime] = {}  # circuit -> due time of a transition not yet written
        self.lateness_s: deque[float] = deque(maxlen=10_000)  # the latest, for quantiles
        self.lateness_count = 0  # all since start, for the metrics' _count and _sum
        self.lateness_sum_s = 0.0
        self.reconciles = 0
        # Per device, channel -> the value we last wrote (or read) and saw it hold; a channel
        # that did not follow our write is absent: that is ``relay_not_following``, not drift.
        self._verified: dict[str, dict[int, Any]] = {}
        self._offline_since_verified: set[str] = set()
        self.drifts: dict[tuple[str, str, str], int] = {}  # (device, circuit, reason) -> count
        # The clock guard's verdict: while the time cannot be trusted, lights fail safe (on).
        self.clock_trusted: Callable[[], bool] = lambda: True
        # Told what each pass saw, for the monthly report's on-hours and energy (usage.py).
        self.usage: UsageRecorder | None = None

    # -- the loop ----------------------------------------------------------------------------

    def wake(self) -> None:
        """Something changed (override, programme, calendar): reconcile now."""
        self._decisions.wake()

    async def run(self) -> None:
        try:
            await self._decisions.run(self._step)
        finally:
            if self.usage is not None:
                self.usage.flush()  # what was counted since the last flush, before a stop

    async def _step(self) -> float:
        check = self._clock.monotonic() >= self._next_check_mono
        await self.reconcile(check=check)
        return self._seconds_to_next_wake()

    def _seconds_to_next_wake(self) -> float:
        now, mono = self._clock.now(), self._clock.monotonic()
        wake = self._next_check_mono - mono
        for record in self.records.values():
            if record.desired and record.desired.until:
                wake = min(wake, (record.desired.until - now).total_seconds())
        for retry in self._retry_at_mono.values():
            wake = min(wake, retry - mono)
        return max(wake, 0.0)

    # -- desired -----------------------------------------------------------------------------

    def desired(self, circuit: CircuitConfig, *, at: datetime,
                active: list[Override] | None = None,
                programs: Mapping[str, Program] | None = None,
                calendars: Mapping[str, Calendar] | None = None) -> Desired:
        """The newest unexpired override that targets the circuit, else the programme
        window containing ``at``, else the default (off) (docs/architecture.md)."""
        active = self._overrides.active(now=at) if active is None else active
        override = OverrideBook.winner(active, circuit)
        if override is not None:
            level = override.level if override.state == "on" else 0
            return Desired(state=override.state, level=level, source="override",
                           rule=f"override {override.id}: {override.reason}".rstrip(": "),
                           since=override.created_at, until=override.until, override=override)
        if not self.clock_trusted():
            return Desired("on", 100, "failsafe", "the clock cannot be trusted: lights on "
                           "until the time is set (controller.platform.clock_guard)", None, None)
        programs = self._programs.programs() if programs is None else programs
        calendars = self._programs.calendars() if calendars is None else calendars
        program = programs.get(circuit.program or "")
        if program is None:
            return Desired("off", 0, "default", None, None, None)
        wanted = desired_state(program, self._site, calendars, at=at)
        source = "schedule" if wanted.rule else "default"
        index = wanted.window if wanted.window is not None else wanted.next_window
        return Desired(wanted.state, wanted.level, source, wanted.rule, wanted.since,
                       wanted.until, window=None if index is None else program.windows[index],
                       window_index=index)

    # -- reconcile ---------------------------------------------------------------------------

    async def reconcile(self, *, check: bool = False) -> None:
        now, mono = self._clock.now(), self._clock.monotonic()
        active = self._overrides.active(now=now)
        programs, calendars = self._programs.programs(), self._programs.calendars()
        for circuit in self._config.circuits:
            record = self.records[circuit.id]
            wanted = self.desired(circuit, at=now, active=active, programs=programs,
                                  calendars=calendars)
            previous = record.desired
            if previous is not None and previous.level != wanted.level:
                # Due when the old state was to end (a window's end, an override's expiry),
                # else when the new one began (an override created a moment ago).
                ended = previous.until if previous.until and previous.until <= now else None
                self._due[circuit.id] = ended or wanted.since or now
            self.records[circuit.id] = replace(record, desired=wanted)
        if check:
            self._next_check_mono = mono + self._settings.check_interval_s
        device_ids = set(self._circuits_by_device) | set(self._meters)
        device_ids |= {d for d, names in self._devices.input_names.items() if names}
        await asyncio.gather(*(self._reconcile_device(d, check=check)
                               for d in sorted(device_ids)))
        self.reconciles += 1
        if self.usage is not None:
            await self.usage.observe(self._clock.now(), {
                c: None if r.actual_level is None else r.actual_level > 0
                for c, r in self.records.items()})

    async def _reconcile_device(self, device_id: str, *, check: bool) -> None:
        mono = self._clock.monotonic()
        retry_at = self._retry_at_mono.get(device_id)
        if retry_at is not None and mono < retry_at:
            return
        driver = self._devices.drivers[device_id]
        check = check or retry_at is not None
        try:
            # Held across the whole read-modify-write: a stop waits for it (controller.app).
            async with self._devices.holding(device_id):
                drives_circuits = device_id in self._circuits_by_device
                if isinstance(driver, RelayBoard | Dimmer) and drives_circuits:
                    await self._apply_outputs(device_id, driver, check=check)
                if check and isinstance(driver, EnergyMeter):
                    await self._check_meter(device_id)
                has_inputs = bool(self._devices.input_names[device_id])
                if check and isinstance(driver, RelayBoard) and has_inputs:
                    await self._check_inputs(device_id)
        except DeviceUnavailable as exc:
            self._device_lost(device_id, exc)
            return
        except DeviceError as exc:
            # It answered, but not as it should: keep going, say so once.
            self._alarms.raise_alarm("device_error", device_id, str(exc), severity="warning")
            return
        if retry_at is not None:
            del self._retry_at_mono[device_id]
        self._alarms.clear("device_offline", device_id, "answers again")
        self._alarms.clear("device_error", device_id)

    def _device_lost(self, device_id: str, exc: DeviceError) -> None:
        self._retry_at_mono[device_id] = self._clock.monotonic() + self._settings.offline_retry_s
        self._devices.known[device_id] = None  # unknown until read back again
        self._offline_since_verified.add(device_id)
        for circuit in self._circuits_by_device.get(device_id, []):
            self.records[circuit.id] = replace(self.records[circuit.id], actual_level=None)
        self._alarms.raise_alarm("device_offline", device_id, f"no answer: {exc}")

    async def _apply_outputs(self, device_id: str, driver: RelayBoard | Dimmer, *,
                             check: bool) -> None:
        circuits = self._circuits_by_device[device_id]
        targets = self._targets(driver, circuits)
        known = self._devices.known[device_id]
        drifted: list[tuple[CircuitConfig, int, Any, Any]] = []
        drift_reason = DRIFT_OFFLINE if device_id in self._offline_since_verified else DRIFT_ONLINE
        if check or known is None:
            known = await self._read_outputs(device_id, driver)
            drifted = self._drifted(device_id, circuits, known)
        verified = self._verified.setdefault(device_id, {})

        def forget(changes: dict[int, Any]) -> None:
            for channel in changes:
                verified.pop(channel, None)  # unknown until the write is read back

        written = await self._devices.write_channels(device_id, targets, before_write=forget)
        known, changes = written.before, written.changes
        if written.written_at is not None:
            written_at = written.written_at
            for circuit in circuits:
                if set(circuit.channels) & set(changes):
                    self.records[circuit.id] = replace(
                        self.records[circuit.id], commanded_level=self._wanted_level(circuit),
                        commanded_at=written_at)
            self._record_lateness(circuits, written_at)
            # Give the lamps time to draw current before the meter is judged.
            self._next_check_mono = min(self._next_check_mono,
                                        self._clock.monotonic() + self._settings.settle_s)
            known = await self._read_outputs(device_id, driver)  # verify
        else:
            self._record_lateness(circuits, self._clock.now())
        verified.update({ch: known[ch] for ch, v in targets.items() if known[ch] == v})
        self._offline_since_verified.discard(device_id)
        for circuit, channel, found, expected in drifted:
            self._note_drift(device_id, circuit, channel, found, expected, known[channel],
                             reason=drift_reason)
        for circuit in circuits:
            record = self.records[circuit.id]
            wanted = self._wanted_level(circuit)
            following = record.actual_level == self._level_shown(circuit, wanted)
            self._alarms.set(
                not following, "relay_not_following", circuit.id,
                f"commanded level {wanted}, device {device_id} shows {record.actual_level}")

    def _targets(self, driver: RelayBoard | Dimmer,
                 circuits: list[CircuitConfig]) -> dict[int, Any]:
        targets: dict[int, Any] = {}
        for circuit in circuits:
            level = self._wanted_level(circuit)
            if isinstance(driver, Dimmer):
                targets[circuit.channels[0]] = level
            else:
                closed = circuit.segment_channels(level)
                targets.update({ch: ch in closed for ch in circuit.channels})
        return targets

    @staticmethod
    def _level_shown(circuit: CircuitConfig, level: int) -> int:
        """The level a relay read-back can show for a commanded level (segments quantise)."""
        return circuit.level_of(circuit.segment_channels(level)) if level else 0

    async def _read_outputs(self, device_id: str, driver: RelayBoard | Dimmer) -> list[Any]:
        values = await self._devices.read_channels(device_id)
        read_at = self._clock.now()
        for circuit in self._circuits_by_device.get(device_id, []):
            if isinstance(driver, Dimmer):
                level = int(values[circuit.channels[0]])
            else:
                level = circuit.level_of({ch for ch in circuit.channels if values[ch]})
            self.records[circuit.id] = replace(self.records[circuit.id], actual_level=level,
                                               read_at=read_at)
        return list(values)

    def _drifted(self, device_id: str, circuits: list[CircuitConfig],
                 found: list[Any]) -> list[tuple[CircuitConfig, int, Any, Any]]:
        """(circuit, channel, found, expected) for each verified channel that reads back
        otherwise."""
        verified = self._verified.get(device_id, {})
        return [(circuit, channel, found[channel], verified[channel])
                for circuit in circuits for channel in circuit.channels
                if channel in verified and found[channel] != verified[channel]]

    def _note_drift(self, device_id: str, circuit: CircuitConfig, channel: int, found: Any,
                    expected: Any, restored: Any, *, reason: str) -> None:
        key = (device_id, circuit.id, reason)
        self.drifts[key] = self.drifts.get(key, 0) + 1
        how = "while it was online" if reason == DRIFT_ONLINE else "when it answered again"
        message = (f"{device_id} channel {channel} ({circuit.id}) was found {_shown(found)}, "
                   f"not {_shown(expected)} as last set, {how}; now {_shown(restored)}")
        log.warning("relay drift: %s", message)
        self._alarms.note("relay_drift", circuit.id, message, severity="warning",
                          device=device_id, channel=channel, found=_shown(found),
                          expected=_shown(expected), restored=_shown(restored), reason=reason)

    def _record_lateness(self, circuits: list[CircuitConfig], done_at: datetime) -> None:
        for circuit in circuits:
            due = self._due.pop(circuit.id, None)
            if due is not None:
                late_s = (done_at - due).total_seconds()
                if 0 <= late_s <= LATENESS_HORIZON_S:
                    self.lateness_s.append(late_s)
                    self.lateness_count += 1
                    self.lateness_sum_s += late_s

    def _settling(self, circuit_id: str, now: datetime) -> bool:
        """Commanded less than ``settle_s`` ago: the meter may not show it yet."""
        commanded_at = self.records[circuit_id].commanded_at
        return (commanded_at is not None
                and (now - commanded_at).total_seconds() < self._settings.settle_s)

    async def _check_meter(self, meter_id: str) -> None:
        reading = await self._devices.call(meter_id, lambda d: d.read())
        circuits = self._meters.get(meter_id, [])
        now = self._clock.now()
        if self.usage is not None:
            self.usage.meter(meter_id, now, reading.energy_kwh)
        settling = any(self._settling(c.id, now) for c in circuits)
        if settling or not circuits:
            return
        # Judge against what the rules want: a welded contactor that keeps lamps burning by
        # day is a day-burner even though the relay read-back says "on".
        wanted_on = [c for c in circuits if self._wanted_level(c) > 0]
        no_current = reading.power_w < self._settings.lamp_min_w
        for circuit in circuits:
            closed = (self.records[circuit.id].actual_level or 0) > 0
            self._alarms.set(
                circuit in wanted_on and closed and no_current, "lamp_failure", circuit.id,
                f"circuit is on but meter {meter_id} reads {reading.power_w:.1f} W")
            self._alarms.set(
                not wanted_on and reading.power_w > self._settings.off_max_w, "day_burner",
                circuit.id,
                f"circuit is off but meter {meter_id} reads {reading.power_w:.1f} W")

    def _wanted_level(self, circuit: CircuitConfig) -> int:
        desired = self.records[circuit.id].desired
        return desired.level if desired else 0

    async def _check_inputs(self, device_id: str) -> None:
        inputs = await self._devices.call(device_id, lambda d: d.read_inputs())
        for index, name in self._devices.input_names[device_id].items():
            self._alarms.set(bool(inputs[index]), name, device_id,
                             f"input {index} ({name}) of {device_id} is active")


def _shown(value: Any) -> str:
    """A channel's value as an event says it: a relay "on"/"off", a dimmer its level."""
    if isinstance(value, bool):
        return "on" if value else "off"
    return f"{value} %"
