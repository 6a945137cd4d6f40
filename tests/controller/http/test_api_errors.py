"""The API's refusals: tokens and roles, and bad input of every kind answered in one JSON shape,
never with a 500 and never with a change."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from controller.http.app import API_PREFIX
from controller.http.limits import MAX_JSON_BODY_BYTES
from controller.http.models import Role
from controller.platform.clock import FakeClock
from controller.platform.store import Store
from controller.platform.tokens import ROLES
from controller.runtime import Runtime
from drivers.simulator import SimulatedCabinet
from tests.controller.conftest import RELAY_UNIT

GOOD_OVERRIDE = {"target": "circuit:road-5", "state": "on", "duration_min": 30,
                 "reason": "replacing a lamp"}
# Stored ids, so that a body reaches the handler's checks instead of stopping at a 404.
EXISTING_IDS = {"program_id": "part-night", "calendar_id": "holidays",
                "firmware_id": "fw-none", "audio_id": "no-audio", "name": "nobody",
                "zone_id": "minh-duc"}
ERROR_STATUSES = {400, 401, 403, 404, 405, 409, 413, 415, 422}


def operations(app: FastAPI) -> list[tuple[str, str, dict[str, Any]]]:
    """(METHOD, path template under /api/v1, operation) of every documented endpoint."""
    return [(method.upper(), path.removeprefix(API_PREFIX), operation)
            for path, item in app.openapi()["paths"].items() if path.startswith(API_PREFIX)
            for method, operation in item.items()]


def filled(template: str, ids: dict[str, str]) -> str:
    return template.format_map(ids)


class AnyId(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "x"


def error_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    assert {"code", "message"} <= set(body["error"]) <= {"code", "message", "field"}
    error: dict[str, Any] = body["error"]
    return error


# -- tokens and roles ----------------------------------------------------------------------------

async def test_health_needs_no_token(api_client: httpx.AsyncClient) -> None:
    response = await api_client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "clock_synced": True,
                               "version": response.json()["version"]}


async def test_every_other_endpoint_needs_a_token(api_client: httpx.AsyncClient,
                                                  api_app: FastAPI) -> None:
    answers = {}
    for method, template, _ in operations(api_app):
        response = await api_client.request(method, filled(template, AnyId()))
        answers[f"{method} {template}"] = (response.status_code,
                                           response.headers.get("www-authenticate"))
    assert answers.pop("GET /health") == (200, None)
    # Signing in needs no token either; without a body it is refused as any invalid body.
    assert answers.pop("POST /session") == (422, None)
    assert len(answers) >= 25
    assert set(answers.values()) == {(401, "Bearer")}


async def test_root_metrics_needs_a_token_too(api_app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=api_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.get("/metrics")
    assert response.status_code == 401


@pytest.mark.parametrize("authorization", [
    "Bearer cmt_not-a-real-token",
    "Bearer ",
    "Basic dXNlcjpwYXNz",
    "cmt_no-scheme",
])
async def test_a_bad_token_is_401(api_client: httpx.AsyncClient, authorization: str) -> None:
    response = await api_client.get("/circuits", headers={"Authorization": authorization})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert error_of(response)["code"] == "unauthorized"


async def test_an_expired_token_is_401(api_client: httpx.AsyncClient, api_runtime: Runtime,
                                       api_clock: FakeClock) -> None:
    secret, _ = api_runtime.tokens.create(name="short", role="admin", expires_days=1,
                                          now=api_clock.now())
    headers = {"Authorization": f"Bearer {secret}"}
    assert (await api_client.get("/circuits", headers=headers)).status_code == 200
    await api_clock.set(api_clock.now() + timedelta(days=1, seconds=1))
    response = await api_client.get("/circuits", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'


@pytest.mark.parametrize(("role", "method", "path", "body"), [
    ("viewer", "POST", "/overrides", GOOD_OVERRIDE),
    ("operator", "POST", "/overrides", GOOD_OVERRIDE),
    ("operator", "DELETE", "/lighting-programs/part-night", None),
    ("operator", "PUT", "/calendars/holidays", {"dates": []}),
    ("viewer", "POST", "/devices/relay-1/probe", None),
    ("viewer", "POST", "/events/0000000000000-000000/ack", None),
    ("technician", "GET", "/audit", None),
    ("technician", "GET", "/tokens", None),
    ("technician", "POST", "/tokens", {"name": "x", "role": "admin"}),
])
async def test_a_role_too_low_is_403_and_changes_nothing(
        api_client: httpx.AsyncClient, role_headers: dict[str, dict[str, str]],
        api_runtime: Runtime, role: Role, method: str, path: str,
        body: dict[str, Any] | None) -> None:
    before = stored_state(api_runtime)
    response = await api_client.request(method, path, json=body, headers=role_headers[role])
    assert response.status_code == 403
    assert error_of(response)["code"] == "forbidden"
    assert stored_state(api_runtime) == before


@pytest.mark.parametrize("role", ROLES)
async def test_each_role_can_read(api_client: httpx.AsyncClient,
                                  role_headers: dict[str, dict[str, str]], role: str) -> None:
    response = await api_client.get("/status", headers=role_headers[role])
    assert response.status_code == 200


# -- error shape ---------------------------------------------------------------------------------

async def test_unknown_paths_and_methods_answer_the_json_shape(
        api_client: httpx.AsyncClient, role_headers: dict[str, dict[str, str]]) -> None:
    missing = await api_client.get("/no-such-thing", headers=role_headers["admin"])
    wrong_method = await api_client.patch("/circuits", headers=role_headers["admin"])
    assert (missing.status_code, error_of(missing)["code"]) == (404, "not_found")
    assert (wrong_method.status_code, error_of(wrong_method)["code"]) == \
        (405, "method_not_allowed")
    assert "GET" in wrong_method.headers["allow"]


@pytest.mark.parametrize(("body", "field"), [
    ({**GOOD_OVERRIDE, "duration_min": 0}, "duration_min"),
    ({**GOOD_OVERRIDE, "duration_min": 10081}, "duration_min"),
    ({**GOOD_OVERRIDE, "duration_min": "30"}, "duration_min"),
    ({**GOOD_OVERRIDE, "level": 0}, "level"),
    ({**GOOD_OVERRIDE, "level": True}, "level"),
    ({**GOOD_OVERRIDE, "state": "dim"}, "state"),
    ({**GOOD_OVERRIDE, "reason": "x" * 201}, "reason"),
    ({**GOOD_OVERRIDE, "target": "street:road-5"}, "target"),
    ({**GOOD_OVERRIDE, "lamp-colour": "red"}, "lamp-colour"),
    ({k: v for k, v in GOOD_OVERRIDE.items() if k != "reason"}, "reason"),
    ({**GOOD_OVERRIDE, "duration_min": None, "until": "2026-11-26T13:00:00"}, "until"),
    ({**GOOD_OVERRIDE, "duration_min": None, "until": "0001-01-01T00:00:00+14:00"}, "until"),
])
async def test_validation_names_the_field(
        api_client: httpx.AsyncClient, role_headers: dict[str, dict[str, str]],
        body: dict[str, Any], field: str) -> None:
    response = await api_client.post("/overrides", json=body,
                                      headers=role_headers["technician"])
    assert response.status_code == 422
    assert error_of(response)["field"] == field


async def test_a_query_parameter_is_named_too(
        api_client: httpx.AsyncClient, role_headers: dict[str, dict[str, str]]) -> None:
    response = await api_client.get("/plan", params={"days": 0},
                                    headers=role_headers["viewer"])
    assert (response.status_code, error_of(response)["field"]) == (422, "days")


@pytest.mark.parametrize(("path", "params", "field"), [
    ("/plan", {"from": "0001-01-01"}, "from"),
    ("/plan", {"from": "9999-12-31", "days": 366}, "from"),
    ("/events", {"since": "0001-01-01T00:00:00+14:00"}, "since"),
    ("/audit", {"since": "9999-12-31T23:59:59-14:00"}, "since"),
])
async def test_dates_at_the_edge_of_the_calendar_are_refused(
        api_client: httpx.AsyncClient, role_headers: dict[str, dict[str, str]], path: str,
        params: dict[str, Any], field: str) -> None:
    response = await api_client.get(path, params=params, headers=role_headers["admin"])
    assert (response.status_code, error_of(response)["field"]) == (422, field)


@pytest.mark.parametrize(("content", "content_type", "status", "code"), [
    (b'{"target": "all"', "application/json", 400, "malformed_json"),
    (b'{"reason": "\\ud800"}', "application/json", 400, "malformed_json"),
    (b'{"target": "all"}', "text/plain", 415, "unsupported_media_type"),
    (b'{"target": "all"}', None, 415, "unsupported_media_type"),
    (b'{"reason": "' + b"x" * MAX_JSON_BODY_BYTES + b'"}', "application/json", 413,
     "too_large"),
])
async def test_bodies_that_are_not_json_objects_we_can_read(
        api_client: httpx.AsyncClient, role_headers: dict[str, dict[str, str]],
        content: bytes, content_type: str | None, status: int, code: str) -> None:
    headers = {**role_headers["technician"],
               **({"Content-Type": content_type} if content_type else {})}
    response = await api_client.post("/overrides", content=content, headers=headers)
    assert (response.status_code, error_of(response)["code"]) == (status, code)


# -- garbage at every writing endpoint -----------------------------------------------------------

GARBAGE: list[bytes] = [
    b"",
    b"{",
    b"null",
    b"[]",
    b'"text"',
    b"42",
    b'{"unexpected": 1}',
    b'{"id": 7, "name": [], "windows": {}, "dates": "09-02"}',
    b'{"id": "../../etc", "windows": [{"on": "noon", "off": "never"}]}',
    b'{"target": "all", "state": "dim", "duration_min": -1, "reason": ""}',
    b'{"target": "all", "state": "on", "duration_min": NaN, "reason": "x"}',
    b'{"id": "a", "name": "\\ud800", "windows": [], "reason": "\\udfff"}',
    b"[" * 5000 + b"]" * 5000,
    b"\xff\xfe\x00\x01",
    b'{"name": "' + b"x" * (MAX_JSON_BODY_BYTES + 1) + b'"}',
]


def stored_state(runtime: Runtime) -> tuple[bytes, int, int]:
    """Everything a request could change: the store file, the audit and event histories."""
    return ((runtime.store.path / Store.FILENAME).read_bytes(), len(runtime.audit.query()),
            len(runtime.events.query()))


async def test_garbage_at_every_post_and_put_is_refused_and_changes_nothing(
        api_client: httpx.AsyncClient, api_app: FastAPI, api_runtime: Runtime,
        api_cabinet: SimulatedCabinet, role_headers: dict[str, dict[str, str]]) -> None:
    writers = [(m, t) for m, t, operation in operations(api_app) if "requestBody" in operation]
    before = (stored_state(api_runtime), api_cabinet.coils(RELAY_UNIT))
    answers: dict[str, int] = {}
    for method, template in writers:
        for index, content in enumerate(GARBAGE):
            response = await api_client.request(
                method, filled(template, EXISTING_IDS), content=content,
                headers={**role_headers["admin"], "Content-Type": "application/json"})
            error_of(response)
            answers[f"{method} {template} #{index}"] = response.status_code
    await api_runtime.lighting.reconcile()
    assert sorted(writers) == [
        ("PATCH", "/audio/{audio_id}"), ("PATCH", "/users/{name}"),
        ("POST", "/announcements"), ("POST", "/audio"), ("POST", "/broadcast-programs"),
        ("POST", "/calendars"), ("POST", "/firmware"), ("POST", "/firmware/{firmware_id}/rollout"),
        ("POST", "/lighting-programs"), ("POST", "/lighting-programs/preview"),
        ("POST", "/live"), ("POST", "/live/audio"),
        ("POST", "/notify/test"), ("POST", "/overrides"), ("POST", "/session"),
        ("POST", "/session/password"),
        ("POST", "/speech/preview"), ("POST", "/tokens"), ("POST", "/users"),
        ("POST", "/zones/{zone_id}/test-tone"), ("PUT", "/broadcast-programs/{program_id}"),
        ("PUT", "/calendars/{calendar_id}"), ("PUT", "/lighting-programs/{program_id}"),
        ("PUT", "/notify/recipients")]
    assert {k: v for k, v in answers.items() if v not in ERROR_STATUSES} == {}
    assert (stored_state(api_runtime), api_cabinet.coils(RELAY_UNIT)) == before
