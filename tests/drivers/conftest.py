"""A simulated cabinet and a bus to it, over TCP loopback and over a socat serial pty pair."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from drivers.modbus import ModbusBus
from tests.drivers.cabinet_layout import (
    RETRIES,
    TIMEOUT_S,
    FakeMonotonic,
    Link,
    make_cabinet,
)


@pytest.fixture
def clock() -> FakeMonotonic:
    return FakeMonotonic()


@pytest.fixture
async def tcp_link(clock: FakeMonotonic) -> AsyncIterator[Link]:
    cabinet = make_cabinet(clock)
    port = await cabinet.start_tcp()
    bus = ModbusBus("cabinet-1", kind="tcp", host="127.0.0.1", port=port,
                    timeout_s=TIMEOUT_S, retries=RETRIES)
    async with cabinet, bus:
        yield Link(cabinet, bus, clock, lambda: cabinet.start_tcp(port=port))


@pytest.fixture
async def rtu_link(clock: FakeMonotonic, socat_pty_pair: tuple[str, str]) -> AsyncIterator[Link]:
    server_end, client_end = socat_pty_pair
    cabinet = make_cabinet(clock)
    await cabinet.start_rtu(server_end, baudrate=9600)
    bus = ModbusBus("cabinet-1", kind="rtu", port=client_end, baudrate=9600,
                    timeout_s=TIMEOUT_S, retries=RETRIES)
    async with cabinet, bus:
        yield Link(cabinet, bus, clock, lambda: cabinet.start_rtu(server_end, baudrate=9600))


@pytest.fixture(params=["tcp", "rtu"])
def link(request: pytest.FixtureRequest) -> Link:
    """The same cabinet over TCP and over RTU: the core checks run on both."""
    value: Link = request.getfixturevalue(f"{request.param}_link")
    return value
