"""Manual overrides in storage: a technician forces a circuit, a group or everything on or off
for a while.

Overrides live in storage, so they survive a restart and expire on time whether or not the
controller was running when they did. The newest unexpired override that targets a circuit wins
(docs/architecture.md). The use cases (checks, event log, audit) are
``controller.lighting.service``'s; this is the table, in ``Override`` records.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from controller.config import CircuitConfig
from controller.lighting.records import Override, State
from controller.platform.store import Store

TABLE = "overrides"


class OverrideBook:
    def __init__(self, store: Store) -> None:
        self._store = store

    def create(self, *, target: str, state: State, level: int, until: datetime, reason: str,
               created_by: str, now: datetime) -> Override:
        """Store a new override (fsyncs: call it off the event loop)."""
        self.prune(now=now)
        override = Override.new(target=target, state=state, level=level, until=until,
                                reason=reason, created_by=created_by, now=now)
        self._store.put(TABLE, override.to_doc())
        return override

    def get(self, override_id: str) -> Override | None:
        doc = self._store.get(TABLE, override_id)
        return None if doc is None else Override.from_doc(doc)

    def delete(self, override_id: str) -> bool:
        return self._store.delete(TABLE, override_id)

    def all(self) -> list[Override]:
        return [Override.from_doc(doc) for doc in self._store.all(TABLE)]

    def active(self, *, now: datetime) -> list[Override]:
        """Unexpired overrides, newest first."""
        live = [o for o in self.all() if o.live_at(now)]
        return sorted(live, key=lambda o: o.created_at, reverse=True)

    def prune(self, *, now: datetime) -> int:
        expired = [o.id for o in self.all() if not o.live_at(now)]
        for override_id in expired:
            self._store.delete(TABLE, override_id)
        return len(expired)

    @staticmethod
    def winner(active: Sequence[Override], circuit: CircuitConfig) -> Override | None:
        return next((o for o in active if o.targets(circuit)), None)
