"""The audit trail: every change made through the API, who made it and when (SPEC: GET /audit).

A record is ``{"actor", "role", "action", "target", "details"}`` in ``runtime.audit``, stamped
with the controller's clock. It is written after the change succeeded: a rejected request
changes nothing, and leaves no record either.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.concurrency import run_in_threadpool

from controller.http.auth import Caller
from controller.platform.history import MAX_LINE_BYTES
from controller.runtime import Runtime

# Room for the "id" and "time" fields History adds to each line, and the newline.
_HISTORY_FIELDS_BYTES = 80


async def record_change(runtime: Runtime, caller: Caller, action: str, target: str,
                        details: dict[str, Any] | None = None) -> None:
    record: dict[str, Any] = {"actor": caller.name, "role": caller.role, "action": action,
                              "target": target, "details": {}}
    room = MAX_LINE_BYTES - _HISTORY_FIELDS_BYTES - _encoded_size(record)
    record["details"] = _fitting(details or {}, room)
    # History fsyncs each line: off the event loop, so the coordinators keep their timing.
    await run_in_threadpool(runtime.audit.append, record, at=runtime.clock.now())


def _fitting(details: dict[str, Any], room_bytes: int) -> dict[str, Any]:
    """An audit line must stay one atomic append (History: under PIPE_BUF); a large document
    (a programme of many windows) is recorded by its size instead of its content."""
    size = _encoded_size(details)
    if size <= room_bytes:
        return details
    return {"omitted": "too large for one audit line", "size_bytes": size}


def _encoded_size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())
