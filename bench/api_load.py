"""`GET /api/v1/status` under load (wrk, 10 connections), against a bare FastAPI endpoint with
a response model served the same way in the same run; and the lateness of scheduled lighting
transitions (64 circuits, 8 simulated boards over Modbus TCP) with and without that load.

Goals (issue): at least half the bare endpoint's rate, p99 under 5 ms at 10 connections, and
transition lateness that does not move under the load.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import re
import shutil
import socket
import statistics
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from controller.app import run_controller
from controller.config import validate_config
from controller.http import front
from controller.http.server import ApiServer, event_loop_runner
from controller.platform.clock import SystemClock
from controller.runtime import Runtime
from drivers.simulator import SimulatedCabinet

BOARDS, COILS = 8, 8
LOAD_S = 16
CONNECTIONS = 10
# The load generator runs below the controller's priority: on a gateway the requests come from
# phones on the network, and wrk's own two threads competing for this machine's two cores
# with the coordinators would measure wrk, not the API. The baseline runs under the same wrk.
WRK = ["nice", "-n", "10", "wrk"]
PAIRS = 8  # rounds of 64 transitions without, then with, the load


def config_for(port: int, data: Path) -> dict:
    return {
        "site": {"id": "bench", "latitude": 19.87, "longitude": 105.71},
        "storage": {"path": str(data)},
        "api": {"host": "127.0.0.1", "port": 0},
        "lighting": {"check_interval_s": 3600, "settle_s": 0},
        "buses": [{"id": "b", "kind": "tcp", "host": "127.0.0.1", "port": port}],
        "devices": [{"id": f"relay-{u}", "bus": "b", "unit": u, "profile": f"relay{COILS}"}
                    for u in range(1, BOARDS + 1)],
        "circuits": [{"id": f"c{u}-{ch}", "device": f"relay-{u}", "channel": ch}
                     for u in range(1, BOARDS + 1) for ch in range(COILS)],
        "broadcast": {"output": "null"},
    }


class Item(BaseModel):
    id: str
    state: str
    level: int
    online: bool


def bare_app() -> FastAPI:
    app = FastAPI()
    items = [Item(id=f"c{i}", state="on", level=100, online=True) for i in range(64)]

    @app.get("/bare")
    async def bare() -> list[Item]:
        return items

    return app


async def wrk(url: str, token: str | None = None, *,
              duration_s: int = LOAD_S) -> tuple[float, float]:
    """(requests per second, p99 latency in ms)."""
    command = [*WRK, "-t2", f"-c{CONNECTIONS}", f"-d{duration_s}s", "--latency", url]
    if token:
        command[-1:-1] = ["-H", f"Authorization: Bearer {token}"]
    process = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE)
    out = (await process.communicate())[0].decode()
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    assert p99 is not None, out
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    assert errors is None, out
    return rate, float(p99.group(1)) * scale


async def staggered_lateness(runtime: Runtime, rounds: int) -> list[float]:
    """Overrides of every circuit expiring 15 ms apart: the coordinator's transitions.

    The overrides are written from a thread, as the API writes them: 64 fsynced writes take
    0.1 to 0.3 s here, and on the coordinators' loop they would delay the transitions they
    set up."""
    clock, samples = runtime.clock, []
    circuits = runtime.config.circuits

    def create(first: datetime, now: datetime) -> None:
        for i, circuit in enumerate(circuits):
            runtime.overrides.create(target=f"circuit:{circuit.id}", state="on", level=100,
                                     until=first + timedelta(milliseconds=15 * i),
                                     reason="bench", created_by="bench", now=now)

    for _ in range(rounds):
        now = clock.now()
        first = now + timedelta(seconds=1.0)
        await asyncio.to_thread(create, first, now)
        runtime.lighting.wake()
        await asyncio.sleep((first - clock.now()).total_seconds() - 0.2)
        runtime.lighting.lateness_s.clear()
        await asyncio.sleep(0.2 + 0.015 * len(circuits) + 0.3)
        samples += list(runtime.lighting.lateness_s)
    return samples


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def serve_bare(fd: int) -> None:
    """The baseline, served as the front process serves /status: a process of its own, the
    same event loop, niceness and uvicorn settings (controller.http.front)."""
    os.nice(front.FRONT_NICENESS)
    server = ApiServer(uvicorn.Config(bare_app(), log_level="warning", access_log=False,
                                      ws="none"))

    async def serve() -> None:
        task = asyncio.create_task(server.serve(sockets=[socket.socket(fileno=fd)]))
        while not server.started:
            await asyncio.sleep(0.01)
        gc.freeze()
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        server.should_exit = True
        await task

    event_loop_runner()(serve())


async def bare_baseline() -> tuple[float, float]:
    sock = socket.socket()
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    process = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--serve-bare", str(sock.fileno()), pass_fds=(sock.fileno(),),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
    assert process.stdout is not None and process.stdin is not None
    assert (await process.stdout.readline()).strip() == b"ready"
    try:
        return await wrk(f"http://127.0.0.1:{sock.getsockname()[1]}/bare")
    finally:
        process.stdin.close()
        await process.wait()
        sock.close()


async def main() -> None:
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (Debian package wrk)")
    cabinet = SimulatedCabinet()
    for unit in range(1, BOARDS + 1):
        cabinet.add_relay_board(unit, coils=COILS)
    port = await cabinet.start_tcp("127.0.0.1", 0)
    with tempfile.TemporaryDirectory() as data:
        config = validate_config(config_for(port, Path(data)))
        ready: asyncio.Future[tuple[Runtime, str]] = asyncio.get_running_loop().create_future()
        stop = asyncio.Event()
        controller = asyncio.create_task(run_controller(
            config, SystemClock(), on_ready=lambda rt, url: ready.set_result((rt, url)),
            stop=stop))
        runtime, url = await ready
        token, _ = runtime.tokens.create(name="bench", role="viewer", expires_days=None,
                                         now=runtime.clock.now())
        bare_rate, bare_p99 = await bare_baseline()
        rate, p99 = await wrk(f"{url}api/v1/status", token)

        # Quiet and loaded rounds take turns, so that whatever else this shared machine does
        # weighs on both alike.
        quiet: list[float] = []
        loaded: list[float] = []
        bursts: list[tuple[float, float]] = []
        for _ in range(PAIRS):
            quiet += await staggered_lateness(runtime, rounds=1)
            load = asyncio.create_task(wrk(f"{url}api/v1/status", token, duration_s=4))
            await asyncio.sleep(0.5)
            loaded += await staggered_lateness(runtime, rounds=1)
            bursts.append(await load)
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await controller
    await cabinet.stop()
    print(f"wrk, {CONNECTIONS} connections, {LOAD_S} s each, 64 circuits and 8 boards:")
    print(f"  GET /api/v1/status              {rate:8.0f} req/s   p99 {p99:6.2f} ms")
    print(f"  bare FastAPI + response model   {bare_rate:8.0f} req/s   p99 {bare_p99:6.2f} ms"
          "  (baseline)")
    print(f"  ratio {rate / bare_rate:.2f} of the baseline's rate (goal >= 0.5: "
          f"{'met' if rate >= bare_rate / 2 else 'NOT met'}); p99 goal < 5 ms: "
          f"{'met' if p99 < 5 else 'NOT met'}")
    print(f"  GET /api/v1/status in {PAIRS} bursts of 4 s beside 64 transitions each: "
          f"{statistics.mean(b[0] for b in bursts):.0f} req/s, "
          f"p99 {max(b[1] for b in bursts):.2f} ms (the worst burst)")
    ms = 1000
    for name, samples in (("quiet:     ", quiet), ("under load:", loaded)):
        print(f"transition lateness, {name} p50 {statistics.median(samples) * ms:5.2f} ms  "
              f"p90 {percentile(samples, 0.9) * ms:5.2f} ms  "
              f"p99 {percentile(samples, 0.99) * ms:5.2f} ms  (n={len(samples)})")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve-bare"]:
        serve_bare(int(sys.argv[2]))
    else:
        asyncio.run(main())
