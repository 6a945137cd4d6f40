"""The decision loop both coordinators run (controller.platform.coordinator), on a clock the
test moves: it sleeps what the step asks, a wake cuts the sleep short (from any thread, and
also when it comes while the step runs), and a sleep to a wall-clock instant follows a step of
the wall clock."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from controller.platform.clock import FakeClock
from controller.platform.coordinator import DecisionLoop

START = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


class Steps:
    """A step that records the monotonic time of each call and asks for ``sleep_s``."""

    def __init__(self, clock: FakeClock, sleep_s: float) -> None:
        self.clock = clock
        self.sleep_s = sleep_s
        self.at: list[float] = []
        self.during: list[DecisionLoop] = []  # loops to wake from inside the next step

    async def __call__(self) -> float:
        self.at.append(self.clock.monotonic())
        while self.during:
            self.during.pop().wake()
        return self.sleep_s


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
async def running(clock: FakeClock) -> AsyncIterator[tuple[DecisionLoop, Steps]]:
    loop, steps = DecisionLoop(clock), Steps(clock, sleep_s=60.0)
    task = asyncio.create_task(loop.run(steps))
    await clock.advance(0)
    try:
        yield loop, steps
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_it_decides_at_once_then_sleeps_what_the_step_asked(
        running: tuple[DecisionLoop, Steps], clock: FakeClock) -> None:
    _, steps = running
    assert steps.at == [1000.0]
    await clock.advance(59.9)
    assert len(steps.at) == 1
    await clock.advance(0.1)
    assert steps.at == [1000.0, 1060.0]
    steps.sleep_s = 5.0  # asked from the next step on: the sleep under way stays 60 s
    await clock.advance(65)
    assert steps.at == [1000.0, 1060.0, 1120.0, 1125.0]


async def test_a_wake_cuts_the_sleep_short(running: tuple[DecisionLoop, Steps],
                                           clock: FakeClock) -> None:
    loop, steps = running
    await clock.advance(10)
    loop.wake()
    await clock.advance(0)
    assert steps.at == [1000.0, 1010.0]
    await clock.advance(59)
    assert len(steps.at) == 2  # the sleep after the woken step starts from it
    await clock.advance(1)
    assert steps.at[-1] == 1070.0


async def test_a_wake_from_another_thread_cuts_the_sleep_short(
        running: tuple[DecisionLoop, Steps], clock: FakeClock) -> None:
    loop, steps = running
    thread = threading.Thread(target=loop.wake)
    thread.start()
    thread.join()
    for _ in range(100):  # call_soon_threadsafe: it lands on the loop's next turns
        await asyncio.sleep(0)
        if len(steps.at) == 2:
            break
    assert steps.at == [1000.0, 1000.0]


async def test_a_wake_while_the_step_runs_is_not_lost(running: tuple[DecisionLoop, Steps],
                                                      clock: FakeClock) -> None:
    loop, steps = running
    steps.during.append(loop)  # the next step is woken (an override arrived meanwhile)
    loop.wake()
    await clock.advance(0)
    assert steps.at == [1000.0, 1000.0, 1000.0]  # woken, and at once again for the late wake
    await clock.advance(59)
    assert len(steps.at) == 3


async def test_a_wake_before_the_loop_runs_is_harmless(clock: FakeClock) -> None:
    loop, steps = DecisionLoop(clock), Steps(clock, sleep_s=30.0)
    loop.wake()  # e.g. an API call before start-up finished
    task = asyncio.create_task(loop.run(steps))
    try:
        await clock.advance(0)
        assert steps.at == [1000.0]  # the first decision happens anyway, once
        await clock.advance(30)
        assert steps.at == [1000.0, 1030.0]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@pytest.mark.parametrize(("step_s", "woke_after_s"), [(+600, 0.0), (-600, 900.0)])
async def test_sleep_until_follows_a_step_of_the_wall_clock(
        clock: FakeClock, step_s: float, woke_after_s: float) -> None:
    """Due in 10 minutes; after 5 the wall clock steps: forward past the due time, it ends at
    once; back by 10 minutes, it sleeps on until the wall clock reads the due time (15 more)."""
    loop = DecisionLoop(clock)
    due = START + timedelta(minutes=10)
    woke_at: list[float] = []

    async def sleeper() -> None:
        await loop.sleep_until(due)
        woke_at.append(clock.monotonic())

    task = asyncio.create_task(sleeper())
    await clock.advance(300)
    assert not woke_at
    await clock.set(clock.now() + timedelta(seconds=step_s))
    await clock.advance(woke_after_s)
    await asyncio.wait_for(task, 1)
    assert woke_at == [1300.0 + woke_after_s]
    assert clock.now() >= due


async def test_sleep_until_a_past_instant_returns_at_once(clock: FakeClock) -> None:
    loop = DecisionLoop(clock)
    await asyncio.wait_for(loop.sleep_until(START - timedelta(seconds=1)), 1)
    assert clock.monotonic() == 1000.0
