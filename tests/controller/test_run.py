"""The controller as a process, the way systemd runs it: real Modbus server, real HTTP, signals.

The cabinet is simulated in the test process and served over Modbus TCP on loopback; the
controller runs as ``communectl run --config F`` on the system clock with a programme that is
on around the clock, so that "the lights go on at once" does not depend on the hour.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from controller.platform.store import Store
from drivers.simulator import SimulatedCabinet
from tests.conftest import eventually

pytestmark = pytest.mark.integration

COMMUNECTL = [sys.executable, "-m", "controller.cli"]

CONFIG = """
[site]
id = "proc-test"
latitude = 19.87
longitude = 105.71

[storage]
path = "{data}"

[api]
host = "127.0.0.1"
port = {api_port}

[lighting]
check_interval_s = 1
offline_retry_s = 1

[[buses]]
id = "cab"
kind = "tcp"
host = "127.0.0.1"
port = {modbus_port}
timeout_s = 0.3
retries = 0

[[devices]]
id = "relay-1"
bus = "cab"
unit = 1
profile = "relay8"

[[circuits]]
id = "road-5"
device = "relay-1"
channel = 0
program = "always"

[[circuits]]
id = "lane-2"
device = "relay-1"
channel = 2

[[circuits]]
id = "night-1"
device = "relay-1"
channel = 3
program = "night"

[[lighting_programs]]
id = "night"
windows = [{{ on = "sunset", off = "sunrise" }}]

[[lighting_programs]]
id = "always"
windows = [{{ on = "00:00", off = "12:00" }}, {{ on = "12:00", off = "00:00" }}]
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Controller:
    def __init__(self, config: Path, api_port: int) -> None:
        self.config, self.url = config, f"http://127.0.0.1:{api_port}/api/v1"
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()
        self.proc = subprocess.Popen([*COMMUNECTL, "run", "--config", str(self.config)],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)

    async def ready(self) -> None:
        async with asyncio.timeout(20), httpx.AsyncClient() as client:
            while True:
                assert self.proc is not None and self.proc.poll() is None, self.output()
                try:
                    if (await client.get(f"{self.url}/health")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*COMMUNECTL, *args, "--config", str(self.config)],
                              capture_output=True, text=True, check=False)

    def output(self) -> str:
        if self.proc is None or self.proc.stdout is None or self.proc.poll() is None:
            return ""
        return self.proc.stdout.read()


@pytest.fixture
async def cabinet() -> AsyncIterator[SimulatedCabinet]:
    cab = SimulatedCabinet()
    cab.add_relay_board(1, coils=8)
    await cab.start_tcp("127.0.0.1", 0)
    yield cab
    await cab.stop()


@pytest.fixture
def controller(tmp_path: Path, cabinet: SimulatedCabinet) -> Controller:
    api_port = free_port()
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(data=tmp_path / "data", api_port=api_port,
                                    modbus_port=cabinet.tcp_port))
    ctl = Controller(config, api_port)
    yield ctl
    if ctl.proc is not None:
        if ctl.proc.poll() is None:
            ctl.proc.kill()
            ctl.proc.wait()
        if ctl.proc.stdout is not None:
            ctl.proc.stdout.close()


async def wait_exit(proc: subprocess.Popen[str], timeout_s: float = 15.0) -> int:
    async with asyncio.timeout(timeout_s):
        while proc.poll() is None:
            await asyncio.sleep(0.05)
    return proc.returncode


async def test_lights_on_at_start_and_sigterm_stops_cleanly(
        controller: Controller, cabinet: SimulatedCabinet) -> None:
    controller.start()
    await controller.ready()
    await eventually(lambda: cabinet.coils(1)[0] is True)
    assert cabinet.coils(1)[2] is False  # no programme: the default, off
    assert controller.proc is not None
    controller.proc.send_signal(signal.SIGTERM)
    assert await wait_exit(controller.proc) == 0
    assert "stopped" in controller.output()


