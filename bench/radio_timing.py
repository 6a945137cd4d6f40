"""The radio's timing on a running controller (system clock, real API over HTTP, zone relays on
a simulated board over Modbus TCP, espeak-ng speech, the WAV file sink):

1. start accuracy: scheduled second to first sample written, over many announcements;
   baseline: the event loop's own accuracy at waking for a wall-clock second and writing a
   file, measured the same way in the same process. Beside it, what storage costs on that
   path: the broadcast log's claim of an item ("playing", written before its first sample)
   appended as the controller does it now, and appended with its fsync waited for (as it
   was before the fsync moved off the path, docs/architecture.md), in the same folder.
2. emergency cut-in: from sending POST /announcements (emergency) while another item plays, to
   the emergency's first samples in the sink; cold (new text: speech synthesised on the spot)
   and cached; baseline: the same API call's round trip for a normal announcement.

Goals (issue): start p99 under 250 ms; cut-in under 500 ms.
"""

from __future__ import annotations

import asyncio
import faulthandler
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from controller.app import run_controller
from controller.config import parse_config
from controller.platform.clock import SystemClock
from controller.platform.history import History
from controller.runtime import Runtime
from drivers.simulator import SimulatedCabinet

ITEMS = 30
SPACING_S = 2.0
CUT_ROUNDS = 8
WAV_HEADER_BYTES = 44
STARTUP_TIMEOUT_S = 60.0  # the front process alone may take 30 s (READY_TIMEOUT_S)

