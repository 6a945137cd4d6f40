"""The controller's clock, injected everywhere (docs/architecture.md, Conventions).

Only ``SystemClock`` reads the real time. Coordinators call ``now()`` again after every wake, so
an NTP step or a clock set by hand is noticed at the next wake; ``wait()`` lets them sleep until a
deadline *or* until something changes (an override, a device that answers again).

``FakeClock`` is the test clock: its time moves only when a test calls ``advance()`` or ``set()``,
and sleepers whose deadline has passed wake at once, in deadline order.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Aware UTC wall time."""

    def monotonic(self) -> float:
        """Seconds that never go backwards, for durations."""

    async def sleep(self, seconds: float) -> None:
        """Sleep on this clock's time."""


async def wait(clock: Clock, event: asyncio.Event, timeout_s: float) -> bool:
    """Sleep up to ``timeout_s`` on ``clock`` or until ``event`` is set; True if it was set."""
    if event.is_set():
        return True
    sleeper = asyncio.ensure_future(clock.sleep(max(timeout_s, 0.0)))
    waker = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (sleeper, waker):
            task.cancel()
        await asyncio.gather(sleeper, waker, return_exceptions=True)
    return event.is_set()


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0.0))


class FakeClock:
    """A clock that moves only when told to. ``set()`` jumps the wall time (an NTP step)
    without moving monotonic time; ``advance()`` moves both."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self._wall = start.astimezone(UTC)
        self._mono = 1000.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def now(self) -> datetime:
        return self._wall

    def monotonic(self) -> float:
        return self._mono

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._mono + max(seconds, 0.0), next(self._order), future))
        if seconds <= 0:
            self._wake_due()
        await future

    async def advance(self, seconds: float) -> None:
        """Move time forward, waking sleepers one deadline at a time so that each sees the
        time it asked for, and let the woken tasks run before returning."""
        await _settle()  # let tasks that are about to sleep register first
        target = self._mono + seconds
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline = self._sleepers[0][0]
            self._wall += timedelta(seconds=max(deadline - self._mono, 0.0))
            self._mono = max(self._mono, deadline)
            self._wake_due()
            await _settle()
        self._wall += timedelta(seconds=target - self._mono)
        self._mono = target
        await _settle()

    async def set(self, wall: datetime) -> None:
        """Step the wall clock (both directions) and wake every sleeper to re-read it."""
        self._wall = wall.astimezone(UTC)
        for _, _, future in self._sleepers:
            if not future.done():
                future.set_result(None)
        self._sleepers.clear()
        await _settle()

    def _wake_due(self) -> None:
        while self._sleepers and self._sleepers[0][0] <= self._mono:
            _, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                future.set_result(None)


async def _settle(rounds: int = 20) -> None:
    # Give woken tasks a few loop turns to run until they block again.
    for _ in range(rounds):
        await asyncio.sleep(0)
