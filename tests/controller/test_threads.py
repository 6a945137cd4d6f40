"""Worker threads beside the coordinators' loop (docs/architecture.md, "Processes and threads"):
the API shares the coordinators' loop, but what fsyncs (acknowledging an alarm, noting an
event, any storage write) may run in a worker thread (``asyncio.to_thread``) while the loop
raises and clears alarms and builds /status and /metrics. Neither side may meet a structure in
the middle of the other's change.

These tests put a thread doing what the handlers and services do against a writer that raises
and clears alarms as fast as the coordinators can. A tiny GIL switch interval makes the threads
interleave between almost every bytecode, so a read that iterates shared state while it changes
fails within a few hundred changes instead of once a month on a gateway.
"""

from __future__ import annotations

import itertools
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from prometheus_client import generate_latest

from controller.http.metrics import metrics_registry
from controller.http.routes_status import build_status, is_degraded
from controller.platform.alarms import AlarmBook
from controller.platform.history import History
from controller.runtime import Runtime

ICT = ZoneInfo("Asia/Ho_Chi_Minh")
# Many open alarms make iterating them take long enough for the other thread to cut in.
BOOK_CHANGES, BOOK_TARGETS = 3000, 2000
# Building /status and /metrics is slower: fewer alarms, fewer changes.
VIEW_CHANGES, VIEW_TARGETS = 300, 20


@pytest.fixture
def fast_switching() -> Iterator[None]:
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(previous)


class DayPerReading:
    """A clock that moves on a day each time it is read: every record lands in a day file of
    its own, so reading one back (acknowledging) stays cheap however long the test runs, and
    the reader spends its time where the race is, not parsing a growing file."""

    def __init__(self, start: datetime) -> None:
        self._start = start
        self._readings = itertools.count()

    def now(self) -> datetime:
        return self._start + timedelta(days=next(self._readings))

    def monotonic(self) -> float:
        return 0.0

    async def sleep(self, seconds: float) -> None:
        raise AssertionError("nothing sleeps in these tests")


def churn(alarms: AlarmBook, reader: Callable[[], None], *, changes: int,
          targets: int) -> list[BaseException]:
    """Run ``reader`` in a loop on its own thread while this thread raises ``changes`` alarms
    on ``targets`` targets and clears each once ``targets // 2`` newer ones were raised; the
    reader's errors."""
    errors: list[BaseException] = []
    done = threading.Event()

    def read_until_done() -> None:
        while not done.is_set():
            try:
                reader()
            except Exception as exc:  # what would have been a 500
                errors.append(exc)
                return

    thread = threading.Thread(target=read_until_done, name="api-reader")
    thread.start()
    try:
        for i in range(changes):
            alarms.raise_alarm("device_offline", f"relay-{i % targets}", "no answer")
            if i >= targets // 2:
                alarms.clear("device_offline", f"relay-{(i - targets // 2) % targets}")
    finally:
        done.set()
        thread.join()
    return errors


def test_open_alarms_and_acknowledging_while_the_loop_raises_and_clears(
        tmp_path: Path, fast_switching: None) -> None:
    clock = DayPerReading(datetime(2026, 11, 26, 12, 0, tzinfo=ICT))
    alarms = AlarmBook(History(tmp_path / "history", "events"), clock)

    def api_reads() -> None:
        # What GET /status, GET /metrics and POST /events/{id}/ack do with the book.
        records = alarms.open_alarms()
        assert all(r["type"] == "alarm" for r in records)
        if records:
            alarms.acknowledge(records[0]["id"], by="technician")

    errors = churn(alarms, api_reads, changes=BOOK_CHANGES, targets=BOOK_TARGETS)

    assert errors == []
    # Acknowledging must not bring back an alarm cleared in the meantime: exactly the last
    # BOOK_TARGETS // 2 raised are open.
    expected = {f"relay-{i % BOOK_TARGETS}"
                for i in range(BOOK_CHANGES - BOOK_TARGETS // 2, BOOK_CHANGES)}
    assert {r["target"] for r in alarms.open_alarms()} == expected
    assert all(alarms.is_open("device_offline", t) for t in expected)


def test_status_and_metrics_while_the_loop_raises_and_clears(
        api_runtime: Runtime, fast_switching: None) -> None:
    registry = metrics_registry(api_runtime)

    def api_reads() -> None:
        status = build_status(api_runtime)
        assert status.counts.alarms_open == len(status.alarms)
        is_degraded(api_runtime)
        generate_latest(registry)

    assert churn(api_runtime.alarms, api_reads, changes=VIEW_CHANGES,
                 targets=VIEW_TARGETS) == []
