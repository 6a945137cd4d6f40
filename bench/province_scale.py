"""A province on one mosquitto: 300 gateways and 15,000 field nodes (issue 14).

Who is on the broker, each with an MQTT connection of its own, as in a province:

- imitated gateways: the real ``MqttBridge`` of firmware_bridge/bridge.py, many to a process,
  each in front of a light port (four circuits, nothing on air, announcements accepted without
  storage). Topics, payloads, retained state, last will and acknowledgements are therefore the
  bridge's own and cannot drift from it; what is left out is the controller behind it.
- real controllers: ``communectl run`` processes, each with a simulated Modbus cabinet (served
  from this process, as tests/controller/test_run.py does), that store and air the
  announcement through the whole controller.
- one more real gateway in a process of its own, with 64 circuits on 8 simulated boards, whose
  lighting lateness is measured as in bench/node_load.py: quiet first (no nodes, no province
  load), then with 100 nodes of its own at one message a second each, while the province runs.
- field nodes: a few publisher processes, each with a few connections, 50 nodes per gateway:
  retained ``online``, then telemetry once a minute each; the burst case is every node
  publishing at once (power back after a storm), every few seconds.

Measured, each against a baseline of the same run: ``communectl fleet status`` as a command
(process start to the full list of every gateway, all online with their circuits) and as a
function; ``fleet announce --level emergency`` to every gateway (publish to the last
acknowledgement) against the same to one gateway; the broker's CPU (utime+stime from
/proc/PID/stat) and memory (VmRSS, and Pss from smaps_rollup) as gateways (50..300) and nodes
(0, 5k, 15k) are added, with the CPU of the imitations and of the publishers beside it.

    .venv/bin/python bench/province_scale.py                      # 300 gateways, 15,000 nodes
    .venv/bin/python bench/province_scale.py --gateways 20 --nodes 1000 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, ClassVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from firmware_bridge import topics

PREFIX = "communectl"
NODES_PER_SITE = 50
OWN_NODES = 100  # of the lateness gateway, one message a second each
TELEMETRY_PERIOD_S = 60.0
BENCH = Path(__file__).resolve()
PYTHON = sys.executable
CLK_TCK = os.sysconf("SC_CLK_TCK")


def imitated_site(index: int) -> str:
    return f"xa-{index:03d}"


# -- /proc ---------------------------------------------------------------------------------------

def cpu_s(pid: int) -> float:
    """utime + stime of a process, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def memory_mib(pid: int) -> tuple[float, float]:
    """(RSS, PSS) in MiB."""
    rss = pss = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                pss = int(line.split()[1])
    except OSError:
        pss = rss
    return rss / 1024, pss / 1024


class CpuMeter:
    """CPU share of some processes over a window: share() since the last start()."""

    def __init__(self, pids: dict[str, list[int]]) -> None:
        self.pids = pids
        self.start()

    def start(self) -> None:
        self._wall = time.monotonic()
        self._cpu = {name: self._total(pids) for name, pids in self.pids.items()}

    def share(self) -> dict[str, float]:
        wall = time.monotonic() - self._wall
        return {name: (self._total(pids) - self._cpu[name]) / wall
                for name, pids in self.pids.items()}

    @staticmethod
    def _total(pids: list[int]) -> float:
        total = 0.0
        for pid in pids:
            with contextlib.suppress(OSError):
                total += cpu_s(pid)
        return total


# -- child: imitated gateways ------------------------------------------------------------------

class ImitatedPort:
    """What MqttBridge asks of a gateway, answered without a controller behind it."""

    CIRCUITS: ClassVar[dict[str, dict[str, Any]]] = {
        c: {"state": "on", "level": 100, "source": "schedule"}
        for c in ("road-1", "road-2", "lane-1", "market")}

    def __init__(self, site: str) -> None:
        self.site, self.announced = site, 0

    def circuit_states(self) -> dict[str, dict[str, Any]]:
        return self.CIRCUITS

    def broadcast_now(self) -> dict[str, Any] | None:
        return None

    async def set_circuit(self, circuit_id: str, command: dict[str, Any]) -> None:
        return None

    async def announce(self, command: dict[str, Any]) -> str:
        self.announced += 1
        return f"{self.site}-{self.announced}"

    def node_changed(self, node_id: str, node: dict[str, Any]) -> None:
        return None

    def ha_circuits(self) -> list[topics.HaCircuit]:
        return []

    async def ha_command(self, circuit_id: str, command: topics.HaCommand) -> None:
        return None

    async def back_to_schedule(self, circuit_id: str) -> int:
        return 0

    async def reports(self) -> topics.ReportBatch:
        return topics.ReportBatch([], next_in_s=86_400)


