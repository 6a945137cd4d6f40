"""The front process's logic with a fake controller (fast, no processes): the status mirror
fetches once for many requests, refreshes in the background, waits after a change, and gives
up on a controller that does not answer; requests that need no token reach the controller a
bounded number at a time. The real thing is in test_front.py."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from dataclasses import dataclass, field

import pytest

from controller.http.front import ANONYMOUS_UPSTREAM_MAX, FrontApp
from controller.http.mirror import StatusMirror

AUTH = {"authorization": "Bearer t"}  # as the front passes a checked request's credentials


@dataclass
class Answer:
    status_code: int
    content: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class FakeController:
    """Answers GET /status with a new body per ``version``, 304 for the current ETag."""

    def __init__(self) -> None:
        self.version = 1
        self.calls: list[dict[str, str]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail: Exception | None = None

    async def get(self, path: str, headers: dict[str, str], *, timeout_s: float) -> Answer:
        assert path == "/api/v1/status"
        self.calls.append(headers)
        version = self.version  # what the answer shows is read when the request arrives
        await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        etag = f'"v{version}"'
        if headers.get("if-none-match") == etag:
            return Answer(304)
        return Answer(200, f"body {version}".encode(), {"etag": etag})


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def controller() -> FakeController:
    return FakeController()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def mirror(controller: FakeController, clock: Clock) -> StatusMirror:
    return StatusMirror(controller, refresh_s=0.25, max_age_s=3.0,  # type: ignore[arg-type]
                        monotonic=clock)


async def test_many_requests_at_once_make_one_fetch(mirror: StatusMirror,
                                                    controller: FakeController) -> None:
    controller.gate.clear()
    waiting = [asyncio.create_task(mirror.current(AUTH)) for _ in range(10)]
    await asyncio.sleep(0)
    controller.gate.set()
    assert await asyncio.gather(*waiting) == [b"body 1"] * 10
    assert len(controller.calls) == 1
    assert controller.calls[0] == {"authorization": "Bearer t"}


async def test_an_old_copy_is_served_while_a_refresh_runs_behind(
        mirror: StatusMirror, controller: FakeController, clock: Clock) -> None:
    assert await mirror.current(AUTH) == b"body 1"
    controller.version = 2
    clock.now += 0.1
    assert await mirror.current(AUTH) == b"body 1"  # young enough: no fetch
    assert len(controller.calls) == 1
    clock.now += 0.2
    assert await mirror.current(AUTH) == b"body 1"  # served, refresh started
    await asyncio.sleep(0)
    assert await mirror.current(AUTH) == b"body 2"
    assert controller.calls[1]["if-none-match"] == '"v1"'


async def test_an_unchanged_status_costs_a_304(mirror: StatusMirror,
                                               controller: FakeController,
                                               clock: Clock) -> None:
    await mirror.current(AUTH)
    clock.now += 1
    await mirror.current(AUTH)
    await asyncio.sleep(0)
    assert (mirror.refreshes, mirror.not_modified) == (1, 1)
    assert mirror.body == b"body 1" and mirror.etag == '"v1"'


async def test_after_a_change_the_next_request_waits_for_the_new_status(
        mirror: StatusMirror, controller: FakeController) -> None:
    await mirror.current(AUTH)
    controller.version = 2
    mirror.invalidate()
    assert await mirror.current(AUTH) == b"body 2"


async def test_a_change_during_a_refresh_is_fetched_once_more(
        mirror: StatusMirror, controller: FakeController) -> None:
    controller.gate.clear()
    first = asyncio.create_task(mirror.current(AUTH))
    while not controller.calls:  # the fetch of version 1 is on its way
        await asyncio.sleep(0)
    controller.version = 2
    mirror.invalidate()  # the override was made while version 1 was on its way
    controller.gate.set()
    assert await first == b"body 2"
    assert len(controller.calls) == 2


async def test_a_copy_past_its_max_age_is_not_served_without_the_controller(
        mirror: StatusMirror, controller: FakeController, clock: Clock) -> None:
    await mirror.current(AUTH)
    controller.fail = TimeoutError("no answer")
    clock.now += 3.5
    assert await mirror.current(AUTH) is None
    assert mirror.unreachable
    controller.fail = None
    assert await mirror.current(AUTH) == b"body 1"
    assert not mirror.unreachable


async def test_a_refusal_of_the_controller_is_left_for_it_to_give(
        mirror: StatusMirror, controller: FakeController) -> None:
    async def refuse(path: str, headers: dict[str, str], *, timeout_s: float) -> Answer:
        return Answer(401, b'{"error": {}}')

    controller.get = refuse  # type: ignore[method-assign]
    assert await mirror.current({"authorization": "Bearer revoked"}) is None
    assert not mirror.unreachable


class HeldProxy:
    """Forwards nothing until released; counts what it holds."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.held = 0

    async def forward(self, scope: dict, receive: object, send: object, **_: object) -> int:
        self.held += 1
        await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"page"})
        return 200


async def test_requests_without_a_token_reach_the_controller_a_bounded_number_at_once() -> None:
    proxy = HeldProxy()
    app = FrontApp(proxy, tokens=None, mirror=None, sessions=None)  # type: ignore[arg-type]
    answers: list[list[dict]] = []

    async def get_page() -> None:
        sent: list[dict] = []
        answers.append(sent)
        scope = {"type": "http", "method": "GET", "path": "/", "headers": []}

        async def send(message: dict) -> None:
            sent.append(message)

        await app(scope, None, send)

    held = [asyncio.create_task(get_page()) for _ in range(ANONYMOUS_UPSTREAM_MAX)]
    while proxy.held < ANONYMOUS_UPSTREAM_MAX:
        await asyncio.sleep(0)
    await get_page()  # one more, while all are held
    proxy.release.set()
    await asyncio.gather(*held)
    statuses = [sent[0]["status"] for sent in answers]
    assert statuses.count(200) == ANONYMOUS_UPSTREAM_MAX
    assert statuses[-1] == 503


def test_the_front_process_loads_neither_the_api_nor_password_hashing() -> None:
    # As `python -m controller.http.front` starts: what it imports stays small, for its memory
    # on the gateway (it reads tokens, sessions and accounts, and never hashes a password).
    code = ("import sys\n"
            "for unused in ('httpx._main', 'trio'): sys.modules.setdefault(unused, None)\n"
            "import controller.http.front\n"
            "print(sorted(m for m in ('fastapi', 'pydantic', 'argon2', 'controller.runtime')"
            " if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout.strip()
    assert loaded == "[]", loaded


def test_the_controller_does_not_load_httpxs_command_line_client() -> None:
    code = ("import controller.app, httpx, sys\n"
            "print(sorted(m for m in ('rich', 'pygments', 'httpx._main')"
            " if sys.modules.get(m) is not None))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout.strip()
    assert loaded == "[]", loaded
