"""Live voice ("Phát trực tiếp"): mouth-to-speaker latency, gaps on a long talk, and the lighting
coordinator's lateness while a talk runs.

A real controller (coordinators and API on their loop, in a thread of this process; the front
process; a simulated relay board over Modbus TCP; the WAV file sink) and a Python WebSocket
client (wsproto, tests/controller/http/live_client.py) that talks as the page does: 20 ms of
house PCM a message, in real time, through the front to /api/v1/live. Each message starts with
a marker (30001, -30001, its number) followed by a quiet tone; the bench reads the sink's WAV
as it grows (every 2 ms) and times each marker from the moment its message was sent to the
moment the sink had written it. The baseline, measured in the same run: the same messages
through a bare TCP echo on loopback (send to echo received).

The file sink writes a sample when it is handed over; an ALSA card adds its own buffer after
that (the 8 KiB pipe into aplay, about 0.19 s, and the card's period), which this does not
measure. Lateness: overrides expiring 15 ms apart on five circuits (as bench/lateness.py),
quiet rounds and rounds during the talk. Goal (issue 13): p95 under 500 ms.

    .venv/bin/python -m bench.live_voice [--seconds 150]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import threading
import time
import urllib.parse
from datetime import timedelta
from pathlib import Path

import numpy as np

from controller.platform.users import UserBook
from tests.controller.http.browser import Controller
from tests.controller.http.live_client import LiveSocket, sign_in_cookie

RATE = 22050
FRAMES = 441  # 20 ms
MARK = (30001, -30001)

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


def message(number: int) -> bytes:
    tone = (3000 * np.sin(2 * np.pi * 440 * (np.arange(FRAMES) + number * FRAMES) / RATE))
    samples = tone.astype("<i2")
    samples[:4] = (MARK[0], MARK[1], number & 0x7FFF, number >> 15)
    return samples.tobytes()


def quantiles(values: list[float]) -> str:
    if not values:
        return "no samples"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return (f"p50 {statistics.median(ordered) * 1000:6.1f} ms  p95 {p95 * 1000:6.1f} ms  "
            f"max {ordered[-1] * 1000:6.1f} ms  ({len(ordered)} samples)")


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
        self.delays: list[float] = []  # sent to written by the sink
        self.playout: list[float] = []  # sent to its place in the output's timeline
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
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
                    hits = np.nonzero((samples[:-3] == MARK[0]) & (samples[1:-2] == MARK[1]))[0]
                    for hit in hits:
                        number = int(samples[hit + 2]) | (int(samples[hit + 3]) << 15)
                        if number in self.sent:
                            sent = self.sent.pop(number)
                            self.delays.append(now - sent)
                            self.playout.append(first_write + (base + hit) / RATE - sent)
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


async def talk(controller: Controller, seconds: float) -> tuple[dict[str, float], dict]:
    parsed = urllib.parse.urlsplit(controller.url)
    headers, csrf = await sign_in_cookie(controller.url, "bench", "mat-khau-bench")
    socket = await LiveSocket.open(parsed.hostname or "", parsed.port or 0, headers=headers)
    await socket.send({"zones": "all", "level": "normal", "csrf": csrf})
    accepted = await socket.next()
    assert isinstance(accepted, dict) and accepted["event"] == "accepted", accepted
    assert await socket.next() == {"event": "on_air"}
    sent: dict[int, float] = {}
    watcher = SinkWatcher(controller.data / "air", sent)
    watcher.thread.start()
    start = time.monotonic()
    for number in range(int(seconds / 0.02)):
        sent[number] = time.monotonic()
        await socket.send(message(number))
        await asyncio.sleep(max(0.0, start + (number + 1) * 0.02 - time.monotonic()))
    await socket.send({"type": "stop"})
    ended = await socket.next(60)
    await socket.close()
    await asyncio.sleep(0.5)
    watcher.stop.set()
    watcher.thread.join(5)
    assert isinstance(ended, dict), ended
    return {"lost": len(sent), "delays": watcher.delays,  # type: ignore[dict-item]
            "playout": watcher.playout}, ended


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=150.0, help="length of the talk")
    args = parser.parse_args()
    baseline = asyncio.run(echo_baseline(10.0))
    with tempfile.TemporaryDirectory() as data, Controller(Path(data), CONFIG) as controller:
        runtime = controller.runtime
        assert runtime is not None
        UserBook(runtime.store).create(name="bench", role="operator",
                                       password="mat-khau-bench", now=runtime.clock.now())
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
        figures, ended = asyncio.run(talk(controller, args.seconds))
        done.set()
        rounds.join(10)
    delays: list[float] = figures["delays"]  # type: ignore[assignment]
    print(f"live talk of {args.seconds:.0f} s through the front's WebSocket to the file sink:")
    playout: list[float] = figures["playout"]  # type: ignore[assignment]
    print(f"  sent to written by the sink    {quantiles(delays)}; markers never seen: "
          f"{figures['lost']}")
    print(f"  sent to its time in the output {quantiles(playout)} (mouth to speaker, "
          "before a sound card's own buffer)")
    print(f"  baseline, bare TCP echo on loopback  {quantiles(baseline)}")
    print(f"  aired {ended['aired_s']:.2f} s, received {ended['received_s']:.2f} s; "
          f"gaps (runs of inserted silence) {ended['gaps']}, silence {ended['silence_s']} s, "
          f"dropped {ended['dropped_s']} s; outcome {ended['outcome']}")
    print(f"  lighting lateness quiet        {quantiles(quiet)}")
    print(f"  lighting lateness during talk  {quantiles(loaded)}")


if __name__ == "__main__":
    main()
