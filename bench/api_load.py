"""`GET /api/v1/status` under load (wrk, 10 connections), against a bare FastAPI endpoint with
a response model served the same way in the same run; the lateness of scheduled lighting
transitions (64 circuits, 8 simulated boards over Modbus TCP) with and without that load; and
what the controller and its front cost at rest.

Two variants of the controller side by side, the API always on the coordinators' own loop:

- ``front``: the public port is the front process's (controller.http.front), which answers
  /status from its mirror and forwards the rest to the API on a Unix socket (the default);
- ``direct``: ``api.front_process = false``, the API serves the public port itself.

Goals (docs/architecture.md, "Processes and threads"): at least half the bare endpoint's rate,
p99 under 5 ms at 10 connections, transition lateness that does not move under the load; at
rest with no client, the pair under 0.2 % of a core and under 80 MiB PSS together. Figures and
ratios only, against the baseline measured in the same run: nothing here asserts a wall-clock
time.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
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
IDLE_S = 20  # at rest, measured after IDLE_SETTLE_S
IDLE_SETTLE_S = 5
IDLE_CPU_GOAL_PERCENT = 0.2
IDLE_PSS_GOAL_MIB = 80
VARIANTS = {"front": True, "direct": False}  # name: api.front_process
COMMUNECTL = Path(sys.executable).with_name("communectl")


def config_for(port: int, data: Path, *, front_process: bool = True,
               api_port: int = 0) -> dict:
    return {
        "site": {"id": "bench", "latitude": 19.87, "longitude": 105.71},
        "storage": {"path": str(data)},
        "api": {"host": "127.0.0.1", "port": api_port, "front_process": front_process},
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


def toml_of(document: dict) -> str:
    """Enough TOML for ``config_for``: tables of scalars and arrays of such tables."""
    def value(v: object) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        return str(v) if isinstance(v, int | float) else json.dumps(v)

    lines: list[str] = []
    for key, section in document.items():
        for table in section if isinstance(section, list) else [section]:
            lines.append(f"[[{key}]]" if isinstance(section, list) else f"[{key}]")
            lines += [f"{k} = {value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def cpu_ticks(pid: int) -> int:
    """utime + stime + cutime + cstime (proc(5)): the process and its waited-for children."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15])


def memory_kib(pid: int) -> dict[str, int]:
    """Pss, Pss_Anon and Pss_File of smaps_rollup. PSS shares a library's pages among every
    process that maps them, on the whole machine: the file part moves with what else runs."""
    wanted = ("Pss:", "Pss_Anon:", "Pss_File:")
    return {line.split()[0].rstrip(":"): int(line.split()[1])
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
            if line.startswith(wanted)}


