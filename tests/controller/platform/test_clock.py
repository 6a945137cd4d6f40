"""The test clock must behave like time: sleepers wake in order, at the time they asked for."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from controller.platform.clock import FakeClock, SystemClock, wait

START = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


async def test_sleepers_wake_in_deadline_order_and_see_their_time() -> None:
    clock = FakeClock(START)
    woke: list[tuple[str, datetime]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, clock.now()))

    tasks = [asyncio.create_task(sleeper("late", 60)), asyncio.create_task(sleeper("early", 5))]
    await asyncio.sleep(0)
    await clock.advance(120)
    await asyncio.gather(*tasks)
    assert woke == [("early", START + timedelta(seconds=5)),
                    ("late", START + timedelta(seconds=60))]
    assert clock.now() == START + timedelta(seconds=120)


async def test_nothing_wakes_before_its_deadline() -> None:
    clock = FakeClock(START)
    task = asyncio.create_task(clock.sleep(10))
    await clock.advance(9.5)
    assert not task.done()
    await clock.advance(0.5)
    assert task.done()


async def test_a_wall_clock_step_wakes_sleepers_without_moving_monotonic_time() -> None:
    clock = FakeClock(START)
    task = asyncio.create_task(clock.sleep(3600))
    await asyncio.sleep(0)
    before = clock.monotonic()
    await clock.set(START + timedelta(hours=8))
    assert task.done()
    assert clock.now() == START + timedelta(hours=8)
    assert clock.monotonic() == before


async def test_wait_returns_early_when_the_event_is_set() -> None:
    clock = FakeClock(START)
    event = asyncio.Event()
    waiter = asyncio.create_task(wait(clock, event, 300))
    await asyncio.sleep(0)
    event.set()
    assert await waiter is True
    assert clock.now() == START


async def test_wait_times_out_on_the_clock() -> None:
    clock = FakeClock(START)
    waiter = asyncio.create_task(wait(clock, asyncio.Event(), 30))
    await asyncio.sleep(0)
    await clock.advance(30)
    assert await waiter is False


def test_system_clock_is_aware_utc() -> None:
    now = SystemClock().now()
    assert now.tzinfo is UTC
