"""The broadcast log: every airing ends in it with its outcome, times and zones
(docs/architecture.md, the radio's rules: ``completed``, ``preempted``, ``failed``, ``missed``,
``skipped`` or ``cancelled``).

It is also the memory that keeps an item from airing twice: an airing is written (``playing``)
before its first sample, so a controller killed in the middle of an item does not replay it
after the restart; it finds the record without an outcome and closes it as ``failed``.

That claim sits between the item's scheduled second and its first sample, so it does not wait
for the SD card: the line is written first (from then on a killed process cannot lose it) and
fsynced on the history's own thread while the item starts (``History.append(fsync_later=)``,
docs/architecture.md). Every other record here is fsynced before the call returns.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from controller.platform.exports import Column, Table
from controller.platform.history import History
from controller.radio.items import AirItem

OUTCOMES = ("completed", "preempted", "failed", "missed", "skipped", "cancelled")
# The log as a commune office downloads it (docs/exports.md): "ref" is the programme's or the
# announcement's id and "title" its name; zone ids and their names side by side.
LOG_COLUMNS = (Column("due", "time"), Column("started", "time"), Column("ended", "time"),
               Column("outcome"), Column("kind"), Column("ref"), Column("title"),
               Column("level"), Column("zone_ids"), Column("zone_names"),
               Column("start_offset_ms", "number"), Column("reason"))


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
        """Claim an airing (outcome None) just before its first sample: seen from now on, in
        this process and, once this returns, after any crash but a power cut."""
        self._seen.add(item.key)
        return self._history.append({**_fields(item), "outcome": None,
                                     "claimed_at": at.isoformat()}, at=at, fsync_later=True)

    def finish(self, record_id: str, outcome: str, *, at: datetime,
               started_at: datetime | None, reason: str | None = None,
               due: datetime | None = None, extra: Mapping[str, Any] | None = None) -> None:
        """The airing's outcome; ``extra`` adds fields (a live talk's ``duration_s``)."""
        assert outcome in OUTCOMES
        changes: dict[str, Any] = {"outcome": outcome, "ended_at": at.isoformat(),
                                   "started_at": started_at.isoformat() if started_at else None}
        if started_at is not None and due is not None:
            changes["start_offset_ms"] = round((started_at - due).total_seconds() * 1000, 1)
        if reason:
            changes["reason"] = reason
        changes.update(extra or {})
        self._history.amend(record_id, changes, at=at)

    def amend(self, record_id: str, changes: Mapping[str, Any], *, at: datetime) -> None:
        """Add fields to a record once its airing is over (a live talk's ``recording``)."""
        self._history.amend(record_id, dict(changes), at=at)

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


def log_table(records: list[dict[str, Any]], *, tz: ZoneInfo,
              zone_names: Mapping[str, str]) -> Table:
    """The monthly report: one row per airing, in the site's time zone ``tz``. Zone ids are
    joined by spaces (ids have none) and their names by "; "; a zone no longer configured, or
    one without a name, is named by its id."""
    rows = []
    for record in records:
        zones = list(record.get("zones", []))
        rows.append((
            _moment(record.get("due")), _moment(record.get("started_at")),
            _moment(record.get("ended_at")), record.get("outcome"), record.get("kind"),
            record.get("ref"), record.get("title"), record.get("level"), " ".join(zones),
            "; ".join(zone_names.get(zone) or zone for zone in zones),
            record.get("start_offset_ms"), record.get("reason")))
    return Table(sheet="broadcasts", columns=LOG_COLUMNS, rows=tuple(rows), tz=tz)


def _moment(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _fields(item: AirItem) -> dict[str, Any]:
    return {"key": item.key, "kind": item.kind, "ref": item.ref, "title": item.title,
            "due": item.due.isoformat(), "level": item.level, "zones": list(item.zones)}
