"""One Modbus link (a TCP gateway or an RS-485 line) and the single owner of its pymodbus client.

``ModbusBus`` serialises every transaction of the link behind one lock, keeps the RTU
inter-frame gap, retries on its own terms and maps every pymodbus failure to our error tree:

- no answer (timeout, refused connection, missing serial port, a gateway reporting that the unit
  behind it is silent) -> ``DeviceUnavailable``, after ``retries`` extra attempts;
- an answer we cannot use (a Modbus exception response, a reply of the wrong shape) ->
  ``DeviceProtocolError`` at once: asking again gets the same answer.

pymodbus's own retries are off (``retries=0``): its loop resends without backoff and without the
RTU resync below, and a dead board would cost ``timeout * (retries + 1)`` before we hear of it.
pymodbus's automatic reconnect is off too (``reconnect_delay=0``): the bus connects lazily before
a transaction, so nothing reconnects in the background while nobody asks.

Every pymodbus import of the project lives here and in ``drivers.simulator`` (pymodbus is pinned
to a minor version because its API churns: ``slave=`` became ``device_id=`` in 3.10).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Literal, Self

from pymodbus.client import (
    AsyncModbusSerialClient,
    AsyncModbusTcpClient,
    ModbusBaseClient,
)
from pymodbus.constants import ExcCodes
from pymodbus.exceptions import ConnectionException, ModbusIOException
from pymodbus.pdu import ExceptionResponse, ModbusPDU

from drivers.errors import DeviceProtocolError, DeviceUnavailable
from drivers.rtu_timing import MAX_RTU_FRAME_BYTES, SerialLine

log = logging.getLogger(__name__)

BusKind = Literal["tcp", "rtu"]
Request = Callable[[ModbusBaseClient], Awaitable[ModbusPDU]]

FIRST_RETRY_DELAY_S = 0.05  # doubles with every further attempt
LATENCY_WINDOW = 100  # transactions kept for the mean latency

# Modbus Application Protocol V1.1b3, 6.1-6.12: the most one request may carry.
MAX_READ_BITS = 2000  # FC01, FC02
MAX_READ_REGISTERS = 125  # FC03, FC04
MAX_WRITE_COILS = 1968  # FC15
MAX_WRITE_REGISTERS = 123  # FC16
# Modbus over Serial Line V1.02, 2.2: 1..247 are individual unit addresses (0 is broadcast).
UNIT_RANGE = range(1, 248)

# Modbus Application Protocol V1.1b3, section 7: a gateway answers these when the unit behind it
# is unreachable. That is the unit being silent, not a protocol fault: retry, then "unavailable".
GATEWAY_SILENT = frozenset({ExcCodes.GATEWAY_PATH_UNAVIABLE, ExcCodes.GATEWAY_NO_RESPONSE})

# Failures that mean "no usable answer this time": worth another attempt.
NO_ANSWER_ERRORS = (ModbusIOException, ConnectionException, OSError, asyncio.TimeoutError)


@dataclass
class BusStats:
    """Counters of one bus, for metrics and benchmarks."""

    requests: int = 0  # frames sent, retries included
    failures: int = 0  # transactions that ended in a DeviceError
    last_latency_s: float | None = None  # request to reply of the last answered frame
    recent_latencies_s: deque[float] = field(default_factory=lambda: deque(maxlen=LATENCY_WINDOW))
    # Every answered frame since start, for the metrics' summary (_count and _sum).
    latency_count: int = 0
    latency_sum_s: float = 0.0

    @property
    def mean_latency_s(self) -> float | None:
        if not self.recent_latencies_s:
            return None
        return sum(self.recent_latencies_s) / len(self.recent_latencies_s)


class _NoAnswer(Exception):
    """One attempt got no usable answer; carries why, for the final DeviceUnavailable."""

    def __init__(self, reason: str, *, link_down: bool = False) -> None:
        self.link_down = link_down
        super().__init__(reason)


class ModbusBus:
    """One physical Modbus link. Connects lazily, reconnects after a failure; ``async with``."""

    def __init__(self, bus_id: str, *, kind: str, host: str | None = None, port: int | str,
                 baudrate: int = 9600, parity: str = "N", stopbits: int = 1, bytesize: int = 8,
                 timeout_s: float = 1.0, retries: int = 2) -> None:
        if kind not in ("tcp", "rtu"):
            raise ValueError(f"bus {bus_id}: kind must be 'tcp' or 'rtu', not {kind!r}")
        if kind == "tcp" and (not host or not isinstance(port, int)):
            raise ValueError(f"bus {bus_id}: a tcp bus needs a host and an integer port")
        if kind == "rtu" and not isinstance(port, str):
            raise ValueError(f"bus {bus_id}: an rtu bus needs a serial device path as port")
        if timeout_s <= 0 or retries < 0:
            raise ValueError(f"bus {bus_id}: timeout_s must be > 0 and retries >= 0")
        self.bus_id = bus_id
        self.kind: BusKind = "tcp" if kind == "tcp" else "rtu"
        self.host = host
        self.port = port
        self.line = SerialLine(baudrate, bytesize, parity, stopbits)
        self.timeout_s = timeout_s
        self.retries = retries
        self.stats = BusStats()
        self.last_error: str | None = None
        self._client: ModbusBaseClient | None = None
        self._lock = asyncio.Lock()  # one transaction at a time on the link
        self._link_up: bool | None = None  # None until the first connect
        self._silent_units: set[int] = set()
        self._no_frame_before = 0.0  # monotonic; RTU gap and resync
        _quiet_library_logging()

    @property
    def link_up(self) -> bool | None:
        """Whether the last connect succeeded (None before the first transaction)."""
        return self._link_up

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the link once the transaction in flight (if any) has finished."""
        async with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    # --- the eight function codes ------------------------------------------------------------

    async def read_coils(self, unit: int, address: int, count: int) -> list[bool]:
        _check_span(address, count, MAX_READ_BITS)
        reply = await self._transact(unit, 1, f"read coils {address}+{count}",
                                     lambda c: c.read_coils(address, count=count, device_id=unit))
        return self._bits(reply, unit, count)

    async def read_discrete_inputs(self, unit: int, address: int, count: int) -> list[bool]:
        _check_span(address, count, MAX_READ_BITS)
        reply = await self._transact(
            unit, 2, f"read discrete inputs {address}+{count}",
            lambda c: c.read_discrete_inputs(address, count=count, device_id=unit))
        return self._bits(reply, unit, count)

    async def write_coil(self, unit: int, address: int, value: bool) -> None:
        _check_span(address, 1, 1)
        reply = await self._transact(unit, 5, f"write coil {address}",
                                     lambda c: c.write_coil(address, value, device_id=unit))
        self._check_echo(reply, unit, address, None)

    async def write_coils(self, unit: int, address: int, values: Sequence[bool]) -> None:
        bits = [bool(v) for v in values]
        _check_span(address, len(bits), MAX_WRITE_COILS)
        reply = await self._transact(unit, 15, f"write coils {address}+{len(bits)}",
                                     lambda c: c.write_coils(address, bits, device_id=unit))
        self._check_echo(reply, unit, address, len(bits))

    async def read_holding_registers(self, unit: int, address: int, count: int) -> list[int]:
        _check_span(address, count, MAX_READ_REGISTERS)
        reply = await self._transact(
            unit, 3, f"read holding registers {address}+{count}",
            lambda c: c.read_holding_registers(address, count=count, device_id=unit))
        return self._registers(reply, unit, count)

    async def read_input_registers(self, unit: int, address: int, count: int) -> list[int]:
        _check_span(address, count, MAX_READ_REGISTERS)
        reply = await self._transact(
            unit, 4, f"read input registers {address}+{count}",
            lambda c: c.read_input_registers(address, count=count, device_id=unit))
        return self._registers(reply, unit, count)

    async def write_register(self, unit: int, address: int, value: int) -> None:
        _check_span(address, 1, 1)
        _check_register_values([value])
        reply = await self._transact(unit, 6, f"write register {address}",
                                     lambda c: c.write_register(address, value, device_id=unit))
        self._check_echo(reply, unit, address, None)

    async def write_registers(self, unit: int, address: int, values: Sequence[int]) -> None:
        registers = list(values)
        _check_span(address, len(registers), MAX_WRITE_REGISTERS)
        _check_register_values(registers)
        reply = await self._transact(
            unit, 16, f"write registers {address}+{len(registers)}",
            lambda c: c.write_registers(address, registers, device_id=unit))
        self._check_echo(reply, unit, address, len(registers))

    # --- one transaction: lock, retries, error mapping ---------------------------------------

    def _device(self, unit: int) -> str:
        return f"{self.bus_id}/unit {unit}"

    async def _transact(self, unit: int, function_code: int, what: str,
                        request: Request) -> ModbusPDU:
        if unit not in UNIT_RANGE:
            raise ValueError(f"{self._device(unit)}: unit must be 1..247")
        what = f"FC{function_code:02d} {what}"
        async with self._lock:
            failure = _NoAnswer("not attempted")
            for attempt in range(self.retries + 1):
                if attempt:
                    await asyncio.sleep(FIRST_RETRY_DELAY_S * 2 ** (attempt - 1))
                try:
                    reply = await self._attempt(request)
                    self._check_reply(reply, unit, function_code, what)
                except _NoAnswer as exc:
                    failure = exc
                    continue
                except DeviceProtocolError as exc:
                    self._failed(str(exc))
                    raise
                self._answered(unit)
                return reply
            message = f"no answer to {what} after {self.retries + 1} attempt(s): {failure}"
            self._failed(f"{self._device(unit)}: {message}")
            self._unit_silent(unit, failure)
            raise DeviceUnavailable(message, device=self._device(unit)) from failure

    async def _attempt(self, request: Request) -> ModbusPDU:
        client = await self._connected_client()
        delay_s = self._no_frame_before - time.monotonic()
        if delay_s > 0:
            await asyncio.sleep(delay_s)
        self.stats.requests += 1
        started = time.monotonic()
        try:
            reply = await request(client)
        except NO_ANSWER_ERRORS as exc:
            self._hold_line(after_silence=True)
            raise _NoAnswer(self._describe(exc)) from exc
        except asyncio.CancelledError:
            self._hold_line(after_silence=True)  # its reply may still be on the way
            raise
        self._hold_line(after_silence=False)
        self.stats.last_latency_s = time.monotonic() - started
        self.stats.recent_latencies_s.append(self.stats.last_latency_s)
        self.stats.latency_count += 1
        self.stats.latency_sum_s += self.stats.last_latency_s
        return reply

    def _hold_line(self, *, after_silence: bool) -> None:
        """On RTU, keep the line quiet before the next frame.

        Normally for the 3.5-character inter-frame gap. After a timeout, for as long as the
        longest frame takes too: a reply that was already on its way must land (and be dropped
        by pymodbus as unsolicited) before we ask again, or RTU, which has no transaction id,
        would match it to the next request (docs/libraries.md, pymodbus).
        """
        if self.kind != "rtu":
            return
        quiet_s = self.line.inter_frame_gap_s
        if after_silence:
            quiet_s += self.line.frame_s(MAX_RTU_FRAME_BYTES)
        self._no_frame_before = time.monotonic() + quiet_s

    async def _connected_client(self) -> ModbusBaseClient:
        if self._client is None:
            self._client = self._new_client()  # here, not in __init__: it needs the running loop
        if self._client.connected:
            return self._client
        if not await self._client.connect():
            reason = self._why_unreachable()
            if self._link_up is not False:
                log.warning("bus %s: link down: %s", self.bus_id, reason)
            self._link_up = False
            raise _NoAnswer(reason, link_down=True)
        if self._link_up is False:
            log.info("bus %s: link up again", self.bus_id)
        self._link_up = True
        return self._client

    def _new_client(self) -> ModbusBaseClient:
        if self.kind == "tcp":
            assert self.host is not None and isinstance(self.port, int)  # checked in __init__
            return AsyncModbusTcpClient(self.host, port=self.port, timeout=self.timeout_s,
                                        retries=0, reconnect_delay=0)
        return AsyncModbusSerialClient(str(self.port), baudrate=self.line.baudrate,
                                       bytesize=self.line.bytesize, parity=self.line.parity,
                                       stopbits=self.line.stopbits, timeout=self.timeout_s,
                                       retries=0, reconnect_delay=0)

    def _describe(self, exc: BaseException) -> str:
        # pymodbus reports a timeout as ModbusIOException("No response received after 0
        # retries, ..."): say it in our terms; anything else keeps the library's words.
        if isinstance(exc, ModbusIOException) and "No response" in str(exc):
            return f"no reply within {self.timeout_s:g} s"
        return str(exc) or type(exc).__name__

    def _why_unreachable(self) -> str:
        if self.kind == "tcp":
            return f"cannot connect to {self.host}:{self.port}"
        if not os.path.exists(str(self.port)):
            return f"serial port {self.port} does not exist"
        return f"cannot open serial port {self.port}"

    def _check_reply(self, reply: ModbusPDU, unit: int, function_code: int, what: str) -> None:
        if isinstance(reply, ExceptionResponse):
            code = reply.exception_code
            name = _exception_name(code)
            if code in GATEWAY_SILENT:
                raise _NoAnswer(f"the gateway reports exception {code} ({name})")
            raise DeviceProtocolError(f"{what}: Modbus exception {code} ({name})",
                                      device=self._device(unit))
        if reply.function_code != function_code:
            raise DeviceProtocolError(f"{what}: reply has function code {reply.function_code}",
                                      device=self._device(unit))

    def _answered(self, unit: int) -> None:
        if unit in self._silent_units:
            self._silent_units.discard(unit)
            log.info("%s answers again", self._device(unit))

    def _failed(self, message: str) -> None:
        self.stats.failures += 1
        self.last_error = message

    def _unit_silent(self, unit: int, failure: _NoAnswer) -> None:
        # A link that is down was logged once by _connected_client; a silent unit on a live link
        # is logged once here, until it answers again (not on every failed poll).
        if failure.link_down or unit in self._silent_units:
            return
        self._silent_units.add(unit)
        log.warning("%s does not answer: %s", self._device(unit), failure)

    # --- reply shapes --------------------------------------------------------------------------

    def _bits(self, reply: ModbusPDU, unit: int, count: int) -> list[bool]:
        # Bits come packed in bytes: a reply holds count rounded up to a multiple of 8.
        if len(reply.bits) < count:
            raise self._malformed(unit, f"asked for {count} bits, reply holds {len(reply.bits)}")
        return [bool(b) for b in reply.bits[:count]]

    def _registers(self, reply: ModbusPDU, unit: int, count: int) -> list[int]:
        if len(reply.registers) != count:
            raise self._malformed(
                unit, f"asked for {count} registers, reply holds {len(reply.registers)}")
        return list(reply.registers)

    def _check_echo(self, reply: ModbusPDU, unit: int, address: int, count: int | None) -> None:
        """A write reply echoes the address (and, for FC15/FC16, the count) it was sent."""
        if reply.address != address or (count is not None and reply.count != count):
            raise self._malformed(unit, f"write reply echoes address {reply.address} "
                                        f"count {reply.count}, sent {address} count {count}")

    def _malformed(self, unit: int, detail: str) -> DeviceProtocolError:
        error = DeviceProtocolError(f"malformed reply: {detail}", device=self._device(unit))
        self._failed(str(error))
        return error


def _check_span(address: int, count: int, limit: int) -> None:
    if not 1 <= count <= limit:
        raise ValueError(f"count {count} is outside 1..{limit} for this function code")
    if not 0 <= address <= 0xFFFF - count + 1:
        raise ValueError(f"address {address} (+{count}) is outside the 16-bit Modbus range")


def _exception_name(code: int) -> str:
    try:
        return ExcCodes(code).name
    except ValueError:
        return "unknown"


def _check_register_values(values: Sequence[int]) -> None:
    if any(not 0 <= v <= 0xFFFF for v in values):
        raise ValueError(f"register values must be 0..65535: {list(values)}")


def _quiet_library_logging() -> None:
    """Keep pymodbus from logging every unanswered request at ERROR with a frame dump.

    The bus maps those failures and logs each transition once. Whoever wants pymodbus's own
    frame dumps sets the "pymodbus" logger level explicitly; an explicit level is left alone.
    """
    library_log = logging.getLogger("pymodbus")
    if library_log.level == logging.NOTSET:
        library_log.setLevel(logging.CRITICAL)
