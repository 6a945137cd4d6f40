"""Tokens, the audit trail, events and alarms, devices, metrics, and the pages without a token."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from controller.http.app import create_app
from controller.platform.clock import FakeClock
from controller.runtime import Runtime
from drivers.simulator import SimulatedCabinet
from tests.controller.conftest import API_NOON

Headers = dict[str, dict[str, str]]


# -- tokens --------------------------------------------------------------------------------------

async def test_a_token_is_created_shown_once_used_and_revoked(
        api_client: httpx.AsyncClient, role_headers: Headers, api_runtime: Runtime) -> None:
    admin = role_headers["admin"]
    created = await api_client.post("/tokens", headers=admin, json={
        "name": "night-shift", "role": "viewer", "expires_days": 30})
    assert created.status_code == 201
    token = created.json()
    secret = token.pop("secret")
    assert secret.startswith("cmt_")
    assert token == {"name": "night-shift", "role": "viewer", "expired": False,
                     "last4": secret[-4:], "created_at": token["created_at"],
                     "expires_at": token["expires_at"]}
    assert datetime.fromisoformat(token["expires_at"]) == API_NOON + timedelta(days=30)
    own = {"Authorization": f"Bearer {secret}"}
    assert (await api_client.get("/circuits", headers=own)).status_code == 200
    listed = (await api_client.get("/tokens", headers=admin)).json()
    assert [t["name"] for t in listed] == ["admin-token", "night-shift", "operator-token",
                                           "technician-token", "viewer-token"]
    assert all("secret" not in t for t in listed)

    revoked = await api_client.delete("/tokens/night-shift", headers=admin)
    again = await api_client.delete("/tokens/night-shift", headers=admin)
    assert (revoked.status_code, again.status_code) == (204, 404)
    assert (await api_client.get("/circuits", headers=own)).status_code == 401
    audit = api_runtime.audit.query()
    assert sorted((r["action"], r["target"]) for r in audit) == [
        ("token.create", "night-shift"), ("token.revoke", "night-shift")]
    assert secret not in str(audit)


async def test_a_token_name_is_taken_or_bad(api_client: httpx.AsyncClient,
                                            role_headers: Headers) -> None:
    answers = [await api_client.post("/tokens", json=body, headers=role_headers["admin"])
               for body in ({"name": "viewer-token", "role": "viewer"},
                            {"name": "two words", "role": "viewer"},
                            {"name": "root", "role": "root"},
                            {"name": "short", "role": "viewer", "expires_days": 0})]
    assert [(a.status_code, a.json()["error"]["field"]) for a in answers] == [
        (409, "name"), (422, "name"), (422, "role"), (422, "expires_days")]


# -- audit ---------------------------------------------------------------------------------------

async def test_the_audit_is_newest_first_and_filtered(
        api_client: httpx.AsyncClient, role_headers: Headers, api_clock: FakeClock) -> None:
    for name in ("first", "second", "third"):
        await api_client.post("/tokens", json={"name": name, "role": "viewer"},
                              headers=role_headers["admin"])
        await api_clock.advance(60)
    await api_client.delete("/tokens/first", headers=role_headers["admin"])
    admin = role_headers["admin"]
    newest = (await api_client.get("/audit", params={"limit": 2}, headers=admin)).json()
    created = (await api_client.get("/audit", params={"action": "token.create"},
                                    headers=admin)).json()
    since = (API_NOON + timedelta(seconds=90)).isoformat()
    recent = (await api_client.get("/audit", params={"since": since}, headers=admin)).json()
    assert [(r["action"], r["target"]) for r in newest] == [("token.revoke", "first"),
                                                            ("token.create", "third")]
    assert [r["target"] for r in created] == ["third", "second", "first"]
    assert [r["target"] for r in recent] == ["first", "third"]
    assert newest[0]["actor"] == "admin-token"


# -- events --------------------------------------------------------------------------------------

async def raise_three(runtime: Runtime, clock: FakeClock) -> None:
    runtime.alarms.note("override", "road-5", "forced on", severity="info")
    await clock.advance(1)
    runtime.alarms.raise_alarm("cabinet-door", "relay-1", "door open", severity="warning")
    await clock.advance(1)
    runtime.alarms.raise_alarm("lamp_failure", "road-5", "no current")
    await clock.advance(1)


async def test_events_newest_first_by_severity_and_openness(
        api_client: httpx.AsyncClient, role_headers: Headers, api_runtime: Runtime,
        api_clock: FakeClock) -> None:
    await raise_three(api_runtime, api_clock)
    api_runtime.alarms.clear("cabinet-door", "relay-1")
    viewer = role_headers["viewer"]

    async def kinds(**params: str) -> list[str]:
        response = await api_client.get("/events", params=params, headers=viewer)
        return [e["kind"] for e in response.json()]

    assert await kinds() == ["lamp_failure", "cabinet-door", "override"]
    assert await kinds(severity="warning") == ["lamp_failure", "cabinet-door"]
    assert await kinds(severity="alarm") == ["lamp_failure"]
    assert await kinds(open="true") == ["lamp_failure"]
    assert await kinds(open="false") == ["cabinet-door", "override"]
    assert await kinds(limit="1") == ["lamp_failure"]
    assert await kinds(since=(API_NOON + timedelta(seconds=1)).isoformat()) == [
        "lamp_failure", "cabinet-door"]
    naive = await api_client.get("/events", params={"since": "2026-11-26T12:00:00"},
                                 headers=viewer)
    assert (naive.status_code, naive.json()["error"]["field"]) == (422, "since")


async def test_acknowledging_an_alarm(api_client: httpx.AsyncClient, role_headers: Headers,
                                      api_runtime: Runtime, api_clock: FakeClock) -> None:
    await raise_three(api_runtime, api_clock)
    alarm = api_runtime.alarms.open_alarms()[-1]
    technician = role_headers["technician"]
    acked = await api_client.post(f"/events/{alarm['id']}/ack", headers=technician)
    again = await api_client.post(f"/events/{alarm['id']}/ack", headers=technician)
    unknown = await api_client.post("/events/1700000000000-abcdef/ack", headers=technician)
    malformed = await api_client.post("/events/not-an-id/ack", headers=technician)
    assert acked.status_code == 200
    assert acked.json() == {**acked.json(), "id": alarm["id"], "kind": "lamp_failure",
                            "acked_by": "technician-token"}
    assert again.json() == acked.json()
    assert (unknown.status_code, malformed.status_code) == (404, 404)
    assert [r["action"] for r in api_runtime.audit.query()] == ["event.ack"]
    assert api_runtime.alarms.is_open("lamp_failure", "road-5")  # acknowledged, not cleared


# -- devices -------------------------------------------------------------------------------------

async def test_devices_and_probing_one(api_client: httpx.AsyncClient, role_headers: Headers,
                                       api_runtime: Runtime,
                                       api_cabinet: SimulatedCabinet) -> None:
    before = (await api_client.get("/devices", headers=role_headers["viewer"])).json()
    probed = await api_client.post("/devices/relay-1/probe", headers=role_headers["technician"])
    after = (await api_client.get("/devices/relay-1", headers=role_headers["viewer"])).json()
    assert [(d["id"], d["profile"], d["online"]) for d in before] == [
        ("relay-1", "relay8", None)]
    assert probed.status_code == 200
    assert probed.json() == {**probed.json(), "id": "relay-1", "reachable": True,
                             "error": None, "read": {"channels": [False] * 8}}
    assert after["online"] is True
    assert after["bus_requests"] >= 1
    missing = await api_client.get("/devices/relay-9", headers=role_headers["viewer"])
    probe_missing = await api_client.post("/devices/relay-9/probe",
                                          headers=role_headers["technician"])
    assert (missing.status_code, probe_missing.status_code) == (404, 404)

    await api_cabinet.stop()
    dead = (await api_client.post("/devices/relay-1/probe",
                                  headers=role_headers["technician"])).json()
    assert (dead["reachable"], dead["read"]) == (False, None)
    assert dead["error"]


# -- metrics -------------------------------------------------------------------------------------

def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


async def test_metrics_in_prometheus_text(api_client: httpx.AsyncClient, role_headers: Headers,
                                          api_runtime: Runtime) -> None:
    await api_runtime.lighting.reconcile(check=True)
    api_runtime.alarms.raise_alarm("lamp_failure", "road-5", "no current")
    response = await api_client.get("/metrics", headers=role_headers["viewer"])
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    found = samples(response.text)
    assert found[("communectl_device_up", (("device", "relay-1"),))] == 1.0
    assert found[("communectl_modbus_requests_total", (("bus", "cabinet-1"),))] >= 1
    assert found[("communectl_circuit_desired_level", (("circuit", "road-5"),))] == 0
    assert found[("communectl_circuit_actual_level", (("circuit", "road-6"),))] == 0
    assert found[("communectl_alarms_open", (("severity", "alarm"),))] == 1
    assert ("communectl_lighting_transition_lateness_seconds_count", ()) in found


async def test_two_apps_in_one_process_each_have_their_metrics(
        api_app: FastAPI, api_runtime: Runtime, role_headers: Headers) -> None:
    second = create_app(api_runtime)  # prometheus_client's global registry would refuse this
    for app in (api_app, second):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport,
                                     base_url="http://testserver") as client:
            response = await client.get("/metrics", headers=role_headers["viewer"])
            assert "communectl_device_up" in response.text


# -- pages without a token -----------------------------------------------------------------------

async def test_the_root_page_is_the_dashboard_with_a_strict_policy(api_app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=api_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        page = await client.get("/")
        script = await client.get("/static/app.js")
        escape = await client.get("/static/..%2Fpages.py")
        docs = await client.get("/docs")
        schema = await client.get("/openapi.json")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert '<script type="module" src="/static/app.js">' in page.text
    assert (script.status_code, script.headers["content-type"]) == \
        (200, "text/javascript; charset=utf-8")
    assert escape.status_code == 404
    assert docs.status_code == 200
    assert schema.json()["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
