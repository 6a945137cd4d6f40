"""The broadcast log: every airing ends in it with its outcome, times and zones (SPEC:
``completed``, ``preempted``, ``failed``, ``missed``, ``skipped`` or ``cancelled``).

It is also the memory that keeps an item from airing twice: an airing is written (``playing``)
before its first sample, so a controller killed in the middle of an item does not replay it
after the restart; it finds the record without an outcome and closes it as ``failed``.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from typing import Any

from controller.history import History
from controller.radio import AirItem

OUTCOMES = ("completed", "preempted", "failed", "missed", "skipped", "cancelled")
CSV_FIELDS = ("due", "started_at", "ended_at", "outcome", "title", "kind", "ref", "level",
              "zones", "start_offset_ms", "reason")


class AirLog:
    def __init__(self, history: History) -> None:
        self._history = history
        self.history = history
        self._seen: set[str] = set()

    def load_seen(self, *, since: datetime) -> None:
        self._seen |= {r["key"] for r in self._history.query(since=since) if "key" in r}

    def seen(self, key: str) -> bool:
        return key in self._seen

    def start(self, item: AirItem, *, at: datetime) -> dict[str, Any]:
        self._seen.add(item.key)
        return self._history.append({**_fields(item), "outcome": None,
                                     "claimed_at": at.isoformat()}, at=at)

    def finish(self, record_id: str, outcome: str, *, at: datetime,
               started_at: datetime | None, reason: str | None = None,
               due: datetime | None = None) -> None:
        assert outcome in OUTCOMES
        changes: dict[str, Any] = {"outcome": outcome, "ended_at": at.isoformat(),
                                   "started_at": started_at.isoformat() if started_at else None}
        if started_at is not None and due is not None:
            changes["start_offset_ms"] = round((started_at - due).total_seconds() * 1000, 1)
        if reason:
            changes["reason"] = reason
        self._history.amend(record_id, changes, at=at)

    def record(self, item: AirItem, outcome: str, *, at: datetime, reason: str) -> None:
        """An item that never aired: missed, skipped or cancelled before its start."""
        assert outcome in OUTCOMES
        self._seen.add(item.key)
        self._history.append({**_fields(item), "outcome": outcome, "started_at": None,
                              "ended_at": None, "reason": reason}, at=at)

    def close_interrupted(self, *, now: datetime, lookback: timedelta) -> int:
        """Airings a previous process began and never finished (it was killed)."""
        open_records = self._history.query(
            since=now - lookback, where=lambda r: "key" in r and r.get("outcome") is None)
        for record in open_records:
            self._history.amend(record["id"], {"outcome": "failed", "ended_at": None,
                                               "reason": "the controller stopped during it"},
                                at=now)
            self._seen.add(record["key"])
        return len(open_records)

    def query(self, *, since: datetime | None = None,
              until: datetime | None = None) -> list[dict[str, Any]]:
        return self._history.query(since=since, until=until, where=lambda r: "key" in r)


def to_csv(records: list[dict[str, Any]]) -> str:
    """The monthly report: one row per airing, zones joined by spaces."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for record in records:
        writer.writerow({**record, "zones": " ".join(record.get("zones", []))})
    return out.getvalue()


def _fields(item: AirItem) -> dict[str, Any]:
    return {"key": item.key, "kind": item.kind, "ref": item.ref, "title": item.title,
            "due": item.due.isoformat(), "level": item.level, "zones": list(item.zones)}
