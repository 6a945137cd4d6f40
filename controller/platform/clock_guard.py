"""Clock safety: a gateway without a battery-backed clock can boot with a wrong time.

Two questions, asked every second:

- **Is the time plausible?** A wall clock earlier than this release was made
  (``EARLIEST_PLAUSIBLE``) is certainly wrong (a Raspberry Pi without RTC often boots at the
  last shutdown's time or at 1970). Until the time is plausible, the documented safe policy
  applies: every circuit without an override is **on** (a lit road by day costs energy; a dark
  road at night costs safety), and the radio airs only emergencies (nothing airs at a wrong
  hour, and nothing is judged missed on a wrong clock). Alarm ``clock_implausible``.
- **Does the kernel say the clock is synchronised?** (``adjtimex``: NTP, chrony or
  systemd-timesyncd set it.) An unsynchronised but plausible clock is most likely right (the
  last known time, or an RTC), so the schedules keep running; it is reported in ``/health``
  (``clock_synced: false``) and as a warning ``clock_unsynchronised``.

A step of the wall clock against the monotonic clock (NTP after boot, a person setting it) wakes
the coordinators at once: the lights are re-evaluated for the new time, and the radio re-judges
what is due; its log of seen items keeps anything from airing twice, and grace times keep an
item from airing out of its window.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from controller.platform.alarms import AlarmBook
from controller.platform.clock import Clock

log = logging.getLogger(__name__)

EARLIEST_PLAUSIBLE = datetime(2026, 11, 1, tzinfo=UTC)  # before this release existed
STEP_THRESHOLD_S = 2.0
CHECK_INTERVAL_S = 1.0
_TIME_ERROR = 5  # adjtimex(2): "the clock is not synchronized"


class _Timex(ctypes.Structure):
    # struct timex of <sys/timex.h> on Linux: 11 longs-ish fields, then padding; only
    # ``modes`` is read by the kernel for a query (0), the result is the return value.
    _fields_ = [("modes", ctypes.c_uint), ("rest", ctypes.c_byte * 256)]


@functools.cache
def _libc() -> ctypes.CDLL:
    # Once: find_library runs ldconfig (and, failing that, the C compiler) in a subprocess,
    # which asked every second was most of what an idle controller did.
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def kernel_synchronised() -> bool | None:
    """What adjtimex(2) says; None where it cannot be asked (not Linux, no libc)."""
    try:
        state = int(_libc().adjtimex(ctypes.byref(_Timex(modes=0))))
    except (OSError, AttributeError):
        return None
    if state < 0:
        return None
    return state != _TIME_ERROR


class ClockGuard:
    def __init__(self, clock: Clock, alarms: AlarmBook, *,
                 synchronised: Callable[[], bool | None] = kernel_synchronised,
                 earliest: datetime = EARLIEST_PLAUSIBLE) -> None:
        self._clock = clock
        self._alarms = alarms
        self._synchronised = synchronised
        self._earliest = earliest
        self.on_step: list[Callable[[], None]] = []  # told when the wall clock steps
        self.trusted = True
        self.synced: bool | None = None
        self.steps = 0
        self._offset_s: float | None = None

    def check(self) -> None:
        now = self._clock.now()
        offset = now.timestamp() - self._clock.monotonic()
        stepped = self._offset_s is not None and abs(offset - self._offset_s) > STEP_THRESHOLD_S
        if stepped:
            self.steps += 1
            log.warning("the wall clock stepped by %+.1f s", offset - (self._offset_s or 0))
            self._alarms.note("clock_step", "clock",
                              f"the wall clock stepped by {offset - (self._offset_s or 0):+.1f} s; "
                              "schedules re-evaluated", severity="warning")
        self._offset_s = offset
        trusted = now >= self._earliest
        if trusted != self.trusted:
            log.warning("clock %s: %s", "trusted again" if trusted else "NOT plausible",
                        now.isoformat())
        self.trusted = trusted
        self._alarms.set(not trusted, "clock_implausible", "clock",
                         f"the clock says {now.isoformat()}, before this release was made: "
                         "lights on, radio holds all but emergencies until the time is set")
        self.synced = self._synchronised()
        if self.synced is False:
            self._alarms.raise_alarm("clock_unsynchronised", "clock",
                                     "the system clock is not synchronised (NTP); the schedules "
                                     "run on it", severity="warning")
        else:
            self._alarms.clear("clock_unsynchronised", "clock", "synchronised")
        if stepped:
            for listener in self.on_step:
                listener()

    def clock_synced(self) -> bool:
        """For /health: the time is plausible and not known to be unsynchronised."""
        return self.trusted and self.synced is not False

    async def run(self) -> None:
        while True:
            self.check()
            await self._clock.sleep(CHECK_INTERVAL_S)
