"""Lighting programmes and calendars through the API: validated whole, references kept whole,
and what the coordinator and the plan do with them at once."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import httpx
import pytest

from controller.lighting.programs import site_of
from controller.runtime import Runtime
from drivers.simulator import SimulatedCabinet
from schedules.solar import sun_event
from tests.controller.conftest import ICT, RELAY_UNIT

Headers = dict[str, dict[str, str]]
EVENING_WINDOW = {"on": "sunset", "off": "22:00", "level": 80, "days": ["sat", "sun"]}
EVENING_ONLY = {"id": "evening-only", "name": "Buổi tối", "windows": [EVENING_WINDOW]}
MARKET_DAYS: dict[str, Any] = {"id": "market-days", "dates": ["2026-12-05", "lunar:01-01"],
               "ranges": [["2027-02-05", "2027-02-10"]]}


def window(**fields: Any) -> dict[str, Any]:
    return {"on": "sunset+5m", "off": "23:00", **fields}


# -- lighting programmes -------------------------------------------------------------------------

async def test_programmes_are_listed_with_the_circuits_that_follow_them(
        api_client: httpx.AsyncClient, role_headers: Headers) -> None:
    listed = (await api_client.get("/lighting-programs", headers=role_headers["viewer"])).json()
    assert [(p["id"], p["circuits"]) for p in listed] == [
        ("all-night", []), ("part-night", ["road-5", "road-6"])]
    one = (await api_client.get("/lighting-programs/part-night",
                                headers=role_headers["viewer"])).json()
    assert one["windows"][2] == {"on": "sunset+5m", "off": "sunrise-10m", "level": 100,
                                 "days": None, "calendar": "holidays"}
    sunset_5m = {"kind": "sun", "event": "sunset", "offset_min": 5}
    sunrise_10m = {"kind": "sun", "event": "sunrise", "offset_min": -10}
    assert one["windows_explained"] == [
        {"on": sunset_5m, "off": {"kind": "earliest", "of": [
            {"kind": "clock", "time": "23:00"}, sunrise_10m]},
         "level": 100, "days": None, "calendar": None},
        {"on": {"kind": "clock", "time": "04:30"}, "off": sunrise_10m, "level": 100,
         "days": None, "calendar": None},
        {"on": sunset_5m, "off": sunrise_10m, "level": 100, "days": None,
         "calendar": "holidays"}]
    assert listed[1]["windows_explained"] == one["windows_explained"]
    missing = await api_client.get("/lighting-programs/nope", headers=role_headers["viewer"])
    assert missing.status_code == 404


async def test_create_a_programme_once(api_client: httpx.AsyncClient, role_headers: Headers,
                                       api_runtime: Runtime) -> None:
    created = await api_client.post("/lighting-programs", json=EVENING_ONLY,
                                     headers=role_headers["technician"])
    again = await api_client.post("/lighting-programs", json=EVENING_ONLY,
                                   headers=role_headers["technician"])
    assert created.status_code == 201
    assert created.json() == {**EVENING_ONLY, "circuits": [],
                              "windows": [{**EVENING_WINDOW, "calendar": None}],
                              "windows_explained": [{
                                  "on": {"kind": "sun", "event": "sunset", "offset_min": 0},
                                  "off": {"kind": "clock", "time": "22:00"}, "level": 80,
                                  "days": [5, 6], "calendar": None}]}
    assert (again.status_code, again.json()["error"]["field"]) == (409, "id")
    assert "evening-only" in api_runtime.programs.programs()
    assert [(r["action"], r["target"]) for r in api_runtime.audit.query()] == [
        ("lighting_program.create", "evening-only")]


@pytest.mark.parametrize(("document", "field"), [
    ({**EVENING_ONLY, "windows": [window(on="sunsett")]}, "windows.0.on"),
    ({**EVENING_ONLY, "windows": [window(), window(off="earliest(23:00)")]}, "windows.1.off"),
    ({**EVENING_ONLY, "windows": [window(level=101)]}, "windows.0.level"),
    ({**EVENING_ONLY, "windows": [window(days=["someday"])]}, "windows.0.days"),
    ({**EVENING_ONLY, "windows": [window(days=[1.5])]}, "windows.0.days.0"),
    ({**EVENING_ONLY, "windows": [window(calendar="no-such-calendar")]}, "windows.0.calendar"),
    ({**EVENING_ONLY, "windows": [window(colour="red")]}, "windows.0.colour"),
    ({**EVENING_ONLY, "id": "Evening Only"}, "id"),
    ({**EVENING_ONLY, "windows": [window()] * 49}, "windows"),
    ({"id": "no-windows"}, "windows"),
])
async def test_a_bad_programme_is_refused_naming_the_field(
        api_client: httpx.AsyncClient, role_headers: Headers, api_runtime: Runtime,
        document: dict[str, Any], field: str) -> None:
    response = await api_client.post("/lighting-programs", json=document,
                                      headers=role_headers["technician"])
    assert (response.status_code, response.json()["error"]["field"]) == (422, field)
    assert sorted(api_runtime.programs.programs()) == ["all-night", "part-night"]


async def test_replacing_a_programme_changes_the_lights_at_once(
        api_client: httpx.AsyncClient, role_headers: Headers, api_runtime: Runtime,
        api_cabinet: SimulatedCabinet) -> None:
    await api_runtime.lighting.reconcile()
    assert api_cabinet.coils(RELAY_UNIT)[:2] == [False, False]
    current = (await api_client.get("/lighting-programs/part-night",
                                    headers=role_headers["viewer"])).json()
    current.pop("circuits")
    current["windows"].append(window(on="11:00", off="13:00", level=100))  # it is noon
    response = await api_client.put("/lighting-programs/part-night", json=current,
                                    headers=role_headers["technician"])
    await api_runtime.lighting.reconcile()
    assert response.status_code == 200
    assert len(response.json()["windows"]) == 4
    assert api_cabinet.coils(RELAY_UNIT)[:2] == [True, True]
    assert api_runtime.audit.query()[0]["action"] == "lighting_program.update"


@pytest.mark.parametrize(("path", "document", "status", "field"), [
    ("/lighting-programs/part-night", {"id": "other", "windows": []}, 422, "id"),
    ("/lighting-programs/part-night", {"windows": [window(on="25:00")]}, 422, "windows.0.on"),
    ("/lighting-programs/nope", {"windows": []}, 404, None),
])
async def test_a_bad_replacement_changes_nothing(
        api_client: httpx.AsyncClient, role_headers: Headers, api_runtime: Runtime,
        path: str, document: dict[str, Any], status: int, field: str | None) -> None:
    before = api_runtime.store.all("lighting_programs")
    response = await api_client.put(path, json=document, headers=role_headers["technician"])
    assert (response.status_code, response.json()["error"].get("field")) == (status, field)
    assert api_runtime.store.all("lighting_programs") == before


async def test_deleting_programmes(api_client: httpx.AsyncClient, role_headers: Headers,
                                   api_runtime: Runtime) -> None:
    await api_client.post("/lighting-programs", json=EVENING_ONLY,
                          headers=role_headers["technician"])
    followed = await api_client.delete("/lighting-programs/part-night",
                                       headers=role_headers["technician"])
    in_config = await api_client.delete("/lighting-programs/all-night",
                                        headers=role_headers["technician"])
    deleted = await api_client.delete("/lighting-programs/evening-only",
                                      headers=role_headers["technician"])
    gone = await api_client.delete("/lighting-programs/evening-only",
                                   headers=role_headers["technician"])
    assert followed.status_code == 409
    assert "road-5, road-6" in followed.json()["error"]["message"]
    assert in_config.status_code == 409
    assert "config" in in_config.json()["error"]["message"]
    assert (deleted.status_code, gone.status_code) == (204, 404)
    assert sorted(api_runtime.programs.programs()) == ["all-night", "part-night"]
    assert sorted(r["action"] for r in api_runtime.audit.query()) == [
        "lighting_program.create", "lighting_program.delete"]


# -- calendars -----------------------------------------------------------------------------------

async def test_calendars_are_listed_with_the_programmes_that_name_them(
        api_client: httpx.AsyncClient, role_headers: Headers) -> None:
    listed = (await api_client.get("/calendars", headers=role_headers["viewer"])).json()
    assert listed == [{"id": "holidays", "name": "", "public_holidays": "VN", "ranges": [],
                       "dates": ["09-02", "lunar:01-15", "2026-12-01"],
                       "programs": ["part-night"]}]
    missing = await api_client.get("/calendars/nope", headers=role_headers["viewer"])
    assert missing.status_code == 404


async def test_a_calendar_is_created_then_named_then_protected(
        api_client: httpx.AsyncClient, role_headers: Headers, api_runtime: Runtime) -> None:
    technician = role_headers["technician"]
    created = await api_client.post("/calendars", json=MARKET_DAYS, headers=technician)
    again = await api_client.post("/calendars", json=MARKET_DAYS, headers=technician)
    named = await api_client.post("/lighting-programs", headers=technician, json={
        **EVENING_ONLY, "windows": [window(calendar="market-days")]})
    protected = await api_client.delete("/calendars/market-days", headers=technician)
    assert (created.status_code, again.status_code, named.status_code) == (201, 409, 201)
    assert created.json() == {**MARKET_DAYS, "name": "", "public_holidays": None,
                              "programs": []}
    assert protected.status_code == 409
    assert "evening-only" in protected.json()["error"]["message"]
    await api_client.delete("/lighting-programs/evening-only", headers=technician)
    deleted = await api_client.delete("/calendars/market-days", headers=technician)
    assert deleted.status_code == 204
    assert sorted(api_runtime.programs.calendars()) == ["holidays"]


async def test_a_calendar_in_use_or_in_the_config_is_not_deleted(
        api_client: httpx.AsyncClient, role_headers: Headers) -> None:
    response = await api_client.delete("/calendars/holidays",
                                       headers=role_headers["technician"])
    assert response.status_code == 409
    assert "part-night" in response.json()["error"]["message"]


@pytest.mark.parametrize(("changes", "field"), [
    ({"dates": ["2026-12-05", "13-45"]}, "dates.1"),
    ({"dates": ["lunar:13-01"]}, "dates.0"),
    ({"dates": "09-02"}, "dates"),
    ({"ranges": [["2027-02-05", "2027-02-10"], ["2027-02-10", "2027-02-05"]]}, "ranges.1"),
    ({"ranges": [["2027-02-05"]]}, "ranges.0.1"),
    ({"public_holidays": "XX"}, "public_holidays"),
    ({"id": "-market"}, "id"),
])
async def test_a_bad_calendar_is_refused_naming_the_field(
        api_client: httpx.AsyncClient, role_headers: Headers, api_runtime: Runtime,
        changes: dict[str, Any], field: str) -> None:
    response = await api_client.post("/calendars", json={**MARKET_DAYS, **changes},
                                     headers=role_headers["technician"])
    assert (response.status_code, response.json()["error"]["field"]) == (422, field)
    assert sorted(api_runtime.programs.calendars()) == ["holidays"]


async def test_replacing_a_calendar_changes_the_plan(api_client: httpx.AsyncClient,
                                                     role_headers: Headers) -> None:
    params = {"from": "2026-11-26"}
    before = (await api_client.get("/plan", params=params,
                                   headers=role_headers["viewer"])).json()["entries"]
    replaced = await api_client.put("/calendars/holidays", json={"dates": ["2026-11-26"]},
                                    headers=role_headers["technician"])
    after = (await api_client.get("/plan", params=params,
                                  headers=role_headers["viewer"])).json()["entries"]
    assert replaced.status_code == 200
    assert replaced.json()["public_holidays"] is None
    assert (len(before), len(after)) == (8, 4)  # a holiday now: on all night


# -- preview -------------------------------------------------------------------------------------

PREVIEW = {"windows": [{"on": "sunset+5m", "off": "earliest(23:00, sunrise-10m)"},
                       {"on": "23:00", "off": "sunrise-10m", "level": 40, "days": ["sat"]}],
           "from": "2026-11-27", "days": 3}


async def test_a_preview_gives_each_nights_spans_as_the_schedule_computes_them(
        api_client: httpx.AsyncClient, role_headers: Headers, api_runtime: Runtime) -> None:
    response = await api_client.post("/lighting-programs/preview", json=PREVIEW,
                                     headers=role_headers["technician"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["from"], body["days"], body["timezone"]) == (
        "2026-11-27", 3, "Asia/Ho_Chi_Minh")
    assert body["windows_explained"][1] == {
        "on": {"kind": "clock", "time": "23:00"},
        "off": {"kind": "sun", "event": "sunrise", "offset_min": -10},
        "level": 40, "days": [5], "calendar": None}
    # The expectation from the sun's own times: sunset + 5 min to 23:00 every night, and on
    # Saturday (2026-11-28) 40 % from 23:00 to 10 minutes before Sunday's sunrise.
    site = site_of(api_runtime.config)
    expected = []
    for offset in range(3):
        day = date(2026, 11, 27) + timedelta(days=offset)
        spans = [(sun_event(site, day, "sunset") + timedelta(minutes=5),
                  datetime.combine(day, time(23), tzinfo=ICT), 100, 0)]
        if day.weekday() == 5:
            sunrise = sun_event(site, day + timedelta(days=1), "sunrise")
            spans.append((datetime.combine(day, time(23), tzinfo=ICT),
                          sunrise - timedelta(minutes=10), 40, 1))
        expected.append((day.isoformat(), spans))
    assert [(n["day"], [(datetime.fromisoformat(s["on"]), datetime.fromisoformat(s["off"]),
                         s["level"], s["window"]) for s in n["spans"]])
            for n in body["nights"]] == expected
    assert all(s["on"].endswith("+07:00") for n in body["nights"] for s in n["spans"])
    assert [n["skipped"] for n in body["nights"]] == [[], [], []]
    assert api_runtime.audit.query() == []  # nothing stored, nothing to audit
    assert sorted(api_runtime.programs.programs()) == ["all-night", "part-night"]


async def test_a_preview_defaults_to_a_week_from_today(
        api_client: httpx.AsyncClient, role_headers: Headers) -> None:
    response = await api_client.post("/lighting-programs/preview",
                                     json={"windows": PREVIEW["windows"]},
                                     headers=role_headers["technician"])
    body = response.json()
    assert (body["from"], body["days"], len(body["nights"])) == ("2026-11-26", 7, 7)


@pytest.mark.parametrize(("document", "status", "field"), [
    ({**PREVIEW, "windows": [window(on="sunsett")]}, 422, "windows.0.on"),
    ({**PREVIEW, "windows": [window(), window(off="earliest(23:00)")]}, 422, "windows.1.off"),
    ({**PREVIEW, "windows": [window(calendar="no-such-calendar")]}, 422, "windows.0.calendar"),
    ({**PREVIEW, "windows": [window(days=["someday"])]}, 422, "windows.0.days"),
    ({**PREVIEW, "days": 32}, 422, "days"),
    ({**PREVIEW, "days": 0}, 422, "days"),
    ({**PREVIEW, "from": "2026-13-01"}, 422, "from"),
    ({**PREVIEW, "from": "2300-01-01"}, 422, "from"),
    ({**PREVIEW, "colour": "red"}, 422, "colour"),
])
async def test_a_bad_preview_is_refused_naming_the_field(
        api_client: httpx.AsyncClient, role_headers: Headers, document: dict[str, Any],
        status: int, field: str) -> None:
    response = await api_client.post("/lighting-programs/preview", json=document,
                                     headers=role_headers["technician"])
    assert (response.status_code, response.json()["error"]["field"]) == (status, field)


async def test_a_preview_names_its_calendar_days_and_needs_a_technician(
        api_client: httpx.AsyncClient, role_headers: Headers) -> None:
    # 2026-12-01 is in the config's "holidays" calendar: all night there, else nothing.
    document = {"windows": [{"on": "sunset+5m", "off": "sunrise-10m",
                             "calendar": "holidays"}], "from": "2026-11-30", "days": 3}
    viewer = await api_client.post("/lighting-programs/preview", json=document,
                                   headers=role_headers["viewer"])
    body = (await api_client.post("/lighting-programs/preview", json=document,
                                  headers=role_headers["technician"])).json()
    assert viewer.status_code == 403
    assert [(n["day"], len(n["spans"])) for n in body["nights"]] == [
        ("2026-11-30", 0), ("2026-12-01", 1), ("2026-12-02", 0)]