async def idle_cost(cabinet_port: int, data: Path) -> list[tuple[str, float, dict[str, int]]]:
    """``communectl run --config F`` as systemd starts it, at rest with no client: per process
    (the controller, then the front), the share of one core and its memory."""
    api_port = free_port()
    data.mkdir()
    config = data / "config.toml"
    config.write_text(toml_of(config_for(cabinet_port, data / "data", api_port=api_port)))
    process = subprocess.Popen([str(COMMUNECTL), "run", "--config", str(config)],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    drain: asyncio.Task[str] | None = None
    try:
        assert process.stderr is not None
        while "controller ready" not in (line := await asyncio.to_thread(
                process.stderr.readline)):
            if not line:
                sys.exit(f"communectl run ended with status {process.wait()}")
        # From here on its log goes nowhere: a line written at rest would be part of the cost.
        drain = asyncio.create_task(asyncio.to_thread(process.stderr.read))
        await asyncio.sleep(IDLE_SETTLE_S)
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text()
        pids = [process.pid, *map(int, children.split())]
        before = {pid: cpu_ticks(pid) for pid in pids}
        started = time.monotonic()
        await asyncio.sleep(IDLE_S)
        after = {pid: cpu_ticks(pid) for pid in pids}
        elapsed_s = time.monotonic() - started
        hz = os.sysconf("SC_CLK_TCK")
        names = ["controller", *(["front"] * (len(pids) - 1))]
        return [(name, 100 * (after[pid] - before[pid]) / hz / elapsed_s, memory_kib(pid))
                for name, pid in zip(names, pids, strict=True)]
    finally:
        process.terminate()
        await asyncio.to_thread(process.wait, 15)
        if drain is not None:
            await drain


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def load_and_lateness(cabinet_port: int, data: Path, *,
                            front_process: bool) -> dict[str, object]:
    """/status under wrk, and transitions with and without that load, for one variant."""
    config = validate_config(config_for(cabinet_port, data, front_process=front_process))
    ready: asyncio.Future[tuple[Runtime, str]] = asyncio.get_running_loop().create_future()
    stop = asyncio.Event()
    controller = asyncio.create_task(run_controller(
        config, SystemClock(), on_ready=lambda rt, url: ready.set_result((rt, url)),
        stop=stop))
    runtime, url = await ready
    token, _ = runtime.tokens.create(name="bench", role="viewer", expires_days=None,
                                     now=runtime.clock.now())
    try:
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
    finally:
        stop.set()
        with contextlib.suppress(asyncio.CancelledError):
            await controller
    return {"rate": rate, "p99": p99, "bursts": bursts, "quiet": quiet, "loaded": loaded}


def print_variant(name: str, figures: dict[str, object], bare_rate: float) -> None:
    rate, p99 = float(figures["rate"]), float(figures["p99"])  # type: ignore[arg-type]
    bursts: list[tuple[float, float]] = figures["bursts"]  # type: ignore[assignment]
    where = ("the front process, from its mirror" if name == "front"
             else "the API itself, on the coordinators' loop")
    print(f"{name} (api.front_process = {str(VARIANTS[name]).lower()}): /status served by "
          f"{where}")
    print(f"  GET /api/v1/status              {rate:8.0f} req/s   p99 {p99:6.2f} ms")
    print(f"  ratio {rate / bare_rate:.2f} of the baseline's rate (goal >= 0.5: "
          f"{'met' if rate >= bare_rate / 2 else 'NOT met'}); p99 goal < 5 ms: "
          f"{'met' if p99 < 5 else 'NOT met'}")
    print(f"  GET /api/v1/status in {PAIRS} bursts of 4 s beside 64 transitions each: "
          f"{statistics.mean(b[0] for b in bursts):.0f} req/s, "
          f"p99 {max(b[1] for b in bursts):.2f} ms (the worst burst)")
    ms = 1000
    quiet: list[float] = figures["quiet"]  # type: ignore[assignment]
    loaded: list[float] = figures["loaded"]  # type: ignore[assignment]
    for label, samples in (("quiet:     ", quiet), ("under load:", loaded)):
        print(f"  transition lateness, {label} p50 {statistics.median(samples) * ms:5.2f} ms  "
              f"p90 {percentile(samples, 0.9) * ms:5.2f} ms  "
              f"p99 {percentile(samples, 0.99) * ms:5.2f} ms  (n={len(samples)})")
    print(f"  lateness p99 under load / quiet: "
          f"{percentile(loaded, 0.99) / percentile(quiet, 0.99):.2f}")


def print_idle(idle: list[tuple[str, float, dict[str, int]]]) -> None:
    print(f"at rest, no client, {IDLE_S} s after {IDLE_SETTLE_S} s "
          "(communectl run --config, the front variant):")
    for name, cpu, memory in idle:
        print(f"  {name:10s} CPU {cpu:5.2f} % of a core   PSS {memory['Pss'] / 1024:5.1f} MiB "
              f"(anonymous {memory['Pss_Anon'] / 1024:5.1f}, files "
              f"{memory['Pss_File'] / 1024:5.1f})")
    cpu = sum(i[1] for i in idle)
    pss_mib = sum(i[2]["Pss"] for i in idle) / 1024
    print(f"  together   CPU {cpu:5.2f} % (goal < {IDLE_CPU_GOAL_PERCENT} %: "
          f"{'met' if cpu < IDLE_CPU_GOAL_PERCENT else 'NOT met'})   PSS {pss_mib:5.1f} MiB "
          f"(goal < {IDLE_PSS_GOAL_MIB} MiB: "
          f"{'met' if pss_mib < IDLE_PSS_GOAL_MIB else 'NOT met'})")


async def main() -> None:
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (Debian package wrk)")
    cabinet = SimulatedCabinet()
    for unit in range(1, BOARDS + 1):
        cabinet.add_relay_board(unit, coils=COILS)
    port = await cabinet.start_tcp("127.0.0.1", 0)
    with tempfile.TemporaryDirectory() as data:
        idle = await idle_cost(port, Path(data) / "idle")
        bare_rate, bare_p99 = await bare_baseline()
        variants = {name: await load_and_lateness(port, Path(data) / name,
                                                  front_process=front_process)
                    for name, front_process in VARIANTS.items()}
    await cabinet.stop()
    print(f"wrk, {CONNECTIONS} connections, {LOAD_S} s each, 64 circuits and 8 boards:")
    print(f"  bare FastAPI + response model   {bare_rate:8.0f} req/s   p99 {bare_p99:6.2f} ms"
          "  (baseline)")
    for name, figures in variants.items():
        print_variant(name, figures, bare_rate)
    print_idle(idle)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve-bare"]:
        serve_bare(int(sys.argv[2]))
    else:
        asyncio.run(main())
