"""What the radio could air: broadcast programmes and announcements (typed records,
``controller.radio.records``) turned into ``AirItem``s with a key that names one airing, so that
nothing ever airs twice.

A programme's airing is keyed by its occurrence (``program:morning@2027-01-01T05:30:00+07:00``);
an announcement's by its repetition (``announcement:ann-1#2``); a technician's test tone in one
zone, which nothing stores (the radio service hands it to the coordinator), by its zone, a
random part and when it was asked for (``test:trung-tam-1a2b3c4d@2027-01-01T09:00:00+07:00``).
The broadcast log (``controller.radio.airlog``) records every key it has seen, whatever the
outcome. Which announcements may air, and which repeat is next, is
``controller.radio.lifecycle``'s to say.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from controller.config import Config
from controller.radio import lifecycle
from controller.radio.records import Announcement, BroadcastProgram, Zones
from schedules.broadcasts import occurrences

DEFAULT_GRACE_MIN = 10
# A test tone ("Thử loa"): a normal item in one zone, logged with this kind and title. It is
# asked for now, so it may wait a little for the air, not long.
TEST_KIND = "test"
TEST_TITLE = "Thử loa"
TEST_TONE_HZ = 1000
TEST_GRACE = timedelta(minutes=1)
# A live talk (controller.radio.live): someone is speaking now, so it waits for the air a few
# seconds at most.
LIVE_GRACE = timedelta(seconds=10)


@dataclass(frozen=True)
class AirItem:
    key: str
    kind: str  # "program" | "announcement" | "test" | "live"
    ref: str  # programme or announcement id; a test tone's zone
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


def zones_of(config: Config, zones: Zones) -> tuple[str, ...]:
    return tuple(z.id for z in config.zones) if zones == "all" else tuple(zones)


def program_items(config: Config, programs: Iterable[BroadcastProgram], *, start: datetime,
                  end: datetime) -> list[AirItem]:
    """Every airing of every enabled programme in [start, end)."""
    items = []
    for program in programs:
        if not program.enabled:
            continue
        # A programme airs from when it was added or last changed: its earlier occurrences
        # were never promised, and must not be logged as missed.
        effective = program.effective_from
        first = max(start, effective) if effective else start
        if first >= end:
            continue
        for due in occurrences(program.schedule, config.site.timezone, start=first, end=end):
            items.append(AirItem(
                key=f"program:{program.id}@{due.isoformat()}", kind="program", ref=program.id,
                title=program.title, due=due, level=program.level,
                zones=zones_of(config, program.zones), source=program.source,
                grace=timedelta(minutes=_grace_min(program.grace_min, config)),
                known_at=effective))
    return items


def announcement_items(config: Config, announcements: Iterable[Announcement]) -> list[AirItem]:
    """The next airing of every announcement that may air (approved, not cancelled, repeats
    left); the coordinator asks again after each airing."""
    found = (next_airing(config, a) for a in announcements if lifecycle.may_air(a))
    return [item for item in found if item is not None]


def next_airing(config: Config, announcement: Announcement) -> AirItem | None:
    """An announcement's next airing, whatever its status; None when every repeat is done."""
    number = lifecycle.next_repeat(announcement)
    if number is None:
        return None
    return AirItem(
        key=announcement_key(announcement.id, number), kind="announcement",
        ref=announcement.id, title=announcement.title or _title_of(announcement.source),
        due=lifecycle.next_due(announcement), level=announcement.level,
        zones=zones_of(config, announcement.zones), source=announcement.source,
        grace=timedelta(minutes=_grace_min(announcement.grace_min, config)),
        known_at=lifecycle.next_known_at(announcement))


def tone_item(zone_id: str, *, seconds: int, now: datetime, token: str) -> AirItem:
    """A test tone of ``seconds`` in ``zone_id``, due ``now``; ``token`` makes its key unique."""
    return AirItem(
        key=f"{TEST_KIND}:{zone_id}-{token}@{now.isoformat()}", kind=TEST_KIND, ref=zone_id,
        title=TEST_TITLE, due=now, level="normal", zones=(zone_id,),
        source={"type": "tone", "frequency_hz": TEST_TONE_HZ, "seconds": seconds},
        grace=TEST_GRACE, known_at=now)


def live_item(talk_id: str, *, zones: tuple[str, ...], level: str, title: str, person: str,
              source: str, now: datetime) -> AirItem:
    """A live talk, due ``now``; its audio is the talk's (controller.radio.live), not a
    SOURCE."""
    return AirItem(
        key=f"live:{talk_id}@{now.isoformat()}", kind="live", ref=talk_id, title=title,
        due=now, level=level, zones=zones,
        source={"type": "live", "from": source, "person": person}, grace=LIVE_GRACE,
        known_at=now)


def announcement_key(announcement_id: str, number: int) -> str:
    return f"announcement:{announcement_id}#{number}"


def repeat_number(item: AirItem) -> int:
    """Which repeat of its announcement an announcement's airing is (1, 2, ...)."""
    return int(item.key.rsplit("#", 1)[1])


def _grace_min(grace_min: float | None, config: Config) -> float:
    return config.broadcast.grace_min if grace_min is None else grace_min


def _title_of(source: Mapping[str, object]) -> str:
    if source.get("type") == "tts":
        text = str(source.get("text", ""))
        return text[:60] + ("…" if len(text) > 60 else "")
    return str(source.get("type", "item"))
