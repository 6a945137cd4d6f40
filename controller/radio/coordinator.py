"""The broadcast coordinator: one owner of the air (docs/architecture.md, the radio's rules).

Each wake it looks at what could air (``controller.radio.items``: programme occurrences,
announcements and the test tones asked for with ``request``, less what the broadcast log has
seen) and decides:

- an item whose time has passed beyond its grace, or that arrived while the air was busy for
  longer than that, is logged ``missed``; a non-emergency item due in quiet hours is ``skipped``;
- with the air free, the best ready item starts: the highest level first (emergency, priority,
  normal), then the earliest due. A priority item goes before normal ones at the next free
  moment; it does not cut into one already playing;
- an emergency cuts in at once: the item playing is stopped and logged ``preempted``. There is
  one audio output, so "the zones they share" is every zone: the emergency plays in its zones
  and the relays of the others switch off.

An airing (``_air``) prepares its audio ahead (speech, decoding), switches its zones and
amplifiers ``warmup_s`` before its time, waits for the scheduled second, claims the item in the
log (so that a crash from then on never replays it) and plays. The relays follow what is on air
(``controller.radio.zones``): between items, and when nothing is due, everything is off.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from controller.config import Config
from controller.nodes.node_zones import NodeZones
from controller.platform import clock as clocks
from controller.platform.alarms import AlarmBook
from controller.platform.coordinator import DecisionLoop
from controller.platform.distribution import START_OFFSET_BOUNDS_S, Histogram
from controller.platform.memory import return_free_memory
from controller.platform.store import Store
from controller.radio import lifecycle
from controller.radio.airlog import AirLog
from controller.radio.items import (
    AirItem,
    announcement_items,
    next_airing,
    program_items,
    repeat_number,
)
from controller.radio.live import LiveTalk, TalkEnd
from controller.radio.records import Announcement, RadioBook
from controller.radio.sources import SourcePlayer
from controller.radio.zones import ZoneSwitch
from drivers import audio
from drivers.errors import AudioError
from drivers.pcm import PCM_RATE
from schedules.broadcasts import level_rank, may_air

log = logging.getLogger(__name__)

# Items are prepared (speech synthesised, files decoded) this long before their warm-up.
PREPARE_AHEAD_S = 20.0
# How far back a restarted controller looks for items it never saw (to log them missed).
LOOKBACK = timedelta(hours=24)
MAX_SLEEP_S = 60.0


@dataclass
class Airing:
    item: AirItem
    task: asyncio.Task[None] | None = None
    record_id: str | None = None
    started_at: datetime | None = None
    first_sample_mono: float | None = None
    # The earliest second it could sound: its due second, or later when it became known too
    # late for the warm-up to end by then (an announcement "now"). Start offsets count from it.
    could_sound_at: datetime | None = None
    stop_outcome: str = "preempted"
    stop_reason: str = ""
    fallback_reason: str | None = None
    zones_failed: list[str] = field(default_factory=list)

    @property
    def on_air(self) -> bool:
        return self.record_id is not None


class BroadcastCoordinator:
    def __init__(self, *, config: Config, clock: clocks.Clock, store: Store, airlog: AirLog,
                 zones: ZoneSwitch, player: SourcePlayer, sink: audio.Sink,
                 alarms: AlarmBook, nodes: NodeZones | None = None) -> None:
        self._config = config
        self._clock = clock
        self._book = RadioBook(store)
        self.airlog = airlog
        self.zones = zones
        self.nodes = nodes
        self._player = player
        self._sink = sink
        self._alarms = alarms
        self._tz = ZoneInfo(config.site.timezone)
        self._quiet = config.broadcast.quiet_hours  # parsed once, by the config
        self._decisions = DecisionLoop(clock)
        self.current: Airing | None = None
        # Items asked for now and stored nowhere (a test tone), by key, until the log has them.
        self._requested: dict[str, AirItem] = {}
        # The audio of live talks asked for (controller.radio.live), by their item's key.
        self._talks: dict[str, LiveTalk] = {}
        self.outcomes: dict[str, int] = {}
        # Start offsets (first sample less ``Airing.could_sound_at``), for the metrics.
        self.start_offsets = Histogram(START_OFFSET_BOUNDS_S)
        self._started = False
        # The clock guard's verdict: on an untrusted clock only emergencies air, and nothing
        # is judged missed or skipped (controller.platform.clock_guard).
        self.clock_trusted: Callable[[], bool] = lambda: True

    # -- the loop ---------------------------------------------------------------------------

    def wake(self) -> None:
        """Something changed (an announcement, a programme): decide now."""
        self._decisions.wake()

    def request(self, item: AirItem) -> None:
        """Air ``item`` (stored nowhere: a test tone) as any other item: by level and due time,
        within its grace, logged whatever becomes of it."""
        self._requested[item.key] = item
        self.wake()

    def request_live(self, item: AirItem, talk: LiveTalk) -> None:
        """Air a live talk: ``item`` (kind ``live``) as any requested item, its audio from
        ``talk``; the talk hears how it ended (``LiveTalk.finish``)."""
        self._talks[item.key] = talk
        self.request(item)

    @property
    def requested(self) -> tuple[AirItem, ...]:
        """Requested items not yet on air nor logged (waiting, or preparing to air)."""
        return tuple(i for i in self._requested.values() if not self.airlog.seen(i.key))

    async def run(self) -> None:
        now = self._clock.now()
        closed = self.airlog.close_interrupted(now=now, lookback=LOOKBACK)
        if closed:
            log.warning("%d broadcast(s) were cut short by the last stop", closed)
        self.airlog.load_seen(since=now - LOOKBACK - timedelta(days=1))
        self._started = True
        try:
            await self._decisions.run(self.step)
        finally:
            # A clean stop: cut the item short (logged), and leave zones and amplifiers off.
            airing = self.current
            if airing is not None and airing.task is not None:
                airing.stop_outcome, airing.stop_reason = "cancelled", "the controller stopped"
                airing.task.cancel()
                await asyncio.gather(airing.task, return_exceptions=True)
            await self.zones.apply(frozenset())

    async def step(self) -> float:
        """One decision; returns how long the loop may sleep before the next."""
        now = self._clock.now()
        candidates = self._candidates(now)
        if not self.clock_trusted():
            candidates = [i for i in candidates if i.level == "emergency"]
        pending = self._settle_unairable(candidates, now)
        ready = [i for i in pending if i.due <= now]
        current = self.current
        if current is not None and current.on_air and not self._may_air(current.item, now):
            await self._stop_current("cancelled", "quiet hours began", outcome_if_waiting=(
                "cancelled" if current.item.kind == "live" else None))
            current = None
        if current is not None and ready:
            best = _best(ready)
            outranks = level_rank(best.level) > level_rank(current.item.level)
            if outranks and (best.level == "emergency" or not current.on_air):
                # An emergency cuts in; any better item goes before one not yet on air.
                await self._stop_current(
                    "preempted", f"preempted by {_described(best)}",
                    outcome_if_waiting="preempted" if current.item.kind == "live" else None)
                current = None
        if self.current is None:
            if ready:
                self._begin(_best(ready))
            else:
                upcoming = [i for i in pending
                            if i.due > now and self._may_air(i, i.due)]
                if upcoming:
                    soonest = min(upcoming, key=lambda i: (i.due, -level_rank(i.level)))
                    if self._lead_s(soonest) >= (soonest.due - now).total_seconds():
                        self._begin(soonest)
            if self.current is None:
                await self.zones.apply(frozenset())
        return self._sleep_s(pending, now)

    def _candidates(self, now: datetime) -> list[AirItem]:
        items = program_items(self._config, self._book.programs(), start=now - LOOKBACK,
                              end=now + timedelta(seconds=PREPARE_AHEAD_S + 120))
        for item in announcement_items(self._config, self._book.announcements()):
            if self.airlog.seen(item.key):
                # Logged by a process that stopped before it could move the announcement on.
                self._advance_announcement(item, now)
            else:
                items.append(item)
        self._requested = {key: item for key, item in self._requested.items()
                           if not self.airlog.seen(key)}
        items += self._requested.values()
        airing = self.current.item.key if self.current else None
        return [i for i in items if not self.airlog.seen(i.key) and i.key != airing]

    def _may_air(self, item: AirItem, at: datetime) -> bool:
        return may_air(item.level, at=at, quiet=self._quiet, tz=self._tz)

    def _settle_unairable(self, items: list[AirItem], now: datetime) -> list[AirItem]:
        """Log what can no longer air; the rest may."""
        pending = []
        for item in items:
            # Judged now, not at its due time: an item held back by a long one must not sound
            # once quiet hours have begun.
            if now > item.due + item.grace:
                busy = self.current is not None
                reason = ("the air was busy past its grace time" if busy else
                          "the controller was not running at its time")
                self._record(item, "missed", now, reason)
                # An event, not an alarm (nothing to clear): notifications tell people of it.
                self._alarms.note("broadcast_missed", item.ref, f"{item.title}: {reason}",
                                  severity="warning")
            elif item.due <= now and not self._may_air(item, now):
                self._record(item, "skipped", now,
                             f"quiet hours {self._config.broadcast.quiet_hours}")
            else:
                pending.append(item)
        return pending

    def _lead_s(self, item: AirItem) -> float:
        return PREPARE_AHEAD_S + self.zones.warmup_s(frozenset(item.zones))

    def _sleep_s(self, pending: list[AirItem], now: datetime) -> float:
        """Until the next moment something changes: an item enters its lead time or falls due,
        a waiting item's grace runs out, quiet hours begin under a playing item."""
        deadlines = [MAX_SLEEP_S]
        for item in pending:
            until_due = (item.due - now).total_seconds()
            deadlines += [until_due - self._lead_s(item), until_due,
                          (item.due + item.grace - now).total_seconds() + 0.001]
        if self._quiet is not None and self.current is not None:
            deadlines.append((self._quiet_starts_after(now) - now).total_seconds())
        return min(d for d in deadlines if d > 0)

    def _quiet_starts_after(self, now: datetime) -> datetime:
        assert self._quiet is not None
        local = now.astimezone(self._tz)
        start = datetime.combine(local.date(), self._quiet.start, tzinfo=self._tz)
        return start if start > local else start + timedelta(days=1)

    # -- one airing --------------------------------------------------------------------------

    def _begin(self, item: AirItem) -> None:
        airing = Airing(item)
        airing.task = asyncio.create_task(self._air(airing), name=f"air {item.key}")
        self.current = airing

    async def _air(self, airing: Airing) -> None:
        item = airing.item
        outcome, reason = "completed", None
        talk = self._talks.get(item.key) if item.kind == "live" else None
        try:
            parts = [] if talk is not None else await self._player.prepare(item.source)
            warmup_s = self.zones.warmup_s(frozenset(item.zones))
            await self._decisions.sleep_until(item.due - timedelta(seconds=warmup_s))
            # Shielded: a preemption must not cut a Modbus write in half; the next apply
            # (the emergency's zones) queues behind it on the device lock.
            apply_mono = self._clock.monotonic()
            ready_mono = await asyncio.shield(self.zones.apply(frozenset(item.zones)))
            airing.could_sound_at = _could_sound_at(item, warmup_s=ready_mono - apply_mono)
            airing.zones_failed = sorted(self.zones.failures)
            await self._clock.sleep(ready_mono - self._clock.monotonic())
            await self._decisions.sleep_until(item.due)
            if self.nodes is not None and talk is not None:
                airing.zones_failed += await self.nodes.play_live(
                    item.key, item.zones, talk, level=item.level,
                    volume=self._config.broadcast.volume)
            elif self.nodes is not None:
                airing.zones_failed += await self.nodes.play(
                    item.key, item.zones, parts, level=item.level,
                    volume=self._config.broadcast.volume)
            record = self.airlog.start(item, at=self._clock.now())
            airing.record_id = record["id"]
            log.info("on air: %s (%s) in %s", item.title, item.level, ", ".join(item.zones))
            chime = item.kind == "announcement" and self._config.broadcast.chime

            def first_sample(mono: float) -> None:
                airing.first_sample_mono = mono
                airing.started_at = self._clock.now()

            chunks = talk.chunks() if talk is not None else self._player.pcm_chunks(
                parts, chime=chime, on_fallback=self._fallback(airing))
            await audio.play(self._sink, self._file_name(item), chunks,
                             volume=self._config.broadcast.volume, on_first_sample=first_sample)
            if talk is not None:
                reason = talk.end_reason
        except asyncio.CancelledError:
            outcome, reason = airing.stop_outcome, airing.stop_reason
            await self._stop_nodes(item)
            if airing.on_air:
                self._finish(airing, outcome, reason)
            raise
        except (AudioError, KeyError, OSError) as exc:
            outcome, reason = "failed", f"{type(exc).__name__}: {exc}"
            log.error("broadcast %s failed: %s", item.key, reason)
            self._alarms.raise_alarm("broadcast_failed", item.ref, reason, severity="warning")
            if not airing.on_air:
                record = self.airlog.start(item, at=self._clock.now())
                airing.record_id = record["id"]
        else:
            self._alarms.clear("broadcast_failed", item.ref)
        await self._stop_nodes(item)
        self._finish(airing, outcome, reason)

    async def _stop_nodes(self, item: AirItem) -> None:
        if self.nodes is not None:
            await self.nodes.stop(item.key, item.zones)

    def _finish(self, airing: Airing, outcome: str, reason: str | None) -> None:
        item = airing.item
        now = self._clock.now()
        notes = [r for r in (reason, airing.fallback_reason and
                             f"stream failed, played the fallback: {airing.fallback_reason}",
                             airing.zones_failed and
                             f"not switched: {', '.join(airing.zones_failed)}") if r]
        assert airing.record_id is not None
        could_sound_at = airing.could_sound_at or item.due
        talk = self._talks.pop(item.key, None)
        extra = None if talk is None else {
            "duration_s": round(talk.aired_frames / PCM_RATE, 2), "gaps": talk.gaps,
            "silence_s": round(talk.silence_frames / PCM_RATE, 2)}
        self.airlog.finish(airing.record_id, outcome, at=now, started_at=airing.started_at,
                           reason="; ".join(notes) or None, due=could_sound_at, extra=extra)
        if talk is not None:
            talk.finish(TalkEnd(outcome, "; ".join(notes) or None,
                                talk.aired_frames / PCM_RATE, airing.record_id))
            # A talk's churn of small buffers stays with malloc unless handed back; in a
            # worker thread, as the trim walks the whole heap.
            asyncio.get_running_loop().run_in_executor(None, return_free_memory)
        self._count(outcome)
        if airing.started_at is not None:
            self.start_offsets.observe((airing.started_at - could_sound_at).total_seconds())
        self._advance_announcement(item, now)
        log.info("%s: %s%s", outcome, item.title, f" ({reason})" if reason else "")
        if self.current is airing:
            self.current = None
        self.wake()

    async def _stop_current(self, outcome: str, reason: str, *,
                            outcome_if_waiting: str | None) -> None:
        """Stop the current airing. One not yet on air is released (it stays pending and will
        be picked again), unless ``outcome_if_waiting`` says how to log it."""
        airing = self.current
        if airing is None or airing.task is None:
            return
        airing.stop_outcome, airing.stop_reason = outcome, reason
        on_air = airing.on_air
        airing.task.cancel()
        await asyncio.gather(airing.task, return_exceptions=True)
        if not on_air and outcome_if_waiting is not None:
            self._record(airing.item, outcome_if_waiting, self._clock.now(), reason)
        self.current = None

    def _fallback(self, airing: Airing) -> Any:
        def note(reason: str) -> None:
            airing.fallback_reason = reason
            log.warning("stream of %s failed (%s): playing its fallback", airing.item.key, reason)
        return note

    def _file_name(self, item: AirItem) -> str:
        start = self._clock.now().strftime("%Y%m%dT%H%M%SZ")
        ref = item.key.replace(":", "-").replace("@", "_").replace("#", "-")
        return f"{start}_{ref}"

    # -- records ----------------------------------------------------------------------------

    def _record(self, item: AirItem, outcome: str, now: datetime, reason: str) -> None:
        self.airlog.record(item, outcome, at=now, reason=reason)
        talk = self._talks.pop(item.key, None)
        if talk is not None:
            talk.finish(TalkEnd(outcome, reason, 0.0, None))
        self._count(outcome)
        self._advance_announcement(item, now)
        log.info("%s: %s (%s)", outcome, item.title, reason)

    def _count(self, outcome: str) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    def _advance_announcement(self, item: AirItem, now: datetime) -> None:
        if item.kind != "announcement":
            return
        number = repeat_number(item)
        self._book.update_announcement(item.ref, lambda announcement: lifecycle.after_repeat(
            announcement, number, due=item.due, now=now))

    # -- commands from the API ----------------------------------------------------------------

    async def stop(self, *, by: str) -> AirItem | None:
        """Stop what is on air (logged ``cancelled``); None when nothing is."""
        airing = self.current
        if airing is None or not airing.on_air:
            return None
        await self._stop_current("cancelled", f"stopped by {by}", outcome_if_waiting=None)
        self.wake()
        return airing.item

    async def cancelled(self, announcement: Announcement, *, by: str) -> None:
        """An announcement was just cancelled (and stored so, by the radio service): stop it
        if it airs, else log its next airing ``cancelled``."""
        pending = next_airing(self._config, announcement)
        reason = f"cancelled by {by}"
        airing = self.current
        if airing is not None and airing.item.kind == "announcement" \
                and airing.item.ref == announcement.id:
            await self._stop_current("cancelled", reason, outcome_if_waiting="cancelled")
        elif pending is not None and not self.airlog.seen(pending.key):
            self._record(pending, "cancelled", self._clock.now(), reason)
        self.wake()


def _could_sound_at(item: AirItem, *, warmup_s: float) -> datetime:
    """The due second, unless the item became known less than its warm-up before it: then
    the moment the warm-up could have ended had it begun at once. The time spent preparing
    the item and switching its relays still counts as lateness; waiting for a busy air or a
    stopped controller too (the item was known in time)."""
    if item.known_at is None:
        return item.due
    return max(item.due, item.known_at + timedelta(seconds=max(warmup_s, 0.0)))


def _described(item: AirItem) -> str:
    """What preempted an item, for its log record: "emergency announcement 'ann-1' (Bão)"."""
    kind = {"program": "broadcast programme", "live": "live talk"}.get(item.kind, item.kind)
    return f"{item.level} {kind} {item.ref!r} ({item.title}), {item.key}"


def _best(items: list[AirItem]) -> AirItem:
    """The highest level first, then the earliest due (then the key, to be deterministic)."""
    return min(items, key=lambda i: (-level_rank(i.level), i.due, i.key))
