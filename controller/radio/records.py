"""What the radio stores, as typed records; each converts to and from its TinyDB document here
and nowhere else.

- ``Announcement`` (table ``announcements``): one announcement, its repeats and where it is in
  its lifecycle (``controller.radio.lifecycle`` says how its status moves).
- ``BroadcastProgram`` (table ``broadcast_programs``): a recurring broadcast, with its schedule
  parsed once into a ``schedules.broadcasts.Recurrence`` that travels with it. It has the shape
  of the config's ``[[broadcast_programs]]`` (docs/configuration.md), so one document moves
  between a config file, storage and the API (docs/api.md).
- ``AudioFile`` (table ``audio``): an uploaded file of the audio library.

``RadioBook`` reads and writes them in a ``Store``. A document read back and written again has
the same keys in the same order, times as the ISO-8601 strings ``datetime.isoformat`` wrote
(offset included), and keeps any key this version does not know.

A SOURCE (what an item plays, docs/api.md) stays the JSON object it was validated as
(``controller.radio.source_models``): the player reads it as such.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal, cast, get_args

from controller.config import BroadcastProgramConfig
from controller.platform import documents as fields
from controller.platform.store import Store
from schedules.broadcasts import Recurrence

PROGRAMS = "broadcast_programs"
ANNOUNCEMENTS = "announcements"
AUDIO = "audio"

Level = Literal["normal", "priority", "emergency"]
AnnouncementStatus = Literal["waiting_approval", "scheduled", "done", "cancelled"]
ANNOUNCEMENT_STATUSES: tuple[AnnouncementStatus, ...] = get_args(AnnouncementStatus)
Zones = tuple[str, ...] | Literal["all"]
Document = dict[str, object]
SourceDoc = Mapping[str, object]

DEFAULT_REPEAT_GAP_MIN = 5


def _level(doc: Mapping[str, object]) -> Level:
    value = doc.get("level", "normal")
    if value not in get_args(Level):
        raise ValueError(f"level: {value!r} is not normal, priority or emergency")
    return cast(Level, value)


def _status(value: object) -> AnnouncementStatus:
    for status in ANNOUNCEMENT_STATUSES:
        if value == status:
            return status
    raise ValueError(f"status: {value!r} is not one of {', '.join(ANNOUNCEMENT_STATUSES)}")


def _zones(doc: Mapping[str, object]) -> Zones:
    value = doc["zones"]
    if value == "all":
        return "all"
    if not isinstance(value, list | tuple) or not all(isinstance(z, str) for z in value):
        raise TypeError(f"zones: expected \"all\" or a list of zone ids, found {value!r}")
    return tuple(value)


def zones_doc(zones: Zones) -> list[str] | str:
    return "all" if zones == "all" else list(zones)


def _source(doc: Mapping[str, object]) -> dict[str, object]:
    value = doc["source"]
    if not isinstance(value, dict):
        raise TypeError(f"source: expected an object, found {value!r}")
    return dict(value)


def _extra(doc: Mapping[str, object], known: tuple[str, ...]) -> dict[str, object]:
    """Keys another version wrote: kept, and written back as they were."""
    return {key: value for key, value in doc.items() if key not in known}


def document_id(doc: Mapping[str, object]) -> str:
    """The id of a stored document of any radio table, even one that does not parse."""
    return str(doc.get("id"))


# -- announcements ------------------------------------------------------------------------------

_ANNOUNCEMENT_KEYS = ("source", "zones", "level", "repeat", "repeat_gap_min", "title",
                      "grace_min", "id", "at", "status", "aired", "next_at", "created_by",
                      "created_at", "approved_by", "next_known_at", "cancelled_by")


@dataclass(frozen=True)
class Announcement:
    id: str
    at: datetime  # its first airing
    source: dict[str, object]
    zones: Zones
    level: Level
    status: AnnouncementStatus
    created_by: str
    created_at: datetime
    repeat: int = 1
    repeat_gap_min: float = DEFAULT_REPEAT_GAP_MIN
    title: str = ""
    grace_min: int | None = None  # None: broadcast.grace_min
    aired: int = 0  # repeats aired (or logged otherwise) so far
    next_at: datetime | None = None  # the next repeat's due second, once one has aired
    # When next_at was set: a repeat known less than its warm-up before it cannot sound on
    # its second (controller.radio.items, AirItem.known_at).
    next_known_at: datetime | None = None
    approved_by: str | None = None
    cancelled_by: str | None = None
    extra: Mapping[str, object] = field(default_factory=dict, compare=False)

    @classmethod
    def from_doc(cls, doc: Mapping[str, object]) -> Announcement:
        return cls(
            id=fields.text(doc, "id"), at=fields.moment(doc, "at"), source=_source(doc),
            zones=_zones(doc),
            level=_level(doc), status=_status(doc.get("status")),
            created_by=fields.text(doc, "created_by", ""), created_at=fields.moment(doc,
            "created_at"),
            repeat=fields.whole(doc, "repeat", 1),
            repeat_gap_min=fields.number(doc, "repeat_gap_min", DEFAULT_REPEAT_GAP_MIN),
            title=fields.text(doc, "title", ""), grace_min=fields.optional_whole(doc, "grace_min"),
            aired=fields.whole(doc, "aired", 0), next_at=fields.optional_moment(doc, "next_at"),
            next_known_at=fields.optional_moment(doc, "next_known_at"),
            approved_by=fields.optional_text(doc, "approved_by"),
            cancelled_by=fields.optional_text(doc, "cancelled_by"),
            extra=_extra(doc, _ANNOUNCEMENT_KEYS))

    @staticmethod
    def status_of(doc: Mapping[str, object]) -> object:
        """The status a stored document claims, even one that does not parse."""
        return doc.get("status")

    def to_doc(self) -> Document:
        doc: Document = {
            "source": dict(self.source), "zones": zones_doc(self.zones), "level": self.level,
            "repeat": self.repeat, "repeat_gap_min": self.repeat_gap_min, "title": self.title,
            "grace_min": self.grace_min, "id": self.id, "at": self.at.isoformat(),
            "status": self.status, "aired": self.aired, "next_at": fields.iso(self.next_at),
            "created_by": self.created_by, "created_at": self.created_at.isoformat(),
            "approved_by": self.approved_by}
        # Written once they mean something, as the first versions did.
        if self.next_known_at is not None:
            doc["next_known_at"] = self.next_known_at.isoformat()
        if self.cancelled_by is not None:
            doc["cancelled_by"] = self.cancelled_by
        return {**doc, **self.extra}


# -- broadcast programmes -----------------------------------------------------------------------

_PROGRAM_KEYS = ("id", "name", "schedule", "zones", "level", "source", "enabled", "grace_min",
                 "effective_from")


@dataclass(frozen=True)
class BroadcastProgram:
    id: str
    schedule: Recurrence  # parsed once, from ``schedule_doc``
    schedule_doc: Mapping[str, object]  # as stored (a config's may spell it its own way)
    source: dict[str, object]
    name: str = ""
    zones: Zones = "all"
    level: Level = "normal"
    enabled: bool = True
    grace_min: int | None = None  # None: broadcast.grace_min
    # It airs from when it was added or last changed: earlier occurrences were never promised.
    effective_from: datetime | None = None
    extra: Mapping[str, object] = field(default_factory=dict, compare=False)

    @property
    def title(self) -> str:
        return self.name or self.id

    @classmethod
    def from_doc(cls, doc: Mapping[str, object]) -> BroadcastProgram:
        """Raises ScheduleError for a schedule that does not parse, TypeError or ValueError
        for another field that is not what a programme holds."""
        spec = doc["schedule"]
        if not isinstance(spec, Mapping):
            raise TypeError(f"schedule: expected an object, found {spec!r}")
        enabled = doc.get("enabled", True)
        if not isinstance(enabled, bool):
            raise TypeError(f"enabled: expected true or false, found {enabled!r}")
        return cls(
            id=fields.text(doc, "id"), schedule=Recurrence.parse(spec), schedule_doc=dict(spec),
            source=_source(doc), name=fields.text(doc, "name", ""), zones=_zones(doc),
            level=_level(doc), enabled=enabled, grace_min=fields.optional_whole(doc, "grace_min"),
            effective_from=fields.optional_moment(doc, "effective_from"),
            extra=_extra(doc, _PROGRAM_KEYS))

    @classmethod
    def from_config(cls, program: BroadcastProgramConfig, *,
                    effective_from: datetime | None) -> BroadcastProgram:
        doc: Document = program.model_dump(mode="json")
        return replace(cls.from_doc(doc), effective_from=effective_from)

    def to_doc(self) -> Document:
        doc: Document = {
            "id": self.id, "name": self.name, "schedule": dict(self.schedule_doc),
            "zones": zones_doc(self.zones), "level": self.level, "source": dict(self.source),
            "enabled": self.enabled, "grace_min": self.grace_min}
        if self.effective_from is not None:
            doc["effective_from"] = self.effective_from.isoformat()
        return {**doc, **self.extra}


# -- the audio library --------------------------------------------------------------------------

_AUDIO_KEYS = ("id", "name", "file", "format", "codec", "duration_s", "sample_rate", "channels",
               "size_bytes", "uploaded_by", "uploaded_at")


@dataclass(frozen=True)
class AudioFile:
    id: str
    name: str  # for display only: the file is named by ``file``
    file: str  # its name inside the library folder
    format: str
    codec: str
    duration_s: float
    sample_rate: int
    channels: int
    size_bytes: int
    uploaded_by: str
    uploaded_at: datetime
    extra: Mapping[str, object] = field(default_factory=dict, compare=False)

    @classmethod
    def from_doc(cls, doc: Mapping[str, object]) -> AudioFile:
        return cls(
            id=fields.text(doc, "id"), name=fields.text(doc, "name"), file=fields.text(doc, "file"),
            format=fields.text(doc, "format"), codec=fields.text(doc, "codec"),
            duration_s=fields.number(doc, "duration_s"), sample_rate=fields.whole(doc,
            "sample_rate", 0),
            channels=fields.whole(doc, "channels", 0), size_bytes=fields.whole(doc, "size_bytes"),
            uploaded_by=fields.text(doc, "uploaded_by"), uploaded_at=fields.moment(doc,
            "uploaded_at"),
            extra=_extra(doc, _AUDIO_KEYS))

    def to_doc(self) -> Document:
        return {"id": self.id, "name": self.name, "file": self.file, "format": self.format,
                "codec": self.codec, "duration_s": self.duration_s,
                "sample_rate": self.sample_rate, "channels": self.channels,
                "size_bytes": self.size_bytes, "uploaded_by": self.uploaded_by,
                "uploaded_at": self.uploaded_at.isoformat(), **self.extra}


# -- storage --------------------------------------------------------------------------------------

class RadioBook:
    """The radio's tables in a ``Store``, as records. Every call may touch the disk (a write is
    fsynced): from the event loop, writes go through ``asyncio.to_thread``."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._programs: tuple[tuple[int, ...], list[BroadcastProgram]] | None = None

    # programmes

    def programs(self) -> list[BroadcastProgram]:
        """Every stored programme, by id. Parsed again only when storage changed: the broadcast
        coordinator asks on every wake."""
        revision = self._store.revision()
        cached = self._programs
        if cached is not None and cached[0] == revision and revision:
            return list(cached[1])
        programs = sorted((BroadcastProgram.from_doc(d) for d in self._store.all(PROGRAMS)),
                          key=lambda p: p.id)
        self._programs = (revision, programs)
        return list(programs)

    def program(self, program_id: str) -> BroadcastProgram | None:
        doc = self._store.get(PROGRAMS, program_id)
        return None if doc is None else BroadcastProgram.from_doc(doc)

    def insert_program(self, program: BroadcastProgram) -> bool:
        """Store a new programme; False (and nothing written) if its id exists."""
        return self._store.insert_new(PROGRAMS, program.to_doc())

    def put_program(self, program: BroadcastProgram) -> None:
        self._store.put(PROGRAMS, program.to_doc())

    def delete_program(self, program_id: str) -> BroadcastProgram | None:
        """The programme deleted, None if there was none."""
        with self._store.transaction() as tables:
            doc = tables.get(PROGRAMS, program_id)
            if doc is None:
                return None
            tables.delete(PROGRAMS, program_id)
        return BroadcastProgram.from_doc(doc)

    def seed_programs(self, programs: list[BroadcastProgramConfig], *,
                      now: datetime) -> list[str]:
        """Copy the config's programmes that storage lacks (as lighting programmes are)."""
        return [f"broadcast_program:{p.id}" for p in programs
                if self.insert_program(BroadcastProgram.from_config(p, effective_from=now))]

    # announcements

    def announcements(self) -> list[Announcement]:
        return [Announcement.from_doc(d) for d in self._store.all(ANNOUNCEMENTS)]

    def announcement(self, announcement_id: str) -> Announcement | None:
        doc = self._store.get(ANNOUNCEMENTS, announcement_id)
        return None if doc is None else Announcement.from_doc(doc)

    def put_announcement(self, announcement: Announcement) -> None:
        self._store.put(ANNOUNCEMENTS, announcement.to_doc())

    def update_announcement(self, announcement_id: str,
                            change: Callable[[Announcement], Announcement]
                            ) -> Announcement | None:
        """``change`` applied to the stored announcement with no other write in between; None
        (nothing written) when there is no such announcement."""
        def apply(doc: dict[str, object]) -> dict[str, object]:
            return change(Announcement.from_doc(doc)).to_doc()

        doc = self._store.update(ANNOUNCEMENTS, announcement_id, apply)
        return None if doc is None else Announcement.from_doc(doc)

    # the audio library

    def audio_files(self) -> list[AudioFile]:
        return sorted((AudioFile.from_doc(d) for d in self._store.all(AUDIO)),
                      key=lambda a: a.uploaded_at)

    def audio_file(self, audio_id: str) -> AudioFile | None:
        doc = self._store.get(AUDIO, audio_id)
        return None if doc is None else AudioFile.from_doc(doc)

    def put_audio_file(self, audio: AudioFile) -> None:
        self._store.put(AUDIO, audio.to_doc())

    def update_audio_file(self, audio_id: str,
                          change: Callable[[AudioFile], AudioFile]) -> AudioFile | None:
        """``change`` applied to the stored file's record with no other write in between; None
        (nothing written) when there is no such file."""
        def apply(doc: dict[str, object]) -> dict[str, object]:
            return change(AudioFile.from_doc(doc)).to_doc()

        doc = self._store.update(AUDIO, audio_id, apply)
        return None if doc is None else AudioFile.from_doc(doc)

    def delete_audio_file(self, audio_id: str) -> bool:
        return self._store.delete(AUDIO, audio_id)
