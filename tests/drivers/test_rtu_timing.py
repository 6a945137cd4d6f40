"""RTU line timing against the figures of the Modbus serial line specification, as
docs/libraries.md (pymodbus) quotes them."""

from __future__ import annotations

import pytest

from drivers.rtu_timing import (
    SerialLine,
    write_multiple_coils_bytes,
    write_single_coil_bytes,
)


@pytest.mark.parametrize(("line", "bits"), [
    (SerialLine(9600, 8, "N", 1), 10),
    (SerialLine(9600, 8, "E", 1), 11),  # the spec's default RTU character
    (SerialLine(9600, 8, "N", 2), 11),
])
def test_bits_per_character(line: SerialLine, bits: int) -> None:
    assert line.bits_per_char == bits


@pytest.mark.parametrize(("baudrate", "gap_ms"), [
    (9600, 3.5 * 10 / 9600 * 1000),
    (19200, 3.5 * 10 / 19200 * 1000),
    (115200, 1.75),  # above 19200 baud the spec fixes 1.75 ms
])
def test_inter_frame_gap(baudrate: int, gap_ms: float) -> None:
    assert SerialLine(baudrate).inter_frame_gap_s * 1000 == pytest.approx(gap_ms)


@pytest.mark.parametrize(("count", "request_bytes"), [(1, 10), (8, 10), (9, 11), (16, 11)])
def test_fc15_frame_size(count: int, request_bytes: int) -> None:
    assert write_multiple_coils_bytes(count) == (request_bytes, 8)


def test_wire_times_at_9600_8n1() -> None:
    # At 9600 baud 8N1, request and reply: FC05 about 24 ms per relay, FC15 for 8 coils about 26 ms.
    line = SerialLine(9600)

    assert line.transaction_s(*write_single_coil_bytes()) == pytest.approx(0.024, abs=0.001)
    assert line.transaction_s(*write_multiple_coils_bytes(8)) == pytest.approx(0.026, abs=0.001)
