"""Alarms and notable events, kept in the ``events`` history.

An alarm is a condition with a kind and a target (``device_offline`` on ``relay-1``,
``lamp_failure`` on ``road-5``). Raising one that is already open does nothing, so coordinators
can report a condition on every check and the log still says it once; clearing it amends the
original record with ``cleared_at``. A restarted controller adopts the alarms left open, so an
alarm that still holds is not raised twice and one that went away is closed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from controller.clock import Clock
from controller.history import History

log = logging.getLogger(__name__)

SEVERITIES = ("info", "warning", "alarm")
ADOPT_WINDOW = timedelta(days=30)


class AlarmBook:
    def __init__(self, history: History, clock: Clock) -> None:
        self._history = history
        self._clock = clock
        self._open: dict[tuple[str, str], dict[str, Any]] = {}
        # Told of every alarm and event as it is written (the MQTT bridge publishes them);
        # a listener must not block.
        self.listeners: list[Callable[[dict[str, Any]], None]] = []
        since = clock.now() - ADOPT_WINDOW
        for record in history.query(since=since, where=_is_open_alarm):
            self._open[(record["kind"], record["target"])] = record

    def raise_alarm(self, kind: str, target: str, message: str, *,
                    severity: str = "alarm") -> bool:
        """Open an alarm; False if the same kind is already open on that target."""
        key = (kind, target)
        if key in self._open:
            return False
        record = self._history.append(
            {"type": "alarm", "severity": severity, "kind": kind, "target": target,
             "message": message}, at=self._clock.now())
        self._open[key] = record
        log.warning("alarm %s on %s: %s", kind, target, message)
        self._tell(record)
        return True

    def clear(self, kind: str, target: str, message: str = "") -> bool:
        record = self._open.pop((kind, target), None)
        if record is None:
            return False
        now = self._clock.now()
        self._history.amend(record["id"], {"cleared_at": now.isoformat()}, at=now)
        log.info("cleared %s on %s%s", kind, target, f": {message}" if message else "")
        return True

    def set(self, active: bool, kind: str, target: str, message: str) -> None:
        """Raise or clear, whichever the latest observation says."""
        if active:
            self.raise_alarm(kind, target, message)
        else:
            self.clear(kind, target)

    def is_open(self, kind: str, target: str) -> bool:
        return (kind, target) in self._open

    def open_alarms(self) -> list[dict[str, Any]]:
        return sorted(self._open.values(), key=lambda r: r["id"])

    def note(self, kind: str, target: str, message: str, *, severity: str = "info",
             **details: Any) -> dict[str, Any]:
        """A notable event that is not a condition (an override created, a device back)."""
        record = self._history.append(
            {"type": "event", "severity": severity, "kind": kind, "target": target,
             "message": message, **details}, at=self._clock.now())
        self._tell(record)
        return record

    def _tell(self, record: dict[str, Any]) -> None:
        for listener in self.listeners:
            listener(record)

    def acknowledge(self, event_id: str, by: str) -> dict[str, Any] | None:
        record = self._history.get(event_id)
        if record is None:
            return None
        now = self._clock.now()
        self._history.amend(event_id, {"acked_by": by, "acked_at": now.isoformat()}, at=now)
        for key, open_record in self._open.items():
            if open_record["id"] == event_id:
                self._open[key] = {**open_record, "acked_by": by, "acked_at": now.isoformat()}
        return self._history.get(event_id)


def _is_open_alarm(record: dict[str, Any]) -> bool:
    return record.get("type") == "alarm" and "cleared_at" not in record
