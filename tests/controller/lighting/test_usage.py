"""The lighting's daily usage record (controller/lighting/usage.py): on-time split at the
site's midnight, long gaps not counted, counts added to storage (never replacing it) and kept
when a write fails, meters' first and last readings of a day."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from controller.errors import StorageError
from controller.lighting.usage import UsageRecorder, stored_usage
from controller.platform.store import Store
from tests.controller.conftest import ICT

EVENING = datetime(2026, 11, 9, 22, 0, tzinfo=ICT)


def recorder(path: Path) -> UsageRecorder:
    return UsageRecorder(Store(path), ICT, max_gap_s=3600)


async def test_on_time_is_split_at_local_midnight_and_stored(tmp_path: Path) -> None:
    usage = recorder(tmp_path)
    moment = EVENING
    await usage.observe(moment, {"road-5": True, "road-6": False})
    for _ in range(8):  # every half hour until 02:00
        moment += timedelta(minutes=30)
        await usage.observe(moment, {"road-5": True, "road-6": None})
    # Passes half an hour apart: each one is past the quarter hour, so each one stored.
    days = stored_usage(Store(tmp_path), date(2026, 11, 1), date(2026, 11, 30))
    assert days[date(2026, 11, 9)].on_s == {"road-5": 7200.0}
    assert days[date(2026, 11, 10)].on_s == {"road-5": 7200.0}
    assert "road-6" not in days[date(2026, 11, 9)].on_s  # off, then unknown: never on


async def test_a_gap_longer_than_allowed_counts_nothing(tmp_path: Path) -> None:
    usage = recorder(tmp_path)
    await usage.observe(EVENING, {"road-5": True})
    await usage.observe(EVENING + timedelta(hours=3), {"road-5": True})  # stopped meanwhile
    await usage.observe(EVENING + timedelta(hours=3, minutes=10), {"road-5": False})
    assert usage.days(date(2026, 11, 9), date(2026, 11, 10))[date(2026, 11, 10)].on_s == \
        {"road-5": 600.0}


async def test_counts_add_to_what_is_stored_and_survive_a_failed_write(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store(tmp_path)
    first = UsageRecorder(store, ICT, max_gap_s=3600)
    await first.observe(EVENING - timedelta(hours=1), {"road-5": True})
    await first.observe(EVENING, {"road-5": False})
    first.flush()
    # A restarted controller counts on from what the first one stored.
    second = UsageRecorder(store, ICT, max_gap_s=3600)
    await second.observe(EVENING + timedelta(minutes=5), {"road-5": True})
    await second.observe(EVENING + timedelta(minutes=35), {"road-5": True})

    def refuse(*_: object, **__: object) -> object:
        raise StorageError("disk full")

    monkeypatch.setattr(Store, "transaction", refuse)
    second.flush()  # logged, kept
    monkeypatch.undo()
    assert second.days(date(2026, 11, 9), date(2026, 11, 9))[date(2026, 11, 9)].on_s == \
        {"road-5": 3600.0 + 1800.0}
    second.flush()
    assert stored_usage(Store(tmp_path), date(2026, 11, 9), date(2026, 11, 9))[
        date(2026, 11, 9)].on_s == {"road-5": 5400.0}


async def test_a_meter_keeps_the_first_and_last_reading_of_each_day(tmp_path: Path) -> None:
    usage = recorder(tmp_path)
    for hours, kwh in ((0, 10.0), (6, 10.5), (23, 11.0), (25, 11.25)):
        usage.meter("meter-1", datetime(2026, 11, 9, tzinfo=ICT) + timedelta(hours=hours), kwh)
    usage.flush()
    usage.meter("meter-1", datetime(2026, 11, 10, 5, tzinfo=ICT), 11.5)
    days = usage.days(date(2026, 11, 9), date(2026, 11, 10))
    ninth, tenth = days[date(2026, 11, 9)].meters["meter-1"], days[date(2026, 11, 10)].meters[
        "meter-1"]
    assert (ninth.first_kwh, ninth.last_kwh) == (10.0, 11.0)
    assert (tenth.first_kwh, tenth.last_kwh) == (11.25, 11.5)
    assert tenth.first_at == datetime(2026, 11, 10, 1, tzinfo=ICT)
