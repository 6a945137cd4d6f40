"""The simulated cabinet the driver tests talk to: its units, lamps, clock and link."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from drivers.modbus import ModbusBus
from drivers.simulator import Lamp, SimulatedCabinet

# The cabinet every link test talks to.
RELAY_UNIT = 1  # relay8 with two discrete inputs (door, breaker)
METER_UNIT = 2  # SDM120 measuring the lamps below
BIG_RELAY_UNIT = 3  # relay16
DIMMER_UNIT = 4  # four channels
ABSENT_UNIT = 9  # nothing answers here
LAMPS = [Lamp(RELAY_UNIT, 0, 150.0), Lamp(RELAY_UNIT, 1, 100.0), Lamp(DIMMER_UNIT, 0, 200.0)]

TIMEOUT_S = 0.2
RETRIES = 1


class FakeMonotonic:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s

    def advance(self, seconds: float) -> None:
        self.now_s += seconds


@dataclass
class Link:
    cabinet: SimulatedCabinet
    bus: ModbusBus
    clock: FakeMonotonic
    start: Callable[[], Awaitable[object]]  # (re)starts the cabinet on the same port or line


def make_cabinet(clock: FakeMonotonic) -> SimulatedCabinet:
    cabinet = SimulatedCabinet(clock=clock)
    cabinet.add_relay_board(RELAY_UNIT, coils=8, inputs=2)
    cabinet.add_relay_board(BIG_RELAY_UNIT, coils=16)
    cabinet.add_dimmer(DIMMER_UNIT, channels=4)
    cabinet.add_meter(METER_UNIT, lamps=LAMPS)
    return cabinet
