"""The radio's use cases, in one place: broadcast programmes, announcements (with approval),
the audio library, what is on air, stopping it, a test tone in one zone, and the broadcast log
(docs/api.md, Radio; docs/architecture.md). The HTTP routes, MQTT and the CLI call these and
nothing below them.

Checks come before anything is stored, so a refused request changes nothing: zones and audio
files exist, a schedule parses, an announcement is not in the past, and a new item does not
overlap another one in the same zones (``Conflict``, unless the caller forces it). Emergencies
are never refused for overlapping: cutting in is what they are for.

Every refusal is a ``controller.errors.RequestError`` whose ``parts`` name the input to blame.
Writes to storage are fsynced, so they run off the event loop (``asyncio.to_thread``); then the
broadcast coordinator is woken, and the change is recorded in the audit trail. What is on air is
the coordinator's, on the same loop: this service is the one place that asks it.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from controller.config import Config
from controller.errors import Conflict, InvalidInput, NotAllowed, NotFound
from controller.platform.audit import Actor, AuditTrail
from controller.platform.clock import Clock
from controller.platform.distribution import Histogram
from controller.platform.store import Store
from controller.platform.tokens import role_at_least
from controller.radio import lifecycle
from controller.radio.coordinator import LOOKBACK, PREPARE_AHEAD_S, BroadcastCoordinator
from controller.radio.items import (
    TEST_KIND,
    AirItem,
    announcement_items,
    live_item,
    next_airing,
    program_items,
    tone_item,
    zones_of,
)
from controller.radio.library import MAX_NAME_CHARS, AudioLibrary, clean_name
from controller.radio.live import LIVE_TITLE, LiveTalk, feed_from_process
from controller.radio.records import (
    Announcement,
    AnnouncementStatus,
    AudioFile,
    BroadcastProgram,
    RadioBook,
    Zones,
    zones_doc,
)
from controller.radio.requests import (
    AnnouncementCreate,
    BroadcastProgramCreate,
    LiveStart,
    ZoneToneCreate,
)
from controller.radio.source_models import audio_ids_of
from controller.radio.sources import SourcePlayer
from drivers.errors import AudioError, NotAudio
from drivers.pcm import PCM_CHANNELS, PCM_RATE
from schedules.broadcasts import Recurrence, level_rank, may_air, occurrences
from schedules.errors import ScheduleError

log = logging.getLogger(__name__)

# An announcement "at" a moment just gone (a slow phone, a clock a few seconds off) is now.
PAST_TOLERANCE = timedelta(minutes=1)
# How far ahead a new programme is compared with the others for overlaps.
CONFLICT_HORIZON = timedelta(days=7)
# An announcement is compared with the programme airings this long either side of it.
ANNOUNCEMENT_MARGIN = timedelta(hours=4)
NEXT_AIRINGS_SHOWN = 5
NEXT_AIRINGS_HORIZON = timedelta(days=40)

# Who may do what (docs/api.md, roles): each role includes the ones before it.
OPERATOR = "operator"  # audio, programmes, announcements
TECHNICIAN = "technician"  # stop a broadcast, approve, a test tone


@dataclass(frozen=True)
class AudioUse:
    """Something that plays an audio file: a broadcast programme or an announcement."""

    kind: Literal["broadcast_program", "announcement"]
    id: str
    name: str  # the programme's name, the announcement's title


@dataclass(frozen=True)
class NowPlaying:
    """The item the coordinator is airing, or preparing to air."""

    item: AirItem
    state: Literal["preparing", "playing"]
    started_at: datetime | None
    zones_on: tuple[str, ...]

    @property
    def on_air(self) -> bool:
        return self.state == "playing"

    def as_json(self) -> dict[str, object]:
        """As ``GET /broadcasts/now`` and ``{root}/broadcast/now`` show it (docs/mqtt.md)."""
        return {**self.item.as_json(), "state": self.state,
                "started_at": self.started_at.isoformat() if self.started_at else None,
                "zones_on": list(self.zones_on)}


@dataclass(frozen=True)
class ZoneTone:
    """A test tone handed to the coordinator: its item, and when it should sound and end (the
    zone's amplifier warms up first)."""

    item: AirItem
    starts_at: datetime
    ends_at: datetime


class RadioService:
    def __init__(self, *, config: Config, clock: Clock, store: Store, library: AudioLibrary,
                 player: SourcePlayer, broadcasts: BroadcastCoordinator,
                 trail: AuditTrail) -> None:
        self._config = config
        self._clock = clock
        self._book = RadioBook(store)
        self._library = library
        self._player = player
        self._broadcasts = broadcasts
        self._trail = trail
        # Live talks by id, until their recording is kept (and a while after, for the page).
        self._talks: dict[str, LiveTalk] = {}
        self._talk_tasks: set[asyncio.Task[None]] = set()

    # -- broadcast programmes --------------------------------------------------------------------

    def programs(self) -> list[BroadcastProgram]:
        """Every programme, by id."""
        return self._book.programs()

    def program(self, program_id: str) -> BroadcastProgram:
        program = self._book.program(program_id)
        if program is None:
            raise NotFound.of("broadcast programme", program_id)
        return program

    def next_airings(self, program: BroadcastProgram) -> list[datetime]:
        """Its next few occurrences from now (none while it is disabled)."""
        if not program.enabled:
            return []
        now = self._clock.now()
        start = max(now, program.effective_from) if program.effective_from else now
        return occurrences(program.schedule, self._config.site.timezone, start=start,
                           end=start + NEXT_AIRINGS_HORIZON)[:NEXT_AIRINGS_SHOWN]

    async def create_program(self, request: BroadcastProgramCreate, *,
                             actor: Actor) -> BroadcastProgram:
        _require(actor, OPERATOR)
        program = self._program_of(request, program_id=request.id)
        exists = Conflict(f"broadcast programme {program.id!r} exists; PUT replaces it",
                          parts=("id",))
        if self._book.program(program.id) is not None:
            raise exists
        if not request.force:
            self._refuse_program_overlaps(program)
        if not await asyncio.to_thread(self._book.insert_program, program):
            raise exists  # added meanwhile by someone else
        await self._changed(actor, "broadcast_program.create", program.id, program.to_doc())
        return program

    async def replace_program(self, program_id: str, request: BroadcastProgramCreate, *,
                              actor: Actor) -> BroadcastProgram:
        """``request.id`` may be absent (``BroadcastProgramUpdate``), else must be the path's."""
        _require(actor, OPERATOR)
        if request.id is not None and request.id != program_id:
            raise InvalidInput(f"the body names {request.id!r}, the path {program_id!r}",
                               parts=("id",))
        self.program(program_id)
        program = self._program_of(request, program_id=program_id)
        if not request.force:
            self._refuse_program_overlaps(program)
        await asyncio.to_thread(self._book.put_program, program)
        await self._changed(actor, "broadcast_program.update", program_id, program.to_doc())
        return program

    async def delete_program(self, program_id: str, *, actor: Actor) -> BroadcastProgram:
        _require(actor, OPERATOR)
        if any(p.id == program_id for p in self._config.broadcast_programs):
            raise Conflict(f"broadcast programme {program_id!r} is defined in the config file "
                           "and would come back at the next start; disable it (enabled: false) "
                           "instead")
        previous = await asyncio.to_thread(self._book.delete_program, program_id)
        if previous is None:
            raise NotFound.of("broadcast programme", program_id)
        await self._changed(actor, "broadcast_program.delete", program_id, previous.to_doc())
        return previous

    def _program_of(self, request: BroadcastProgramCreate, *,
                    program_id: str) -> BroadcastProgram:
        """The programme a request describes, checked, its schedule parsed (once)."""
        try:
            schedule = Recurrence.parse(request.schedule)
        except ScheduleError as exc:
            raise InvalidInput(str(exc), parts=exc.parts or ("schedule",)) from exc
        source = request.source.model_dump(mode="json")
        zones = _zones(request.zones)
        self._check_zones(zones)
        self._check_audio(source)
        return BroadcastProgram(
            id=program_id, name=request.name, schedule=schedule,
            schedule_doc=schedule.as_json(), zones=zones, level=request.level, source=source,
            enabled=request.enabled, grace_min=request.grace_min,
            # Occurrences before a change were never promised by this version of it.
            effective_from=self._clock.now())

    def _refuse_program_overlaps(self, program: BroadcastProgram) -> None:
        if program.level == "emergency" or not program.enabled:
            return
        now = self._clock.now()
        end = now + CONFLICT_HORIZON
        ours = program_items(self._config, [program], start=now, end=end)
        others = [p for p in self._book.programs() if p.id != program.id]
        theirs = program_items(self._config, others, start=now, end=end)
        self._refuse_overlaps(ours, theirs + self._live_announcement_items())

    # -- announcements ---------------------------------------------------------------------------

    def announcements(self, status: AnnouncementStatus | None = None) -> list[Announcement]:
        """Newest first; only those of ``status`` when given."""
        found = [a for a in self._book.announcements() if status is None or a.status == status]
        return sorted(found, key=lambda a: a.created_at, reverse=True)

    def announcement(self, announcement_id: str) -> Announcement:
        announcement = self._book.announcement(announcement_id)
        if announcement is None:
            raise NotFound.of("announcement", announcement_id)
        return announcement

    async def announce(self, request: AnnouncementCreate, *, actor: Actor) -> Announcement:
        """A new announcement, waiting for approval when the installation asks for it
        (``broadcast.require_approval``) and ``actor`` is below a technician."""
        _require(actor, OPERATOR)
        now = self._clock.now()
        at = self._when(request.at, now=now)
        source = request.source.model_dump(mode="json")
        zones = _zones(request.zones)
        self._check_zones(zones)
        self._check_audio(source)
        status = lifecycle.initial_status(
            require_approval=self._config.broadcast.require_approval, role=actor.role)
        announcement = Announcement(
            id=f"ann-{secrets.token_hex(4)}", at=at, source=source, zones=zones,
            level=request.level, status=status, created_by=actor.name, created_at=now,
            repeat=request.repeat, repeat_gap_min=request.repeat_gap_min, title=request.title,
            grace_min=request.grace_min,
            approved_by=None if status == "waiting_approval" else actor.name)
        if not request.force and announcement.level != "emergency":
            item = next_airing(self._config, announcement)
            assert item is not None  # a new announcement has every repeat ahead
            programmes = program_items(self._config, self._book.programs(),
                                       start=now - ANNOUNCEMENT_MARGIN,
                                       end=item.due + ANNOUNCEMENT_MARGIN)
            self._refuse_overlaps([item], self._live_announcement_items() + programmes)
        await asyncio.to_thread(self._book.put_announcement, announcement)
        await self._changed(actor, "announcement.create", announcement.id, {
            "at": announcement.at.isoformat(), "zones": zones_doc(announcement.zones),
            "level": announcement.level, "repeat": announcement.repeat,
            "status": announcement.status})
        return announcement

    async def approve(self, announcement_id: str, *, actor: Actor) -> Announcement:
        _require(actor, lifecycle.APPROVER_ROLE)
        self.announcement(announcement_id)

        def approve(announcement: Announcement) -> Announcement:
            return lifecycle.approve(announcement, by=actor.name)

        approved = await asyncio.to_thread(self._book.update_announcement, announcement_id,
                                           approve)
        if approved is None:  # deleted meanwhile
            raise NotFound.of("announcement", announcement_id)
        await self._changed(actor, "announcement.approve", announcement_id)
        return approved

    async def cancel(self, announcement_id: str, *, actor: Actor) -> Announcement:
        """Cancel an announcement (one waiting for approval is rejected so): it stops if it
        airs, and its next airing is logged ``cancelled``. One already done or cancelled is
        answered as it is."""
        _require(actor, OPERATOR)
        before = self.announcement(announcement_id)
        if before.status not in lifecycle.FINAL:

            def cancel(announcement: Announcement) -> Announcement:
                return lifecycle.cancel(announcement, by=actor.name)

            cancelled = await asyncio.to_thread(self._book.update_announcement,
                                                announcement_id, cancel)
            if cancelled is not None:
                await self._broadcasts.cancelled(cancelled, by=actor.name)
        await self._trail.record(actor, "announcement.cancel", announcement_id)
        # As stored once the coordinator is done with it (an airing it cut counts as aired).
        return self.announcement(announcement_id)

    def _when(self, at: datetime | None, *, now: datetime) -> datetime:
        if at is None:
            return now
        if at.tzinfo is None:
            at = at.replace(tzinfo=ZoneInfo(self._config.site.timezone))
        if at < now - PAST_TOLERANCE:
            raise InvalidInput(f"{at.isoformat()} is in the past", parts=("at",))
        return max(at, now).astimezone(UTC)

    def _live_announcement_items(self) -> list[AirItem]:
        """The next airing of each announcement that may still air (approved or not)."""
        items = (next_airing(self._config, a) for a in self._book.announcements()
                 if lifecycle.is_live(a))
        return [item for item in items if item is not None]

    def _refuse_overlaps(self, ours: Sequence[AirItem], theirs: Sequence[AirItem]) -> None:
        """Conflict when one of ``ours`` overlaps one of ``theirs`` in a shared zone."""
        spans = [(other, other.due, other.due + timedelta(seconds=self._length_s(other)))
                 for other in theirs if other.level != "emergency"]
        for item in ours:
            start = item.due
            end = start + timedelta(seconds=self._length_s(item))
            for other, other_start, other_end in spans:
                shared = set(other.zones) & set(item.zones)
                if other.key != item.key and other.ref != item.ref and shared and \
                        start < other_end and other_start < end:
                    raise Conflict(
                        f"overlaps {other.kind} {other.ref!r} ({other.title}) at "
                        f"{other_start.isoformat()} in zones {', '.join(sorted(shared))}; send "
                        '"force": true to keep both (the later one waits)', parts=("at",))

    def _length_s(self, item: AirItem) -> float:
        chime = self._config.broadcast.chime and item.kind == "announcement"
        return self._player.estimate_s(item.source, chime=chime)

    # -- checks shared by programmes and announcements ---------------------------------------------

    def _check_zones(self, zones: Zones) -> None:
        if zones == "all":
            if not self._config.zones:
                raise InvalidInput("the installation has no zones", parts=("zones",))
            return
        for index, zone in enumerate(zones):
            if self._config.zone(zone) is None:
                raise InvalidInput(f"no zone {zone!r}", parts=("zones", index))

    def _check_audio(self, source: Mapping[str, object]) -> None:
        for audio_id in sorted(audio_ids_of(source)):
            if self._library.get(audio_id) is None:
                raise InvalidInput(f"no audio file {audio_id!r}; upload it first "
                                   "(POST /api/v1/audio)", parts=("source",))

    # -- on air and the log ------------------------------------------------------------------------

    def now_playing(self) -> NowPlaying | None:
        airing = self._broadcasts.current
        if airing is None:
            return None
        return NowPlaying(item=airing.item, state="playing" if airing.on_air else "preparing",
                          started_at=airing.started_at, zones_on=self.zones_on())

    def zones_on(self) -> tuple[str, ...]:
        """The loudspeaker zones switched on now, by id."""
        return tuple(sorted(self._broadcasts.zones.active))

    async def stop(self, *, actor: Actor) -> AirItem:
        """Stop what is on air (logged ``cancelled``)."""
        _require(actor, TECHNICIAN)
        item = await self._broadcasts.stop(by=actor.name)
        if item is None:
            raise Conflict("nothing is on air")
        await self._trail.record(actor, "broadcast.stop", item.key)
        return item

    async def test_tone(self, zone_id: str, request: ZoneToneCreate, *,
                        actor: Actor) -> ZoneTone:
        """A short tone in one zone, to check its line and amplifier: a normal item of kind
        ``test`` that the coordinator airs, switches and logs like any other. It cuts into
        nothing and should delay nothing, so it is refused (``Conflict``) while anything is on
        air or preparing, in quiet hours, and when an item is due before it would end (or
        too soon after to be prepared)."""
        _require(actor, TECHNICIAN)
        if self._config.zone(zone_id) is None:
            raise NotFound.of("zone", zone_id)
        now = self._clock.now()
        warmup_s = self._broadcasts.zones.warmup_s(frozenset({zone_id}))
        starts_at = now + timedelta(seconds=warmup_s)
        ends_at = starts_at + timedelta(seconds=request.seconds)
        self._refuse_busy_air(now=now, until=ends_at + timedelta(seconds=PREPARE_AHEAD_S))
        item = tone_item(zone_id, seconds=request.seconds, now=now, token=secrets.token_hex(4))
        self._broadcasts.request(item)
        await self._trail.record(actor, "zone.test_tone", zone_id,
                                 {"seconds": request.seconds, "key": item.key})
        return ZoneTone(item=item, starts_at=starts_at, ends_at=ends_at)

    def _refuse_busy_air(self, *, now: datetime, until: datetime) -> None:
        """Conflict unless a normal item may start now and the air is free until ``until``."""
        tz = ZoneInfo(self._config.site.timezone)
        quiet = self._config.broadcast.quiet_hours
        if not may_air("normal", at=now, quiet=quiet, tz=tz):
            raise Conflict(f"quiet hours ({quiet}): only emergencies sound now")
        if not self._broadcasts.clock_trusted():
            raise Conflict("the clock cannot be trusted: only emergencies air until it is set")
        airing = self._broadcasts.current
        if airing is not None:
            state = "is on air" if airing.on_air else "is about to air"
            raise Conflict(f"{_described(airing.item)} {state}; a test tone does not cut in: "
                           "try again when it ends, or stop it first")
        waiting = self._broadcasts.requested
        if waiting:
            raise Conflict(f"{_described(waiting[0])} is waiting for the air; try again when "
                           "it ends")
        programmes = program_items(self._config, self._book.programs(), start=now - LOOKBACK,
                                   end=until)
        announcements = [i for i in announcement_items(self._config,
                                                       self._book.announcements())
                         if i.due < until]
        due = [i for i in programmes + announcements
               if now <= i.due + i.grace and not self._broadcasts.airlog.seen(i.key)]
        if due:
            first = min(due, key=lambda i: i.due)
            at = first.due.astimezone(tz).isoformat(timespec="seconds")
            raise Conflict(f"{_described(first)} is due at {at} and the test tone would hold "
                           "it back; try again after it")

    # -- live talks ("Phát trực tiếp") ----------------------------------------------------------

    def talk(self, talk_id: str) -> LiveTalk:
        talk = self._talks.get(talk_id)
        if talk is None:
            raise NotFound.of("live talk", talk_id)
        return talk

    async def start_live(self, request: LiveStart, *, actor: Actor) -> LiveTalk:
        """A live talk, handed to the coordinator as an item of kind ``live``. An emergency
        cuts in (what plays is preempted, unless it is an emergency too); any other level is
        refused (``Conflict``) while anything is on air, preparing or waiting for the air:
        someone speaking now cannot wait for a programme to end, and a priority talk does not
        cut into a normal item any more than a priority announcement does. Quiet hours and an
        untrusted clock let only emergencies through. The gateway's microphone needs a
        technician and ``broadcast.microphone``."""
        _require(actor, TECHNICIAN if request.source == "gateway" else OPERATOR)
        zones = _zones(request.zones)
        self._check_zones(zones)
        microphone = self._config.broadcast.microphone
        if request.source == "gateway" and not microphone:
            raise Conflict("the gateway has no microphone: set broadcast.microphone",
                           parts=("source",))
        self._refuse_live(request.level)
        now = self._clock.now()
        talk = LiveTalk(person=actor.name, source=request.source,
                        recording=self._config.storage.path / "recordings" / "live" / (
                            f"{now.strftime('%Y%m%dT%H%M%SZ')}.wav"),
                        monotonic=self._clock.monotonic)
        talk.recording = talk.recording.with_name(
            f"{talk.recording.stem}_{talk.id}.wav")
        item = live_item(talk.id, zones=zones_of(self._config, zones), level=request.level,
                         title=f"{LIVE_TITLE} ({actor.name})", person=actor.name,
                         source=request.source, now=now)
        talk.item = item
        if request.source == "gateway":
            process = await self._open_microphone(microphone)
            self._keep_task(feed_from_process(talk, process))
            self._keep_task(self._limit_gateway_talk(
                talk, self._config.broadcast.microphone_max_min))
        self._talks[talk.id] = talk
        self._broadcasts.request_live(item, talk)
        self._keep_task(self._after_talk(talk))
        await self._trail.record(actor, "live.start", talk.id, {
            "zones": list(item.zones), "level": item.level, "source": request.source,
            "key": item.key})
        return talk

    def _refuse_live(self, level: str) -> None:
        tz = ZoneInfo(self._config.site.timezone)
        quiet = self._config.broadcast.quiet_hours
        if level != "emergency":
            if not may_air(level, at=self._clock.now(), quiet=quiet, tz=tz):
                raise Conflict(f"quiet hours ({quiet}): only an emergency talk sounds now",
                               parts=("level",))
            if not self._broadcasts.clock_trusted():
                raise Conflict("the clock cannot be trusted: only emergencies air until it "
                               "is set", parts=("level",))
        airing = self._broadcasts.current
        waiting = self._broadcasts.requested
        busy = airing.item if airing is not None else (waiting[0] if waiting else None)
        if busy is None:
            return
        if level == "emergency" and level_rank(busy.level) < level_rank("emergency"):
            return
        state = ("is on air" if airing.on_air else "is about to air") \
            if airing is not None else "is waiting for the air"
        advice = "wait for it to end" if busy.level == "emergency" else \
            "wait for it to end, stop it, or speak at the emergency level"
        raise Conflict(f"{_described(busy)} {state}: {advice}", parts=("level",))

    async def _limit_gateway_talk(self, talk: LiveTalk, minutes: int) -> None:
        """End a talk from the gateway's microphone after ``minutes``: unlike a phone's, whose
        stream ends when its page goes, arecord would go on for ever."""
        sleeping = asyncio.ensure_future(self._clock.sleep(minutes * 60))
        ended = asyncio.ensure_future(talk.ended.wait())
        try:
            await asyncio.wait({sleeping, ended}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeping.cancel()
            ended.cancel()
        if not talk.ended.is_set() and not talk.closed:
            log.warning("live talk %s from the gateway's microphone ends: it lasted %d min "
                        "(broadcast.microphone_max_min)", talk.id, minutes)
            talk.close(f"the longest a talk from the gateway's microphone lasts "
                       f"({minutes} min)")

    async def _open_microphone(self, device: str) -> asyncio.subprocess.Process:
        command = ["arecord", "-q", "-t", "raw", "-f", "S16_LE", "-r", str(PCM_RATE),
                   "-c", str(PCM_CHANNELS), "-D", device]
        try:
            return await asyncio.create_subprocess_exec(
                *command, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE)
        except OSError as exc:
            raise Conflict(f"cannot start arecord on {device!r}: {exc}",
                           parts=("source",)) from exc

    async def stop_live(self, talk_id: str, *, actor: Actor) -> LiveTalk:
        """End a live talk: its speaker (an operator) or a technician; what is buffered
        plays out."""
        talk = self.talk(talk_id)
        if actor.name != talk.person:
            _require(actor, TECHNICIAN)
        talk.close(f"stopped by {actor.name}")
        await self._trail.record(actor, "live.stop", talk_id)
        return talk

    def feed_live(self, talk: LiveTalk, pcm: bytes) -> bool:
        """Audio of a talk as it arrives; False once the talk is over."""
        return talk.feed(pcm)

    def check_speaker(self, talk: LiveTalk, actor: Actor) -> None:
        """Only its speaker streams into a talk."""
        if actor.name != talk.person:
            raise NotAllowed(f"live talk {talk.id!r} is {talk.person!r}'s")

    def _keep_task(self, coroutine: Coroutine[object, object, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._talk_tasks.add(task)
        task.add_done_callback(self._talk_tasks.discard)

    async def _after_talk(self, talk: LiveTalk) -> None:
        """Once the talk is logged: keep its recording in the audio library (usable as any
        upload: an announcement may replay it), and note it in its log record."""
        await talk.ended.wait()
        talk.close()
        end = talk.end
        assert end is not None
        try:
            if end.record_id is not None and talk.recording.exists() and talk.aired_frames:
                local = self._clock.now().astimezone(ZoneInfo(self._config.site.timezone))
                try:
                    audio = await self._library.add(
                        talk.recording, name=f"{LIVE_TITLE} {local:%Y-%m-%d %H:%M}",
                        uploaded_by=talk.person, now=self._clock.now())
                    talk.recording_id = audio.id
                    changes: dict[str, object] = {"recording": audio.id}
                except (AudioError, OSError) as exc:
                    log.warning("live talk %s: its recording stays in %s: %s", talk.id,
                                talk.recording, exc)
                    changes = {"recording_file": str(talk.recording)}
                await asyncio.to_thread(self._broadcasts.airlog.amend, end.record_id,
                                        changes, at=self._clock.now())
        finally:
            talk.kept.set()
            # Known a while after its end, for a page that asks how it went.
            await asyncio.sleep(600)
            self._talks.pop(talk.id, None)

    async def log(self, *, since: datetime | None,
                  until: datetime | None) -> list[dict[str, object]]:
        """The broadcast log's records in [since, until), oldest first."""
        return await asyncio.to_thread(self._broadcasts.airlog.query, since=since, until=until)

    def outcome_counts(self) -> dict[str, int]:
        """Items ended since the start, by outcome (for the metrics)."""
        return dict(self._broadcasts.outcomes)

    def start_offsets(self) -> Histogram:
        return self._broadcasts.start_offsets

    def log_bytes_written(self) -> int:
        return self._broadcasts.airlog.history.bytes_written

    # -- the audio library -------------------------------------------------------------------------

    def audio_files(self) -> list[AudioFile]:
        """Oldest first."""
        return self._library.all()

    def audio_file(self, audio_id: str) -> AudioFile:
        audio = self._library.get(audio_id)
        if audio is None:
            raise NotFound.of("audio file", audio_id)
        return audio

    def audio_path(self, audio: AudioFile) -> Path:
        return self._library.path_of(audio)

    def upload_folder(self) -> Path:
        """Where an upload is written while it arrives: inside the library's folder, so that
        keeping it is a rename."""
        incoming = self._library.folder / ".incoming"
        incoming.mkdir(parents=True, exist_ok=True)
        return incoming

    async def add_audio(self, upload: Path, *, name: str, actor: Actor) -> AudioFile:
        """Keep the uploaded file ``upload`` under ``name`` (for display). ``NotAudio`` when it
        is not audio we can play; a file ffprobe cannot read is ``InvalidInput``."""
        _require(actor, OPERATOR)
        try:
            audio = await self._library.add(upload, name=name, uploaded_by=actor.name,
                                            now=self._clock.now())
        except NotAudio:
            raise
        except AudioError as exc:
            raise InvalidInput(f"the file could not be read: {exc}", parts=("file",)) from exc
        await self._trail.record(actor, "audio.upload", audio.id,
                                 {"name": audio.name, "duration_s": audio.duration_s})
        return audio

    def audio_uses(self) -> dict[str, list[AudioUse]]:
        """Per audio id, the broadcast programmes and the announcements that may still air
        that play it (each once, programmes first, by id)."""
        uses: dict[str, list[AudioUse]] = {}

        def note(audio_ids: Iterable[str], use: AudioUse) -> None:
            for audio_id in dict.fromkeys(audio_ids):
                uses.setdefault(audio_id, []).append(use)

        for program in self._book.programs():
            note(audio_ids_of(program.source),
                 AudioUse("broadcast_program", program.id, program.name))
        for announcement in sorted(self._book.announcements(), key=lambda a: a.id):
            if lifecycle.is_live(announcement):
                note(audio_ids_of(announcement.source),
                     AudioUse("announcement", announcement.id, announcement.title))
        return uses

    async def rename_audio(self, audio_id: str, name: str, *, actor: Actor) -> AudioFile:
        """Give a file another display name (its stored file keeps its id's name)."""
        _require(actor, OPERATOR)
        wanted = name.strip()
        cleaned = clean_name(wanted)
        if not cleaned:
            raise InvalidInput("a name needs at least one visible character", parts=("name",))
        if len(wanted) > MAX_NAME_CHARS:
            raise InvalidInput(f"a name is at most {MAX_NAME_CHARS} characters",
                               parts=("name",))
        before = self.audio_file(audio_id)

        def rename(audio: AudioFile) -> AudioFile:
            return replace(audio, name=cleaned)

        renamed = await asyncio.to_thread(self._book.update_audio_file, audio_id, rename)
        if renamed is None:  # deleted meanwhile
            raise NotFound.of("audio file", audio_id)
        await self._trail.record(actor, "audio.rename", audio_id,
                                 {"name": renamed.name, "previous": before.name})
        return renamed

    def audio_users(self, audio_id: str) -> list[str]:
        """What needs this file: programmes, announcements that may still air, the item on
        air."""
        users = [f"broadcast programme {p.id!r}" for p in self._book.programs()
                 if audio_id in audio_ids_of(p.source)]
        users += [f"announcement {a.id!r}" for a in self._book.announcements()
                  if lifecycle.is_live(a) and audio_id in audio_ids_of(a.source)]
        current = self._broadcasts.current
        if current is not None and audio_id in audio_ids_of(current.item.source):
            users.append("the item on air")
        return users

    async def delete_audio(self, audio_id: str, *, actor: Actor) -> AudioFile:
        _require(actor, OPERATOR)
        self.audio_file(audio_id)
        users = self.audio_users(audio_id)
        if users:
            raise Conflict(f"audio file {audio_id!r} is used by {', '.join(users)}")
        audio = await asyncio.to_thread(self._library.remove, audio_id)
        if audio is None:
            raise NotFound.of("audio file", audio_id)
        await self._trail.record(actor, "audio.delete", audio_id, {"name": audio.name})
        return audio

    # -- after a change ----------------------------------------------------------------------------

    async def _changed(self, actor: Actor, action: str, target: str,
                       details: Mapping[str, object] | None = None) -> None:
        self._broadcasts.wake()
        await self._trail.record(actor, action, target,
                                 None if details is None else dict(details))


def _zones(zones: list[str] | Literal["all"]) -> Zones:
    return "all" if zones == "all" else tuple(zones)


def _described(item: AirItem) -> str:
    """An item in words, for a refusal: "emergency announcement 'ann-1' (Bão số 9)"."""
    level = "" if item.level == "normal" else f"{item.level} "
    if item.kind == TEST_KIND:
        return f"a test tone in zone {item.ref!r}"
    if item.kind == "live":
        return f"{level}live talk of {item.source.get('person')!r}"
    kind = "broadcast programme" if item.kind == "program" else item.kind
    return f"{level}{kind} {item.ref!r} ({item.title})"


def _require(actor: Actor, role: str) -> None:
    if not role_at_least(actor.role, role):
        raise NotAllowed(f"this needs the {role} role; {actor.name!r} is {actor.role}")