CONFIG = """
[site]
id = "bench"
latitude = 19.87
longitude = 105.71
timezone = "Asia/Ho_Chi_Minh"

[storage]
path = "{data}"

[api]
host = "127.0.0.1"
port = 0

[[buses]]
id = "cabinet-1"
kind = "tcp"
host = "127.0.0.1"
port = {port}
timeout_s = 0.5

[[devices]]
id = "relay-2"
bus = "cabinet-1"
unit = 3
profile = "relay8"

[[amplifiers]]
id = "amp-1"
device = "relay-2"
channel = 0
warmup_s = 1

[[zones]]
id = "minh-duc"
device = "relay-2"
channel = 1
amplifier = "amp-1"

[[zones]]
id = "trung-tam"
device = "relay-2"
channel = 2
amplifier = "amp-1"

[broadcast]
output = "file:air"
quiet_hours = "03:00-03:01"
chime = false
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def summary(values: list[float]) -> str:
    return (f"p50 {percentile(values, 50):7.2f} ms  p95 {percentile(values, 95):7.2f} ms  "
            f"p99 {percentile(values, 99):7.2f} ms  max {max(values):7.2f} ms  (n={len(values)})")


def claim_costs(folder: Path) -> tuple[list[float], list[float] | None]:
    """Milliseconds to append a claim like the broadcast log's, as ``AirLog.start`` does it
    (on the path between the due second and the first sample), and with the fsync waited for
    (None where this History has no deferred fsync: then both are the same path)."""
    history = History(folder, "claims")
    record = {"key": "program:bench@2026-12-02T06:00:00+07:00", "kind": "program",
              "ref": "bench", "title": "Bản tin buổi sáng", "level": "normal",
              "zones": ["minh-duc"], "outcome": None}
    deferred = hasattr(history, "sync_pending")
    now_path, synced = [], []
    for _ in range(ITEMS):
        started = time.perf_counter()
        if deferred:
            history.append(record, at=datetime.now(UTC), fsync_later=True)
        else:
            history.append(record, at=datetime.now(UTC))
        now_path.append((time.perf_counter() - started) * 1000)
        if deferred:
            history.sync_pending()
            started = time.perf_counter()
            history.append(record, at=datetime.now(UTC))
            synced.append((time.perf_counter() - started) * 1000)
    return now_path, synced if deferred else None


async def loop_floor(folder: Path) -> list[float]:
    """The event loop waking for a wall-clock second and writing a file: the floor."""
    offsets = []
    for i in range(ITEMS):
        due = datetime.now(UTC) + timedelta(seconds=0.05 + (i % 5) * 0.01)
        await asyncio.sleep((due - datetime.now(UTC)).total_seconds())
        with (folder / f"floor-{i}.raw").open("wb") as out:
            out.write(b"\0" * 4410)
            out.flush()
        offsets.append((datetime.now(UTC) - due).total_seconds() * 1000)
    return offsets


async def start_accuracy(client: httpx.AsyncClient, runtime: Runtime) -> list[float]:
    first = datetime.now(UTC) + timedelta(seconds=25)  # past the preparation lead time
    ids = []
    for i in range(ITEMS):
        at = first + timedelta(seconds=i * SPACING_S)
        reply = await client.post("/announcements", json={
            "at": at.isoformat(), "zones": ["minh-duc"], "force": True,
            "source": {"type": "tts", "text": "Một, hai, ba."}})
        reply.raise_for_status()
        ids.append(reply.json()["id"])
    deadline = time.monotonic() + 25 + ITEMS * SPACING_S + 60
    while time.monotonic() < deadline:
        records = {r["ref"]: r for r in runtime.broadcasts.airlog.query()
                   if r.get("outcome") and r["ref"] in ids}
        if len(records) == len(ids):
            break
        await asyncio.sleep(0.5)
    outcomes = [r["outcome"] for r in records.values()]
    assert outcomes.count("completed") == ITEMS, outcomes
    return [r["start_offset_ms"] for r in records.values()]


async def cut_in(client: httpx.AsyncClient, air: Path, *, cold: bool) -> list[float]:
    latencies = []
    for round_ in range(CUT_ROUNDS):
        playing = await client.post("/announcements", json={
            "zones": ["minh-duc"], "force": True,
            "source": {"type": "tts", "text": "Bản tin dài của đài truyền thanh xã. " * 30}})
        playing.raise_for_status()
        await _wait_playing(client, playing.json()["id"])
        before = set(air.glob("*.wav"))
        text = (f"Khẩn cấp lần {round_ + 1}: " if cold else "Khẩn cấp: ") + \
            "nước lũ đang lên, bà con vùng trũng sơ tán ngay."
        started = time.perf_counter()
        reply = await client.post("/announcements", json={
            "emergency": True, "zones": ["trung-tam"], "source": {"type": "tts", "text": text}})
        reply.raise_for_status()
        while True:
            fresh = [p for p in air.glob("*.wav") if p not in before
                     and p.stat().st_size > WAV_HEADER_BYTES]
            if fresh:
                latencies.append((time.perf_counter() - started) * 1000)
                break
            await asyncio.sleep(0.002)
        await _wait_idle(client)
    return latencies


async def api_round_trip(client: httpx.AsyncClient) -> list[float]:
    times = []
    later = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    for _ in range(CUT_ROUNDS):
        started = time.perf_counter()
        reply = await client.post("/announcements", json={
            "at": later, "zones": ["minh-duc"], "force": True,
            "source": {"type": "tts", "text": "Thông báo."}})
        reply.raise_for_status()
        times.append((time.perf_counter() - started) * 1000)
        await client.delete(f"/announcements/{reply.json()['id']}")
    return times


async def _wait_playing(client: httpx.AsyncClient, announcement_id: str) -> None:
    while True:
        now = (await client.get("/broadcasts/now")).json()
        if now["on_air"] and now["item"]["ref"] == announcement_id:
            await asyncio.sleep(0.5)
            return
        await asyncio.sleep(0.05)


async def _wait_idle(client: httpx.AsyncClient) -> None:
    while (await client.get("/broadcasts/now")).json()["item"] is not None:
        await asyncio.sleep(0.2)


async def _started(controller: asyncio.Task[None],
                   ready: asyncio.Future[tuple[Runtime, str]]) -> tuple[Runtime, str]:
    """The controller's (runtime, url) once it is ready. A controller that stops before that
    (a start-up error: the front process not ready in time, a port) raises its error here;
    awaiting ``ready`` alone would wait for ever. Past STARTUP_TIMEOUT_S every thread's stack
    is printed, to show where start-up is stuck."""
    waited: set[asyncio.Future[Any]] = {controller, ready}
    done, _ = await asyncio.wait(waited, timeout=STARTUP_TIMEOUT_S,
                                 return_when=asyncio.FIRST_COMPLETED)
    if ready in done:
        return ready.result()
    if controller in done:
        controller.result()  # its start-up error
        raise RuntimeError("the controller stopped before it was ready")
    faulthandler.dump_traceback(all_threads=True)
    for task in asyncio.all_tasks():
        task.print_stack(limit=8)
    raise TimeoutError(f"the controller was not ready within {STARTUP_TIMEOUT_S:.0f} s")


async def main() -> None:
    cabinet = SimulatedCabinet()
    cabinet.add_relay_board(3, coils=8)
    port = await cabinet.start_tcp("127.0.0.1", 0)
    with tempfile.TemporaryDirectory() as workdir:
        data = Path(workdir) / "data"
        config = parse_config(CONFIG.format(data=data, port=port))
        stop = asyncio.Event()
        ready: asyncio.Future[tuple[Runtime, str]] = asyncio.get_running_loop().create_future()
        controller = asyncio.create_task(run_controller(
            config, SystemClock(), on_ready=lambda rt, url: ready.set_result((rt, url)),
            stop=stop))
        runtime, url = await _started(controller, ready)
        secret, _ = runtime.tokens.create(name="bench", role="admin", expires_days=None,
                                          now=runtime.clock.now())
        headers = {"Authorization": f"Bearer {secret}"}
        async with httpx.AsyncClient(base_url=url.rstrip("/") + "/api/v1", headers=headers,
                                     timeout=30) as client:
            floor = await loop_floor(Path(workdir))
            print(f"{ITEMS} announcements {SPACING_S:.0f} s apart, speech cached, "
                  "zones on a simulated board over Modbus TCP:")
            offsets = await start_accuracy(client, runtime)
            print(f"  start accuracy (due -> first sample)  {summary(offsets)}")
            print(f"  baseline: loop wake + file write      {summary(floor)}")
            ratio = percentile(offsets, 99) / max(percentile(floor, 99), 0.01)
            print(f"  p99 ratio to the baseline: {ratio:.1f}x"
                  f"; goal p99 < 250 ms: {'met' if percentile(offsets, 99) < 250 else 'NOT met'}")
            on_path, synced = claim_costs(data / "history")
            print(f"  storage on that path: the log's claim   {summary(on_path)}")
            if synced is not None:
                print(f"  the same claim with its fsync waited    {summary(synced)}")
            air = data / "air"
            cold = await cut_in(client, air, cold=True)
            cached = await cut_in(client, air, cold=False)
            baseline = await api_round_trip(client)
            print(f"emergency cut-in while an announcement plays ({CUT_ROUNDS} rounds):")
            print(f"  new text (speech synthesised)         {summary(cold)}")
            print(f"  same text (speech cached)             {summary(cached)}")
            print(f"  baseline: POST /announcements trip    {summary(baseline)}")
            worst = max(cold + cached)
            trip = statistics.median(baseline)
            print(f"  cut-in p50 / API trip p50: {statistics.median(cold) / trip:.1f}x (cold), "
                  f"{statistics.median(cached) / trip:.1f}x (cached)"
                  f"; goal < 500 ms: {'met' if worst < 500 else 'NOT met'} (worst {worst:.0f} ms)")
        stop.set()
        await controller
    await cabinet.stop()


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore::DeprecationWarning")
    asyncio.run(main())
