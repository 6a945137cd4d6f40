"""The notifications' API against the real app: who may read and change the recipients, a PUT
checked field by field (nothing changes when one is wrong), secrets never shown, the stored
list replacing the config's (across a restart too), and POST /notify/test through the real
webhook channel to a real HTTP receiver on loopback: sent, and refused when the receiver is
down, reported as such (never a 500)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from controller.config import parse_config
from controller.http.app import create_app
from controller.platform.clock import FakeClock
from controller.runtime import Runtime, build_runtime
from drivers.simulator import SimulatedCabinet
from tests.controller.conftest import API_CONFIG
from tests.controller.notify.webhook_receiver import WebhookReceiver, webhook_receiver

__all__ = ["webhook_receiver"]

Headers = dict[str, dict[str, str]]
SECRET = "khoá-bí-mật-ops-2026"

NOTIFY = """
[notify.sms]
port = "{tty}"
timeout_s = 0.5

[[notify.recipients]]
id = "tuan"
name = "Anh Tuấn (kỹ thuật)"
channel = "sms"
address = "+84912345678"
severities = ["alarm", "warning"]
quiet_hours = "22:00-06:00"

[[notify.recipients]]
id = "ops"
channel = "webhook"
address = "{hook}"
secret = "{secret}"
kinds = ["device_offline", "lamp_failure"]
"""


def config_text(tmp_path: Path, cabinet: SimulatedCabinet, hook: str) -> str:
    return API_CONFIG.format(data=tmp_path / "data", port=cabinet.tcp_port) + NOTIFY.format(
        tty=tmp_path / "no-modem", hook=hook, secret=SECRET)


@pytest.fixture
async def api_runtime(tmp_path: Path, api_cabinet: SimulatedCabinet, api_clock: FakeClock,
                      webhook_receiver: WebhookReceiver) -> AsyncIterator[Runtime]:
    """The API tests' runtime with two recipients: an SMS one (no modem at its port) and a
    webhook to the receiver, signed."""
    config = parse_config(config_text(tmp_path, api_cabinet, webhook_receiver.url))
    runtime = build_runtime(config, api_clock)
    yield runtime
    await runtime.notify.close()
    await runtime.devices.close()


def hook(recipient_id: str, url: str, **more: Any) -> dict[str, Any]:
    return {"id": recipient_id, "channel": "webhook", "address": url, **more}


async def test_technicians_read_admins_change_and_test_others_are_refused(
        api_client: httpx.AsyncClient, role_headers: Headers,
        webhook_receiver: WebhookReceiver) -> None:
    for role in ("technician", "admin"):
        read = await api_client.get("/notify/recipients", headers=role_headers[role])
        assert read.status_code == 200, read.text
        assert [r["id"] for r in read.json()["recipients"]] == ["tuan", "ops"]
        assert (await api_client.get("/notify/log", headers=role_headers[role])).status_code \
            == 200
    for role in ("viewer", "operator"):
        for path in ("/notify/recipients", "/notify/log"):
            assert (await api_client.get(path, headers=role_headers[role])).status_code == 403
    body = {"recipients": [hook("moi", webhook_receiver.url)]}
    for role in ("viewer", "operator", "technician"):
        put = await api_client.put("/notify/recipients", json=body, headers=role_headers[role])
        test = await api_client.post("/notify/test", json={"recipient": "ops"},
                                     headers=role_headers[role])
        assert (put.status_code, test.status_code) == (403, 403), role
    assert webhook_receiver.received() == []  # nobody refused sent anything
    unchanged = await api_client.get("/notify/recipients", headers=role_headers["admin"])
    assert unchanged.json()["source"] == "config"
    put = await api_client.put("/notify/recipients", json=body, headers=role_headers["admin"])
    assert put.status_code == 200, put.text
    assert (put.json()["source"], [r["id"] for r in put.json()["recipients"]]) == (
        "storage", ["moi"])
    audit = (await api_client.get("/audit", headers=role_headers["admin"])).json()
    assert (audit[0]["actor"], audit[0]["action"]) == ("admin-token", "notify.recipients")


GOOD = [{"id": "tuan", "channel": "sms", "address": "+84912345678"}]

BAD = [
    ("a channel we do not have", [{"id": "a", "channel": "pager", "address": "+84912345678"}],
     "recipients.0.channel"),
    ("e-mail without [notify.email]", [{"id": "a", "channel": "email", "address": "a@b.vn"}],
     "recipients.0.channel"),
    ("not a phone number", [*GOOD, {"id": "b", "channel": "sms", "address": "Anh Tuấn"}],
     "recipients.1.address"),
    ("not a URL", [hook("h", "ftp://x/y")], "recipients.0.address"),
    ("quiet hours past midnight", [{**GOOD[0], "quiet_hours": "25:00-06:00"}],
     "recipients.0.quiet_hours"),
    ("quiet hours not a range", [{**GOOD[0], "quiet_hours": "đêm"}],
     "recipients.0.quiet_hours"),
    ("a severity we do not have", [{**GOOD[0], "severities": ["loud"]}],
     "recipients.0.severities.0"),
    ("no severity", [{**GOOD[0], "severities": []}], "recipients.0.severities"),
    ("the same id twice", [*GOOD, {**GOOD[0], "address": "0912345678"}], "recipients.1.id"),
    ("an id with spaces", [{**GOOD[0], "id": "anh tuan"}], "recipients.0.id"),
    ("a secret on an SMS", [{**GOOD[0], "secret": "x"}], "recipients.0.secret"),
    ("a field that does not exist", [{**GOOD[0], "phone": "x"}], "recipients.0.phone"),
    ("no address", [{"id": "a", "channel": "sms"}], "recipients.0.address"),
]


@pytest.mark.parametrize(("recipients", "field"), [(r, f) for _, r, f in BAD],
                         ids=[name for name, _, _ in BAD])
async def test_a_bad_recipient_is_422_with_its_field_and_changes_nothing(
        api_client: httpx.AsyncClient, role_headers: Headers, recipients: list[Any],
        field: str) -> None:
    admin = role_headers["admin"]
    before = (await api_client.get("/notify/recipients", headers=admin)).json()
    refused = await api_client.put("/notify/recipients", json={"recipients": recipients},
                                   headers=admin)
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert (error["code"], error["field"]) == ("invalid", field), error
    assert error["message"]
    assert (await api_client.get("/notify/recipients", headers=admin)).json() == before


async def test_a_body_that_is_not_a_list_of_recipients_is_422(
        api_client: httpx.AsyncClient, role_headers: Headers) -> None:
    admin = role_headers["admin"]
    for body, field in (({"recipients": ["tuan"]}, "recipients.0"), ({}, "recipients"),
                        ({"recipients": GOOD, "more": 1}, "more")):
        refused = await api_client.put("/notify/recipients", json=body, headers=admin)
        assert (refused.status_code, refused.json()["error"]["field"]) == (422, field), body
    text = await api_client.put("/notify/recipients", content=b"recipients=1", headers={
        **admin, "Content-Type": "application/json"})
    assert text.status_code == 400  # not JSON at all
    assert (await api_client.get("/notify/recipients", headers=admin)).json()["source"] \
        == "config"


async def test_a_secret_is_never_shown_kept_when_not_sent_and_removed_when_empty(
        api_client: httpx.AsyncClient, role_headers: Headers,
        webhook_receiver: WebhookReceiver) -> None:
    admin = role_headers["admin"]
    read = await api_client.get("/notify/recipients", headers=role_headers["technician"])
    ops = next(r for r in read.json()["recipients"] if r["id"] == "ops")
    assert ops["has_secret"] is True and "secret" not in ops
    assert SECRET not in read.text
    # The page sends back what it read (no secret): the webhook keeps its key.
    kept = await api_client.put("/notify/recipients", json={"recipients": [
        {k: v for k, v in r.items() if k != "has_secret" and v is not None}
        for r in read.json()["recipients"]]}, headers=admin)
    assert kept.status_code == 200, kept.text
    assert SECRET not in kept.text
    assert [r["has_secret"] for r in kept.json()["recipients"]] == [False, True]
    tested = await api_client.post("/notify/test", json={"recipient": "ops"}, headers=admin)
    assert tested.json()["results"][0]["ok"] is True
    assert webhook_receiver.received()[0].signed_with(SECRET)
    for path in ("/notify/log", "/audit", "/events"):
        assert SECRET not in (await api_client.get(path, headers=admin)).text, path
    # A new one replaces it, "" removes it.
    await api_client.put("/notify/recipients", json={"recipients": [
        hook("ops", webhook_receiver.url, secret="khoá-mới")]}, headers=admin)
    await api_client.post("/notify/test", json={"recipient": "ops"}, headers=admin)
    assert webhook_receiver.received()[1].signed_with("khoá-mới")
    removed = await api_client.put("/notify/recipients", json={"recipients": [
        hook("ops", webhook_receiver.url, secret="")]}, headers=admin)
    assert removed.json()["recipients"][0]["has_secret"] is False
    await api_client.post("/notify/test", json={"recipient": "ops"}, headers=admin)
    assert "x-communectl-signature" not in webhook_receiver.received()[2].headers


async def test_the_stored_list_replaces_the_configs_and_outlives_a_restart(
        api_client: httpx.AsyncClient, role_headers: Headers, tmp_path: Path,
        api_cabinet: SimulatedCabinet, api_clock: FakeClock,
        webhook_receiver: WebhookReceiver) -> None:
    admin = role_headers["admin"]
    saved = await api_client.put("/notify/recipients", json={"recipients": [
        hook("moi", webhook_receiver.url, name="Tổ trực", severities=["alarm", "warning"],
             kinds=["lamp_failure"], quiet_hours="21:30-05:45", digest=False)]},
        headers=admin)
    assert saved.status_code == 200, saved.text
    assert saved.json()["recipients"] == [{
        "id": "moi", "name": "Tổ trực", "channel": "webhook", "address": webhook_receiver.url,
        "has_secret": False, "severities": ["alarm", "warning"], "kinds": ["lamp_failure"],
        "quiet_hours": "21:30-05:45", "digest": False}]
    # A test of "everyone" is the stored list only: the config's tuan and ops are not asked.
    everyone = await api_client.post("/notify/test", json={}, headers=admin)
    assert [r["recipient"] for r in everyone.json()["results"]] == ["moi"]
    assert len(webhook_receiver.received()) == 1
    gone = await api_client.post("/notify/test", json={"recipient": "ops"}, headers=admin)
    assert (gone.status_code, gone.json()["error"]["field"]) == (404, "recipient")
    # A restarted controller (same config, same data folder) uses the stored list.
    config = parse_config(config_text(tmp_path, api_cabinet, webhook_receiver.url))
    restarted = build_runtime(config, api_clock)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(restarted)),
                                     base_url="http://testserver/api/v1") as client:
            token, _ = restarted.tokens.create(name="admin-2", role="admin", expires_days=None,
                                               now=api_clock.now())
            again = await client.get("/notify/recipients",
                                     headers={"Authorization": f"Bearer {token}"})
    finally:
        await restarted.devices.close()
    assert again.json() == saved.json()


async def test_a_test_goes_through_the_real_webhook_and_is_logged(
        api_client: httpx.AsyncClient, role_headers: Headers,
        webhook_receiver: WebhookReceiver) -> None:
    admin = role_headers["admin"]
    answer = await api_client.post("/notify/test", json={"recipient": "ops"}, headers=admin)
    assert answer.status_code == 200, answer.text
    [result] = answer.json()["results"]
    assert (result["recipient"], result["channel"], result["ok"], result["error"]) == (
        "ops", "webhook", True, None)
    [post] = webhook_receiver.received()
    assert post.path == "/hook"
    assert post.json["message_id"] == result["message_id"]
    assert post.headers["idempotency-key"] == result["message_id"]
    assert (post.json["type"], post.json["site"]) == ("test", "api-test")
    assert post.json["text"].startswith("[Xã Thử Nghiệm] THỬ: tin nhắn thử")
    assert post.signed_with(SECRET)
    logged = (await api_client.get("/notify/log", headers=role_headers["technician"])).json()
    assert [(r["outcome"], r["recipient"], r["message_id"], r["test"]) for r in logged] == [
        ("sent", "ops", result["message_id"], True)]


async def test_a_receiver_that_is_down_is_a_failure_in_the_answer_not_a_500(
        api_client: httpx.AsyncClient, role_headers: Headers,
        webhook_receiver: WebhookReceiver) -> None:
    admin = role_headers["admin"]
    webhook_receiver.down()
    answer = await api_client.post("/notify/test", json={"recipient": "ops"}, headers=admin)
    assert answer.status_code == 200, answer.text
    [result] = answer.json()["results"]
    assert (result["ok"], result["retryable"]) == (False, True)
    assert result["error"]
    # Everyone at once: the SMS one has no modem at its port, also a failure said in words.
    both = await api_client.post("/notify/test", json={}, headers=admin)
    assert both.status_code == 200, both.text
    results = {r["recipient"]: r for r in both.json()["results"]}
    assert set(results) == {"tuan", "ops"}
    assert not results["tuan"]["ok"] and results["tuan"]["retryable"]
    assert "no-modem" in results["tuan"]["error"]
    logged = (await api_client.get("/notify/log?limit=2", headers=admin)).json()
    assert [r["outcome"] for r in logged] == ["failed", "failed"]
    assert all(r["error"] for r in logged)
    unknown = await api_client.post("/notify/test", json={"recipient": "nobody"}, headers=admin)
    assert (unknown.status_code, unknown.json()["error"]["field"]) == (404, "recipient")
    assert "tuan" in unknown.json()["error"]["message"]
    for body in ({"recipient": 5}, {"who": "ops"}):
        bad = await api_client.post("/notify/test", json=body, headers=admin)
        assert bad.status_code == 422, body
    assert json.dumps(webhook_receiver.received()) == "[]"
