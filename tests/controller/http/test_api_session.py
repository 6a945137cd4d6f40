"""People sign in with a password: the session cookie, CSRF on every change, slowing down and
locking, sign out (here and everywhere), one's own password, and an admin's accounts; against
the real app (and the real argon2 hashes) through httpx's ASGI transport, which keeps cookies
as a browser does."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from controller.platform.clock import FakeClock
from controller.platform.sessions import COOKIE
from controller.runtime import Runtime

PASSWORD = "đèn-đường-19h30"


def browser(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                             base_url="http://testserver/api/v1")


@pytest.fixture
async def lan(api_runtime: Runtime, api_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A technician's account, and a browser of her own (no session yet)."""
    api_runtime.users.create(name="lan", role="technician", password=PASSWORD,
                             now=api_runtime.clock.now())
    async with browser(api_app) as client:
        yield client


async def sign_in(client: httpx.AsyncClient, name: str = "lan",
                  password: str = PASSWORD) -> httpx.Response:
    return await client.post("/session", json={"name": name, "password": password})


def csrf_of(response: httpx.Response) -> dict[str, str]:
    return {"X-CSRF-Token": response.json()["csrf"]}


async def test_a_right_password_opens_a_session_in_an_httponly_strict_cookie(
        lan: httpx.AsyncClient) -> None:
    assert (await lan.get("/circuits")).status_code == 401
    signed = await sign_in(lan)
    assert signed.status_code == 200
    body = signed.json()
    assert (body["name"], body["role"], body["kind"]) == ("lan", "technician", "user")
    assert len(body["csrf"]) >= 24
    cookie = signed.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=cms_")
    attributes = {part.strip().lower() for part in cookie.split(";")}
    assert {"httponly", "samesite=strict", "path=/"} <= attributes
    assert "secure" not in attributes  # plain HTTP on the LAN: a Secure cookie would be lost
    assert (await lan.get("/circuits")).status_code == 200
    again = await lan.get("/session")
    assert again.json() == body


async def test_every_change_needs_the_sessions_csrf_header_and_the_audit_names_the_person(
        lan: httpx.AsyncClient, api_client: httpx.AsyncClient, api_clock: FakeClock,
        role_headers: dict[str, dict[str, str]]) -> None:
    csrf = csrf_of(await sign_in(lan))
    await api_clock.advance(1)  # the audit lists newest first: one second apart
    order = {"target": "circuit:road-5", "state": "on", "duration_min": 30, "reason": "test"}
    refused = [await lan.post("/overrides", json=order),
               await lan.post("/overrides", json=order, headers={"X-CSRF-Token": "forged"})]
    assert [(r.status_code, r.json()["error"]["code"]) for r in refused] == [
        (403, "csrf_failed"), (403, "csrf_failed")]
    assert (await lan.get("/overrides")).json() == []  # the refusals changed nothing
    made = await lan.post("/overrides", json=order, headers=csrf)
    assert made.status_code == 201
    assert made.json()["created_by"] == "lan"
    audit = (await api_client.get("/audit", headers=role_headers["admin"])).json()
    assert [(r["actor"], r["role"], r["action"]) for r in audit[:2]] == [
        ("lan", "technician", "override.create"), ("lan", "technician", "session.open")]


async def test_a_token_still_works_and_is_judged_by_itself_whatever_the_cookie(
        lan: httpx.AsyncClient, role_headers: dict[str, dict[str, str]]) -> None:
    await sign_in(lan)  # a technician's cookie, sent along with a viewer's token
    order = {"target": "circuit:road-5", "state": "on", "duration_min": 30, "reason": "x"}
    refused = await lan.post("/overrides", json=order, headers=role_headers["viewer"])
    assert refused.status_code == 403
    me = await lan.get("/session", headers=role_headers["viewer"])
    assert (me.json()["kind"], me.json()["name"], me.json()["csrf"]) == (
        "token", "viewer-token", "")


async def test_wrong_passwords_slow_down_then_lock_the_account_for_everyone(
        lan: httpx.AsyncClient, api_clock: FakeClock) -> None:
    unknown = await sign_in(lan, name="nobody")
    wrong = await sign_in(lan, password="not-the-password")
    # The same answer for a name that does not exist: it tells a guesser nothing.
    assert (unknown.status_code, unknown.json()) == (wrong.status_code, wrong.json())
    assert wrong.json()["error"]["code"] == "wrong_password"
    assert (await sign_in(lan, password="not-the-password")).status_code == 401
    assert (await sign_in(lan, password="not-the-password")).status_code == 401  # third
    waiting = await sign_in(lan)  # even the right password must wait now
    assert (waiting.status_code, waiting.json()["error"]["code"]) == (429, "slow_down")
    assert waiting.headers["retry-after"] == "1"
    assert "retry_at" in waiting.json()["error"]
    await api_clock.advance(1)
    assert (await sign_in(lan, password="not-the-password")).status_code == 401  # fourth
    await api_clock.advance(2)
    locked = await sign_in(lan, password="not-the-password")  # fifth
    assert (locked.status_code, locked.json()["error"]["code"]) == (423, "account_locked")
    await api_clock.advance(60)
    still = await sign_in(lan)
    assert (still.status_code, still.json()["error"]["code"]) == (423, "account_locked")
    assert int(still.headers["retry-after"]) == 14 * 60
    await api_clock.advance(15 * 60)
    assert (await sign_in(lan)).status_code == 200