async def run_gateways(port: int, first: int, count: int) -> None:
    from firmware_bridge.bridge import BridgeSettings, MqttBridge

    bridges = [MqttBridge(BridgeSettings(url=f"mqtt://127.0.0.1:{port}", prefix=PREFIX,
                                         site_id=imitated_site(i), accept_commands=True),
                          ImitatedPort(imitated_site(i)))
               for i in range(first, first + count)]
    tasks = []
    for bridge in bridges:  # a province's gateways do not all connect in the same millisecond
        tasks.append(asyncio.create_task(bridge.run()))
        await asyncio.sleep(0.002)
    while not all(b.stats.connected for b in bridges):
        await asyncio.sleep(0.05)
    print("ready", flush=True)
    reader = asyncio.StreamReader()
    await asyncio.get_running_loop().connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        if line.strip() == b"stats":
            print(json.dumps({"received": sum(b.stats.received for b in bridges),
                              "connected": sum(b.stats.connected for b in bridges)}),
                  flush=True)
    for task in tasks:
        task.cancel()


# -- child: field nodes ------------------------------------------------------------------------

async def run_nodes(port: int, sites: list[str], per_site: int, period_s: float,
                    connections: int) -> None:
    import aiomqtt

    nodes = [(site, f"n{n:03d}") for site in sites for n in range(per_site)]
    shares = [nodes[i::connections] for i in range(connections)]
    burst = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, burst.set)
    sent = [0]

    def telemetry(site: str, node: str, tick: int) -> tuple[str, bytes]:
        return (topics.node_telemetry(topics.root(PREFIX, site), node),
                json.dumps({"fw": "1.4.2", "rssi": -70 - tick % 20, "uptime_s": tick * 60,
                            "level": 100}).encode())

    async def connection(share: list[tuple[str, str]], ready: asyncio.Event) -> None:
        async with aiomqtt.Client("127.0.0.1", port, max_inflight_messages=100) as client:
            for site, node in share:
                await client.publish(topics.node_status(topics.root(PREFIX, site), node),
                                     "online", qos=1, retain=True)
            ready.set()
            started, tick = time.monotonic(), 0
            step = period_s / max(1, len(share))  # every node once a period, evenly spread
            index = 0
            while True:
                due = started + index * step
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                site, node = share[index % len(share)]
                await client.publish(*telemetry(site, node, tick), qos=0)
                sent[0] += 1
                index += 1
                tick = index // len(share)

    readies = [asyncio.Event() for _ in shares]
    tasks = [asyncio.create_task(connection(share, ready))
             for share, ready in zip(shares, readies, strict=True) if share]
    await asyncio.gather(*(r.wait() for r, s in zip(readies, shares, strict=True) if s))
    print("ready", flush=True)
    async with aiomqtt.Client("127.0.0.1", port, max_inflight_messages=100) as burster:
        while True:
            await burst.wait()
            burst.clear()
            started = time.perf_counter()
            for site, node in nodes:
                await burster.publish(*telemetry(site, node, 0), qos=0)
            print(json.dumps({"burst": len(nodes), "s": time.perf_counter() - started}),
                  flush=True)
    for task in tasks:
        task.cancel()


# -- child: the gateway whose lighting lateness is measured ------------------------------------

