"""The loop both coordinators run: decide, then sleep until the next deadline or a wake.

The lighting (``controller.lighting.coordinator``) and the radio
(``controller.radio.coordinator``) each own what they decide and which deadlines matter to
them; the mechanism around that is here, once (docs/architecture.md, processes and threads):

- ``run(step)``: call ``step()``, which decides and returns the seconds until its next
  deadline, then sleep that long on the injected clock or until ``wake()``, and again;
- ``wake()``: something changed (an override, an announcement, a device that answers, a step
  of the wall clock seen by ``controller.platform.clock_guard``): decide now. Called on the
  loop the coordinators run on, which is also the API's (controller.app);
- ``sleep_until(when)``: sleep to a wall-clock instant, reading the wall clock again after
  each sleep, so that a step of it (NTP, a person setting it) moves the end of the sleep.

Wall time is read again after every wake (``step`` calls ``clock.now()`` itself): deadlines are
recomputed from scratch each time, never carried over a sleep.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import NoReturn

from controller.platform import clock as clocks


class DecisionLoop:
    def __init__(self, clock: clocks.Clock) -> None:
        self._clock = clock
        self._changed = asyncio.Event()

    def wake(self) -> None:
        """Decide again now. On the coordinators' loop (an asyncio.Event is not thread-safe;
        a worker thread's write is awaited before its wake); before ``run`` it just marks the
        event, and the first decision happens anyway."""
        self._changed.set()

    async def run(self, step: Callable[[], Awaitable[float]]) -> NoReturn:
        """Forever: ``step()``, then sleep the seconds it returned or until ``wake()``. A wake
        that comes while ``step`` runs is not lost: the event is cleared before the step, so
        the sleep after it returns at once."""
        while True:
            self._changed.clear()
            sleep_s = await step()
            await clocks.wait(self._clock, self._changed, sleep_s)

    async def sleep_until(self, when: datetime) -> None:
        """Sleep until the wall clock reads ``when`` (at once if it is past)."""
        # Re-read the wall clock after each sleep: an NTP step moves ``when`` relative to now.
        while (remaining := (when - self._clock.now()).total_seconds()) > 0:
            await self._clock.sleep(remaining)
