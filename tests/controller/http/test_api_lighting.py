"""Circuits, overrides, the plan and the status through the API, down to the simulated relays."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta

import httpx
import pytest

from controller.lighting.programs import site_of
from controller.plan import build_plan, window_bounds
from controller.platform.clock import FakeClock
from controller.runtime import Runtime
from drivers.simulator import SimulatedCabinet
from schedules.solar import sun_event
from tests.conftest import eventually
from tests.controller.conftest import API_HOLIDAY, API_NOON, ICT, RELAY_UNIT

Headers = dict[str, dict[str, str]]
OVERRIDE = {"target": "circuit:road-5", "state": "on", "duration_min": 30,
            "reason": "replacing a lamp"}


# -- circuits ------------------------------------------------------------------------------------

async def test_circuits_show_desired_commanded_and_actual(
        api_client: httpx.AsyncClient, role_headers: Headers, api_runtime: Runtime) -> None:
    before = (await api_client.get("/circuits", headers=role_headers["viewer"])).json()
    await api_runtime.lighting.reconcile(check=True)
    after = (await api_client.get("/circuits", headers=role_headers["viewer"])).json()
    assert [c["id"] for c in after] == ["road-5", "road-6"]
    assert before[0]["actual"] is None
    road_5 = after[0]
    assert road_5["name"] == "Đường số 5"
    assert road_5["groups"] == ["main-road"]
    assert road_5["desired"] == {**road_5["desired"], "state": "off", "level": 0,
                                 "source": "default", "rule": None}
    assert road_5["actual"] == {**road_5["actual"], "state": "off", "level": 0}
    assert datetime.fromisoformat(road_5["actual"]["read_at"]) == API_NOON
    assert road_5["device_online"] is True


async def test_one_circuit_and_an_unknown_one(api_client: httpx.AsyncClient,
                                              role_headers: Headers) -> None:
    found = await api_client.get("/circuits/road-6", headers=role_headers["viewer"])
    missing = await api_client.get("/circuits/road-99", headers=role_headers["viewer"])
    assert (found.status_code, found.json()["name"]) == (200, "road-6")
    assert missing.status_code == 404
    assert missing.json() == {"error": {"code": "not_found", "message": "no circuit 'road-99'"}}


# -- overrides -----------------------------------------------------------------------------------

async def test_an_override_switches_the_relay_and_is_audited(
        api_client: httpx.AsyncClient, role_headers: Headers, api_runtime: Runtime,
        api_cabinet: SimulatedCabinet) -> None:
    response = await api_client.post("/overrides", json=OVERRIDE,
                                      headers=role_headers["technician"])
    assert response.status_code == 201
    created = response.json()
    assert created == {**created, "target": "circuit:road-5", "state": "on", "level": 100,
                       "reason": "replacing a lamp", "created_by": "technician-token"}
    assert datetime.fromisoformat(created["until"]) == API_NOON + timedelta(minutes=30)
    await api_runtime.lighting.reconcile()
    assert api_cabinet.coils(RELAY_UNIT)[:2] == [True, False]
    view = (await api_client.get("/circuits/road-5", headers=role_headers["viewer"])).json()
    assert view["desired"]["source"] == "override"
    listed = (await api_client.get("/overrides", headers=role_headers["viewer"])).json()
    assert [o["id"] for o in listed] == [created["id"]]
    audit = (await api_client.get("/audit", headers=role_headers["admin"])).json()
    assert audit[0] == {**audit[0], "actor": "technician-token", "role": "technician",
                        "action": "override.create", "target": created["id"]}
    assert audit[0]["details"]["target"] == "circuit:road-5"
    assert datetime.fromisoformat(audit[0]["time"]) == API_NOON
    events = (await api_client.get("/events", headers=role_headers["viewer"])).json()
    assert [(e["kind"], e["target"], e["override"]) for e in events] == [
        ("override", "circuit:road-5", created["id"])]
    assert events[0]["message"].endswith("by technician-token: replacing a lamp")


async def test_the_running_coordinator_is_woken_by_an_override(
        api_client: httpx.AsyncClient, role_headers: Headers, api_runtime: Runtime,
        api_cabinet: SimulatedCabinet) -> None:
    coordinator = asyncio.create_task(api_runtime.lighting.run())
    try:
        await eventually(lambda: api_runtime.lighting.reconciles >= 1)
        response = await api_client.post("/overrides", headers=role_headers["technician"],
                                          json={**OVERRIDE, "target": "group:main-road",
                                                "level": 60})
        assert response.status_code == 201
        # The fake clock does not move: only the wake-up can make the coordinator act.
        await eventually(lambda: api_cabinet.coils(RELAY_UNIT)[:2] == [True, True])
        await api_client.delete(f"/overrides/{response.json()['id']}",
                                headers=role_headers["technician"])
        await eventually(lambda: api_cabinet.coils(RELAY_UNIT)[:2] == [False, False])
    finally:
        coordinator.cancel()
        await asyncio.gather(coordinator, return_exceptions=True)


async def test_an_override_until_a_time(api_client: httpx.AsyncClient,
                                        role_headers: Headers) -> None:
    until = (API_NOON + timedelta(hours=2)).isoformat()
    response = await api_client.post("/overrides", headers=role_headers["technician"],
                                      json={**OVERRIDE, "duration_min": None, "until": until,
                                            "state": "off", "level": 40})
    assert response.status_code == 201
    assert datetime.fromisoformat(response.json()["until"]) == API_NOON + timedelta(hours=2)
    assert response.json()["level"] == 0  # a level means nothing for "off"


@pytest.mark.parametrize(("changes", "field"), [
    ({"duration_min": None, "until": (API_NOON - timedelta(minutes=1)).isoformat()}, "until"),
    ({"duration_min": None, "until": (API_NOON + timedelta(days=8)).isoformat()}, "until"),
    ({"until": (API_NOON + timedelta(hours=1)).isoformat()}, None),  # both
    ({"duration_min": None}, None),  # neither
    ({"target": "circuit:road-99"}, "target"),
    ({"target": "group:side-roads"}, "target"),
])
async def test_an_override_that_cannot_be_is_refused_and_not_stored(
        api_client: httpx.AsyncClient, role_headers: Headers, api_runtime: Runtime,
        changes: dict[str, object], field: str | None) -> None:
    response = await api_client.post("/overrides", json={**OVERRIDE, **changes},
                                      headers=role_headers["technician"])
    assert response.status_code == 422
    assert response.json()["error"].get("field") == field
    assert api_runtime.store.all("overrides") == []
    assert api_runtime.audit.query() == []


async def test_deleting_an_override_hands_back_to_the_schedule(
        api_client: httpx.AsyncClient, role_headers: Headers, api_runtime: Runtime,
        api_cabinet: SimulatedCabinet) -> None:
    created = (await api_client.post("/overrides", json={**OVERRIDE, "target": "all"},
                                     headers=role_headers["technician"])).json()
    await api_runtime.lighting.reconcile()
    assert api_cabinet.coils(RELAY_UNIT)[:2] == [True, True]
    deleted = await api_client.delete(f"/overrides/{created['id']}",
                                      headers=role_headers["technician"])
    again = await api_client.delete(f"/overrides/{created['id']}",
                                    headers=role_headers["technician"])
    await api_runtime.lighting.reconcile()
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert again.status_code == 404
    assert api_cabinet.coils(RELAY_UNIT)[:2] == [False, False]
    assert (await api_client.get("/overrides", headers=role_headers["viewer"])).json() == []
    # same instant on the fake clock: History does not order records within a millisecond
    actions = sorted(r["action"] for r in api_runtime.audit.query())
    assert actions == ["override.create", "override.delete"]


# -- plan ----------------------------------------------------------------------------------------

async def test_the_plan_is_what_the_cli_prints(api_client: httpx.AsyncClient,
                                               role_headers: Headers,
                                               api_runtime: Runtime) -> None:
    response = await api_client.get("/plan", params={"from": "2026-11-26", "days": 2},
                                    headers=role_headers["viewer"])
    site = site_of(api_runtime.config)
    start, end = window_bounds(site, date(2026, 11, 26), 2)
    entries, _ = build_plan(api_runtime.config, site, api_runtime.programs.programs(),
                            api_runtime.programs.calendars(), start=start, end=end)
    body = response.json()
    assert response.status_code == 200
    assert (body["from"], body["days"], body["skipped"]) == ("2026-11-26", 2, [])
    assert body["entries"] == [e.as_json() for e in entries]
    assert len(body["entries"]) == 2 * 2 * 4  # days x circuits x (on, off, on, off)
    assert body["entries"][0] == {**body["entries"][0], "target": "road-5", "state": "on",
                                  "kind": "lighting", "program": "part-night"}


async def test_on_a_day_of_the_holidays_calendar_the_lights_stay_on_all_night(
        api_client: httpx.AsyncClient, role_headers: Headers) -> None:
    body = (await api_client.get("/plan", params={"from": API_HOLIDAY.date().isoformat()},
                                 headers=role_headers["viewer"])).json()
    road_5 = [e["state"] for e in body["entries"] if e["target"] == "road-5"]
    assert road_5 == ["on", "off"]  # no off at 23:00, no on at 04:30: on all night


async def test_the_plan_defaults_to_one_day_from_today(api_client: httpx.AsyncClient,
                                                       role_headers: Headers) -> None:
    body = (await api_client.get("/plan", headers=role_headers["viewer"])).json()
    assert (body["from"], body["days"]) == (API_NOON.date().isoformat(), 1)
    assert len(body["entries"]) == 8


async def test_the_plan_as_icalendar(api_client: httpx.AsyncClient,
                                     role_headers: Headers) -> None:
    response = await api_client.get("/plan", params={"from": "2026-11-26", "format": "ics"},
                                    headers=role_headers["viewer"])
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/calendar")
    assert response.text.startswith("BEGIN:VCALENDAR\r\n")
    # One event per lit span (on to off): 2 circuits x 2 windows, not 8 instants
    # (tests/controller/test_plan.py reads the feed with icalendar).
    assert response.text.count("BEGIN:VEVENT") == 4


@pytest.mark.parametrize(("params", "field"), [
    ({"days": 367}, "days"),
    ({"days": "many"}, "days"),
    ({"from": "24/11/2026"}, "from"),
    ({"format": "pdf"}, "format"),
])
async def test_bad_plan_parameters(api_client: httpx.AsyncClient, role_headers: Headers,
                                   params: dict[str, str | int], field: str) -> None:
    response = await api_client.get("/plan", params=params, headers=role_headers["viewer"])
    assert (response.status_code, response.json()["error"]["field"]) == (422, field)


# -- status and health ---------------------------------------------------------------------------

async def test_status_at_a_glance(api_client: httpx.AsyncClient, role_headers: Headers,
                                  api_runtime: Runtime) -> None:
    await api_runtime.lighting.reconcile(check=True)
    await api_client.post("/overrides", json=OVERRIDE, headers=role_headers["technician"])
    status = (await api_client.get("/status", headers=role_headers["viewer"])).json()
    # Tonight's sun at 19.87 N (the almanac tests check these times to the minute).
    assert status["site"].pop("sunset").startswith("2026-11-26T17:16")
    assert status["site"].pop("sunrise").startswith("2026-11-27T06:1")
    assert status["site"] == {"id": "api-test", "name": "Xã Thử Nghiệm",
                              "timezone": "Asia/Ho_Chi_Minh", "latitude": 19.87,
                              "longitude": 105.71, "local_time": "2026-11-26T12:00:00+07:00",
                              "microphone": False}
    assert [c["id"] for c in status["circuits"]] == ["road-5", "road-6"]
    assert [d["id"] for d in status["devices"]] == ["relay-1"]
    assert (status["zones"], status["nodes"], status["broadcast"]) == ([], [], None)
    assert status["alarms"] == []
    assert status["counts"] == {"circuits": 2, "circuits_on": 1, "devices": 1,
                                "devices_online": 1, "devices_offline": 0, "alarms_open": 0,
                                "overrides_active": 1}
    first = status["next_events"][0]
    assert (first["target"], first["state"]) == ("road-5", "on")
    times = [datetime.fromisoformat(e["time"]) for e in status["next_events"]]
    assert API_NOON < min(times) <= max(times) < API_NOON + timedelta(hours=24)
    assert times[0].utcoffset() == ICT.utcoffset(API_NOON)


async def test_an_offline_device_degrades_health_and_raises_an_alarm(
        api_client: httpx.AsyncClient, role_headers: Headers, api_runtime: Runtime,
        api_cabinet: SimulatedCabinet) -> None:
    await api_runtime.lighting.reconcile(check=True)
    assert (await api_client.get("/health")).json()["status"] == "ok"
    await api_cabinet.stop()
    await api_runtime.lighting.reconcile(check=True)
    health = (await api_client.get("/health")).json()
    status = (await api_client.get("/status", headers=role_headers["viewer"])).json()
    assert health["status"] == "degraded"
    assert [(a["kind"], a["target"]) for a in status["alarms"]] == [("device_offline",
                                                                      "relay-1")]
    assert status["counts"]["devices_offline"] == 1
    assert status["circuits"][0]["actual"] is None


# -- why a circuit is in its state, as terms -----------------------------------------------------

PART_NIGHT_EVENING = {
    "on": {"kind": "sun", "event": "sunset", "offset_min": 5},
    "off": {"kind": "earliest", "of": [{"kind": "clock", "time": "23:00"},
                                       {"kind": "sun", "event": "sunrise", "offset_min": -10}]},
    "level": 100, "days": None, "calendar": None}


async def test_desired_explains_the_window_next_in_force_and_the_override(
        api_client: httpx.AsyncClient, role_headers: Headers, api_runtime: Runtime) -> None:
    site = site_of(api_runtime.config)
    sunset = sun_event(site, API_NOON.date(), "sunset")
    by_day = (await api_client.get("/circuits/road-5", headers=role_headers["viewer"])).json()
    assert by_day["desired"]["explained"] == {
        "source": "default", "window": PART_NIGHT_EVENING, "window_index": 0,
        "window_in_force": False, "until": by_day["desired"]["until"], "override": None}
    assert datetime.fromisoformat(by_day["desired"]["until"]) == sunset + timedelta(minutes=5)

    assert isinstance(api_runtime.clock, FakeClock)
    await api_runtime.clock.set(API_NOON.replace(hour=20))
    evening = (await api_client.get("/circuits", headers=role_headers["viewer"])).json()[0]
    assert evening["desired"]["source"] == "schedule"
    assert evening["desired"]["explained"] == {
        "source": "schedule", "window": PART_NIGHT_EVENING, "window_index": 0,
        "window_in_force": True, "until": evening["desired"]["until"], "override": None}
    assert datetime.fromisoformat(evening["desired"]["until"]) == API_NOON.replace(hour=23)

    created = (await api_client.post("/overrides", json=OVERRIDE,
                                     headers=role_headers["technician"])).json()
    status = (await api_client.get("/status", headers=role_headers["viewer"])).json()
    explained = status["circuits"][0]["desired"]["explained"]
    assert explained == {**explained, "source": "override", "window": None,
                         "window_in_force": False}
    assert explained["override"] == {"id": created["id"], "until": created["until"],
                                     "reason": "replacing a lamp",
                                     "created_by": "technician-token"}
    assert explained["until"] == created["until"]


async def test_the_plan_gives_each_day_its_lunar_date(api_client: httpx.AsyncClient,
                                                      role_headers: Headers) -> None:
    # Tết Nguyên Đán 2027 (lunar 1/1) is Saturday 6 February 2027, as published; the full
    # moon before it, rằm of the twelfth month, is 22 January 2027, so that month began on
    # 8 January and has 29 days.
    plan = (await api_client.get("/plan", headers=role_headers["viewer"],
                                 params={"from": "2027-02-05", "days": 3})).json()
    assert plan["dates"] == [
        {"date": "2027-02-05", "lunar": {"year": 2026, "month": 12, "day": 29, "leap": False}},
        {"date": "2027-02-06", "lunar": {"year": 2027, "month": 1, "day": 1, "leap": False}},
        {"date": "2027-02-07", "lunar": {"year": 2027, "month": 1, "day": 2, "leap": False}}]
    full_moon = (await api_client.get("/plan", headers=role_headers["viewer"],
                                      params={"from": "2027-01-22"})).json()
    assert full_moon["dates"][0]["lunar"]["day"] == 15