async def test_a_token_made_by_the_cli_is_honoured_at_once_and_survives_sigkill(
        controller: Controller, cabinet: SimulatedCabinet, tmp_path: Path) -> None:
    controller.start()
    await controller.ready()
    made = controller.cli("token", "create", "--role", "technician", "--name", "an")
    assert made.returncode == 0, made.stderr
    secret = made.stdout.strip().splitlines()[-1]
    headers = {"Authorization": f"Bearer {secret}"}
    async with httpx.AsyncClient(base_url=controller.url, headers=headers) as client:
        circuits = await client.get("/circuits")
        assert circuits.status_code == 200
        created = await client.post("/overrides", json={
            "target": "circuit:lane-2", "state": "on", "duration_min": 60,
            "reason": "replacing a lamp"})
        assert created.status_code == 201, created.text
        await eventually(lambda: cabinet.coils(1)[2] is True)
    assert controller.proc is not None
    controller.proc.send_signal(signal.SIGKILL)
    await wait_exit(controller.proc)
    store = Store(tmp_path / "data")
    assert [t["id"] for t in store.all("tokens")] == ["an"]
    assert [o["target"] for o in store.all("overrides")] == ["circuit:lane-2"]

    controller.start()  # the override outlives the process
    await controller.ready()
    async with httpx.AsyncClient(base_url=controller.url, headers=headers) as client:
        view = (await client.get("/circuits/lane-2")).json()
    assert view["desired"]["source"] == "override"
    listed = controller.cli("token", "list")
    assert "an" in listed.stdout and "technician" in listed.stdout


async def test_a_busy_port_is_a_clear_error(controller: Controller) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", int(controller.url.split(":")[2].split("/")[0])))
        squatter.listen()
        controller.start()
        assert controller.proc is not None
        assert await wait_exit(controller.proc) == 1
    assert "is already in use" in controller.output()


def test_plan_json_lists_transitions_with_offsets(controller: Controller) -> None:
    result = controller.cli("plan", "--from", "2026-12-01", "--days", "2", "--format", "json")
    assert result.returncode == 0, result.stderr
    entries = json.loads(result.stdout)
    # "always" never changes level, so only the night circuit has transitions
    assert {e["target"] for e in entries} == {"night-1"}
    assert [e["state"] for e in entries] == ["on", "off", "on", "off"]
    assert all(e["time"].endswith("+07:00") for e in entries)
    assert not (controller.config.parent / "data").exists()  # plan writes nothing


async def test_devices_probe_reports_each_device(controller: Controller) -> None:
    result = await asyncio.to_thread(controller.cli, "devices")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("relay-1")
    assert "ok" in result.stdout


async def test_the_demo_prints_a_person_to_sign_in_as_and_a_token(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "COMMUNECTL_CONFIG": str(tmp_path / "absent.toml")}
    proc = subprocess.Popen([*COMMUNECTL, "run", "--demo", "--api-port", str(port)],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        while not any(line.strip().startswith("Ctrl-C") for line in lines):
            line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 30)
            assert line, f"the demo ended: {lines}"
            lines.append(line)
        printed = "".join(lines)
        signing_in = re.search(r"sign in +user (\S+), password (\S+) ", printed)
        token = re.search(r"admin token \(shown once, valid one day\): (\S+)", printed)
        assert signing_in and token, printed
        base = f"http://127.0.0.1:{port}/api/v1"
        async with httpx.AsyncClient(base_url=base) as client:
            signed = await client.post("/session", json={"name": signing_in[1],
                                                         "password": signing_in[2]})
            assert (signed.status_code, signed.json()["role"]) == (200, "admin")
            assert (await client.get("/users")).status_code == 200
            scripted = await client.get("/circuits", headers={
                "Authorization": f"Bearer {token[1]}"})
            assert scripted.status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        code = await wait_exit(proc)
        if proc.stdout is not None:
            proc.stdout.close()
    assert code == 0
