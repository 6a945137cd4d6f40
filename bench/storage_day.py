"""Bytes written to storage in one simulated day of normal operation: 64 circuits on 8 relay
boards, 10 loudspeaker zones, 6 broadcasts, on a fake clock moved through 24 hours (the Modbus
traffic is real, over TCP to the simulated cabinet; audio goes to the null sink).

Baseline in the same run: the same records written the naive way, each one inserted into a
TinyDB file (the default JSON storage rewrites the whole file on every insert).

Goal (issue): under 1 MB a day (an SD card wears with every byte).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tinydb import TinyDB

from controller.config import parse_config
from controller.platform.clock import FakeClock
from controller.runtime import build_runtime
from drivers.simulator import SimulatedCabinet

ICT = ZoneInfo("Asia/Ho_Chi_Minh")
DAY = datetime(2026, 11, 26, 0, 0, tzinfo=ICT)
STEP_S = 10.0
BOARDS, CHANNELS, RADIO_UNIT, ZONES = 8, 8, 20, 10
TIMES = ["05:30", "06:30", "11:00", "17:00", "18:30", "20:00"]


def config_text(data: Path, port: int) -> str:
    parts = [f"""
[site]
id = "bench"
latitude = 19.87
longitude = 105.71
timezone = "Asia/Ho_Chi_Minh"

[storage]
path = "{data}"

[lighting]
check_interval_s = 60

[[buses]]
id = "cabinet"
kind = "tcp"
host = "127.0.0.1"
port = {port}
timeout_s = 0.5

[[lighting_programs]]
id = "part-night"
windows = [{{ on = "sunset+5m", off = "earliest(23:00, sunrise-10m)" }},
           {{ on = "04:30", off = "sunrise-10m" }}]

[[devices]]
id = "radio-board"
bus = "cabinet"
unit = {RADIO_UNIT}
profile = "relay16"

[[amplifiers]]
id = "amp"
device = "radio-board"
channel = 0
warmup_s = 2

[broadcast]
output = "null"
chime = true
"""]
    for board in range(1, BOARDS + 1):
        parts.append(f'[[devices]]\nid = "relay-{board}"\nbus = "cabinet"\nunit = {board}\n'
                     'profile = "relay8"\n')
        for channel in range(CHANNELS):
            parts.append(f'[[circuits]]\nid = "c{board}-{channel}"\ndevice = "relay-{board}"\n'
                         f'channel = {channel}\nprogram = "part-night"\n')
    for zone in range(1, ZONES + 1):
        parts.append(f'[[zones]]\nid = "zone-{zone}"\ndevice = "radio-board"\nchannel = {zone}\n'
                     'amplifier = "amp"\n')
    for index, at in enumerate(TIMES):
        parts.append(f'[[broadcast_programs]]\nid = "news-{index}"\n'
                     f'schedule = {{ times = ["{at}"] }}\n'
                     'source = { type = "tts", text = "Đài truyền thanh xã xin thông báo lịch '
                     'họp dân và lịch tiêm phòng cho gia súc." }\n')
    return "\n".join(parts)


async def simulate_day(workdir: Path) -> tuple[dict[str, int], int, int]:
    cabinet = SimulatedCabinet()
    for board in range(1, BOARDS + 1):
        cabinet.add_relay_board(board, coils=CHANNELS)
    cabinet.add_relay_board(RADIO_UNIT, coils=16)
    port = await cabinet.start_tcp("127.0.0.1", 0)
    clock = FakeClock(DAY - timedelta(minutes=1))
    runtime = build_runtime(parse_config(config_text(workdir / "data", port)), clock)
    # What start-up writes (seeding programmes) is not part of a day of operation.
    start = _written(runtime)
    tasks = [asyncio.create_task(runtime.lighting.run()),
             asyncio.create_task(runtime.broadcasts.run())]
    moved = 0.0
    while moved < 24 * 3600:
        await clock.advance(STEP_S)
        moved += STEP_S
        await asyncio.sleep(0.003)  # the real Modbus I/O of this step
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    end = _written(runtime)
    written = {k: end[k] - start[k] for k in end}
    tts_cache = sum(p.stat().st_size for p in (workdir / "data" / "cache").rglob("*.wav"))
    records = (len(runtime.events.query()) + len(runtime.audit.query())
               + len(runtime.broadcasts.airlog.query()))
    completed = runtime.broadcasts.outcomes.get("completed", 0)
    assert completed == len(TIMES), runtime.broadcasts.outcomes
    await runtime.devices.close()
    await cabinet.stop()
    return written, tts_cache, records


def _written(runtime: Any) -> dict[str, int]:
    return {"state.json": runtime.store.storage.bytes_written,
            "events": runtime.events.bytes_written, "audit": runtime.audit.bytes_written,
            "broadcast log": runtime.broadcasts.airlog.history.bytes_written}


def tinydb_baseline(workdir: Path, records: int, record_bytes: int) -> int:
    path = workdir / "naive.json"
    database = TinyDB(path)
    written = 0
    for index in range(records):
        database.insert({"n": index, "payload": "x" * record_bytes})
        written += path.stat().st_size
    return written


def main() -> None:
    with tempfile.TemporaryDirectory() as workdir:
        started = time.perf_counter()
        written, tts_cache, records = asyncio.run(simulate_day(Path(workdir)))
        elapsed = time.perf_counter() - started
        total = sum(written.values())
        history_bytes = total - written["state.json"]
        per_record = history_bytes // max(records, 1)
        naive = tinydb_baseline(Path(workdir), records, per_record)
    print(f"one simulated day ({elapsed:.0f} s of real time): {BOARDS * CHANNELS} circuits, "
          f"{ZONES} zones, {len(TIMES)} broadcasts, {records} history records")
    for name, size in written.items():
        print(f"  {name:<16} {size:>10,} bytes")
    print(f"  {'total':<16} {total:>10,} bytes  (goal < 1,000,000: "
          f"{'met' if total < 1_000_000 else 'NOT met'})")
    print(f"  speech cache, once per text: {tts_cache:,} bytes (not counted: written once)")
    print(f"baseline: the same {records} records inserted one by one into TinyDB: {naive:,} bytes "
          f"({naive / max(total, 1):.1f}x)")


if __name__ == "__main__":
    main()
