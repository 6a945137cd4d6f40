"""``NotifyService``: from the alarm book's records to messages people receive.

The alarm book tells the service of every new record and every alarm cleared (its listeners,
on whatever thread raised or cleared: the service only queues them there). The runner
(``run``, a task of the controller's task group) does the rest on the loop, with every storage
write and every send handed to a worker thread:

1. the incidents that came in are held, per recipient who wants them (severity, kind), until
   their burst ends (``notify.burst_s`` after the first one of a burst) or, for what is not an
   alarm, until the recipient's quiet hours end;
2. a recipient's incidents that are due are composed into one message, queued in the outbox
   (controller.notify.outbox) in the same transaction that removes them;
3. at ``notify.digest_at`` each recipient with ``digest = true`` gets the day's summary, from
   the events history;
4. each queued message that is due is sent through its channel; sent, it is logged
   ``notify_sent`` and leaves the outbox; failed, it is logged ``notify_failed`` and tried again
   later (controller.notify.outbox.retry_delay_s), or given up.

A restarted runner finds its held incidents and queued messages in storage; a message that the
log says was sent (killed between the send and its removal) leaves the outbox unsent again.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from controller.config import Config, RecipientConfig, recipient_problems
from controller.errors import InvalidInput, NotFound
from controller.notify import words
from controller.notify.channels import Channel, ChannelError, Outgoing
from controller.notify.incidents import Incident, from_history, from_record, wanted
from controller.notify.outbox import Held, Outbox, Queued
from controller.platform.clock import Clock, wait
from controller.platform.history import History
from controller.platform.store import Store

log = logging.getLogger(__name__)

LOG_KINDS = ("notify_sent", "notify_failed")
MAX_IDLE_S = 60.0  # the runner looks at the wall clock at least this often (digest time)
DIGEST_LOOKBACK = timedelta(days=7)  # alarms opened before the day and cleared in it
ERROR_CHARS = 300

# note(kind, target, message, severity=..., **details): the alarm book's ``note`` in the
# controller, a plain history append in the CLI.
Note = Callable[..., Any]


@dataclass(frozen=True)
class TestResult:
    recipient: str
    channel: str
    address: str
    message_id: str
    ok: bool
    error: str = ""
    retryable: bool = False

    def as_json(self) -> dict[str, Any]:
        return {"recipient": self.recipient, "channel": self.channel, "address": self.address,
                "message_id": self.message_id, "ok": self.ok, "error": self.error or None,
                "retryable": self.retryable}


class NotifyService:
    def __init__(self, *, config: Config, store: Store, events: History, clock: Clock,
                 channels: Mapping[str, Channel], note: Note) -> None:
        self._config = config
        self._settings = config.notify
        self._events = events
        self._clock = clock
        self.channels = dict(channels)
        self._note = note
        self.outbox = Outbox(store)
        self._tz = ZoneInfo(config.site.timezone)
        self._site = config.site.name or config.site.id
        self._names = {c.id: c.name for c in config.circuits if c.name}
        self._incoming: deque[Incident] = deque()
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._held: list[Held] = []
        self.sent_total: dict[str, int] = {}
        self.failed_total: dict[str, int] = {}
        self.queued = 0  # messages in the outbox, for /metrics

    # -- recipients -----------------------------------------------------------------------

    def recipients(self) -> list[RecipientConfig]:
        """As an admin last stored them, else the config's."""
        stored = self.outbox.meta("recipients")
        if stored is None:
            return list(self._settings.recipients)
        return [RecipientConfig.model_validate(r) for r in stored["recipients"]]

    def recipients_source(self) -> str:
        return "config" if self.outbox.meta("recipients") is None else "storage"

    def check_recipients(self, raw: Sequence[Mapping[str, Any]]) -> list[RecipientConfig]:
        """The recipients an admin sent, validated as the config's are: InvalidInput with the
        field path of the first problem."""
        recipients = []
        for index, item in enumerate(raw):
            try:
                recipients.append(RecipientConfig.model_validate(item))
            except ValidationError as exc:
                error = exc.errors()[0]
                cause = error.get("ctx", {}).get("error")
                parts: list[str | int] = [index, *[p for p in error["loc"]
                                                   if p not in ("list[str]", "literal['all']")]]
                message = error["msg"].removeprefix("Value error, ")
                if cause is not None and hasattr(cause, "parts"):
                    parts += list(cause.parts)
                    message = cause.message
                raise InvalidInput(message, parts=parts) from None
        problems = recipient_problems(recipients, sms=self._settings.sms is not None,
                                      email=self._settings.email is not None)
        if problems:
            parts_, message = problems[0]
            raise InvalidInput(message, parts=parts_)
        return recipients

    async def set_recipients(self, recipients: Sequence[RecipientConfig], *, by: str) -> None:
        doc = {"id": "recipients", "by": by, "at": self._clock.now().isoformat(),
               "recipients": [r.model_dump(mode="json") for r in recipients]}
        await asyncio.to_thread(self.outbox.put_meta, doc)

    def recipient(self, recipient_id: str) -> RecipientConfig:
        found = next((r for r in self.recipients() if r.id == recipient_id), None)
        if found is None:
            known = ", ".join(r.id for r in self.recipients()) or "none"
            raise NotFound(f"no recipient {recipient_id!r} (known: {known})",
                           parts=("recipient",))
        return found

    # -- the alarm book's listeners (any thread) -------------------------------------------

    def on_record(self, record: dict[str, Any]) -> None:
        self._take(from_record(record))

    def on_cleared(self, record: dict[str, Any]) -> None:
        self._take(from_record(record, cleared=True))

    def _take(self, incident: Incident | None) -> None:
        if incident is None or not self._settings.enabled:
            return
        self._incoming.append(incident)  # deque.append: safe from any thread
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake.set)

    def wake(self) -> None:
        self._wake.set()

    # -- the runner -----------------------------------------------------------------------

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        try:
            await asyncio.to_thread(self._recover)
            while True:
                self._wake.clear()
                await self.step()
                await wait(self._clock, self._wake, self._idle_s())
        finally:
            await self.close()

    async def close(self) -> None:
        """Let go of what the channels hold (the modem's port)."""
        for channel in self.channels.values():
            close = getattr(channel, "close", None)
            if close is not None:
                await close()

    def _recover(self) -> None:
        """At start: what storage holds, and messages the log says were sent already."""
        self._held = self.outbox.held()
        queued = self.outbox.queued()
        if queued:
            since = min(m.created_at for m in queued) - timedelta(minutes=1)
            sent = {r.get("message_id") for r in self._events.query(
                since=since, where=lambda r: r.get("kind") == "notify_sent")}
            for message in queued:
                if message.id in sent:
                    log.info("notification %s was sent before the restart", message.id)
                    self.outbox.remove(message.id)
        self.queued = self.outbox.count()

    async def step(self) -> None:
        """One pass: hold what came in, compose what is due, the digests, send what is due."""
        now = self._clock.now()
        await self._hold_incoming(now)
        await self._compose_due(now)
        await self._queue_digests(now)
        await self._send_due()

    def _idle_s(self) -> float:
        now = self._clock.now()
        deadlines = [h.due_at for h in self._held]
        deadlines += [m.next_at for m in self.outbox.queued()]
        if any(r.digest for r in self.recipients()):
            deadlines.append(self._next_digest_at(now))
        if not deadlines:
            return MAX_IDLE_S
        return max(0.0, min(MAX_IDLE_S, (min(deadlines) - now).total_seconds()))

    async def _hold_incoming(self, now: datetime) -> None:
        if not self._incoming:
            return
        recipients = [r for r in self.recipients() if not r.digest]
        new: list[Held] = []
        while self._incoming:
            incident = self._incoming.popleft()
            for recipient in recipients:
                if wanted(incident, severities=list(recipient.severities),
                          kinds=recipient.kinds):
                    new.append(Held(recipient.id, incident,
                                    self._due(recipient, incident, now, [*self._held, *new])))
        if new:
            await asyncio.to_thread(self.outbox.hold, new)
            self._held = await asyncio.to_thread(self.outbox.held)

    def _due(self, recipient: RecipientConfig, incident: Incident, now: datetime,
             held: list[Held]) -> datetime:
        """When this incident goes: with the burst already open for this recipient, else
        ``burst_s`` from now; past the recipient's quiet hours unless it is an alarm."""
        burst = timedelta(seconds=self._settings.burst_s)
        open_bursts = [h.due_at for h in held
                       if h.recipient == recipient.id and now <= h.due_at <= now + burst]
        due = min(open_bursts) if open_bursts else now + burst
        quiet = recipient.quiet_hours
        if quiet is not None and not incident.urgent and quiet.contains(due, self._tz):
            due = quiet.next_end(due, self._tz)
        return due

    async def _compose_due(self, now: datetime) -> None:
        by_recipient: dict[str, list[Held]] = {}
        for item in self._held:
            if item.due_at <= now:
                by_recipient.setdefault(item.recipient, []).append(item)
        if not by_recipient:
            return
        recipients = {r.id: r for r in self.recipients()}
        for recipient_id, items in by_recipient.items():
            recipient = recipients.get(recipient_id)
            if recipient is None:
                # Removed by an admin since: what was held for them is dropped.
                log.info("dropping %d incidents held for removed recipient %s",
                         len(items), recipient_id)
                await asyncio.to_thread(self.outbox.compose, items, None)
                continue
            incidents = [i.incident for i in items]
            message = self._message(recipient, f"{recipient.id}-{incidents[0].id}",
                                    words.incidents_subject(self._site, incidents, self._names),
                                    words.incidents_text(self._site, incidents, self._tz,
                                                         self._names),
                                    {"type": "incidents",
                                     "incidents": [i.to_doc() for i in incidents]}, now)
            await asyncio.to_thread(self.outbox.compose, items, message)
        self._held = await asyncio.to_thread(self.outbox.held)
        self.queued = await asyncio.to_thread(self.outbox.count)

    def _message(self, recipient: RecipientConfig, message_id: str, subject: str, text: str,
                 payload: dict[str, Any], now: datetime) -> Queued:
        return Queued(id=message_id, recipient=recipient.id, channel=recipient.channel,
                      address=recipient.address, subject=subject, text=text,
                      payload={"site": self._config.site.id, "site_name": self._site,
                               **payload},
                      secret=recipient.secret, created_at=now, next_at=now)

    # -- digests --------------------------------------------------------------------------

    def _digest_day(self, now: datetime) -> date:
        """The local day whose digest is the latest one due at ``now``."""
        local = now.astimezone(self._tz)
        today = local.date()
        return today if local.time() >= self._settings.digest_at else today - timedelta(days=1)

    def _next_digest_at(self, now: datetime) -> datetime:
        day = self._digest_day(now) + timedelta(days=1)
        return datetime.combine(day, self._settings.digest_at, tzinfo=self._tz)

    async def _queue_digests(self, now: datetime) -> None:
        digesters = [r for r in self.recipients() if r.digest]
        if not digesters:
            return
        day = self._digest_day(now)
        meta = await asyncio.to_thread(self.outbox.meta, "digest") or {"id": "digest",
                                                                       "sent": {}}
        sent: dict[str, str] = dict(meta["sent"])
        due = [r for r in digesters if sent.get(r.id) != day.isoformat()]
        fresh = [r for r in due if r.id not in sent]
        for recipient in fresh:
            # A recipient new to digests gets their first at the next digest time, not one
            # at once for a day they were not signed up for.
            sent[recipient.id] = day.isoformat()
        if not due:
            return
        at = datetime.combine(day, self._settings.digest_at, tzinfo=self._tz)
        records = await asyncio.to_thread(
            self._events.query, since=at - timedelta(days=1) - DIGEST_LOOKBACK, until=now,
            where=lambda r: r.get("type") in ("alarm", "event"))
        for recipient in (r for r in due if r not in fresh):
            message = self._digest(recipient, records, at, now)
            await asyncio.to_thread(self.outbox.queue, message)
            sent[recipient.id] = day.isoformat()
        await asyncio.to_thread(self.outbox.put_meta, {"id": "digest", "sent": sent})
        self.queued = await asyncio.to_thread(self.outbox.count)

    def _digest(self, recipient: RecipientConfig, records: list[dict[str, Any]],
                at: datetime, now: datetime) -> Queued:
        def mine(incident: Incident) -> bool:
            return wanted(incident, severities=list(recipient.severities),
                          kinds=recipient.kinds)

        incidents = [i for i in from_history(records, since=at - timedelta(days=1))
                     if i.at < at and mine(i)]
        still_open = [i for i in (from_record(r) for r in records
                                  if r.get("type") == "alarm" and "cleared_at" not in r)
                      if i is not None and mine(i)]
        day = at.astimezone(self._tz).date().isoformat()
        text = words.digest_text(self._site, incidents, still_open, at, self._tz, self._names)
        return self._message(
            recipient, f"{recipient.id}-digest-{day}", text.split("\n", 1)[0].rstrip(":"),
            text, {"type": "digest", "day": day,
                   "incidents": [i.to_doc() for i in incidents],
                   "open": [i.to_doc() for i in still_open]}, now)

    # -- sending --------------------------------------------------------------------------

    async def _send_due(self) -> None:
        for message in await asyncio.to_thread(self.outbox.queued):
            if message.next_at > self._clock.now():
                continue
            await self._attempt(message)
        self.queued = await asyncio.to_thread(self.outbox.count)

    async def _attempt(self, message: Queued) -> None:
        try:
            await self._send(message.channel, _outgoing(message))
        except ChannelError as exc:
            now = self._clock.now()
            failed = message.failed(_short(str(exc)), at=now)
            self.failed_total[message.channel] = self.failed_total.get(message.channel, 0) + 1
            give_up = not exc.retryable or failed.expired(failed.next_at)
            details: dict[str, Any] = {"message_id": message.id, "channel": message.channel,
                                       "address": message.address, "attempt": failed.attempts,
                                       "error": failed.last_error}
            if give_up:
                details["gave_up"] = True
                why = "refused" if not exc.retryable else "not sent within 24 h"
                text = f"{message.channel} to {message.address}: {why}, given up: " \
                       f"{failed.last_error}"
            else:
                details["retry_at"] = failed.next_at.isoformat()
                text = f"{message.channel} to {message.address} failed (attempt " \
                       f"{failed.attempts}), again at {failed.next_at.isoformat()}: " \
                       f"{failed.last_error}"
            log.warning("notification %s: %s", message.id, text)
            await asyncio.to_thread(self._note, "notify_failed", message.recipient, text,
                                    severity="warning", **details)
            if give_up:
                await asyncio.to_thread(self.outbox.remove, message.id)
            else:
                await asyncio.to_thread(self.outbox.update, failed)
            return
        self.sent_total[message.channel] = self.sent_total.get(message.channel, 0) + 1
        # Logged first, then removed: killed in between, the restarted runner finds the log
        # line and does not send it again (_recover).
        await asyncio.to_thread(
            self._note, "notify_sent", message.recipient,
            f"{message.channel} to {message.address}: {_short(message.subject, 120)}",
            severity="info", message_id=message.id, channel=message.channel,
            address=message.address, attempt=message.attempts + 1)
        await asyncio.to_thread(self.outbox.remove, message.id)

    async def _send(self, channel_name: str, outgoing: Outgoing) -> None:
        channel = self.channels.get(channel_name)
        if channel is None:
            raise ChannelError(f"channel {channel_name} is not set up ([notify.{channel_name}])",
                               retryable=False)
        await channel.send(outgoing)

    # -- a test, now ----------------------------------------------------------------------

    async def send_test(self, recipient_id: str | None = None) -> list[TestResult]:
        """Send a test message now to one recipient (or each), through its real channel,
        outside the outbox: the answer says what happened. Logged as any message."""
        targets = [self.recipient(recipient_id)] if recipient_id else self.recipients()
        results = []
        for recipient in targets:
            now = self._clock.now()
            message_id = f"test-{recipient.id}-{now.strftime('%Y%m%dT%H%M%S')}-" \
                         f"{secrets.token_hex(3)}"
            text = words.test_text(self._site, now, self._tz)
            outgoing = Outgoing(message_id=message_id, channel=recipient.channel,
                                address=recipient.address,
                                subject=text.split(":", 1)[0], text=text,
                                payload={"type": "test", "site": self._config.site.id,
                                         "site_name": self._site, "at": now.isoformat()},
                                secret=recipient.secret)
            details = {"message_id": message_id, "channel": recipient.channel,
                       "address": recipient.address, "test": True}
            try:
                await self._send(recipient.channel, outgoing)
            except ChannelError as exc:
                error = _short(str(exc))
                self.failed_total[recipient.channel] = \
                    self.failed_total.get(recipient.channel, 0) + 1
                await asyncio.to_thread(
                    self._note, "notify_failed", recipient.id,
                    f"test {recipient.channel} to {recipient.address} failed: {error}",
                    severity="warning", error=error, **details)
                results.append(TestResult(recipient.id, recipient.channel, recipient.address,
                                          message_id, False, error, exc.retryable))
                continue
            self.sent_total[recipient.channel] = self.sent_total.get(recipient.channel, 0) + 1
            await asyncio.to_thread(
                self._note, "notify_sent", recipient.id,
                f"test {recipient.channel} to {recipient.address}", severity="info", **details)
            results.append(TestResult(recipient.id, recipient.channel, recipient.address,
                                      message_id, True))
        return results

    # -- the log --------------------------------------------------------------------------

    def log(self, *, limit: int = 100) -> list[dict[str, Any]]:
        """What was sent or failed, newest first (reads day files: call it in a thread)."""
        return self._events.query(where=lambda r: r.get("kind") in LOG_KINDS, limit=limit,
                                  newest_first=True)


def _outgoing(message: Queued) -> Outgoing:
    return Outgoing(message_id=message.id, channel=message.channel,  # type: ignore[arg-type]
                    address=message.address, subject=message.subject, text=message.text,
                    payload=dict(message.payload), secret=message.secret)


def _short(text: str, limit: int = ERROR_CHARS) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"
