"""The simulated lighting cabinet, served by the real Modbus protocol (pymodbus's server).

Relay boards, SDM120 meters and dimmers answer on TCP or on a serial line exactly as the register
maps in ``drivers.profiles`` expect, so ``communectl run --demo`` and the tests go through the same
client code, framing and timeouts as a real installation. Meters follow the relays: each meter
feeds a list of lamps, each lamp on one relay coil (or dimmer channel) with a wattage.

Faults for tests: a failed lamp (on, no current), a stuck relay (ignores writes: "relay not
following"), a leakage current (a day-burner), discrete inputs (cabinet door, breaker), a unit
that answers late, and the whole cabinet going away (``stop``) and coming back on the same port
or line (``start_tcp(port=...)``, ``start_rtu``).

pymodbus's ``SimDevice`` API keeps register values itself; here the cabinet's own model is the
truth and an ``action`` hook copies it into pymodbus's registers before each read and from each
write into the model. That keeps the state across ``stop``/``start`` (pymodbus builds fresh
registers for every server) and makes faults plain Python. Add every device before ``start_*``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Self, cast

from pymodbus.client import ModbusBaseClient
from pymodbus.constants import ExcCodes
from pymodbus.pdu import ModbusPDU
from pymodbus.server import ModbusBaseServer, ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimAction, SimData, SimDevice

from drivers.profiles import DIMMER_DEFAULT_CHANNELS, EnergyMeter, MeterReading

log = logging.getLogger(__name__)

MAINS_V = 230.0  # Vietnamese low-voltage mains (TCVN 7995 / IEC 60038: 230 V)
# The input registers the simulated SDM120 serves: 0x0000 up to the energy pair at 0x0156.
METER_REGISTERS = EnergyMeter.TOTAL_ACTIVE_ENERGY + 2
# pymodbus wants every block of a device defined; a block the device does not have is put where
# no request of ours reaches, so asking for it gets ILLEGAL_ADDRESS as on the real device.
UNREACHABLE_BIT = 0xFFF0
FLOAT32 = ModbusBaseClient.DATATYPE.FLOAT32
TracePdu = Callable[[bool, ModbusPDU], ModbusPDU]


@dataclass
class Lamp:
    """A lamp (or a circuit's lamps) on relay ``unit``/``coil`` (or dimmer channel)."""

    unit: int
    coil: int
    watts: float
    failed: bool = False


@dataclass
class _Board:
    coils: list[bool]
    inputs: list[bool]
    stuck: dict[int, bool] = field(default_factory=dict)


@dataclass
class _Meter:
    lamps: list[Lamp]
    leakage_a: float = 0.0
    energy_kwh: float = 0.0


class SimulatedCabinet:
    """Relay boards, meters and dimmers behind one Modbus server (TCP, serial, or both).

        cabinet = SimulatedCabinet()
        cabinet.add_relay_board(1, coils=8, inputs=2)
        cabinet.add_meter(2, lamps=[Lamp(1, 0, 150.0)])
        port = await cabinet.start_tcp()
        ...
        await cabinet.stop()
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock  # monotonic seconds, for the energy count
        self._boards: dict[int, _Board] = {}
        self._meters: dict[int, _Meter] = {}
        self._dimmers: dict[int, list[int]] = {}
        self._reply_delays_s: dict[int, float] = {}
        self._servers: list[ModbusBaseServer] = []
        self._serving_units: frozenset[int] = frozenset()
        self._energy_at = clock()
        self.frames_served: Counter[int] = Counter()  # requests to served units, per function code
        self.tcp_port: int | None = None

    # --- the installation ---------------------------------------------------------------------

    def add_relay_board(self, unit: int, *, coils: int = 8, inputs: int = 0) -> None:
        self._check_new_unit(unit)
        if coils < 1 or inputs < 0:
            raise ValueError(f"unit {unit}: a relay board has coils >= 1 and inputs >= 0")
        self._boards[unit] = _Board(coils=[False] * coils, inputs=[False] * inputs)

    def add_dimmer(self, unit: int, *, channels: int = DIMMER_DEFAULT_CHANNELS) -> None:
        self._check_new_unit(unit)
        if channels < 1:
            raise ValueError(f"unit {unit}: a dimmer has channels >= 1")
        self._dimmers[unit] = [0] * channels

    def add_meter(self, unit: int, *, lamps: Iterable[Lamp] = ()) -> None:
        """A meter measuring ``lamps``, which sit on boards or dimmers already added."""
        self._check_new_unit(unit)
        lamps = [replace(lamp) for lamp in lamps]  # our own copies: fail_lamp changes them
        for lamp in lamps:
            outputs = self._outputs(lamp.unit)
            if not 0 <= lamp.coil < len(outputs):
                raise ValueError(f"lamp on unit {lamp.unit} channel {lamp.coil}: no such output")
        self._meters[unit] = _Meter(lamps=lamps)

    @property
    def units(self) -> list[int]:
        return sorted({*self._boards, *self._meters, *self._dimmers})

    # --- state and faults ---------------------------------------------------------------------

    def coils(self, unit: int) -> list[bool]:
        return list(self._boards[unit].coils)

    def inputs(self, unit: int) -> list[bool]:
        return list(self._boards[unit].inputs)

    def levels(self, unit: int) -> list[int]:
        return list(self._dimmers[unit])

    def set_input(self, unit: int, index: int, value: bool) -> None:
        """A discrete input changes: the cabinet door opens, a breaker trips."""
        self._boards[unit].inputs[index] = value

    def stick_relay(self, unit: int, coil: int, value: bool | None) -> None:
        """The relay holds ``value`` and ignores writes ("relay not following"); None frees it."""
        board = self._boards[unit]
        self._count_energy()
        if value is None:
            board.stuck.pop(coil, None)
            return
        board.stuck[coil] = value
        board.coils[coil] = value

    def fail_lamp(self, unit: int, coil: int, failed: bool = True) -> None:
        """Every lamp on that output burns out (or is replaced): switched on, it draws nothing."""
        lamps = self._lamps_on(unit, coil)
        if not lamps:
            raise ValueError(f"no meter has a lamp on unit {unit} channel {coil}")
        self._count_energy()
        for lamp in lamps:
            lamp.failed = failed

    def set_leakage(self, meter_unit: int, current_a: float) -> None:
        """A constant current through the meter whatever the relays do: a day-burner."""
        self._count_energy()
        self._meters[meter_unit].leakage_a = current_a

    def set_reply_delay(self, unit: int, seconds: float) -> None:
        """The unit answers ``seconds`` late (0: at once): a slow board, or a reply that
        arrives after the client gave up."""
        self._reply_delays_s[unit] = seconds

    def meter_reading(self, meter_unit: int) -> MeterReading:
        self._count_energy()
        meter = self._meters[meter_unit]
        power_w = self._power_w(meter)
        return MeterReading(voltage_v=MAINS_V, current_a=power_w / MAINS_V, power_w=power_w,
                            energy_kwh=meter.energy_kwh)

    # --- serving ------------------------------------------------------------------------------

    async def start_tcp(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Serve on ``host:port`` (0: any free port); returns the port. Loopback by default."""
        server = ModbusTcpServer(self._sim_devices(), address=(host, port),
                                 trace_pdu=self._trace_pdu())
        await self._serve(server, f"{host}:{port}")
        sockets = getattr(server.transport, "sockets", None) or []
        self.tcp_port = int(sockets[0].getsockname()[1]) if sockets else port
        log.info("simulated cabinet serving units %s on %s:%s", self.units, host, self.tcp_port)
        return self.tcp_port

    async def start_rtu(self, serial_port_path: str, baudrate: int = 9600) -> None:
        """Serve Modbus RTU on a serial device, e.g. one end of a socat pty pair."""
        server = ModbusSerialServer(self._sim_devices(), port=serial_port_path,
                                    baudrate=baudrate, trace_pdu=self._trace_pdu())
        await self._serve(server, serial_port_path)
        log.info("simulated cabinet serving units %s on %s", self.units, serial_port_path)

    async def stop(self) -> None:
        """The cabinet goes away: connections drop, new ones are refused, the line is silent."""
        servers, self._servers = self._servers, []
        for server in servers:
            await server.shutdown()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()

    async def _serve(self, server: ModbusBaseServer, where: str) -> None:
        try:
            await server.serve_forever(background=True)
        except RuntimeError as error:  # pymodbus's way of saying that listen() failed
            raise OSError(f"simulated cabinet cannot listen on {where}") from error
        self._servers.append(server)

    def _trace_pdu(self) -> TracePdu:
        self._serving_units = frozenset(self.units)

        def screen(sending: bool, pdu: ModbusPDU) -> ModbusPDU | None:
            # Returning None makes pymodbus drop the request unanswered. Without this it answers
            # a unit it does not serve with exception 4 (its SimCore raises KeyError, which the
            # request handler turns into DEVICE_FAILURE; ignore_missing_devices is not consulted
            # on that path in 3.16). A board that is not there must be silent.
            if sending:
                return pdu
            if pdu.dev_id not in self._serving_units:
                return None
            self.frames_served[pdu.function_code] += 1
            return pdu

        return cast(TracePdu, screen)

    # --- register maps (pymodbus side) --------------------------------------------------------

    def _sim_devices(self) -> list[SimDevice]:
        """One SimDevice per unit; the 4-tuple is (coils, discrete inputs, holding, input)."""
        if not self.units:
            raise ValueError("the cabinet has no devices: add some before starting it")
        devices = []
        for unit, board in self._boards.items():
            coils = SimData(0, values=[False] * len(board.coils), datatype=DataType.BITS)
            devices.append(SimDevice(unit, simdata=(
                [coils], [_bits_block(len(board.inputs))], [_absent_registers()],
                [_absent_registers()]), action=self._delayed(unit, self._relay_action(unit))))
        for unit in self._meters:
            registers = SimData(0, count=METER_REGISTERS, values=0, datatype=DataType.REGISTERS)
            devices.append(SimDevice(unit, simdata=(
                [_bits_block(0)], [_bits_block(0)], [_absent_registers()], [registers]),
                action=self._delayed(unit, self._meter_action(unit))))
        for unit, levels in self._dimmers.items():
            registers = SimData(0, count=len(levels), values=0, datatype=DataType.REGISTERS)
            devices.append(SimDevice(unit, simdata=(
                [_bits_block(0)], [_bits_block(0)], [registers], [_absent_registers()]),
                action=self._delayed(unit, self._dimmer_action(unit))))
        return devices

    def _delayed(self, unit: int, action: SimAction) -> SimAction:
        async def delayed(function_code: int, start: int, address: int, count: int,
                          registers: list[int], values: list[int] | list[bool] | None,
                          ) -> ExcCodes | None:
            if delay_s := self._reply_delays_s.get(unit, 0.0):
                await asyncio.sleep(delay_s)
            return await action(function_code, start, address, count, registers, values)

        return delayed

    def _relay_action(self, unit: int) -> SimAction:
        board = self._boards[unit]

        async def action(function_code: int, _start: int, address: int, _count: int,
                         registers: list[int], values: list[int] | list[bool] | None,
                         ) -> ExcCodes | None:
            bits = board.inputs if function_code == 2 else board.coils
            if values is None:  # a read (also the read-back pymodbus does to answer FC05)
                if address >= len(bits):
                    return ExcCodes.ILLEGAL_ADDRESS
                registers[:(len(bits) + 15) // 16] = _pack_bits(bits)
                return None
            if address + len(values) > len(board.coils):
                return ExcCodes.ILLEGAL_ADDRESS
            self._count_energy()
            for offset, value in enumerate(values):
                coil = address + offset
                values[offset] = board.stuck.get(coil, bool(value))  # pymodbus stores what we set
                board.coils[coil] = bool(values[offset])
            return None

        return action

    def _meter_action(self, unit: int) -> SimAction:
        async def action(_function_code: int, _start: int, _address: int, _count: int,
                         registers: list[int], _values: list[int] | list[bool] | None,
                         ) -> ExcCodes | None:
            reading = self.meter_reading(unit)
            for address, value in ((EnergyMeter.VOLTAGE, reading.voltage_v),
                                   (EnergyMeter.CURRENT, reading.current_a),
                                   (EnergyMeter.ACTIVE_POWER, reading.power_w),
                                   (EnergyMeter.TOTAL_ACTIVE_ENERGY, reading.energy_kwh)):
                registers[address:address + 2] = ModbusBaseClient.convert_to_registers(
                    value, FLOAT32)
            return None

        return action

    def _dimmer_action(self, unit: int) -> SimAction:
        levels = self._dimmers[unit]

        async def action(_function_code: int, _start: int, address: int, _count: int,
                         registers: list[int], values: list[int] | list[bool] | None,
                         ) -> ExcCodes | None:
            if values is None:
                registers[:len(levels)] = levels
                return None
            if address + len(values) > len(levels):
                return ExcCodes.ILLEGAL_ADDRESS
            if any(not 0 <= int(v) <= 100 for v in values):
                return ExcCodes.ILLEGAL_VALUE
            self._count_energy()
            levels[address:address + len(values)] = [int(v) for v in values]
            return None

        return action

    # --- the electrical model -----------------------------------------------------------------

    def _outputs(self, unit: int) -> list[bool] | list[int]:
        if unit in self._boards:
            return self._boards[unit].coils
        if unit in self._dimmers:
            return self._dimmers[unit]
        raise ValueError(f"unit {unit} is not a relay board or dimmer of this cabinet")

    def _lamps_on(self, unit: int, coil: int) -> list[Lamp]:
        return [lamp for meter in self._meters.values() for lamp in meter.lamps
                if (lamp.unit, lamp.coil) == (unit, coil)]

    def _power_w(self, meter: _Meter) -> float:
        power_w = meter.leakage_a * MAINS_V
        for lamp in meter.lamps:
            if not lamp.failed:
                # A relay output is 0 or 1 (bool); a dimmer channel 0..100 percent.
                output = self._outputs(lamp.unit)[lamp.coil]
                share = output / 100 if lamp.unit in self._dimmers else float(output)
                power_w += lamp.watts * share
        return power_w

    def _count_energy(self) -> None:
        """Add the energy drawn since the last change; called before anything changes power."""
        now = self._clock()
        hours = (now - self._energy_at) / 3600
        self._energy_at = now
        for meter in self._meters.values():
            meter.energy_kwh += self._power_w(meter) * hours / 1000

    def _check_new_unit(self, unit: int) -> None:
        if not 1 <= unit <= 247:
            raise ValueError(f"unit {unit} is outside 1..247")
        if unit in self.units:
            raise ValueError(f"unit {unit} is already in the cabinet")


def _bits_block(count: int) -> SimData:
    if count:
        return SimData(0, values=[False] * count, datatype=DataType.BITS)
    return SimData(UNREACHABLE_BIT, values=[False], datatype=DataType.BITS)


def _absent_registers() -> SimData:
    return SimData(0, datatype=DataType.INVALID)


def _pack_bits(bits: list[bool]) -> list[int]:
    """Bits into 16-bit registers, bit 0 first: the layout pymodbus keeps coils in."""
    registers = [0] * ((len(bits) + 15) // 16)
    for index, bit in enumerate(bits):
        if bit:
            registers[index // 16] |= 1 << (index % 16)
    return registers