async def test_many_wrong_passwords_from_one_address_make_it_wait_not_the_others(
        lan: httpx.AsyncClient, api_app: FastAPI, api_clock: FakeClock) -> None:
    """A guessing run over many user names, a few tries each: no account is locked by it,
    the address is; the same person from another address signs in."""
    from controller.platform.accounts import ADDRESS_FAILURES, ADDRESS_WINDOW

    def from_address(host: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=api_app, client=(host, 4321)),
                                 base_url="http://testserver/api/v1")

    async with from_address("10.0.0.66") as guesser, from_address("10.0.0.7") as office:
        for n in range(ADDRESS_FAILURES):
            answer = await sign_in(guesser, name=f"user{n % 7}", password=f"guess-{n}")
            assert answer.status_code == 401, (n, answer.text)
        waiting = await sign_in(guesser)  # lan's right password, from there
        assert (waiting.status_code, waiting.json()["error"]["code"]) == (429, "slow_down")
        assert int(waiting.headers["retry-after"]) == ADDRESS_WINDOW.total_seconds()
        assert (await sign_in(office)).status_code == 200  # lan herself, from the office
        await api_clock.advance(ADDRESS_WINDOW.total_seconds() / 2)
        assert (await sign_in(guesser)).status_code == 429
        await api_clock.advance(ADDRESS_WINDOW.total_seconds() / 2)
        assert (await sign_in(guesser)).status_code == 200  # the oldest failures are gone
    # The one on the loopback (as the other tests) was never counted.
    assert (await sign_in(lan)).status_code == 200


async def test_sign_out_here_and_everywhere(lan: httpx.AsyncClient, api_app: FastAPI) -> None:
    csrf = csrf_of(await sign_in(lan))
    async with browser(api_app) as phone, browser(api_app) as office:
        phone_csrf = csrf_of(await sign_in(phone))
        await sign_in(office)
        out = await lan.delete("/session", headers=csrf)
        assert out.status_code == 204
        assert (await lan.get("/circuits")).status_code == 401
        assert (await phone.get("/circuits")).status_code == 200  # only that browser
        everywhere = await phone.post("/session/sign-out-everywhere", headers=phone_csrf)
        assert everywhere.status_code == 204
        assert (await phone.get("/circuits")).status_code == 401
        assert (await office.get("/circuits")).status_code == 401


async def test_a_stolen_cookie_is_worthless_after_sign_out(lan: httpx.AsyncClient,
                                                           api_app: FastAPI) -> None:
    csrf = csrf_of(await sign_in(lan))
    secret = lan.cookies[COOKIE]
    await lan.delete("/session", headers=csrf)
    async with browser(api_app) as thief:
        thief.cookies.set(COOKIE, secret)
        assert (await thief.get("/circuits")).status_code == 401


async def test_changing_ones_password_ends_the_other_sessions_and_renews_this_one(
        lan: httpx.AsyncClient, api_app: FastAPI) -> None:
    csrf = csrf_of(await sign_in(lan))
    async with browser(api_app) as other:
        await sign_in(other)
        wrong = await lan.post("/session/password", headers=csrf,
                               json={"current": "not-it-at-all", "new": "a-new-password-1"})
        assert (wrong.status_code, wrong.json()["error"]["field"]) == (422, "current")
        short = await lan.post("/session/password", headers=csrf,
                               json={"current": PASSWORD, "new": "short"})
        assert (short.status_code, short.json()["error"]["field"]) == (422, "new")
        changed = await lan.post("/session/password", headers=csrf,
                                 json={"current": PASSWORD, "new": "a-new-password-1"})
        assert changed.status_code == 200
        assert changed.json()["csrf"] != csrf["X-CSRF-Token"]
        assert (await lan.get("/circuits")).status_code == 200
        assert (await other.get("/circuits")).status_code == 401
        assert (await sign_in(other)).status_code == 401
        assert (await sign_in(other, password="a-new-password-1")).status_code == 200


async def test_a_token_has_no_password_to_change(api_client: httpx.AsyncClient,
                                                 role_headers: dict[str, dict[str, str]]) -> None:
    answer = await api_client.post("/session/password", headers=role_headers["admin"],
                                   json={"current": "whatever-it-is", "new": "whatever-else"})
    assert answer.status_code == 403


