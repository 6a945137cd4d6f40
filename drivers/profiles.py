"""Register maps of the field devices: relay boards, energy meters, dimmers. Registers, not policy.

Each class turns "switch these channels" or "what does the meter read" into the fewest Modbus
frames the device's map allows; deciding what to switch, and judging what was read, is the
controller's job. Every class has ``kind`` ("relay" | "meter" | "dimmer") and ``channels``.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from drivers.modbus import MAX_WRITE_COILS, MAX_WRITE_REGISTERS, ModbusBus

DeviceKind = Literal["relay", "meter", "dimmer"]

PROFILE_HELP = ("known profiles: relayN (a relay board with N coils from 0, e.g. relay4, relay8, "
                "relay16), sdm120 (Eastron SDM120 energy meter), dimmer (4 channels) or dimmerN")
DIMMER_DEFAULT_CHANNELS = 4


def known_profiles() -> list[str]:
    return ["relayN", "sdm120", "dimmer", "dimmerN"]


class RelayBoard:
    """A relay board whose relay N is coil N (FC01/FC05/FC15) and input N discrete input N (FC02).

    That is the map of the common cheap boards: the Waveshare "Modbus RTU Relay" boards (their
    wiki's command table: relay 0..7 at coil 0x0000..0x0007, FC01/FC05/FC0F) and the generic
    "relay8"/"relay16" RS-485 boards sold with the same table.
    """

    kind: DeviceKind = "relay"

    def __init__(self, bus: ModbusBus, unit: int, channels: int, inputs: int = 0) -> None:
        if not 1 <= channels <= MAX_WRITE_COILS:
            raise ValueError(f"a relay board has 1..{MAX_WRITE_COILS} channels, not {channels}")
        if inputs < 0:
            raise ValueError(f"inputs must be >= 0, not {inputs}")
        self.bus = bus
        self.unit = unit
        self.channels = channels
        self.inputs = inputs

    async def read_channels(self) -> list[bool]:
        return await self.bus.read_coils(self.unit, 0, self.channels)

    async def write_channels(self, values: Mapping[int, bool], *, known: Sequence[bool]) -> None:
        """Switch ``values`` with one FC15 frame over the lowest..highest channel in it.

        Channels in between that are not in ``values`` are rewritten with their state in
        ``known`` (the board's last known state), so that one frame can carry them all.
        """
        if len(known) != self.channels:
            raise ValueError(f"known holds {len(known)} channels, the board has {self.channels}")
        span = _span(values, self.channels)
        if span is None:
            return
        frame = [bool(values.get(ch, known[ch])) for ch in span]
        await self.bus.write_coils(self.unit, span.start, frame)

    async def read_inputs(self) -> list[bool]:
        """The discrete inputs (cabinet door, breaker); a board without inputs has nothing."""
        if not self.inputs:
            return []
        return await self.bus.read_discrete_inputs(self.unit, 0, self.inputs)


@dataclass(frozen=True)
class MeterReading:
    voltage_v: float
    current_a: float
    power_w: float
    energy_kwh: float


class EnergyMeter:
    """An Eastron SDM120 (and the SDM120-compatible single-phase meters).

    Eastron "SDM120 Modbus Protocol" (input registers, FC04; each value an IEEE 754 float32 in
    two registers, high word first): voltage 30001 (0x0000), current 30007 (0x0006), active power
    30013 (0x000C), total active energy 30343 (0x0156).
    """

    kind: DeviceKind = "meter"
    channels = 0

    VOLTAGE = 0x0000
    CURRENT = 0x0006
    ACTIVE_POWER = 0x000C
    TOTAL_ACTIVE_ENERGY = 0x0156

    def __init__(self, bus: ModbusBus, unit: int) -> None:
        self.bus = bus
        self.unit = unit

    async def read(self) -> MeterReading:
        """Two frames: 0x0000..0x000D (voltage to power) and the energy pair at 0x0156."""
        start = self.VOLTAGE
        electrical = await self.bus.read_input_registers(
            self.unit, start, self.ACTIVE_POWER + 2 - start)
        energy = await self.bus.read_input_registers(self.unit, self.TOTAL_ACTIVE_ENERGY, 2)
        return MeterReading(
            voltage_v=float32_from_registers(electrical, self.VOLTAGE - start),
            current_a=float32_from_registers(electrical, self.CURRENT - start),
            power_w=float32_from_registers(electrical, self.ACTIVE_POWER - start),
            energy_kwh=float32_from_registers(energy, 0),
        )


class Dimmer:
    """A dimmer with one holding register per channel, 0..100 (percent), from register 0."""

    kind: DeviceKind = "dimmer"

    def __init__(self, bus: ModbusBus, unit: int, channels: int = DIMMER_DEFAULT_CHANNELS) -> None:
        if not 1 <= channels <= MAX_WRITE_REGISTERS:
            raise ValueError(f"a dimmer has 1..{MAX_WRITE_REGISTERS} channels, not {channels}")
        self.bus = bus
        self.unit = unit
        self.channels = channels

    async def read_levels(self) -> list[int]:
        return await self.bus.read_holding_registers(self.unit, 0, self.channels)

    async def write_level(self, channel: int, percent: int) -> None:
        _check_channel(channel, self.channels)
        await self.bus.write_register(self.unit, channel, _percent(percent))

    async def write_levels(self, levels: Mapping[int, int], *,
                           known: Sequence[int] | None = None) -> None:
        """Write ``levels`` with one FC16 frame over the lowest..highest channel in it.

        Channels in between are filled from ``known`` when given. Without it, each run of
        consecutive channels gets its own frame: rewriting a neighbour from a guess could undo
        a change someone else just made.
        """
        span = _span(levels, self.channels)
        if span is None:
            return
        checked = {ch: _percent(level) for ch, level in levels.items()}
        if known is not None:
            if len(known) != self.channels:
                raise ValueError(f"known holds {len(known)} channels, "
                                 f"the dimmer has {self.channels}")
            frame = [checked.get(ch, known[ch]) for ch in span]
            await self.bus.write_registers(self.unit, span.start, frame)
            return
        for run in _runs(sorted(checked)):
            await self.bus.write_registers(self.unit, run.start, [checked[ch] for ch in run])


Device = RelayBoard | EnergyMeter | Dimmer

_RELAY = re.compile(r"relay([1-9][0-9]*)")
_DIMMER = re.compile(r"dimmer([1-9][0-9]*)?")


def profile_info(profile: str) -> tuple[DeviceKind, int]:
    """(kind, channels) of a profile name; ValueError naming the known profiles otherwise."""
    if match := _RELAY.fullmatch(profile):
        channels = int(match.group(1))
        if channels > MAX_WRITE_COILS:
            raise ValueError(f"{profile!r}: a relay board has at most {MAX_WRITE_COILS} channels")
        return "relay", channels
    if profile == "sdm120":
        return "meter", 0
    if match := _DIMMER.fullmatch(profile):
        channels = int(match.group(1) or DIMMER_DEFAULT_CHANNELS)
        if channels > MAX_WRITE_REGISTERS:
            raise ValueError(f"{profile!r}: a dimmer has at most {MAX_WRITE_REGISTERS} channels")
        return "dimmer", channels
    raise ValueError(f"unknown profile {profile!r}; {PROFILE_HELP}")


def make_device(profile: str, bus: ModbusBus, unit: int, *, inputs: int = 0) -> Device:
    kind, channels = profile_info(profile)
    if inputs and kind != "relay":
        raise ValueError(f"{profile!r}: only relay boards have discrete inputs")
    if kind == "relay":
        return RelayBoard(bus, unit, channels, inputs)
    if kind == "meter":
        return EnergyMeter(bus, unit)
    return Dimmer(bus, unit, channels)


def float32_from_registers(registers: Sequence[int], offset: int) -> float:
    """IEEE 754 float32 stored high word first, as the SDM120 sends it."""
    high, low = registers[offset], registers[offset + 1]
    value: float = struct.unpack(">f", struct.pack(">HH", high, low))[0]
    return value


def _check_channel(channel: int, channels: int) -> None:
    if not 0 <= channel < channels:
        raise ValueError(f"channel {channel} is outside 0..{channels - 1}")


def _percent(level: int) -> int:
    if not 0 <= level <= 100:
        raise ValueError(f"a dimmer level is 0..100 percent, not {level}")
    return int(level)


def _span(values: Mapping[int, object], channels: int) -> range | None:
    """lowest..highest channel of ``values`` (None when empty); ValueError when one is outside."""
    if not values:
        return None
    for channel in values:
        _check_channel(channel, channels)
    return range(min(values), max(values) + 1)


def _runs(channels: list[int]) -> list[range]:
    """Sorted channels grouped into runs of consecutive ones: [0, 1, 3] -> [0..1, 3..3]."""
    runs: list[range] = []
    for channel in channels:
        if runs and runs[-1].stop == channel:
            runs[-1] = range(runs[-1].start, channel + 1)
        else:
            runs.append(range(channel, channel + 1))
    return runs
