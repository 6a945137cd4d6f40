"""The outbox: every message to send is in storage before any attempt to send it.

Two tables of the store (controller.platform.store: the whole file replaced atomically and
fsynced on every write, so a SIGKILL or a power cut leaves the old or the new version):

- ``notify_held``: incidents waiting for their recipient's burst to end or quiet hours to
  pass, one document per recipient and incident;
- ``notify_outbox``: messages composed and not yet sent, each with its stable ``id`` (the
  webhook's ``Idempotency-Key``, the e-mail's Message-ID), its attempts and when to try next.

Composing a message removes its held incidents and queues it in one transaction, so an
incident is in exactly one place. A message leaves the outbox only once the log says it was
sent (the ``notify_sent`` event, controller.notify.service) or given up.

Retries: 30 s after the first failure, doubling to one hour between attempts; a message that
could not be sent within 24 hours of being composed, or that a channel refuses for good (a
webhook's 4xx, an e-mail address the server rejects), is given up and logged
``notify_failed``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from controller.notify.incidents import Incident
from controller.platform.store import Store

HELD = "notify_held"
QUEUED = "notify_outbox"
META = "notify"  # documents "recipients" (as an admin edited them) and "digest"

RETRY_FIRST_S = 30.0
RETRY_MAX_S = 3600.0
GIVE_UP_AFTER = timedelta(hours=24)


def retry_delay_s(attempts: int) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt: 30, 60, 120 ... 3600."""
    return min(RETRY_FIRST_S * float(2 ** max(attempts - 1, 0)), RETRY_MAX_S)


@dataclass(frozen=True)
class Held:
    recipient: str
    incident: Incident
    due_at: datetime  # when its burst ends, or its quiet hours

    @property
    def id(self) -> str:
        return f"{self.recipient}|{self.incident.id}"

    def to_doc(self) -> dict[str, Any]:
        return {"id": self.id, "recipient": self.recipient, "incident": self.incident.to_doc(),
                "due_at": self.due_at.isoformat()}

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Held:
        return cls(recipient=doc["recipient"], incident=Incident.from_doc(doc["incident"]),
                   due_at=datetime.fromisoformat(doc["due_at"]))


@dataclass(frozen=True)
class Queued:
    id: str  # stable: the idempotency key
    recipient: str
    channel: str
    address: str
    subject: str
    text: str
    created_at: datetime
    next_at: datetime
    payload: Mapping[str, Any] = field(default_factory=dict)
    secret: str | None = None
    attempts: int = 0
    last_error: str = ""

    def to_doc(self) -> dict[str, Any]:
        return {"id": self.id, "recipient": self.recipient, "channel": self.channel,
                "address": self.address, "subject": self.subject, "text": self.text,
                "payload": dict(self.payload), "secret": self.secret,
                "created_at": self.created_at.isoformat(), "next_at": self.next_at.isoformat(),
                "attempts": self.attempts, "last_error": self.last_error}

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Queued:
        return cls(id=doc["id"], recipient=doc["recipient"], channel=doc["channel"],
                   address=doc["address"], subject=doc.get("subject", ""), text=doc["text"],
                   payload=doc.get("payload") or {}, secret=doc.get("secret"),
                   created_at=datetime.fromisoformat(doc["created_at"]),
                   next_at=datetime.fromisoformat(doc["next_at"]),
                   attempts=int(doc.get("attempts", 0)), last_error=doc.get("last_error", ""))

    def failed(self, error: str, *, at: datetime) -> Queued:
        """The same message after one more failed attempt, with its next try."""
        attempts = self.attempts + 1
        return replace(self, attempts=attempts, last_error=error,
                       next_at=at + timedelta(seconds=retry_delay_s(attempts)))

    def expired(self, at: datetime) -> bool:
        return at - self.created_at >= GIVE_UP_AFTER


class Outbox:
    """The held incidents and queued messages in storage. Every method writes or reads the
    store, and the writers fsync: call them in a worker thread from the loop."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def hold(self, items: Iterable[Held]) -> int:
        """Store incidents to compose later; one already held (same recipient and incident)
        is kept as it was. Returns how many were new."""
        items = list(items)
        if not items:
            return 0
        with self._store.transaction() as tables:
            return sum(tables.insert_new(HELD, item.to_doc()) for item in items)

    def held(self) -> list[Held]:
        return sorted((Held.from_doc(d) for d in self._store.all(HELD)),
                      key=lambda h: h.incident.at)  # stable: as stored, for one instant

    def compose(self, held: Iterable[Held], message: Queued | None) -> bool:
        """Queue ``message`` and remove the incidents it says, in one transaction; False
        (nothing changed but the incidents' removal) when a message with its id is queued.
        No message: the incidents are dropped (their recipient is gone)."""
        with self._store.transaction() as tables:
            for item in held:
                tables.delete(HELD, item.id)
            return message is not None and tables.insert_new(QUEUED, message.to_doc())

    def queue(self, message: Queued) -> bool:
        """Queue a message that no incident is held for (a digest); False if its id is."""
        return self._store.insert_new(QUEUED, message.to_doc())

    def queued(self) -> list[Queued]:
        return sorted((Queued.from_doc(d) for d in self._store.all(QUEUED)),
                      key=lambda m: (m.next_at, m.id))

    def count(self) -> int:
        return len(self._store.all(QUEUED))

    def update(self, message: Queued) -> None:
        self._store.put(QUEUED, message.to_doc())

    def remove(self, message_id: str) -> bool:
        return self._store.delete(QUEUED, message_id)

    def meta(self, doc_id: str) -> dict[str, Any] | None:
        return self._store.get(META, doc_id)

    def put_meta(self, doc: dict[str, Any]) -> None:
        self._store.put(META, doc)