async def test_an_admin_manages_accounts_and_changes_count_at_once(
        lan: httpx.AsyncClient, api_client: httpx.AsyncClient,
        role_headers: dict[str, dict[str, str]]) -> None:
    admin = role_headers["admin"]
    await sign_in(lan)
    made = await api_client.post("/users", headers=admin, json={
        "name": "hoa", "role": "operator", "password": "mật-khẩu-của-hoa"})
    assert made.status_code == 201
    assert {k: made.json()[k] for k in ("name", "role", "disabled", "failures")} == {
        "name": "hoa", "role": "operator", "disabled": False, "failures": 0}
    assert "password_hash" not in made.json()
    twice = await api_client.post("/users", headers=admin, json={
        "name": "hoa", "role": "operator", "password": "mật-khẩu-của-hoa"})
    assert twice.status_code == 409
    bad = await api_client.post("/users", headers=admin, json={
        "name": "Hoa Nguyễn", "role": "boss", "password": "mật-khẩu-của-hoa"})
    assert bad.status_code == 422
    assert (await api_client.get("/users", headers=role_headers["technician"])).status_code == 403
    names = [u["name"] for u in (await api_client.get("/users", headers=admin)).json()]
    assert names == ["hoa", "lan"]

    lowered = await api_client.patch("/users/lan", headers=admin, json={"role": "viewer"})
    assert lowered.json()["role"] == "viewer"
    me = (await lan.get("/session")).json()
    assert me["role"] == "viewer"  # at once, in the open session
    order = {"target": "circuit:road-5", "state": "on", "duration_min": 30, "reason": "x"}
    refused = await lan.post("/overrides", json=order, headers={"X-CSRF-Token": me["csrf"]})
    assert refused.status_code == 403
    off = await api_client.patch("/users/lan", headers=admin, json={"disabled": True})
    assert off.json()["disabled"] is True
    assert (await lan.get("/circuits")).status_code == 401
    disabled = await sign_in(lan)
    assert (disabled.status_code, disabled.json()["error"]["code"]) == (403, "account_disabled")
    on = await api_client.patch("/users/lan", headers=admin, json={"disabled": False})
    assert on.json()["disabled"] is False
    assert (await sign_in(lan)).status_code == 200
    missing = await api_client.patch("/users/nobody", headers=admin, json={"role": "viewer"})
    assert missing.status_code == 404


async def test_the_last_admin_who_can_sign_in_cannot_be_disabled_or_demoted(
        api_runtime: Runtime, api_client: httpx.AsyncClient,
        role_headers: dict[str, dict[str, str]]) -> None:
    admin = role_headers["admin"]
    api_runtime.users.create(name="chu-tich", role="admin", password=PASSWORD,
                             now=api_runtime.clock.now())
    for change in ({"disabled": True}, {"role": "technician"}):
        refused = await api_client.patch("/users/chu-tich", headers=admin, json=change)
        assert refused.status_code == 409, change
    await api_client.post("/users", headers=admin, json={
        "name": "pho-chu-tich", "role": "admin", "password": "mật-khẩu-thứ-hai"})
    allowed = await api_client.patch("/users/chu-tich", headers=admin, json={"disabled": True})
    assert allowed.status_code == 200


async def test_a_burst_of_sign_ins_hashes_one_password_at_a_time(api_runtime: Runtime) -> None:
    """Each argon2id check takes 64 MiB for a moment: twenty at once would take more than a
    gigabyte of a gateway's memory; they queue instead."""
    import asyncio
    import threading
    import time

    from argon2 import PasswordHasher

    from controller.platform.accounts import AccountService, SignInRefused
    from controller.platform.users import UserBook

    at_once = {"now": 0, "most": 0}
    lock = threading.Lock()

    class CountingHasher(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> bool:
            with lock:
                at_once["now"] += 1
                at_once["most"] = max(at_once["most"], at_once["now"])
            try:
                time.sleep(0.01)  # long enough for a second thread to come in, were it let
                return super().verify(hash, password)
            finally:
                with lock:
                    at_once["now"] -= 1

    users = UserBook(api_runtime.store, hasher=CountingHasher())
    users.create(name="lan", role="operator", password=PASSWORD, now=api_runtime.clock.now())
    accounts = AccountService(users=users, sessions=api_runtime.sessions,
                              trail=api_runtime.trail, clock=api_runtime.clock)

    async def attempt(password: str) -> str:
        try:
            await accounts.sign_in("lan", password)
        except SignInRefused as refused:
            return refused.attempt.outcome
        return "ok"

    outcomes = await asyncio.gather(*(attempt(PASSWORD) for _ in range(12)))
    assert outcomes == ["ok"] * 12
    assert at_once["most"] == 1
