"""Timing of a Modbus RTU serial line: character time, inter-frame gap, wire time of a frame.

Pure arithmetic, shared by ``ModbusBus`` (the gap it keeps between frames on a serial line) and
the benchmark (the wire time a batched or coil-by-coil switch costs on RS-485).

References: "MODBUS over Serial Line, Specification and Implementation Guide V1.02" (modbus.org),
section 2.5.1.1 (frames are separated by a silent interval of at least 3.5 character times; above
19200 baud a fixed 1.750 ms is recommended) and "MODBUS Application Protocol Specification
V1.1b3", sections 6.5 and 6.11 (the PDU layouts of FC05 and FC15).
"""

from __future__ import annotations

from dataclasses import dataclass

# Modbus over Serial Line V1.02, 2.5.1.1: the fixed inter-frame delay recommended above 19200 baud.
MIN_INTER_FRAME_GAP_S = 0.00175
# Modbus over Serial Line V1.02, 2.5.1: an RTU frame is at most 256 bytes (address, PDU, CRC).
MAX_RTU_FRAME_BYTES = 256
# An RTU frame wraps the PDU in a one-byte unit address and a two-byte CRC.
RTU_OVERHEAD_BYTES = 3


@dataclass(frozen=True)
class SerialLine:
    """The character format of a serial line, e.g. 9600 baud 8N1."""

    baudrate: int = 9600
    bytesize: int = 8
    parity: str = "N"
    stopbits: int = 1

    @property
    def bits_per_char(self) -> int:
        """Start bit, data bits, the parity bit if any, stop bits."""
        return 1 + self.bytesize + (0 if self.parity.upper() == "N" else 1) + self.stopbits

    @property
    def char_s(self) -> float:
        return self.bits_per_char / self.baudrate

    @property
    def inter_frame_gap_s(self) -> float:
        """3.5 character times, never less than the 1.75 ms the spec fixes for fast lines."""
        return max(3.5 * self.char_s, MIN_INTER_FRAME_GAP_S)

    def frame_s(self, frame_bytes: int) -> float:
        return frame_bytes * self.char_s

    def transaction_s(self, request_bytes: int, response_bytes: int) -> float:
        """Wire time of one request and its reply, each followed by an inter-frame gap."""
        return self.frame_s(request_bytes + response_bytes) + 2 * self.inter_frame_gap_s


def write_single_coil_bytes() -> tuple[int, int]:
    """RTU (request, response) sizes of FC05: function, address, value; the reply echoes it."""
    pdu = 1 + 2 + 2
    return pdu + RTU_OVERHEAD_BYTES, pdu + RTU_OVERHEAD_BYTES


def write_multiple_coils_bytes(count: int) -> tuple[int, int]:
    """RTU (request, response) sizes of FC15 for ``count`` coils, packed 8 to a byte."""
    request_pdu = 1 + 2 + 2 + 1 + (count + 7) // 8  # function, address, quantity, byte count, bits
    response_pdu = 1 + 2 + 2  # function, address, quantity
    return request_pdu + RTU_OVERHEAD_BYTES, response_pdu + RTU_OVERHEAD_BYTES
