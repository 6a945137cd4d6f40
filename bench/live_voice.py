"""Live voice ("Phát trực tiếp"): mouth-to-speaker latency, at the gateway's own output and at
its field nodes, gaps on a long talk, and the lighting coordinator's lateness while a talk runs.

A real controller (coordinators and API on their loop, in a thread of this process; the front
process; a simulated relay board over Modbus TCP; the WAV file sink; a mosquitto broker on
loopback, started as tests/conftest.py starts it) and a Python WebSocket client (wsproto,
tests/controller/http/live_client.py) that talks as the page does: 20 ms of house PCM a
message, in real time, through the front to /api/v1/live. Each message starts with a marker
(30001, -30001, its number) followed by a quiet tone; the bench reads the sink's WAV as it
grows (every 2 ms) and times each marker from the moment its message was sent to the moment
the sink had written it, and to its place in the output's timeline (the first sample written,
plus its position over the rate). Where a marker sits in the WAV against where it was said
shows each run of silence the output inserted (and any audio it dropped), and when, with how
late the talker itself sent just before and what other programs took then. The baselines,
measured in the same run: the same messages through a bare TCP echo on loopback (send to echo
received), and the talker's own lateness against its 20 ms schedule.

The talk goes to every zone: the wired one, and one of ``--nodes`` IP loudspeaker receivers
(docs/mqtt.md). The receivers run in a process of their own, as the devices they stand for
would: each is an aiomqtt client that is online (retained status) with telemetry once a
minute, acknowledges every command, and on ``play`` opens the part's bare PCM (``GET
/media/{token}.pcm``, httpx, through the front) and scans it for the markers as the bytes come.
Each marker is timed from the moment its message was sent to its arrival at every node, and to
its time in the output of a player that starts with the stream's first byte (the most a marker
came behind that time is the buffer such a player needs never to run dry); a receiver's own
player buffer comes after that and is not measured. time.monotonic is CLOCK_MONOTONIC, one
clock for every process of the machine.

The file sink writes a sample when it is handed over; an ALSA card adds its own buffer after
that (the 8 KiB pipe into aplay, about 0.19 s, and the card's period), which this does not
measure. Lateness: overrides expiring 15 ms apart on five circuits (as bench/lateness.py),
quiet rounds (the nodes online, nothing airing) and rounds during the talk. The alarms and
events the controller wrote during the talk are listed. CPU over the talk (utime + stime,
proc(5)): the controller is this process less the bench's own talker, sink reader and sampler
threads (their CPU clocks); the front, mosquitto and the receivers' process each their own;
the rest of the machine is its busy time (/proc/stat) less all of those, what other programs
took, to within a few percent of a core (/proc/stat counts by the tick; a figure taken while
it is high is not the product's). Memory: VmRSS sampled every
second (this process's includes the bench's own arrays, about 3 MiB for 30 minutes). Goals
(issue 13): p95 under 500 ms to the speakers, no gap on a 30-minute talk, lateness unchanged
while it runs.

    .venv/bin/python bench/live_voice.py [--seconds 150] [--nodes 20]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiomqtt
import httpx
import numpy as np

# The repository's root, for tests/ (not installed) when this runs as a script (make bench).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from controller.platform.users import UserBook
from tests.conftest import _wait_for_port
from tests.controller.http.browser import Controller
from tests.controller.http.live_client import LiveSocket, sign_in_cookie

RATE = 22050
FRAMES = 441  # 20 ms
MARK = (30001, -30001)
SITE = "bench"
NODE_ZONE = "loa-ip"
TELEMETRY_S = 60.0  # a receiver's telemetry, once a minute (docs/mqtt.md); silent 120 s: offline
CLK_TCK = os.sysconf("SC_CLK_TCK")

CONFIG = """
[site]
id = "bench"
latitude = 19.87
longitude = 105.71

[storage]
path = "{data}"

[api]
host = "127.0.0.1"
port = 0

[lighting]
check_interval_s = 3600
settle_s = 0

[[buses]]
id = "cabinet"
kind = "tcp"
host = "127.0.0.1"
port = {port}
timeout_s = 0.5

[[devices]]
id = "relay-1"
bus = "cabinet"
unit = 1
profile = "relay8"
""" + "".join(f"""
[[circuits]]
id = "c{n}"
device = "relay-1"
channel = {n}
""" for n in range(5)) + """
[[amplifiers]]
id = "amp-1"
device = "relay-1"
channel = 6
warmup_s = 0

