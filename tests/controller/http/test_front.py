"""The public HTTP listener in its own process (controller.http.front) in front of a real
controller: ``GET /status`` from its mirror, tokens checked in the shared storage, everything
else forwarded unchanged to the API on its Unix socket, and a process that is started again
when it dies and ends with the controller."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from controller.app import run_controller
from controller.config import parse_config
from controller.http import routes_status
from controller.platform.clock import SystemClock
from controller.platform.sessions import COOKIE
from controller.platform.store import Store
from controller.platform.tokens import TokenRegistry
from controller.platform.users import UserBook
from controller.runtime import Runtime
from drivers.simulator import SimulatedCabinet
from tests.conftest import require_program

pytestmark = pytest.mark.integration

CONFIG = """
[site]
id = "front-test"
latitude = 19.87
longitude = 105.71

[storage]
path = "{data}"

[api]
host = "127.0.0.1"
port = 0

[broadcast]
output = "null"
max_upload_mb = 1

[[buses]]
id = "cab"
kind = "tcp"
host = "127.0.0.1"
port = {port}
timeout_s = 0.5

[[devices]]
id = "relay-1"
bus = "cab"
unit = 1
profile = "relay8"

[[circuits]]
id = "road-5"
device = "relay-1"
channel = 0
"""


@dataclass
class Running:
    runtime: Runtime
    url: str
    data: Path
    cabinet: SimulatedCabinet

    def token(self, role: str, name: str) -> dict[str, str]:
        """A token written through a Store of its own, as ``communectl token create`` does
        from another process."""
        secret, _ = TokenRegistry(Store(self.data)).create(
            name=name, role=role, expires_days=1, now=self.runtime.clock.now())
        return {"Authorization": f"Bearer {secret}"}


@contextlib.asynccontextmanager
async def controller_running(data: Path, *, api: str = "") -> AsyncIterator[Running]:
    cabinet = SimulatedCabinet()
    cabinet.add_relay_board(1, coils=8)
    port = await cabinet.start_tcp("127.0.0.1", 0)
    config = parse_config(CONFIG.format(data=data, port=port).replace(
        "port = 0\n", f"port = 0\n{api}\n"))
    ready: asyncio.Future[tuple[Runtime, str]] = asyncio.get_running_loop().create_future()
    stop = asyncio.Event()
    controller = asyncio.create_task(run_controller(
        config, SystemClock(), on_ready=lambda rt, url: ready.set_result((rt, url)), stop=stop))
    try:
        async with asyncio.timeout(30):
            runtime, url = await asyncio.shield(ready)
        yield Running(runtime, url.rstrip("/"), data, cabinet)
    finally:
        stop.set()
        await controller
        await cabinet.stop()


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[Running]:
    async with controller_running(tmp_path / "data") as controller:
        yield controller


def front_pids() -> list[int]:
    """Children of this test process that run controller.http.front."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if b"controller.http.front" in cmdline and int(stat[1]) == os.getpid():
                    found.append(int(entry.name))
    return found


def front_pid() -> int:
    (pid,) = front_pids()
    return pid


