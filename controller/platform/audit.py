"""Who acts, and the audit trail of what they changed (``GET /api/v1/audit``, docs/api.md).

An ``Actor`` is whoever asked for a change: a token's name and role from the HTTP API, "mqtt"
for a command from the broker, "cli" for the command line. The services take one with every
change and record it here once the change succeeded: a refused request changes nothing and
leaves no record either.

A record is ``{"actor", "role", "action", "target", "details"}`` in the audit history, stamped
with the controller's clock.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from controller.platform.clock import Clock
from controller.platform.history import MAX_LINE_BYTES, History

# Room for the "id" and "time" fields History adds to each line, and the newline.
_HISTORY_FIELDS_BYTES = 80


@dataclass(frozen=True)
class Actor:
    """Who asked: a token's (or a user's) name and its role."""

    name: str
    role: str


class AuditTrail:
    def __init__(self, history: History, clock: Clock) -> None:
        self.history = history
        self._clock = clock

    async def record(self, actor: Actor, action: str, target: str,
                     details: dict[str, Any] | None = None) -> None:
        record: dict[str, Any] = {"actor": actor.name, "role": actor.role, "action": action,
                                  "target": target, "details": {}}
        room = MAX_LINE_BYTES - _HISTORY_FIELDS_BYTES - _encoded_size(record)
        record["details"] = _fitting(details or {}, room)
        # History fsyncs each line: off the event loop, so the coordinators keep their timing.
        await asyncio.to_thread(self.history.append, record, at=self._clock.now())


def _fitting(details: dict[str, Any], room_bytes: int) -> dict[str, Any]:
    """An audit line must stay one atomic append (History: under PIPE_BUF); a large document
    (a programme of many windows) is recorded by its size instead of its content."""
    size = _encoded_size(details)
    if size <= room_bytes:
        return details
    return {"omitted": "too large for one audit line", "size_bytes": size}


def _encoded_size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())
