"""The monthly report's figures (docs/reports.md), from a month made through the controller's
own parts (conftest.py), fetched as JSON over the API and checked exactly."""

from __future__ import annotations

from datetime import datetime

import pytest

from controller.lighting.usage import stored_usage
from controller.platform.store import Store
from controller.reports.monthly import Month as ReportMonth
from controller.reports.monthly import build_monthly_report
from controller.reports.sources import from_data_folder
from tests.controller.conftest import ICT
from tests.controller.reports.conftest import Month

pytestmark = pytest.mark.integration  # a simulated board over Modbus TCP on loopback


async def fetch(month: Month, wanted: str | None = None) -> dict[str, object]:
    params = {} if wanted is None else {"month": wanted}
    response = await month.client.get("/reports/monthly", headers=month.viewer, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


async def test_the_radio_figures(month: Month) -> None:
    report = await fetch(month, "2026-11")
    assert (report["month"], report["first_day"], report["last_day"]) == \
        ("2026-11", "2026-11-01", "2026-11-30")
    assert report["complete"] is True
    assert datetime.fromisoformat(str(report["period_end"])) == datetime(2026, 12, 1, tzinfo=ICT)
    assert report["summary"] == {
        "commune": "Xã Thử Nghiệm", "clusters": 2, "bulletins_scheduled": 34,
        "bulletins_aired": 32, "successful_plays": 30, "emergency_bulletins": 1,
        "play_time_min": 147.5}
    radio = report["radio"]
    assert isinstance(radio, dict)
    assert radio["by_outcome"] == {"completed": 30, "preempted": 1, "failed": 1, "missed": 1,
                                   "skipped": 0, "cancelled": 1}
    assert radio["by_level"] == {"normal": 32, "priority": 1, "emergency": 1}
    assert (radio["items"], radio["items_aired"], radio["minutes_aired"]) == (34, 32, 147.5)
    assert radio["by_zone"] == [
        {"zone": "minh-duc", "name": "Thôn Minh Đức", "items": 31, "minutes": 146.5},
        {"zone": "trung-tam", "name": "Trung tâm xã", "items": 3, "minutes": 6.5}]
    missed, failed = radio["missed_failed"]
    assert (missed["outcome"], missed["reason"], missed["minutes"], missed["started_at"]) == \
        ("missed", "the controller was stopped", None, None)
    assert datetime.fromisoformat(missed["due"]) == datetime(2026, 11, 5, 6, 0, tzinfo=ICT)
    assert (failed["outcome"], failed["reason"], failed["minutes"]) == \
        ("failed", "ffmpeg: decoding failed", 1.0)
    [emergency] = radio["emergencies"]
    assert (emergency["title"], emergency["outcome"], emergency["minutes"],
            emergency["zone_names"]) == ("=Bão số 9 đổ bộ", "completed", 2.5,
                                         ["Thôn Minh Đức", "Trung tâm xã"])


async def test_the_lighting_figures(month: Month) -> None:
    report = await fetch(month, "2026-11")
    lighting = report["lighting"]
    assert isinstance(lighting, dict)
    assert lighting["days_recorded"] == 30
    assert lighting["circuits"] == [
        {"circuit": "road-5", "name": "Đường số 5", "on_hours": 120.0},
        {"circuit": "road-6", "name": "Đường số 6", "on_hours": 2.0}]
    [meter] = lighting["meters"]
    assert (meter["meter"], meter["circuits"], meter["energy_kwh"], meter["note"]) == \
        ("meter-1", ["road-5", "road-6"], 12.1, None)
    assert datetime.fromisoformat(meter["first_at"]) == datetime(2026, 11, 1, tzinfo=ICT)
    assert datetime.fromisoformat(meter["last_at"]) == datetime(2026, 11, 30, 23, tzinfo=ICT)
    assert lighting["alarms_by_kind"] == {"cabinet_door": 1, "device_offline": 1}
    assert lighting["alarms_total"] == 2
    # Six hours offline out of 720: 99.17 %.
    assert lighting["devices"] == [
        {"device": "relay-1", "profile": "relay8", "online_pct": 99.17, "offline_min": 360.0,
         "outages": 1},
        {"device": "meter-1", "profile": "sdm120", "online_pct": 100.0, "offline_min": 0.0,
         "outages": 0}]


async def test_the_counts_are_in_storage_as_an_offline_command_reads_them(
        month: Month) -> None:
    """What the running controller reported is what a new process finds in the data folder:
    the on-time was stored, not only kept in memory."""
    runtime = month.runtime
    stored = stored_usage(Store(runtime.config.storage.path), ReportMonth(2026, 11).first_day,
                          ReportMonth(2026, 11).last_day)
    assert round(sum(day.on_s["road-5"] for day in stored.values()) / 3600, 6) == 120.0
    assert stored[ReportMonth(2026, 11).first_day.replace(day=10)].on_s["road-6"] == 7200.0
    offline = build_monthly_report(runtime.config, ReportMonth(2026, 11),
                                   from_data_folder(runtime.config, ReportMonth(2026, 11)),
                                   now=runtime.clock.now())
    served = await fetch(month, "2026-11")
    assert offline.lighting.circuits[0].on_hours == 120.0
    assert offline.summary.play_time_min == served["summary"]["play_time_min"]  # type: ignore[index]


async def test_the_current_month_runs_up_to_now(month: Month) -> None:
    report = await fetch(month)
    assert report["month"] == "2026-12" and report["complete"] is False
    assert datetime.fromisoformat(str(report["period_end"])) == month.clock.now()
    radio = report["radio"]
    assert isinstance(radio, dict)
    assert (radio["items"], radio["minutes_aired"]) == (1, 4.0)


@pytest.mark.parametrize(("value", "message"), [
    ("2026-13", "01 to 12"), ("2026-1", "YYYY-MM"), ("November", "YYYY-MM"),
    ("2027-01", "not begun")])
async def test_a_bad_month_is_422_naming_the_field(month: Month, value: str,
                                                   message: str) -> None:
    response = await month.client.get("/reports/monthly", headers=month.viewer,
                                      params={"month": value})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("invalid", "month")
    assert message in error["message"]


async def test_a_bad_format_is_422(month: Month) -> None:
    response = await month.client.get("/reports/monthly", headers=month.viewer,
                                      params={"month": "2026-11", "format": "pdf"})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "format"


async def test_the_report_needs_a_token(month: Month) -> None:
    response = await month.client.get("/reports/monthly", params={"month": "2026-11"})
    assert response.status_code == 401