[[zones]]
id = "all-village"
name = "Cả xã"
device = "relay-1"
channel = 7
amplifier = "amp-1"

[broadcast]
output = "file:air"
chime = false
quiet_hours = ""
"""


def node_names(count: int) -> list[str]:
    return [f"spk-{n:02d}" for n in range(1, count + 1)]


def config_with_nodes(count: int, broker: int) -> str:
    """CONFIG with a zone of ``count`` IP receivers on the broker at ``broker``."""
    if not count:
        return CONFIG
    return CONFIG + f"""
[[zones]]
id = "{NODE_ZONE}"
name = "Loa IP"
nodes = {json.dumps(node_names(count))}

[mqtt]
url = "mqtt://127.0.0.1:{broker}"
"""


def message(number: int) -> bytes:
    tone = (3000 * np.sin(2 * np.pi * 440 * (np.arange(FRAMES) + number * FRAMES) / RATE))
    samples = tone.astype("<i2")
    samples[:4] = (MARK[0], MARK[1], number & 0x7FFF, number >> 15)
    return samples.tobytes()


def markers(samples: np.ndarray) -> list[tuple[int, int]]:
    """(index, number) of each whole marker in ``samples``; one in the last three samples
    may be cut short, and is found once the next samples come."""
    hits = np.nonzero((samples[:-3] == MARK[0]) & (samples[1:-2] == MARK[1]))[0]
    return [(int(hit), int(samples[hit + 2]) | (int(samples[hit + 3]) << 15)) for hit in hits]


def quantiles(values: Sequence[float] | np.ndarray) -> str:
    if not len(values):
        return "no samples"
    ordered = np.sort(np.asarray(values, dtype=float))
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return (f"p50 {float(np.median(ordered)) * 1000:6.1f} ms  p95 {p95 * 1000:6.1f} ms  "
            f"max {ordered[-1] * 1000:6.1f} ms  ({len(ordered)} samples)")


# -- /proc -----------------------------------------------------------------------------------

def cpu_s(pid: int | str = "self") -> float:
    """utime + stime of a process (all its threads, those that ended too), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_mib(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def machine_busy_s() -> float:
    """CPU time the whole machine spent busy (proc(5), /proc/stat: all but idle and iowait),
    in seconds: what other programs took besides ours shows in it."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    ticks = [int(value) for value in fields[:8]]  # user .. steal; guests are in user already
    return (sum(ticks) - ticks[3] - ticks[4]) / CLK_TCK


class ProcessSampler:
    """Every ``every_s`` until stopped: VmRSS of some processes, the CPU they used, and the
    machine's busy time, so that what other programs took can be told for any moment."""

    def __init__(self, pids: dict[str, int | str], every_s: float = 1.0) -> None:
        self.pids, self.every_s = pids, every_s
        self.samples: dict[str, list[float]] = {name: [] for name in pids}
        self.times: list[float] = []
        self.busy_s: list[float] = []  # the machine's
        self.ours_s: list[float] = []  # of the processes in pids
        self.cpu_s = 0.0  # this thread's own
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while True:
            ours = 0.0
            for name, pid in self.pids.items():
                with contextlib.suppress(OSError, RuntimeError):
                    self.samples[name].append(rss_mib(pid))
                    ours += cpu_s(pid)
            self.times.append(time.monotonic())
            self.busy_s.append(machine_busy_s())
            self.ours_s.append(ours)
            self.cpu_s = time.thread_time()
            if self.stop.wait(self.every_s):
                return

    def others_near(self, at: float) -> float:
        """The cores other programs took in the two sampling intervals before ``at``."""
        last = min(max(2, int(np.searchsorted(self.times, at))), len(self.times) - 1)
        if last < 2:
            return float("nan")
        first = last - 2
        busy = self.busy_s[last] - self.busy_s[first] - (self.ours_s[last] - self.ours_s[first])
        return busy / (self.times[last] - self.times[first])

    def summary(self, name: str) -> str:
        values = self.samples[name]
        if not values:
            return "not sampled"
        return (f"{values[0]:.0f} MiB at the start, {values[-1]:.0f} at the end, "
                f"max {max(values):.0f}")


# -- the broker ------------------------------------------------------------------------------

@contextlib.contextmanager
def mosquitto(folder: Path) -> Iterator[tuple[int, int]]:
    """A mosquitto on a free loopback port, as the tests' fixture starts it: (port, pid)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = folder / "mosquitto.conf"
    config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n"
                      "persistence false\nmax_queued_messages 10000\n")
    log_path = folder / "mosquitto.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(["mosquitto", "-c", str(config)], stdin=subprocess.DEVNULL,
                                   stdout=log_file, stderr=subprocess.STDOUT)
    try:
        _wait_for_port(process, port, log_path)
        yield port, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- the field nodes (in a process of their own) ---------------------------------------------

@dataclass
class NodeReport:
    """What one receiver heard: each marker's number and when it came (time.monotonic, which
    is the system's CLOCK_MONOTONIC, the same in every process)."""

    name: str
    numbers: array[int] = field(default_factory=lambda: array("l"))
    positions: array[int] = field(default_factory=lambda: array("l"))  # sample in the stream
    arrived: array[float] = field(default_factory=lambda: array("d"))
    commands: list[str] = field(default_factory=list)
    status: int | None = None
    error: str | None = None
    received_bytes: int = 0
    first_byte_at: float | None = None
    ended_at: float | None = None


class FieldNode:
    """An IP loudspeaker receiver in miniature: online, acknowledges every command, and on
    ``play`` streams the part's bare PCM with httpx, looking for markers as the bytes come."""

    def __init__(self, broker: int, name: str, telemetry_s: float = TELEMETRY_S) -> None:
        self.broker, self.telemetry_s = broker, telemetry_s
        self.root = f"communectl/{SITE}/node/{name}"
        self.report = NodeReport(name)
        self.listening: list[asyncio.Task[None]] = []
        self.stopped = asyncio.Event()

    async def run(self) -> None:
        timeout = httpx.Timeout(10.0)  # also between bytes: a firmware's watchdog
        async with httpx.AsyncClient(timeout=timeout, trust_env=False) as http, \
                aiomqtt.Client("127.0.0.1", self.broker) as mqtt:
            await mqtt.subscribe(f"{self.root}/cmd", qos=1)
            await mqtt.publish(f"{self.root}/status", "online", qos=1, retain=True)
            reporting = asyncio.create_task(self.telemetry(mqtt))
            try:
                async for incoming in mqtt.messages:
                    assert isinstance(incoming.payload, bytes)
                    command = json.loads(incoming.payload)
                    self.report.commands.append(command["op"])
                    await mqtt.publish(f"{self.root}/ack",
                                       json.dumps({"id": command["id"], "ok": True}), qos=1)
                    if command["op"] == "play":
                        for part in command["parts"]:
                            self.listening.append(asyncio.create_task(self.listen(http, part)))
                    elif command["op"] == "stop":
                        self.stopped.set()
            finally:
                reporting.cancel()
                await asyncio.gather(reporting, return_exceptions=True)

    async def telemetry(self, mqtt: aiomqtt.Client) -> None:
        began = time.monotonic()
        while True:
            uptime_s = round(time.monotonic() - began)
            await mqtt.publish(f"{self.root}/telemetry",
                               json.dumps({"fw": "2.0.1", "uptime_s": uptime_s}), qos=1)
            await asyncio.sleep(self.telemetry_s)

    async def listen(self, http: httpx.AsyncClient, part: dict[str, Any]) -> None:
        report = self.report
        assert part["live"] and part["format"] == {"encoding": "s16le", "rate": RATE,
                                                   "channels": 1}, part
        carry = b""  # an odd byte, and the last three samples: a marker may straddle reads
        try:
            async with http.stream("GET", part["pcm"]) as response:
                report.status = response.status_code
                async for data in response.aiter_raw():
                    now = time.monotonic()
                    if report.first_byte_at is None:
                        report.first_byte_at = now
                    # The sample of the stream buffer[0] is (carry starts on a sample).
                    base = (report.received_bytes - len(carry)) // 2
                    report.received_bytes += len(data)
                    buffer = carry + data
                    usable = len(buffer) - len(buffer) % 2
                    for hit, number in markers(np.frombuffer(buffer[:usable], "<i2")):
                        report.numbers.append(number)
                        report.positions.append(base + hit)
                        report.arrived.append(now)
                    carry = buffer[max(0, usable - 6):]
        except httpx.HTTPError as exc:
            report.error = f"{type(exc).__name__}: {exc}"
        report.ended_at = time.monotonic()


async def _fleet(broker: int, names: list[str], parent: Connection) -> list[NodeReport]:
    nodes = [FieldNode(broker, name) for name in names]
    running = [asyncio.create_task(node.run(), name=node.root) for node in nodes]
    while not parent.poll():
        await asyncio.sleep(0.1)
        for task in running:
            if task.done():
                task.result()  # a node that failed: the bench fails with its error
    parent.recv()
    # The talk is over: each stream ends with it, then the gateway sends stop.
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not all(
            node.stopped.is_set() and all(task.done() for task in node.listening)
            for node in nodes):
        await asyncio.sleep(0.05)
    tasks = running + [task for node in nodes for task in node.listening]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return [node.report for node in nodes]


def node_fleet(broker: int, names: list[str], parent: Connection) -> None:
    """The receivers' process: runs until the parent says the talk is over, then reports."""
    parent.send(asyncio.run(_fleet(broker, names, parent)))


# -- the gateway's side ----------------------------------------------------------------------

async def echo_baseline(seconds: float) -> list[float]:
    """The same messages, in real time, through a bare TCP echo on loopback."""
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    sent: dict[int, float] = {}
    delays: list[float] = []
    size = FRAMES * 2

    count = int(seconds / 0.02)

    async def read() -> None:
        buffer = b""
        while len(delays) < count:
            buffer += await reader.read(65536)
            while len(buffer) >= size:
                number = int(np.frombuffer(buffer[4:6], "<i2")[0])
                delays.append(time.monotonic() - sent[number])
                buffer = buffer[size:]

    reading = asyncio.create_task(read())
    start = time.monotonic()
    for number in range(count):
        sent[number] = time.monotonic()
        writer.write(message(number))
        await writer.drain()
        await asyncio.sleep(max(0.0, start + (number + 1) * 0.02 - time.monotonic()))
    await asyncio.wait_for(reading, 5)
    writer.close()
    await writer.wait_closed()
    await asyncio.sleep(0.05)  # the echo sees the end and returns
    server.close()
    return delays


class SinkWatcher:
    """Reads the live talk's WAV in the sink's folder as it grows; times each marker."""

    def __init__(self, folder: Path, sent: dict[int, float]) -> None:
        self.folder, self.sent = folder, sent
        # Arrays, not lists: a 30-minute talk has 90,000 markers, kept in the memory measured.
        self.delays = array("d")  # sent to written by the sink
        self.playout = array("d")  # sent to its place in the output's timeline
        self.numbers = array("l")  # of the markers in playout, in order
        self.positions = array("l")  # their samples in the WAV
        self.cpu_s = 0.0  # this thread's own
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self._watch()
        finally:
            self.cpu_s = time.thread_time()

    def _watch(self) -> None:
        path = None
        while path is None and not self.stop.is_set():
            found = sorted(self.folder.glob("*live*.wav"))
            path = found[0] if found else None
            time.sleep(0.002)
        if path is None:
            return
        offset, tail = 44, np.zeros(0, "<i2")
        first_write: float | None = None
        with path.open("rb") as file:
            while True:
                file.seek(offset)
                data = file.read()
                now = time.monotonic()
                usable = len(data) - len(data) % 2
                if usable:
                    if first_write is None:
                        first_write = now  # a card would start playing here
                    # The index (in the whole file) of samples[0].
                    base = (offset - 44) // 2 - len(tail)
                    offset += usable
                    samples = np.concatenate([tail, np.frombuffer(data[:usable], "<i2")])
                    for hit, number in markers(samples):
                        if number in self.sent:
                            sent = self.sent.pop(number)
                            self.delays.append(now - sent)
                            self.playout.append(first_write + (base + hit) / RATE - sent)
                            self.numbers.append(number)
                            self.positions.append(base + hit)
                    tail = samples[-3:]
                elif self.stop.is_set():
                    return
                time.sleep(0.002)


def lateness_rounds(controller: Controller, rounds: int) -> list[float]:
    """Overrides of the five circuits expiring 15 ms apart; their transitions' lateness."""
    runtime = controller.runtime
    loop = controller._loop
    assert runtime is not None and loop is not None
    samples: list[float] = []
    for _ in range(rounds):
        now = runtime.clock.now()
        first = now + timedelta(seconds=1.0)
        for i, circuit in enumerate(runtime.config.circuits):
            runtime.overrides.create(target=f"circuit:{circuit.id}", state="on", level=100,
                                     until=first + timedelta(milliseconds=15 * i),
                                     reason="bench", created_by="bench", now=now)
        loop.call_soon_threadsafe(runtime.lighting.wake)
        time.sleep(max(0.0, (first - runtime.clock.now()).total_seconds() - 0.2))
        loop.call_soon_threadsafe(runtime.lighting.lateness_s.clear)
        time.sleep(0.2 + 0.015 * 5 + 0.4)
        samples += list(runtime.lighting.lateness_s)
    return samples


@dataclass
class TalkFigures:
    ended: dict[str, Any]
    sent_at: array[float]  # by marker number
    lost: int  # markers the sink never wrote
    delays: array[float]
    playout: array[float]
    numbers: array[int]  # of the markers in playout
    positions: array[int]  # their samples in the aired WAV
    wall_s: float
    cpu_s: dict[str, float]  # over the talk, by process
    sampler: ProcessSampler

    def talker_late(self) -> np.ndarray:
        """How late the talker (this process) sent each message against its schedule."""
        sent = np.asarray(self.sent_at)
        return sent - (sent[0] + np.arange(len(sent)) * 0.02)


async def talk(controller: Controller, seconds: float, pids: dict[str, int]) -> TalkFigures:
    parsed = urllib.parse.urlsplit(controller.url)
    headers, csrf = await sign_in_cookie(controller.url, "bench", "mat-khau-bench")
    socket = await LiveSocket.open(parsed.hostname or "", parsed.port or 0, headers=headers)
    await socket.send({"zones": "all", "level": "normal", "csrf": csrf})
    accepted = await socket.next()
    assert isinstance(accepted, dict) and accepted["event"] == "accepted", accepted
    assert await socket.next(30) == {"event": "on_air"}
    sent: dict[int, float] = {}
    sent_at = array("d")
    watcher = SinkWatcher(controller.data / "air", sent)
    processes: dict[str, int | str] = {"self": "self", **pids}
    sampler = ProcessSampler(processes)
    cpu_before = {name: cpu_s(pid) for name, pid in processes.items()}
    busy_before = machine_busy_s()
    talker_before = time.thread_time()
    wall_before = time.monotonic()
    watcher.thread.start()
    sampler.thread.start()
    start = time.monotonic()
    for number in range(int(seconds / 0.02)):
        sent[number] = now = time.monotonic()
        sent_at.append(now)
        await socket.send(message(number))
        await asyncio.sleep(max(0.0, start + (number + 1) * 0.02 - time.monotonic()))
    await socket.send({"type": "stop"})
    ended = await socket.next(60)
    await socket.close()
    await asyncio.sleep(0.5)
    watcher.stop.set()
    watcher.thread.join(5)
    sampler.stop.set()
    sampler.thread.join(5)
    talker_s = time.thread_time() - talker_before
    wall_s = time.monotonic() - wall_before
    used = {name: cpu_s(pid) - cpu_before[name] for name, pid in processes.items()}
    used["others"] = machine_busy_s() - busy_before - sum(used.values())
    used["controller"] = used.pop("self") - talker_s - watcher.cpu_s - sampler.cpu_s
    assert isinstance(ended, dict), ended
    return TalkFigures(ended=ended, sent_at=sent_at, lost=len(sent), delays=watcher.delays,
                       playout=watcher.playout, numbers=watcher.numbers,
                       positions=watcher.positions, wall_s=wall_s,
                       cpu_s=used, sampler=sampler)


def steps(figures: TalkFigures) -> str:
    """Where the aired audio moved against what was said (silence inserted: +, audio
    dropped: -): when into the talk, by how much, how late the talker itself was in the half
    second before, and what other programs took then."""
    numbers = np.asarray(figures.numbers)
    shift = np.asarray(figures.positions) - numbers * FRAMES
    moved = np.nonzero(np.diff(shift))[0] + 1
    late = figures.talker_late()
    shown = []
    for k in moved[:8]:
        number = int(numbers[k])
        before = float(np.max(late[max(0, number - 25):number + 1]))
        others = figures.sampler.others_near(figures.sent_at[number])
        shown.append(f"{number * 0.02:.1f} s ({(shift[k] - shift[k - 1]) / RATE * 1000:+.0f} ms;"
                     f" the talker up to {before * 1000:.0f} ms late, other programs "
                     f"{others:.2f} cores)")
    return ", ".join(shown) + (f" and {len(moved) - 8} more" if len(moved) > 8 else "") \
        or "nowhere"


def events_during(events: list[tuple[float, str]], start: float, end: float) -> str:
    """The alarms and events the controller wrote during the talk, by kind, and when."""
    kinds: dict[str, list[float]] = {}
    for at, kind in events:
        if start <= at <= end:
            kinds.setdefault(kind, []).append(at - start)
    return ", ".join(f"{kind} x{len(times)} ({min(times):.1f} to {max(times):.1f} s)"
                     for kind, times in kinds.items()) or "none"


def node_lines(reports: list[NodeReport], sent_at: array[float]) -> list[str]:
    """The receivers' figures: sent to arrival across all of them, and what each missed."""
    sent = np.asarray(sent_at)
    pooled: list[np.ndarray] = []
    playout: list[np.ndarray] = []
    worst_p95, short_s, short_at, missing, troubles = 0.0, 0.0, 0.0, [], []
    for report in reports:
        numbers = np.asarray(report.numbers, dtype=np.int64)
        positions = np.asarray(report.positions, dtype=np.int64)
        arrived = np.asarray(report.arrived, dtype=float)
        known = numbers < len(sent)
        numbers, positions, arrived = numbers[known], positions[known], arrived[known]
        first, index = np.unique(numbers, return_index=True)  # a marker's first arrival
        delays = arrived[index] - sent[first]
        pooled.append(delays)
        if report.first_byte_at is not None and len(index):
            # A player that starts with the first byte and keeps the rate: when each marker
            # plays, and how far behind that it came (what a buffer of its own must cover).
            plays_at = report.first_byte_at + positions[index] / RATE
            playout.append(plays_at - sent[first])
            behind = arrived[index] - plays_at
            if float(np.max(behind)) > short_s:
                short_s, short_at = float(np.max(behind)), first[np.argmax(behind)] * 0.02
        if len(delays):
            ordered = np.sort(delays)
            worst_p95 = max(worst_p95, float(ordered[min(len(ordered) - 1,
                                                         int(0.95 * len(ordered)))]))
        missing.append(len(sent) - len(first))
        if report.status != 200 or report.error or report.commands[:2] != ["play", "stop"]:
            troubles.append(f"{report.name}: HTTP {report.status}, {report.error or 'no error'}"
                            f", commands {report.commands}")
    everyone = np.concatenate(pooled) if pooled else np.zeros(0)
    played = np.concatenate(playout) if playout else np.zeros(0)
    lost = [f"{r.name} {m}" for r, m in zip(reports, missing, strict=True) if m]
    first_byte = [r.first_byte_at - sent[0] for r in reports if r.first_byte_at is not None]
    received_s = [r.received_bytes / (2 * RATE) for r in reports]
    lines = [
        f"  field nodes: {len(reports)} receivers (aiomqtt, httpx) in a process of their own, "
        "each told over MQTT to play and streaming the bare PCM through the front",
        f"  sent to arrival at a node      {quantiles(everyone)}, all nodes; worst node's p95 "
        f"{worst_p95 * 1000:.1f} ms",
        f"  sent to its time in a node's output {quantiles(played)} (a player that starts "
        f"with the first byte, before its own buffer); the most a marker came behind its "
        f"time: {short_s * 1000:.1f} ms, {short_at:.1f} s into the talk (the buffer a node "
        "needs never to run dry)",
        f"  markers missing per node: {', '.join(lost) if lost else '0 on every node'} "
        f"(of {len(sent)}); received {min(received_s):.2f} to {max(received_s):.2f} s of audio"
        + (f"; first byte {min(first_byte) * 1000:.0f} to {max(first_byte) * 1000:.0f} ms "
           "after the first message was sent" if first_byte else ""),
    ]
    lines += [f"  node trouble: {trouble}" for trouble in troubles]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=150.0, help="length of the talk")
    parser.add_argument("--nodes", type=int, default=20,
                        help="IP loudspeaker receivers in a zone of the talk (0: none)")
    args = parser.parse_args()
    baseline = asyncio.run(echo_baseline(10.0))
    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        broker, broker_pid = stack.enter_context(mosquitto(folder)) if args.nodes else (0, 0)
        controller = stack.enter_context(Controller(folder / "data",
                                                    config_with_nodes(args.nodes, broker)))
        runtime = controller.runtime
        assert runtime is not None
        UserBook(runtime.store).create(name="bench", role="operator",
                                       password="mat-khau-bench", now=runtime.clock.now())
        pids: dict[str, int] = {}
        if runtime.front is not None and runtime.front.process is not None:
            pids["front"] = runtime.front.process.pid
        spawn = multiprocessing.get_context("spawn")
        fleet: multiprocessing.process.BaseProcess | None = None
        parent, child = spawn.Pipe()
        if args.nodes:
            fleet = spawn.Process(
                target=node_fleet, args=(broker, node_names(args.nodes), child), daemon=True)
            fleet.start()
            assert fleet.pid is not None
            pids |= {"mosquitto": broker_pid, "nodes": fleet.pid}
            deadline = time.monotonic() + 30
            while len(runtime.nodes()) < args.nodes:
                assert time.monotonic() < deadline, f"{len(runtime.nodes())} nodes registered"
                time.sleep(0.05)
        events: list[tuple[float, str]] = []  # (when, kind) of every alarm and event
        runtime.alarms.listeners.append(
            lambda record: events.append((time.monotonic(), str(record.get("kind")))))
        lateness_rounds(controller, 1)  # the links' first round trips: not counted
        quiet = lateness_rounds(controller, 8)
        loaded: list[float] = []
        done = threading.Event()

        def during() -> None:
            time.sleep(3)
            while not done.is_set():
                loaded.extend(lateness_rounds(controller, 1))

        rounds = threading.Thread(target=during, daemon=True)
        rounds.start()
        figures = asyncio.run(talk(controller, args.seconds, pids))
        done.set()
        rounds.join(10)
        reports: list[NodeReport] = []
        if fleet is not None:
            parent.send("over")
            assert parent.poll(60), "the receivers did not report"
            reports = parent.recv()
            fleet.join(10)
    ended = figures.ended
    print(f"live talk of {args.seconds:.0f} s through the front's WebSocket to the file sink"
          + (f" and {args.nodes} field nodes:" if args.nodes else ":"))
    print(f"  sent to written by the sink    {quantiles(figures.delays)}; markers never seen: "
          f"{figures.lost}")
    print(f"  sent to its time in the output {quantiles(figures.playout)} (mouth to speaker, "
          f"before a sound card's own buffer); the last marker's "
          f"{figures.playout[-1] * 1000:.1f} ms")
    for line in node_lines(reports, figures.sent_at) if reports else []:
        print(line)
    print(f"  baseline, bare TCP echo on loopback  {quantiles(baseline)}")
    print(f"  the talker's own lateness against its 20 ms schedule (this process) "
          f"{quantiles(figures.talker_late())}")
    print(f"  aired {ended['aired_s']:.2f} s, received {ended['received_s']:.2f} s; "
          f"gaps (runs of inserted silence) {ended['gaps']}, silence {ended['silence_s']} s, "
          f"dropped {ended['dropped_s']} s; outcome {ended['outcome']}")
    print(f"  silence inserted (+) or audio dropped (-) at: {steps(figures)}")
    print(f"  alarms and events during the talk: "
          f"{events_during(events, figures.sent_at[0], figures.sent_at[-1] + 1)}")
    print(f"  lighting lateness quiet        {quantiles(quiet)}")
    print(f"  lighting lateness during talk  {quantiles(loaded)}")
    share = {name: used / figures.wall_s for name, used in figures.cpu_s.items()}
    print("  CPU over the talk, share of one core: " + ", ".join(
        f"{name} {share[name]:.1%}" for name in ("controller", "front", "mosquitto", "nodes")
        if name in share) + f" ({figures.wall_s:.0f} s); the rest of the machine "
        f"({os.cpu_count()} cores) {share['others']:.1%}")
    print(f"  RSS: this process (the controller, and the bench's talker and sink reader) "
          f"{figures.sampler.summary('self')}"
          + (f"; front {figures.sampler.summary('front')}" if "front" in pids else ""))


if __name__ == "__main__":
    main()