async def eventually(condition, timeout_s: float = 10.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not await condition():
            await asyncio.sleep(0.05)


async def test_status_comes_from_the_front_with_the_controllers_own_body(
        running: Running) -> None:
    viewer = running.token("viewer", "phone")
    pid = front_pid()
    async with httpx.AsyncClient(base_url=running.url) as client:
        first = await client.get("/api/v1/status", headers=viewer)
        built = running.runtime.status_cache  # what the controller built for that answer
        # The copy changes at most once a second (the body carries the time): asking again
        # at once with the ETag just received must get 304 within a few tries, each retry
        # with the ETag of the 200 that came instead.
        held, answers = first.headers["etag"], []
        for _ in range(5):
            again = await client.get("/api/v1/status",
                                     headers={**viewer, "If-None-Match": held})
            answers.append((held, again))
            if again.status_code == 304:
                break
            held = again.headers["etag"]
        stale = await client.get("/api/v1/status",
                                 headers={**viewer, "If-None-Match": '"not-the-copy"'})
    assert pid != os.getpid()
    assert first.status_code == 200
    assert first.content == built[2]
    assert first.json()["circuits"][0]["id"] == "road-5"
    assert first.headers["etag"] == built[3]
    assert first.headers["cache-control"] == "no-cache"
    # 304 exactly when the copy is the one the client holds, and a 304 came.
    for sent, answer in answers:
        assert (answer.status_code == 304) == (answer.headers["etag"] == sent)
    sent, not_modified = answers[-1]
    assert not_modified.status_code == 304
    assert not_modified.headers["etag"] == sent
    assert not_modified.headers["cache-control"] == "no-cache"
    # Any other ETag gets the whole body.
    assert stale.status_code == 200
    assert stale.json()["circuits"][0]["id"] == "road-5"
    assert stale.headers["etag"] != '"not-the-copy"'


async def test_tokens_are_checked_in_the_shared_storage_at_once(running: Running) -> None:
    async with httpx.AsyncClient(base_url=running.url) as client:
        missing = await client.get("/api/v1/status")
        basic = await client.get("/api/v1/status", headers={"Authorization": "Basic eDp5"})
        unknown = await client.get("/api/v1/status",
                                   headers={"Authorization": "Bearer cmt_not-a-token"})
        made_elsewhere = running.token("viewer", "made-by-cli")
        honoured = await client.get("/api/v1/status", headers=made_elsewhere)
        assert TokenRegistry(Store(running.data)).revoke("made-by-cli")
        revoked = await client.get("/api/v1/status", headers=made_elsewhere)
    assert (missing.status_code, missing.headers["www-authenticate"]) == (401, "Bearer")
    assert missing.json() == {"error": {
        "code": "unauthorized",
        "message": "sign in, or send an API token: Authorization: Bearer TOKEN"}}
    assert basic.status_code == 401
    assert (unknown.status_code, unknown.headers["www-authenticate"]) == \
        (401, 'Bearer error="invalid_token"')
    assert unknown.json()["error"]["code"] == "unauthorized"
    assert honoured.status_code == 200
    assert revoked.status_code == 401


async def test_a_person_signs_in_through_the_front_and_status_comes_from_its_mirror(
        running: Running) -> None:
    # The account is made by another process's Store, as ``communectl user create`` does.
    UserBook(Store(running.data)).create(name="lan", role="operator", password="mật-khẩu-lan-1",
                                         now=running.runtime.clock.now())
    async with httpx.AsyncClient(base_url=running.url) as phone:
        signed = await phone.post("/api/v1/session",
                                  json={"name": "lan", "password": "mật-khẩu-lan-1"})
        assert signed.status_code == 200
        csrf = {"X-CSRF-Token": signed.json()["csrf"]}
        statuses = [await phone.get("/api/v1/status") for _ in range(3)]
        me = await phone.get("/api/v1/session")
        secret = phone.cookies[COOKIE]
        out = await phone.delete("/api/v1/session", headers=csrf)
        anonymous = await phone.get("/api/v1/status")  # the answer cleared the cookie
        phone.cookies.set(COOKIE, secret)
        after = await phone.get("/api/v1/status")
    assert [s.status_code for s in statuses] == [200, 200, 200]
    assert statuses[0].json()["circuits"][0]["id"] == "road-5"
    assert me.json()["name"] == "lan"
    assert out.status_code == 204
    # Refused by the front itself: a session that ended is a 401 before the controller.
    assert (after.status_code, anonymous.status_code) == (401, 401)
    assert after.json()["error"]["message"] == "the session has ended: sign in again"


async def test_a_change_sent_through_the_front_shows_in_the_next_status(
        running: Running) -> None:
    technician = running.token("technician", "tech")
    async with httpx.AsyncClient(base_url=running.url, headers=technician) as client:
        before = (await client.get("/api/v1/status")).json()
        created = await client.post("/api/v1/overrides", json={
            "target": "circuit:road-5", "state": "on", "duration_min": 30, "reason": "test"})
        after = (await client.get("/api/v1/status")).json()
    assert created.status_code == 201, created.text
    assert before["counts"]["overrides_active"] == 0
    assert after["counts"]["overrides_active"] == 1
    assert after["circuits"][0]["desired"]["source"] == "override"
    # The mirror copies the controller's body: the structured reason is there too.
    assert after["circuits"][0]["desired"]["explained"]["override"] == {
        "id": created.json()["id"], "until": created.json()["until"], "reason": "test",
        "created_by": "tech"}
    async with asyncio.timeout(10):
        while running.cabinet.coils(1)[0] is not True:
            await asyncio.sleep(0.02)


async def test_everything_else_is_forwarded_unchanged(running: Running,
                                                      tmp_path: Path) -> None:
    ffmpeg = require_program("ffmpeg")
    require_program("ffprobe")
    mp3 = tmp_path / "tone.mp3"
    subprocess.run([ffmpeg, "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=1",
                    "-b:a", "32k", str(mp3)], check=True)
    operator = running.token("operator", "clerk")
    async with httpx.AsyncClient(base_url=running.url, headers=operator) as client:
        uploaded = await client.post("/api/v1/audio", files={"file": ("tone.mp3", mp3.read_bytes(),
                                                                     "audio/mpeg")})
        assert uploaded.status_code == 201, uploaded.text
        served = await client.get(f"/api/v1/audio/{uploaded.json()['id']}/file")
        too_large = await client.post("/api/v1/audio", files={
            "file": ("big.mp3", b"\0" * (2 * 1024 * 1024), "audio/mpeg")})
        malformed = await client.post("/api/v1/announcements", content=b"{not json",
                                      headers={"Content-Type": "application/json"})
        forbidden = await client.post("/api/v1/overrides", json={
            "target": "all", "state": "on", "duration_min": 5, "reason": "x"})
        no_such = await client.get("/api/v1/nothing-here")
        csv = await client.get("/api/v1/broadcasts/log", params={"format": "csv"})
        xlsx = await client.get("/api/v1/broadcasts/log", params={"format": "xlsx"})
        page = await client.get("/")
        health = await client.get("/api/v1/health", headers={"Authorization": ""})
    assert served.status_code == 200 and served.content == mp3.read_bytes()
    assert (too_large.status_code, too_large.json()["error"]["code"]) == (413, "too_large")
    assert (malformed.status_code, malformed.json()["error"]["code"]) == (400, "malformed_json")
    assert forbidden.status_code == 403
    assert (no_such.status_code, no_such.json()["error"]["code"]) == (404, "not_found")
    assert csv.status_code == 200 and csv.content.startswith(b"\xef\xbb\xbfdue_local,")
    assert (xlsx.status_code, xlsx.headers["content-type"]) == (
        200, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    assert xlsx.headers["content-disposition"].startswith('attachment; filename="broadcasts-')
    assert xlsx.content.startswith(b"PK\x03\x04")  # a zip container, unaltered
    assert page.status_code == 200 and "<html" in page.text.lower()
    assert health.json()["status"] in ("ok", "degraded")
    # One Date and one Server header: the front's, not the controller's as well.
    assert len(served.headers.get_list("date")) == 1
    assert len(served.headers.get_list("server")) == 1


async def test_a_front_that_dies_is_started_again_on_the_same_port(running: Running) -> None:
    viewer = running.token("viewer", "phone")
    first = front_pid()
    os.kill(first, signal.SIGKILL)

    async def answers() -> bool:
        try:
            async with httpx.AsyncClient(base_url=running.url, headers=viewer) as client:
                return (await client.get("/api/v1/status")).status_code == 200
        except httpx.TransportError:
            return False

    await eventually(answers)
    assert front_pid() != first
    async with httpx.AsyncClient(base_url=running.url, headers=viewer) as client:
        metrics = (await client.get("/metrics")).text
    assert "communectl_api_front_restarts_total 1.0" in metrics


async def test_with_front_process_false_one_process_serves_everything(
        tmp_path: Path) -> None:
    async with controller_running(tmp_path / "data", api="front_process = false") as one:
        viewer = one.token("viewer", "phone")
        async with httpx.AsyncClient(base_url=one.url, headers=viewer) as client:
            status = await client.get("/api/v1/status")
            circuits = await client.get("/api/v1/circuits")
        assert front_pids() == []
    assert status.status_code == 200 and status.json()["circuits"][0]["id"] == "road-5"
    assert status.content == one.runtime.status_cache[2]
    assert circuits.status_code == 200


@pytest.mark.parametrize("api", ["", "front_process = false"], ids=["front", "direct"])
async def test_the_api_runs_on_the_coordinators_own_loop(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, api: str) -> None:
    """A handler sees the loop and thread that run the lighting coordinator: no API thread,
    so a handler may call the coordinators and read their state directly
    (docs/architecture.md, "Processes and threads")."""
    seen: list[tuple[asyncio.AbstractEventLoop, int]] = []
    real_build = routes_status.build_status

    def spying_build(runtime: Runtime):
        seen.append((asyncio.get_running_loop(), threading.get_ident()))
        return real_build(runtime)

    monkeypatch.setattr(routes_status, "build_status", spying_build)
    async with controller_running(tmp_path / "data", api=api) as one:
        viewer = one.token("viewer", "phone")
        async with httpx.AsyncClient(base_url=one.url, headers=viewer) as client:
            status = await client.get("/api/v1/status")  # via the front's mirror, or direct
        lighting = [t.get_loop() for t in asyncio.all_tasks()
                    if t.get_name() == "lighting" and not t.done()]
    assert status.status_code == 200
    assert len(lighting) == 1
    assert seen, "the controller's handler built /status"
    assert {loop for loop, _ in seen} == set(lighting)
    assert {thread for _, thread in seen} == {threading.main_thread().ident}


COMMUNECTL = [sys.executable, "-m", "controller.cli"]


async def test_the_front_ends_with_a_killed_controller_and_frees_the_port(
        tmp_path: Path) -> None:
    cabinet = SimulatedCabinet()
    cabinet.add_relay_board(1, coils=8)
    port = await cabinet.start_tcp("127.0.0.1", 0)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        api_port = probe.getsockname()[1]
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(data=tmp_path / "data", port=port)
                      .replace("port = 0", f"port = {api_port}"))
    proc = subprocess.Popen([*COMMUNECTL, "run", "--config", str(config)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        async def healthy() -> bool:
            try:
                async with httpx.AsyncClient() as client:
                    return (await client.get(
                        f"http://127.0.0.1:{api_port}/api/v1/health")).status_code == 200
            except httpx.TransportError:
                return False

        await eventually(healthy, timeout_s=30)
        proc.send_signal(signal.SIGKILL)
        proc.wait()

        async def port_free() -> bool:
            with socket.socket() as again:
                again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    again.bind(("127.0.0.1", api_port))
                    again.listen()
                except OSError:
                    return False
                return True

        await eventually(port_free)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        await cabinet.stop()


@contextlib.asynccontextmanager
async def lone_front(upstream: str, data: Path) -> AsyncIterator[str]:
    """A front process started by hand against ``upstream``; yields its API base URL and
    checks that it stops when its stdin closes, as when the controller stops."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    front = subprocess.Popen(
        [sys.executable, "-m", "controller.http.front", "--listen-fd", str(listener.fileno()),
         "--upstream", upstream, "--storage", str(data)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, pass_fds=(listener.fileno(),))
    try:
        assert front.stdout is not None and front.stdin is not None
        assert (await asyncio.to_thread(front.stdout.readline)).strip() == b"ready"
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/api/v1"
        front.stdin.close()  # the controller's end of the pipe: the front stops
        assert await asyncio.to_thread(front.wait, 10) == 0
    finally:
        if front.poll() is None:
            front.kill()
            front.wait()
        if front.stdout is not None:
            front.stdout.close()
        listener.close()


def viewer_secret(data: Path) -> str:
    secret, _ = TokenRegistry(Store(data)).create(name="phone", role="viewer", expires_days=1,
                                                  now=SystemClock().now())
    return secret


def assert_unavailable(answer: httpx.Response) -> None:
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "2"
    assert json.loads(answer.content)["error"]["code"] == "unavailable"


async def test_the_front_answers_503_in_json_when_the_controller_is_gone(
        tmp_path: Path) -> None:
    headers = {"Authorization": f"Bearer {viewer_secret(tmp_path / 'data')}"}
    async with lone_front(str(tmp_path / "nobody.sock"), tmp_path / "data") as base, \
            httpx.AsyncClient(base_url=base, headers=headers) as client:
        circuits = await client.get("/circuits")
        status = await client.get("/status")
        unauthorised = await client.get("/status", headers={"Authorization": ""})
    assert_unavailable(circuits)
    assert_unavailable(status)
    assert unauthorised.status_code == 401  # a token is checked even with no controller


async def test_a_hung_controller_is_503_not_a_frozen_status(tmp_path: Path) -> None:
    """A controller that accepts connections and never answers (stopped, deadlocked): the
    mirror gives up after its timeout instead of serving an old "all fine"."""
    hung = socket.socket(socket.AF_UNIX)
    hung.bind(str(tmp_path / "hung.sock"))
    hung.listen()
    headers = {"Authorization": f"Bearer {viewer_secret(tmp_path / 'data')}"}
    try:
        async with lone_front(str(tmp_path / "hung.sock"), tmp_path / "data") as base, \
                httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
            status = await client.get("/status")
    finally:
        hung.close()
    assert_unavailable(status)


async def raw_exchange(url: str, request: bytes, *, timeout_s: float = 10.0) -> bytes:
    """Send ``request`` as bytes on a new connection and read the answer's head: for
    requests whose body is never sent."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(request)
        await writer.drain()
        async with asyncio.timeout(timeout_s):
            return await reader.readuntil(b"\r\n\r\n")
    finally:
        writer.close()


async def test_bodies_without_a_token_or_over_the_limit_are_refused_unread(
        running: Running) -> None:
    """A hundred and twenty clients that declare a body and never send it hold nothing of the
    controller's: each is refused at once, and a technician is still served."""
    technician = running.token("technician", "tech")
    anonymous = [raw_exchange(running.url, b"POST /api/v1/overrides HTTP/1.1\r\n"
                              b"Host: x\r\nAuthorization: Bearer cmt_guess\r\n"
                              b"Content-Type: application/json\r\n"
                              b"Content-Length: 1000\r\n\r\n{")
                 for _ in range(120)]
    answers = await asyncio.gather(*anonymous)
    oversized = await raw_exchange(
        running.url, b"POST /api/v1/audio HTTP/1.1\r\nHost: x\r\n"
        + f"Authorization: {technician['Authorization']}\r\n".encode()
        + b"Content-Type: multipart/form-data; boundary=b\r\n"
        b"Content-Length: 200000000\r\n\r\n")
    async with httpx.AsyncClient(base_url=running.url, headers=technician) as client:
        circuits = await client.get("/api/v1/circuits")
    # Sent as bytes: an HTTP client library resolves "..", some clients do not.
    dotted = await raw_exchange(
        running.url, b"GET /api/v1/x/../circuits HTTP/1.1\r\nHost: x\r\n"
        + f"Authorization: {technician['Authorization']}\r\n\r\n".encode())
    assert {a.split(b"\r\n")[0] for a in answers} == {b"HTTP/1.1 401 Unauthorized"}
    assert oversized.startswith(b"HTTP/1.1 413 ")
    assert b"connection: close" not in oversized.lower()  # no Expect: the body is dropped
    assert circuits.status_code == 200
    assert dotted.startswith(b"HTTP/1.1 400 ")


async def test_the_front_ignores_sigterm_and_stops_when_the_controller_says(
        running: Running) -> None:
    viewer = running.token("viewer", "phone")
    pid = front_pid()
    os.kill(pid, signal.SIGTERM)  # systemd without KillMode=mixed, or a stray kill
    async with httpx.AsyncClient(base_url=running.url, headers=viewer) as client:
        assert (await client.get("/api/v1/circuits")).status_code == 200
    assert front_pid() == pid


async def test_what_needs_no_token_takes_no_body_and_metrics_need_one(running: Running) -> None:
    page_post = await raw_exchange(running.url, b"POST / HTTP/1.1\r\nHost: x\r\n"
                                   b"Content-Length: 500000000\r\n\r\n")
    health_post = await raw_exchange(running.url, b"POST /api/v1/health HTTP/1.1\r\n"
                                     b"Host: x\r\nContent-Length: 60000\r\n\r\n")
    waiting = await raw_exchange(running.url, b"POST /api/v1/overrides HTTP/1.1\r\n"
                                 b"Host: x\r\nExpect: 100-continue\r\n"
                                 b"Content-Length: 100\r\n\r\n")
    async with httpx.AsyncClient(base_url=running.url) as client:
        metrics = await client.get("/metrics")
        page = await client.get("/")
    for answer in (page_post, health_post):
        assert answer.startswith(b"HTTP/1.1 413 ")
    # It waited for "100 Continue" and will send no body: the connection cannot go on.
    assert waiting.startswith(b"HTTP/1.1 401 ") and b"connection: close" in waiting.lower()
    assert metrics.status_code == 401
    assert page.status_code == 200
