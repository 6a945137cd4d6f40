"""The API over a real HTTP server (uvicorn on a loopback socket) with the lighting coordinator
running beside it in the same loop, as ``communectl run`` has them: a technician's request
reaches the simulated relay board over Modbus TCP."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from controller.http.server import TICK_S, ApiServer
from controller.runtime import Runtime
from drivers.simulator import SimulatedCabinet
from tests.conftest import eventually
from tests.controller.conftest import RELAY_UNIT

pytestmark = pytest.mark.integration


class QuietServer(uvicorn.Server):
    """uvicorn without its signal handlers.

    ``Server.serve`` wraps the whole run in ``capture_signals``, which installs handlers for
    SIGINT/SIGTERM and re-raises a caught signal when serving ends; a server embedded in a
    larger program (or a test's event loop) must leave the process's signals alone and be
    stopped through ``should_exit``.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@pytest.fixture
async def base_url(api_app: FastAPI, api_runtime: Runtime) -> AsyncIterator[str]:
    """The app served on a free loopback port, and the coordinator running; stopped after."""
    # Bound here and handed over, so the port is ours from the start (no race for it).
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = QuietServer(uvicorn.Config(api_app, host="127.0.0.1", port=port,
                                        log_level="warning", lifespan="off", ws="none"))
    serving = asyncio.create_task(server.serve(sockets=[listener]), name="api")
    coordinator = asyncio.create_task(api_runtime.lighting.run(), name="lighting")
    await eventually(lambda: server.started or serving.done())
    assert server.started
    yield f"http://127.0.0.1:{port}/api/v1"
    server.should_exit = True
    await serving
    coordinator.cancel()
    await asyncio.gather(coordinator, return_exceptions=True)
    listener.close()


async def test_an_override_over_http_switches_the_relay(
        base_url: str, api_runtime: Runtime, api_cabinet: SimulatedCabinet,
        role_headers: dict[str, dict[str, str]]) -> None:
    secret, _ = api_runtime.tokens.create(name="field-tech", role="technician",
                                          expires_days=7, now=api_runtime.clock.now())
    override = {"target": "circuit:road-6", "state": "on", "duration_min": 45,
                "reason": "thay bóng đèn"}
    async with httpx.AsyncClient(base_url=base_url) as client:
        assert (await client.get("/health")).json()["status"] == "ok"
        no_token = await client.post("/overrides", json=override)
        as_viewer = await client.post("/overrides", json=override,
                                      headers=role_headers["viewer"])
        technician = {"Authorization": f"Bearer {secret}"}
        unknown = await client.get("/circuits/road-99", headers=technician)
        bad_duration = await client.post("/overrides", json={**override, "duration_min": 0},
                                         headers=technician)
        created = await client.post("/overrides", json=override, headers=technician)
        await eventually(lambda: api_cabinet.coils(RELAY_UNIT)[:2] == [False, True])
        audit = (await client.get("/audit", headers=role_headers["admin"])).json()

    assert (no_token.status_code, no_token.headers["www-authenticate"]) == (401, "Bearer")
    assert as_viewer.status_code == 403
    assert unknown.status_code == 404
    assert (bad_duration.status_code, bad_duration.json()["error"]["field"]) == \
        (422, "duration_min")
    assert created.status_code == 201
    assert created.headers["content-type"] == "application/json"
    assert [(r["action"], r["actor"], r["target"]) for r in audit] == [
        ("override.create", "field-tech", created.json()["id"])]
    assert audit[0]["details"]["reason"] == "thay bóng đèn"


async def test_the_server_sleeps_at_rest_ticks_while_connected_and_dates_its_answers(
) -> None:
    """ApiServer (both processes run it): no timer while nobody is connected, a tick a second
    while a connection is open, a Date header of the moment even after a quiet spell, and a
    stop asked from another thread."""
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    server = ApiServer(uvicorn.Config(app, log_level="warning", lifespan="off", ws="none"))
    # Every refresh of the Date header, whoever makes it (uvicorn's own loop does it once a
    # second whether anyone is connected or not).
    refreshes: list[float] = []

    class Watched(type(server.server_state)):  # type: ignore[misc]
        def __setattr__(self, name: str, value: Any) -> None:
            if name == "default_headers":
                refreshes.append(time.monotonic())
            super().__setattr__(name, value)

    server.server_state.__class__ = Watched
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    await eventually(lambda: server.started or serving.done())
    at_rest = len(refreshes)
    await asyncio.sleep(2.5 * TICK_S)
    quiet = len(refreshes) - at_rest
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
    async with httpx.AsyncClient() as client:  # one connection, kept open
        asked_at = datetime.now(UTC)
        answer = await client.get(url)
        before_ticks = len(refreshes)
        await asyncio.sleep(2.5 * TICK_S)
        ticks = len(refreshes) - before_ticks
    threading.Timer(0.05, setattr, (server, "should_exit", True)).start()
    async with asyncio.timeout(5):
        await serving
    listener.close()

    assert quiet == 0  # uvicorn's own loop: 2, and 25 wake-ups
    assert ticks >= 2
    dated = parsedate_to_datetime(answer.headers["date"])
    # The header has whole seconds: the second the request was made in, not one 2.5 s old.
    assert asked_at.replace(microsecond=0) <= dated <= asked_at + timedelta(seconds=TICK_S)
