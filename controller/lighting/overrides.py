"""Manual overrides: a technician forces a circuit, a group or everything on/off for a while.

Overrides live in storage, so they survive a restart and expire on time whether or not the
controller was running when they did. The newest unexpired override that targets a circuit wins
(SPEC: Schedules).
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from controller.config import CircuitConfig
from controller.platform.store import Store

TABLE = "overrides"


def targets(override: dict[str, Any], circuit: CircuitConfig) -> bool:
    target = override["target"]
    if target == "all":
        return True
    kind, _, name = target.partition(":")
    return (kind == "circuit" and name == circuit.id) or (kind == "group" and name in circuit.groups)


class OverrideBook:
    def __init__(self, store: Store) -> None:
        self._store = store

    def create(self, *, target: str, state: str, level: int, until: datetime, reason: str,
               created_by: str, now: datetime) -> dict[str, Any]:
        self.prune(now=now)
        doc = {
            "id": f"ovr-{int(now.timestamp())}-{secrets.token_hex(3)}",
            "target": target,
            "state": state,
            "level": level if state == "on" else 0,
            "until": until.isoformat(),
            "reason": reason,
            "created_by": created_by,
            "created_at": now.isoformat(),
        }
        self._store.put(TABLE, doc)
        return doc

    def get(self, override_id: str) -> dict[str, Any] | None:
        return self._store.get(TABLE, override_id)

    def delete(self, override_id: str) -> bool:
        return self._store.delete(TABLE, override_id)

    def active(self, *, now: datetime) -> list[dict[str, Any]]:
        """Unexpired overrides, newest first."""
        live = [o for o in self._store.all(TABLE) if datetime.fromisoformat(o["until"]) > now]
        return sorted(live, key=lambda o: o["created_at"], reverse=True)

    def prune(self, *, now: datetime) -> int:
        expired = [o["id"] for o in self._store.all(TABLE)
                   if datetime.fromisoformat(o["until"]) <= now]
        for override_id in expired:
            self._store.delete(TABLE, override_id)
        return len(expired)

    @staticmethod
    def winner(active: list[dict[str, Any]], circuit: CircuitConfig) -> dict[str, Any] | None:
        return next((o for o in active if targets(o, circuit)), None)
