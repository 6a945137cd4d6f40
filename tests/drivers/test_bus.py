"""ModbusBus on its own: error mapping, retry count, logging once, counters, argument checks."""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from drivers.errors import DeviceProtocolError, DeviceUnavailable
from drivers.modbus import ModbusBus
from drivers.simulator import SimulatedCabinet
from tests.drivers.cabinet_layout import ABSENT_UNIT, RELAY_UNIT, Link

pytestmark = pytest.mark.integration

SHORT_TIMEOUT_S = 0.05
Reply = Callable[[int, bytes], bytes]  # (unit, request PDU) -> reply PDU
ScriptedServer = Callable[[Reply], Awaitable[int]]  # starts one, returns its port


def free_tcp_port() -> int:
    """A port nothing listens on (bound, then released at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@pytest.fixture
async def scripted_server() -> AsyncIterator[ScriptedServer]:
    """Starts Modbus TCP servers that answer every request with whatever the test scripts.

    They frame replies themselves (MBAP header, Modbus Messaging on TCP/IP Implementation Guide
    V1.0b, 3.1.3), so they can send replies no well-behaved library would build.
    """
    servers: list[asyncio.Server] = []

    async def start(reply: Reply) -> int:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while header := await reader.readexactly(7):
                    tid, _protocol, length, unit = struct.unpack(">HHHB", header)
                    pdu = reply(unit, await reader.readexactly(length - 1))
                    writer.write(struct.pack(">HHHB", tid, 0, len(pdu) + 1, unit) + pdu)
            except asyncio.IncompleteReadError:
                pass  # the client hung up
            finally:
                writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        servers.append(server)
        port: int = server.sockets[0].getsockname()[1]
        return port

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


def tcp_bus(port: int, *, retries: int = 0) -> ModbusBus:
    return ModbusBus("cabinet-1", kind="tcp", host="127.0.0.1", port=port,
                     timeout_s=SHORT_TIMEOUT_S, retries=retries)


@pytest.mark.parametrize("retries", [0, 1, 3])
async def test_silent_unit_costs_exactly_one_plus_retries_frames(tcp_link: Link,
                                                                 retries: int) -> None:
    assert tcp_link.cabinet.tcp_port is not None
    async with tcp_bus(tcp_link.cabinet.tcp_port, retries=retries) as bus:
        with pytest.raises(DeviceUnavailable,
                           match=rf"cabinet-1/unit 9: no answer .* after {retries + 1} attempt"):
            await bus.read_coils(ABSENT_UNIT, 0, 8)

        assert bus.stats.requests == retries + 1
        assert bus.stats.failures == 1


async def test_refused_connection_is_unavailable_and_sends_no_frame() -> None:
    async with tcp_bus(free_tcp_port(), retries=2) as bus:
        with pytest.raises(DeviceUnavailable, match=r"cannot connect to 127\.0\.0\.1"):
            await bus.write_coil(RELAY_UNIT, 0, True)

        assert bus.stats.requests == 0
        assert bus.link_up is False
        assert bus.last_error is not None


async def test_missing_serial_port_is_unavailable(tmp_path: Path) -> None:
    missing = str(tmp_path / "ttyUSB9")
    async with ModbusBus("rs485", kind="rtu", port=missing, timeout_s=SHORT_TIMEOUT_S,
                         retries=1) as bus:
        with pytest.raises(DeviceUnavailable, match=rf"rs485/unit 1: .*{missing} does not exist"):
            await bus.read_coils(RELAY_UNIT, 0, 8)


async def test_exception_response_is_not_retried(scripted_server: ScriptedServer) -> None:
    port = await scripted_server(lambda unit, pdu: bytes([pdu[0] | 0x80, 0x04]))

    async with tcp_bus(port, retries=3) as bus:
        with pytest.raises(DeviceProtocolError, match=r"exception 4 \(DEVICE_FAILURE\)"):
            await bus.read_holding_registers(RELAY_UNIT, 0, 2)

        assert bus.stats.requests == 1


async def test_gateway_without_answer_from_its_unit_is_unavailable_after_retries(
        scripted_server: ScriptedServer) -> None:
    # Exception 0x0B: "gateway target device failed to respond".
    port = await scripted_server(lambda unit, pdu: bytes([pdu[0] | 0x80, 0x0B]))

    async with tcp_bus(port, retries=2) as bus:
        with pytest.raises(DeviceUnavailable, match="GATEWAY_NO_RESPONSE"):
            await bus.read_holding_registers(RELAY_UNIT, 0, 2)

        assert bus.stats.requests == 3


async def test_reply_shorter_than_asked_is_malformed(
        scripted_server: ScriptedServer) -> None:
    # FC03 asked for 2 registers; the reply carries one.
    port = await scripted_server(lambda unit, pdu: bytes([0x03, 0x02, 0x00, 0x2A]))

    async with tcp_bus(port, retries=2) as bus:
        with pytest.raises(DeviceProtocolError, match="asked for 2 registers, reply holds 1"):
            await bus.read_holding_registers(RELAY_UNIT, 0, 2)

        assert bus.stats.requests == 1


async def test_write_reply_echoing_another_address_is_malformed(
        scripted_server: ScriptedServer) -> None:
    port = await scripted_server(lambda unit, pdu: bytes([0x05, 0x00, 0x07, 0xFF, 0x00]))

    async with tcp_bus(port) as bus:
        with pytest.raises(DeviceProtocolError, match="echoes address 7"):
            await bus.write_coil(RELAY_UNIT, 3, True)


async def test_link_down_and_back_are_logged_once_each(tcp_link: Link,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    await tcp_link.bus.read_coils(RELAY_UNIT, 0, 8)
    await tcp_link.cabinet.stop()
    caplog.set_level(logging.INFO, logger="drivers.modbus")

    for _poll in range(3):
        with pytest.raises(DeviceUnavailable):
            await tcp_link.bus.read_coils(RELAY_UNIT, 0, 8)
    await tcp_link.start()
    for _poll in range(2):
        await tcp_link.bus.read_coils(RELAY_UNIT, 0, 8)

    assert [r.getMessage() for r in caplog.records] == [
        f"bus cabinet-1: link down: cannot connect to 127.0.0.1:{tcp_link.cabinet.tcp_port}",
        "bus cabinet-1: link up again",
    ]


async def test_silent_unit_is_logged_once_until_it_answers(
        caplog: pytest.LogCaptureFixture) -> None:
    cabinet = SimulatedCabinet()
    cabinet.add_relay_board(RELAY_UNIT)
    port = await cabinet.start_tcp()
    caplog.set_level(logging.INFO, logger="drivers.modbus")
    async with cabinet, tcp_bus(port) as bus:
        for _poll in range(3):
            with pytest.raises(DeviceUnavailable):
                await bus.read_coils(ABSENT_UNIT, 0, 8)
        # The missing board is fitted: the cabinet comes back with it.
        await cabinet.stop()
        cabinet.add_relay_board(ABSENT_UNIT)
        await cabinet.start_tcp(port=port)
        await bus.read_coils(ABSENT_UNIT, 0, 8)

    assert [r.getMessage() for r in caplog.records] == [
        f"cabinet-1/unit 9 does not answer: no reply within {SHORT_TIMEOUT_S:g} s",
        "cabinet-1/unit 9 answers again",
    ]


async def test_counters_and_latency(tcp_link: Link) -> None:
    for _poll in range(4):
        await tcp_link.bus.read_coils(RELAY_UNIT, 0, 8)

    stats = tcp_link.bus.stats
    assert stats.requests == 4
    assert stats.failures == 0
    assert len(stats.recent_latencies_s) == 4
    assert stats.last_latency_s is not None
    assert stats.mean_latency_s is not None


async def test_closed_bus_reconnects_on_the_next_call(tcp_link: Link) -> None:
    await tcp_link.bus.write_coil(RELAY_UNIT, 0, True)
    await tcp_link.bus.close()

    assert await tcp_link.bus.read_coils(RELAY_UNIT, 0, 1) == [True]


@pytest.mark.parametrize(("unit", "address", "count", "message"), [
    (0, 0, 1, "unit must be 1..247"),  # 0 is broadcast: nobody would answer
    (248, 0, 1, "unit must be 1..247"),
    (1, -1, 1, "outside the 16-bit"),
    (1, 65535, 2, "outside the 16-bit"),
    (1, 0, 0, "count 0 is outside 1..2000"),
    (1, 0, 2001, "count 2001 is outside 1..2000"),
])
async def test_requests_outside_the_protocol_are_refused_before_sending(
        unit: int, address: int, count: int, message: str) -> None:
    bus = tcp_bus(free_tcp_port())

    with pytest.raises(ValueError, match=message):
        await bus.read_coils(unit, address, count)

    assert bus.stats.requests == 0


async def test_register_values_are_sixteen_bits() -> None:
    bus = tcp_bus(free_tcp_port())

    with pytest.raises(ValueError, match=r"0\.\.65535"):
        await bus.write_registers(RELAY_UNIT, 0, [1, 70000])


@pytest.mark.parametrize("arguments", [
    {"kind": "udp", "host": "127.0.0.1", "port": 502},
    {"kind": "tcp", "port": 502},
    {"kind": "tcp", "host": "127.0.0.1", "port": "/dev/ttyUSB0"},
    {"kind": "rtu", "port": 502},
    {"kind": "tcp", "host": "127.0.0.1", "port": 502, "timeout_s": 0},
    {"kind": "tcp", "host": "127.0.0.1", "port": 502, "retries": -1},
])
def test_bus_arguments_are_checked(arguments: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="bus b:"):
        ModbusBus("b", **arguments)  # type: ignore[arg-type]
