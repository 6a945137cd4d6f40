"""The audit trail as the HTTP routes that are not a feature's service write it (tokens).

The trail itself, and who an ``Actor`` is, live in controller.platform.audit.
"""

from __future__ import annotations

from typing import Any

from controller.platform.audit import Actor
from controller.runtime import Runtime


async def record_change(runtime: Runtime, caller: Actor, action: str, target: str,
                        details: dict[str, Any] | None = None) -> None:
    await runtime.trail.record(caller, action, target, details)