async def run_lateness_gateway(port: int, site: str, data: Path) -> None:
    from api_load import staggered_lateness
    from node_load import config_for

    from controller.config import validate_config
    from controller.platform.clock import SystemClock
    from controller.runtime import build_runtime
    from drivers.simulator import SimulatedCabinet

    cabinet = SimulatedCabinet()
    for unit in range(1, 9):
        cabinet.add_relay_board(unit, coils=8)
    modbus = await cabinet.start_tcp("127.0.0.1", 0)
    config = config_for(modbus, port, data)
    config["site"]["id"] = site
    config["mqtt"]["accept_commands"] = True
    config["zones"] = [{"id": "loa", "nodes": ["spk-1"]}]
    config["api"] = {"public_url": "http://127.0.0.1:8080"}  # where its nodes would fetch
    runtime = build_runtime(validate_config(config), SystemClock())
    tasks = [asyncio.create_task(runtime.lighting.run()),
             asyncio.create_task(runtime.bridge.run())]
    while not runtime.bridge.stats.connected:
        await asyncio.sleep(0.05)
    print("ready", flush=True)
    reader = asyncio.StreamReader()
    await asyncio.get_running_loop().connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        words = line.split()
        if words and words[0] == b"measure":
            cpu, wall = time.process_time(), time.monotonic()
            received = runtime.bridge.stats.received
            samples = await staggered_lateness(runtime, int(words[1]))
            wall = time.monotonic() - wall
            print(json.dumps({"lateness": samples, "cpu": (time.process_time() - cpu) / wall,
                              "rate": (runtime.bridge.stats.received - received) / wall,
                              "nodes": len(runtime.nodes())}), flush=True)
    await runtime.bridge.stop()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await runtime.devices.close()
    await cabinet.stop()


# -- the parent ----------------------------------------------------------------------------------

class Child:
    """A child process of this file, speaking in lines on stdin/stdout."""

    def __init__(self, *args: str, nice: int = 0) -> None:
        self.args, self.nice = args, nice  # nice: lower the priority by this much
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            PYTHON, str(BENCH), *self.args, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, limit=2**24, preexec_fn=lower(self.nice))
        await self.expect_line("ready", timeout_s=120)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def expect_line(self, start: str, timeout_s: float = 60) -> str:
        assert self.proc is not None and self.proc.stdout is not None
        async with asyncio.timeout(timeout_s):
            while True:
                line = (await self.proc.stdout.readline()).decode()
                if not line:
                    raise RuntimeError(f"{self.args[0]} ended")
                if line.startswith(start):
                    return line

    async def ask(self, command: str, answer: str = "{", timeout_s: float = 60) -> Any:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(command.encode() + b"\n")
        await self.proc.stdin.drain()
        return json.loads(await self.expect_line(answer, timeout_s))

    async def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            async with asyncio.timeout(5):
                await self.proc.wait()
        except TimeoutError:
            self.proc.terminate()
            await self.proc.wait()


CONTROLLER = """
[site]
id = "{site}"
latitude = 19.87
longitude = 105.71

[storage]
path = "{data}"

[api]
host = "127.0.0.1"
port = {api_port}

[[buses]]
id = "cab"
kind = "tcp"
host = "127.0.0.1"
port = {modbus_port}

[[devices]]
id = "relay-1"
bus = "cab"
unit = 1
profile = "relay8"

[[circuits]]
id = "road-5"
device = "relay-1"
channel = 0

[[circuits]]
id = "lane-2"
device = "relay-1"
channel = 2

[[zones]]
id = "loa"
nodes = ["spk-1"]

[broadcast]
output = "null"

[mqtt]
url = "mqtt://127.0.0.1:{broker}"
accept_commands = true
"""


OTHERS_NICE = 5  # what stands for other machines yields to the gateway measured


