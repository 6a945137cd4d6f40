"""Write cost of the event history as it grows, against a TinyDB table
(docs/libraries.md, TinyDB).

For 100, 1,000 and 10,000 records already stored: time and bytes per new record for
``History.append`` (one fsynced line) and for an insert into a TinyDB table with its default
JSONStorage (which rewrites and fsyncs the whole file). Bytes are those handed to the file
system: the line for the history, the whole file for TinyDB.

    .venv/bin/python bench/storage_writes.py [--dir DIR]

Run it with ``--dir`` on the gateway's SD card for real figures: /tmp may be a tmpfs, where
fsync costs nothing.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tinydb import TinyDB

from controller.platform.history import History, unix_ms

SIZES = (100, 1_000, 10_000)
HISTORY_APPENDS = 200
TINYDB_INSERT_BUDGET = 200_000  # records rewritten in total per size: 200 inserts at 1,000
AT = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
EVENT = {"type": "alarm", "severity": "alarm", "kind": "device_offline", "target": "relay-1",
         "message": "relay-1 (cabinet-1 unit 1): no answer after 2 retries"}


def prefill_history(directory: Path, existing: int) -> History:
    """``existing`` records, all in today's file (the worst case for a day file), written in one
    go in the format History writes, rather than with ``existing`` fsyncs."""
    history = History(directory, "events")
    history.directory.mkdir(parents=True)
    start_ms = unix_ms(AT) - existing
    lines = []
    for n in range(existing):
        ms = start_ms + n
        stamp = (AT + timedelta(milliseconds=n - existing)).isoformat(timespec="milliseconds")
        lines.append(json.dumps({"id": f"{ms:013d}-{n:06x}", "time": stamp, **EVENT},
                                ensure_ascii=False, separators=(",", ":")))
    (history.directory / f"{AT.date().isoformat()}.jsonl").write_text("\n".join(lines) + "\n")
    return history


def measure_history(directory: Path, existing: int) -> tuple[float, float]:
    history = prefill_history(directory, existing)
    started = time.perf_counter()
    for n in range(HISTORY_APPENDS):
        history.append(EVENT, at=AT + timedelta(milliseconds=n))
    elapsed = time.perf_counter() - started
    return elapsed / HISTORY_APPENDS, history.bytes_written / HISTORY_APPENDS


def measure_tinydb(directory: Path, existing: int) -> tuple[float, float]:
    path = directory / "events.json"
    inserts = max(10, min(200, TINYDB_INSERT_BUDGET // existing))
    with TinyDB(path) as db:
        table = db.table("events")
        table.insert_multiple({"time": AT.isoformat(), **EVENT} for _ in range(existing))
        written = 0
        started = time.perf_counter()
        for _ in range(inserts):
            table.insert({"time": AT.isoformat(), **EVENT})
            written += path.stat().st_size  # JSONStorage rewrites the whole file every time
        elapsed = time.perf_counter() - started
    return elapsed / inserts, written / inserts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=None,
                        help="where to write (default: a temporary folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="storage-bench-") as scratch:
        root = Path(scratch)
        print(f"writing in {root}")
        print(f"{'existing':>9} | {'history ms/rec':>14} {'bytes/rec':>10} | "
              f"{'tinydb ms/rec':>13} {'bytes/rec':>10}")
        results = {}
        for existing in SIZES:
            history = measure_history(root / f"history-{existing}", existing)
            tinydb_dir = root / f"tinydb-{existing}"
            tinydb_dir.mkdir()
            tinydb = measure_tinydb(tinydb_dir, existing)
            results[existing] = (history, tinydb)
            print(f"{existing:>9,} | {history[0] * 1e3:>14.3f} {history[1]:>10,.0f} | "
                  f"{tinydb[0] * 1e3:>13.3f} {tinydb[1]:>10,.0f}")
        (h_s, h_bytes), (t_s, t_bytes) = results[SIZES[-1]]
        print(f"at {SIZES[-1]:,} records a TinyDB insert costs {t_s / h_s:,.0f}x the time and "
              f"{t_bytes / h_bytes:,.0f}x the bytes of a history append")


if __name__ == "__main__":
    main()
