"""Notifications from a real controller (``communectl run`` as a process) to a real HTTP
receiver on loopback, through the real webhook channel: one message when the board goes
offline and one when it is back, whatever the number of failed polls; and messages queued
while the receiver is down, the controller SIGKILLed, delivered after the restart, each exactly
once by its message id."""

from __future__ import annotations

import asyncio
import json
import signal
import threading
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from controller.platform.history import History
from controller.platform.store import Store
from drivers.simulator import SimulatedCabinet
from tests.conftest import eventually
from tests.controller.test_run import CONFIG, Controller, free_port, wait_exit

pytestmark = pytest.mark.integration

NOTIFY = """
[notify]
burst_s = 1

[[notify.recipients]]
id = "hook"
channel = "webhook"
address = "http://127.0.0.1:{port}/hook"
kinds = ["device_offline"]
"""


class Receiver:
    """A webhook receiver: records every POST it answers 200 to; ``down`` closes its port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.got: list[dict[str, Any]] = []
        self.keys: list[str] = []
        self._server: ThreadingHTTPServer | None = None

    def up(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.got.append(json.loads(body))
                receiver.keys.append(self.headers["Idempotency-Key"])
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def ids(self) -> list[str]:
        return [m["message_id"] for m in self.got]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.up()
    yield r
    r.down()


@pytest.fixture
async def cabinet() -> AsyncIterator[SimulatedCabinet]:
    cab = SimulatedCabinet()
    cab.add_relay_board(1, coils=8)
    await cab.start_tcp("127.0.0.1", 0)
    yield cab
    await cab.stop()


@pytest.fixture
def controller(tmp_path: Path, cabinet: SimulatedCabinet,
               receiver: Receiver) -> Iterator[Controller]:
    api_port = free_port()
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(data=tmp_path / "data", api_port=api_port,
                                    modbus_port=cabinet.tcp_port)
                      + NOTIFY.format(port=receiver.port))
    ctl = Controller(config, api_port)
    yield ctl
    if ctl.proc is not None:
        if ctl.proc.poll() is None:
            ctl.proc.kill()
            ctl.proc.wait()
        if ctl.proc.stdout is not None:
            ctl.proc.stdout.close()


def states(receiver: Receiver) -> list[str]:
    return [i["state"] for m in receiver.got for i in m["incidents"]]


async def test_one_webhook_per_incident_and_the_queue_survives_sigkill(
        controller: Controller, cabinet: SimulatedCabinet, receiver: Receiver,
        tmp_path: Path) -> None:
    port = cabinet.tcp_port
    controller.start()
    await controller.ready()
    await eventually(lambda: cabinet.coils(1)[0] is True, "the lights on")

    await cabinet.stop()  # the board goes away: polled every second, one incident
    await eventually(lambda: len(receiver.got) == 1, "the offline webhook", timeout_s=20)
    await asyncio.sleep(4)  # four more failed polls and bursts' worth of time
    assert states(receiver) == ["opened"]
    offline = receiver.got[0]
    assert offline["text"].startswith("[proc-test] CẢNH BÁO: Thiết bị relay-1 mất kết nối lúc ")
    assert offline["incidents"][0]["kind"] == "device_offline"
    assert receiver.keys == [offline["message_id"]]

    await cabinet.start_tcp("127.0.0.1", port)  # back
    await eventually(lambda: len(receiver.got) == 2, "the recovery webhook", timeout_s=20)
    await asyncio.sleep(3)
    assert states(receiver) == ["opened", "cleared"]
    assert receiver.got[1]["text"].startswith("[proc-test] ĐÃ KHÔI PHỤC: Thiết bị relay-1")

    # The receiver goes down; three incidents, each its own message (more than a burst apart).
    receiver.down()
    store = Store(tmp_path / "data")
    events = History(tmp_path / "data" / "history", "events")

    def failed_ids() -> set[str]:
        return {r["message_id"] for r in events.query(
            where=lambda r: r.get("kind") == "notify_failed")}

    await cabinet.stop()
    await eventually(lambda: len(failed_ids()) == 1, "offline, queued", timeout_s=20)
    await cabinet.start_tcp("127.0.0.1", port)
    await eventually(lambda: len(failed_ids()) == 2, "back, queued", timeout_s=20)
    await cabinet.stop()
    await eventually(lambda: len(failed_ids()) == 3, "offline again, queued", timeout_s=20)
    queued = {m["id"] for m in store.all("notify_outbox")}
    assert queued == failed_ids()
    assert controller.proc is not None
    controller.proc.send_signal(signal.SIGKILL)
    await wait_exit(controller.proc)
    assert {m["id"] for m in store.all("notify_outbox")} == queued

    receiver.up()
    controller.start()
    await controller.ready()
    # Each is tried again at its time (30 s after its failed attempt, kept across the kill).
    await eventually(lambda: set(receiver.ids()) >= queued, "the queued ones delivered",
                     timeout_s=60)
    await eventually(lambda: store.all("notify_outbox") == [], "the outbox empty")
    await asyncio.sleep(2)
    counts = Counter(receiver.ids())
    assert set(counts.values()) == {1}, counts  # exactly once each
    assert len(counts) == 5
    assert states(receiver)[2:] == ["opened", "cleared", "opened"]  # in their order
    sent = events.query(where=lambda r: r.get("kind") == "notify_sent")
    assert Counter(r["message_id"] for r in sent) == counts
    controller.proc.send_signal(signal.SIGTERM)
    assert await wait_exit(controller.proc) == 0