def lower(by: int) -> Any:
    return (lambda: os.nice(by)) if by else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def start_broker(folder: Path, nagle: bool = False) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    config = folder / "mosquitto.conf"
    # mosquitto's defaults (queues, inflight windows) but set_tcp_nodelay, as the province's
    # broker should have it (docs/mqtt.md); --nagle leaves Nagle's algorithm on, as mosquitto
    # ships.
    config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n"
                      + ("" if nagle else "set_tcp_nodelay true\n"))
    broker = subprocess.Popen(["mosquitto", "-c", str(config)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    return broker, port


class Province:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args, self.workdir = args, workdir
        self.broker_url = ""
        self.sites: list[str] = []
        self.gateway_children: list[Child] = []
        self.node_children: list[Child] = []
        self.slowest: list[str] = []  # the last to acknowledge, per announce to all
        self.imitated_last: list[float] = []  # the last of the imitated gateways

    # status, as the command and as the function

    async def status_command(self) -> tuple[float, int, int]:
        """Wall time of `communectl fleet status` from process start to its output; gateways
        listed, and listed online with every circuit."""
        started = time.perf_counter()
        proc = await asyncio.create_subprocess_exec(
            PYTHON, "-m", "controller.cli", "fleet", "status", "--broker", self.broker_url,
            "--format", "json", stdout=asyncio.subprocess.PIPE)
        out, _ = await proc.communicate()
        elapsed = time.perf_counter() - started
        listed = json.loads(out)
        return elapsed, len(listed), self._complete(listed)

    async def status_function(self) -> tuple[float, int, int]:
        from firmware_bridge.bridge import connect
        from firmware_bridge.fleet import fleet_status

        started = time.perf_counter()
        found = await fleet_status(lambda: connect(self.broker_url), PREFIX)
        elapsed = time.perf_counter() - started
        return elapsed, len(found), self._complete([g.as_json() for g in found])

    def _complete(self, listed: list[dict[str, Any]]) -> int:
        return sum(1 for g in listed if g["site"] in self.site_set and g["status"] == "online"
                   and g["circuits"])

    async def announce(self, sites: list[str]) -> tuple[float, int]:
        from firmware_bridge.bridge import connect
        from firmware_bridge.fleet import fleet_announce

        announcement = {"source": {"type": "tts", "text": "Bão số 9 sắp đổ bộ."},
                        "level": "emergency", "zones": "all"}
        results = await fleet_announce(lambda: connect(self.broker_url), PREFIX, sites,
                                       announcement, timeout_s=10)
        accepted = [r for r in results if r.outcome == "accepted"]
        last = max((r.ack_ms or 0.0) for r in accepted) / 1000 if accepted else float("nan")
        if len(sites) > 1 and accepted:
            slowest = max(accepted, key=lambda r: r.ack_ms or 0.0)
            self.slowest.append(slowest.site)
            self.imitated_last.append(max((r.ack_ms or 0.0) for r in accepted
                                          if "real" not in r.site) / 1000)
        return last, len(accepted)

    async def fleet_rounds(self, rounds: int) -> dict[str, Any]:
        """fleet status (command and function) and announce to all and to one, interleaved."""
        cmd, fn, many, one, one_imitated = [], [], [], [], []
        incomplete = 0
        for _ in range(rounds):
            elapsed, _listed, complete = await self.status_command()
            cmd.append(elapsed)
            incomplete += complete < len(self.sites)
            elapsed, _listed, complete = await self.status_function()
            fn.append(elapsed)
            incomplete += complete < len(self.sites)
            elapsed, _accepted = await self.announce(self.sites[:1])
            one.append(elapsed)
            imitated = [s for s in self.sites if "real" not in s][:1]
            if imitated:
                one_imitated.append((await self.announce(imitated))[0])
            elapsed, accepted = await self.announce(self.sites)
            many.append(elapsed if accepted == len(self.sites) else float("inf"))
        rounds_imitated = self.imitated_last[-rounds:]
        return {"cmd": cmd, "fn": fn, "many": many, "one": one, "incomplete": incomplete,
                "one_imitated": one_imitated, "many_imitated": rounds_imitated}

    @property
    def site_set(self) -> set[str]:
        return set(self.sites)


def q(values: list[float], p: float) -> float:
    return percentile(values, p) * 1000


async def main(args: argparse.Namespace) -> None:
    if shutil.which("mosquitto") is None:
        sys.exit("mosquitto is not installed")
    from drivers.simulator import SimulatedCabinet

    begun = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        broker, port = start_broker(workdir, args.nagle)
        await asyncio.sleep(0.3)
        province = Province(args, workdir)
        province.broker_url = f"mqtt://127.0.0.1:{port}"
        cabinets, controllers = [], []
        children: list[Child] = []
        try:
            # the real ones: communectl run, and the lateness gateway
            for n in range(1, args.controllers + 1):
                cabinet = SimulatedCabinet()
                cabinet.add_relay_board(1, coils=8)
                modbus = await cabinet.start_tcp("127.0.0.1", 0)
                cabinets.append(cabinet)
                site = f"xa-real-{n}"
                config = workdir / f"{site}.toml"
                config.write_text(CONTROLLER.format(site=site, data=workdir / site,
                                                    api_port=free_port(), modbus_port=modbus,
                                                    broker=port))
                controllers.append(await asyncio.create_subprocess_exec(
                    PYTHON, "-m", "controller.cli", "run", "--config", str(config),
                    stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
                    preexec_fn=lower(OTHERS_NICE)))
                province.sites.append(site)
            lateness = Child("lateness", str(port), "xa-real-0", str(workdir / "xa-real-0"))
            children.append(lateness)
            await lateness.start()
            province.sites.append("xa-real-0")
            real = len(province.sites)
            async with asyncio.timeout(60):  # the controllers up and publishing
                while (await province.status_function())[2] < real:
                    await asyncio.sleep(0.2)
            quiet = await lateness.ask(f"measure {args.lateness_rounds}")

            broker_pids = {"broker": [broker.pid]}
            growth: list[tuple[str, dict[str, float], tuple[float, float], dict[str, Any]]] = []

            async def measure_step(label: str, rounds: int) -> dict[str, Any]:
                meter = CpuMeter({**broker_pids,
                                  "gateways": [c.pid for c in province.gateway_children],
                                  "nodes": [c.pid for c in province.node_children]})
                await asyncio.sleep(args.idle_s)
                idle = meter.share()
                meter.start()
                figures = await province.fleet_rounds(rounds)
                busy = meter.share()
                figures["idle"], figures["busy"] = idle, busy
                growth.append((label, idle, memory_mib(broker.pid), figures))
                print(f"  [{time.monotonic() - begun:5.0f} s] {label}: broker idle "
                      f"{idle['broker']:.1%}, status p50 {q(figures['cmd'], 0.5):.0f} ms",
                      file=sys.stderr, flush=True)
                return figures

            # gateways, in steps
            steps = [s for s in (50, 100, 200, 300) if s < args.gateways] + [args.gateways]
            imitated = 0
            for step in steps:
                want = step - real
                while imitated < want:
                    count = min(args.per_process, want - imitated)
                    child = Child("gateways", str(port), str(imitated), str(count),
                                  nice=OTHERS_NICE)
                    await child.start()
                    children.append(child)
                    province.gateway_children.append(child)
                    province.sites += [imitated_site(i) for i in range(imitated,
                                                                       imitated + count)]
                    imitated += count
                await measure_step(f"{step} gateways, 0 nodes", args.rounds_small)

            # nodes, in steps, on every gateway but the lateness one (it has its own)
            others = [s for s in province.sites if s != "xa-real-0"]
            node_steps = sorted({n for n in (5000, args.nodes) if n <= args.nodes and n > 0})
            publishers = max(1, args.publishers)
            per_publisher = max(1, args.nodes // NODES_PER_SITE // publishers)
            started_sites = 0
            final: dict[str, Any] = {}
            for target in node_steps:
                want_sites = min(len(others), target // NODES_PER_SITE)
                while started_sites < want_sites:
                    count = min(per_publisher, want_sites - started_sites)
                    chunk = others[started_sites:started_sites + count]
                    child = Child("nodes", str(port), ",".join(chunk), str(NODES_PER_SITE),
                                  str(TELEMETRY_PERIOD_S), "4", nice=OTHERS_NICE)
                    await child.start()
                    children.append(child)
                    province.node_children.append(child)
                    started_sites += count
                nodes_now = started_sites * NODES_PER_SITE
                if target == node_steps[-1]:
                    own = Child("nodes", str(port), "xa-real-0", str(OWN_NODES), "1", "1",
                                nice=OTHERS_NICE)
                    await own.start()
                    children.append(own)
                    # Its nodes and the province's telemetry alone first, then with the fleet
                    # rounds, whose commands run on these same cores at full priority.
                    idle_lateness = await lateness.ask(f"measure {args.lateness_rounds}",
                                                       timeout_s=120)
                    measuring = asyncio.create_task(
                        lateness.ask(f"measure {args.lateness_rounds}", timeout_s=120))
                    final = await measure_step(f"{len(province.sites)} gateways, "
                                               f"{nodes_now:,} nodes", args.rounds)
                    final["lateness"] = await measuring
                    final["lateness_idle"] = idle_lateness
                else:
                    await measure_step(f"{len(province.sites)} gateways, {nodes_now:,} nodes",
                                       args.rounds_small)

            # the burst: every node at once, every burst_every_s seconds
            burst_result: dict[str, Any] = {}
            if province.node_children:
                stop = asyncio.Event()
                burst_s: list[float] = []

                async def bursts() -> None:
                    while not stop.is_set():
                        for child in province.node_children:
                            assert child.proc is not None
                            child.proc.send_signal(signal.SIGUSR1)
                        for child in province.node_children:
                            burst_s.append(json.loads(await child.expect_line("{"))["s"])
                        with_timeout = asyncio.create_task(stop.wait())
                        await asyncio.wait([with_timeout], timeout=args.burst_every_s)
                        with_timeout.cancel()

                received = [await c.ask("stats") for c in province.gateway_children]
                meter = CpuMeter({**broker_pids,
                                  "gateways": [c.pid for c in province.gateway_children],
                                  "nodes": [c.pid for c in province.node_children]})
                bursting = asyncio.create_task(bursts())
                measuring = asyncio.create_task(
                    lateness.ask(f"measure {args.lateness_rounds}", timeout_s=120))
                burst_result = await province.fleet_rounds(args.rounds_small)
                burst_result["lateness"] = await measuring
                stop.set()
                await bursting
                burst_result["busy"] = meter.share()
                burst_result["burst_s"] = burst_s
                after = [await c.ask("stats") for c in province.gateway_children]
                burst_result["delivered"] = sum(a["received"] - b["received"]
                                                for a, b in zip(after, received, strict=True))
                burst_result["bursts"] = len(burst_s) // len(province.node_children)
        finally:
            for child in reversed(children):
                await child.stop()
            for proc in controllers:
                if proc.returncode is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in controllers:
                try:
                    async with asyncio.timeout(10):
                        await proc.wait()
                except TimeoutError:
                    proc.kill()
            for cabinet in cabinets:
                await cabinet.stop()
            broker.terminate()
            broker.wait()
    report(args, quiet, growth, final, burst_result, len(province.sites), real,
           time.monotonic() - begun)
    from collections import Counter
    print(f"announce to all: the last to acknowledge {dict(Counter(province.slowest))}; the "
          f"imitated gateways' last ack p50 {q(province.imitated_last, 0.5):.0f} ms")


def report(args: argparse.Namespace, quiet: dict[str, Any],
           growth: list[tuple[str, dict[str, float], tuple[float, float], dict[str, Any]]],
           final: dict[str, Any], burst: dict[str, Any], gateways: int, real: int,
           took_s: float) -> None:
    ms = 1000
    print(f"province on one mosquitto: {gateways} gateways ({real} real, "
          f"{gateways - real} imitated), {args.nodes:,} nodes at one message a minute each; "
          f"run took {took_s:.0f} s")
    print("growth (broker CPU share of one core; idle = keepalives and telemetry only, "
          "busy = during fleet status/announce rounds; memory after the step):")
    print(f"  {'step':<28} {'idle':>6} {'busy':>6} {'RSS MiB':>8} {'PSS MiB':>8}  "
          f"{'imitation':>9} {'publishers':>10}  status p50  announce p50")
    for label, idle, (rss, pss), figures in growth:
        print(f"  {label:<28} {idle['broker']:6.1%} {figures['busy']['broker']:6.1%} "
              f"{rss:8.1f} {pss:8.1f}  {figures['busy']['gateways']:9.1%} "
              f"{figures['busy']['nodes']:10.1%}  {q(figures['cmd'], 0.5):7.0f} ms "
              f"{q(figures['many'], 0.5):8.0f} ms")
    if final:
        print(f"at {gateways} gateways, {args.nodes:,} nodes, {len(final['cmd'])} rounds:")
        line_figures(final, gateways)
    if burst:
        total = sum(burst["burst_s"])
        sent = args.nodes * burst["bursts"]
        print(f"burst: every node at once, {burst['bursts']} bursts of {args.nodes:,} "
              f"({sent / max(total, 1e-9) * len(burst['burst_s']) / max(1, burst['bursts']):,.0f}"
              f" msg/s offered by the publishers); broker {burst['busy']['broker']:.1%}, "
              f"imitation {burst['busy']['gateways']:.1%}, publishers "
              f"{burst['busy']['nodes']:.1%}; telemetry delivered to the gateways "
              f"{burst['delivered']:,}")
        line_figures(burst, gateways)
    measured = (("quiet (baseline)", quiet),
                ("100 own nodes, no fleet rounds", final.get("lateness_idle")),
                ("100 own nodes, fleet rounds", final.get("lateness")),
                ("burst, 100 own nodes, fleet rounds", burst.get("lateness")))
    for name, extra in measured:
        if not extra or not extra.get("lateness"):
            continue
        samples = extra["lateness"]
        print(f"lateness of the 64-circuit gateway, {name:<34}: p50 "
              f"{statistics.median(samples) * ms:5.2f} ms  p99 "
              f"{percentile(samples, 0.99) * ms:5.2f} ms  max {max(samples) * ms:5.1f} ms "
              f"(n={len(samples)}); its nodes {extra['nodes']}, {extra['rate']:.0f} msg/s "
              f"handled, its CPU {extra['cpu']:.1%}")


def line_figures(figures: dict[str, Any], gateways: int) -> None:
    cmd, fn, many, one = figures["cmd"], figures["fn"], figures["many"], figures["one"]
    print(f"  fleet status, the command: p50 {q(cmd, 0.5):.0f} ms p95 {q(cmd, 0.95):.0f} ms; "
          f"the function: p50 {q(fn, 0.5):.0f} ms p95 {q(fn, 0.95):.0f} ms "
          f"(goal < 1000 ms; incomplete lists: {figures['incomplete']})")
    ratio = statistics.median(many) / statistics.median(one)
    print(f"  fleet announce --level emergency to {gateways}: every ack in p50 "
          f"{q(many, 0.5):.0f} ms p95 {q(many, 0.95):.0f} ms; to 1 (baseline) p50 "
          f"{q(one, 0.5):.0f} ms; ratio {ratio:.2f}x (goal < 2000 ms and < 1.5x)")
    if figures["one_imitated"]:
        mine, alone = figures["many_imitated"], figures["one_imitated"]
        print(f"    the imitated gateways alone: their last ack p50 {q(mine, 0.5):.0f} ms; to one "
              f"imitated gateway p50 {q(alone, 0.5):.0f} ms; ratio "
              f"{statistics.median(mine) / statistics.median(alone):.2f}x")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gateways", type=int, default=300)
    parser.add_argument("--nodes", type=int, default=15_000)
    parser.add_argument("--controllers", type=int, default=2, help="communectl run processes")
    parser.add_argument("--per-process", type=int, default=100,
                        help="imitated gateways per process")
    parser.add_argument("--publishers", type=int, default=3, help="node publisher processes")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--rounds-small", type=int, default=3)
    parser.add_argument("--lateness-rounds", type=int, default=5)
    parser.add_argument("--idle-s", type=float, default=3.0)
    parser.add_argument("--burst-every-s", type=float, default=3.0)
    parser.add_argument("--nagle", action="store_true",
                        help="the broker without set_tcp_nodelay (mosquitto's default)")
    return parser.parse_args()


if __name__ == "__main__":
    role = sys.argv[1] if len(sys.argv) > 1 else ""
    if role == "gateways":
        asyncio.run(run_gateways(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])))
    elif role == "nodes":
        asyncio.run(run_nodes(int(sys.argv[2]), sys.argv[3].split(","), int(sys.argv[4]),
                              float(sys.argv[5]), int(sys.argv[6])))
    elif role == "lateness":
        asyncio.run(run_lateness_gateway(int(sys.argv[2]), sys.argv[3], Path(sys.argv[4])))
    else:
        asyncio.run(main(parse_args()))
