"""What the radio could air: broadcast programmes and announcements as stored, turned into
``AirItem``s with a key that names one airing, so that nothing ever airs twice.

A programme's airing is keyed by its occurrence (``program:morning@2027-01-01T05:30:00+07:00``);
an announcement's by its repetition (``announcement:ann-1#2``). The broadcast log
(``controller.radio.airlog``) records every key it has seen, whatever the outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from controller.config import BroadcastProgramConfig, Config
from controller.platform.store import Store
from schedules.broadcasts import Recurrence, occurrences

PROGRAMS = "broadcast_programs"
ANNOUNCEMENTS = "announcements"
DEFAULT_GRACE_MIN = 10
# A repeated announcement airs again this long after the previous airing ended (or was due).
DEFAULT_REPEAT_GAP = timedelta(minutes=5)


@dataclass(frozen=True)
class AirItem:
    key: str
    kind: str  # "program" | "announcement"
    ref: str  # programme or announcement id
    title: str
    due: datetime
    level: str  # "normal" | "priority" | "emergency"
    zones: tuple[str, ...]
    source: dict[str, Any]
    grace: timedelta
    # When this airing became known (an announcement created, a programme added, a repeat
    # set): an item known less than its warm-up before its due second cannot sound on that
    # second, and the broadcast coordinator does not count that warm-up as lateness.
    known_at: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        return {"key": self.key, "kind": self.kind, "ref": self.ref, "title": self.title,
                "due": self.due.isoformat(), "level": self.level, "zones": list(self.zones),
                "source_type": self.source.get("type")}


def zones_of(config: Config, zones: list[str] | str) -> tuple[str, ...]:
    return tuple(z.id for z in config.zones) if zones == "all" else tuple(zones)


def program_doc(program: BroadcastProgramConfig, *, now: datetime) -> dict[str, Any]:
    return {**program.model_dump(mode="json"), "effective_from": now.isoformat()}


def seed_programs(store: Store, config: Config, *, now: datetime) -> list[str]:
    """Copy the config's broadcast programmes that storage lacks (like lighting programmes)."""
    return [f"broadcast_program:{p.id}" for p in config.broadcast_programs
            if store.insert_new(PROGRAMS, program_doc(p, now=now))]


def program_items(config: Config, store: Store, *, start: datetime,
                  end: datetime) -> list[AirItem]:
    """Every airing of every enabled programme in [start, end)."""
    items = []
    for doc in store.all(PROGRAMS):
        if not doc.get("enabled", True):
            continue
        recurrence = Recurrence.parse(doc["schedule"])
        # A programme airs from when it was added or last changed: its earlier occurrences
        # were never promised, and must not be logged as missed.
        effective = doc.get("effective_from")
        first = max(start, datetime.fromisoformat(effective)) if effective else start
        if first >= end:
            continue
        for due in occurrences(recurrence, config.site.timezone, start=first, end=end):
            items.append(AirItem(
                key=f"program:{doc['id']}@{due.isoformat()}", kind="program", ref=doc["id"],
                title=doc.get("name") or doc["id"], due=due,
                level=doc.get("level", "normal"), zones=zones_of(config, doc["zones"]),
                source=doc["source"],
                grace=timedelta(minutes=_grace_min(doc, config)),
                known_at=datetime.fromisoformat(effective) if effective else None))
    return items


def announcement_items(config: Config, store: Store) -> list[AirItem]:
    """The next airing of every announcement that may air (approved, not cancelled, repeats
    left); the coordinator asks again after each airing."""
    docs = [d for d in store.all(ANNOUNCEMENTS) if d.get("status") == "scheduled"]
    return [item for item in (next_airing(config, d) for d in docs) if item is not None]


def next_airing(config: Config, doc: dict[str, Any]) -> AirItem | None:
    """An announcement's next airing, whatever its status; None when every repeat is done."""
    aired = int(doc.get("aired", 0))
    if aired >= int(doc.get("repeat", 1)):
        return None
    due = datetime.fromisoformat(doc["next_at"] if aired else doc["at"])
    known = doc.get("next_known_at") if aired else doc.get("created_at")
    return AirItem(
        key=f"announcement:{doc['id']}#{aired + 1}", kind="announcement", ref=doc["id"],
        title=doc.get("title") or _title_of(doc["source"]), due=due,
        level=doc.get("level", "normal"), zones=zones_of(config, doc["zones"]),
        source=doc["source"],
        grace=timedelta(minutes=_grace_min(doc, config)),
        known_at=datetime.fromisoformat(known) if known else None)


def _grace_min(doc: dict[str, Any], config: Config) -> float:
    grace = doc.get("grace_min")
    return config.broadcast.grace_min if grace is None else grace


def _title_of(source: dict[str, Any]) -> str:
    if source.get("type") == "tts":
        text = source.get("text", "")
        return text[:60] + ("…" if len(text) > 60 else "")
    return str(source.get("type", "item"))
