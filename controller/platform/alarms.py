"""Alarms and notable events, kept in the ``events`` history.

An alarm is a condition with a kind and a target (``device_offline`` on ``relay-1``,
``lamp_failure`` on ``road-5``). Raising one that is already open does nothing, so coordinators
can report a condition on every check and the log still says it once; clearing it amends the
original record with ``cleared_at``. A restarted controller adopts the alarms left open, so an
alarm that still holds is not raised twice and one that went away is closed.

Threads (docs/architecture.md, "Processes and threads"): the coordinators and the API share
one event loop, but every change here writes the history with an fsync, which a service may
hand to a worker thread (``asyncio.to_thread``): acknowledging, noting. So the book keeps its
dictionary of open alarms for writers only, under a lock, and publishes after every change a
tuple of the open records, sorted, that no one changes afterwards: ``open_alarms()`` returns
that tuple, so a reader (/status, /metrics, /health) never iterates anything that a writer is
changing, takes no lock, and may hold it across an await. The history is written outside the
lock (an fsync must not hold up the loop).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from controller.platform.clock import Clock
from controller.platform.history import History

log = logging.getLogger(__name__)

SEVERITIES = ("info", "warning", "alarm")
ADOPT_WINDOW = timedelta(days=30)


class AlarmBook:
    def __init__(self, history: History, clock: Clock) -> None:
        self._history = history
        self._clock = clock
        # Written under _lock only; read by readers through _open_view, never directly.
        self._open: dict[tuple[str, str], dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._open_view: tuple[dict[str, Any], ...] = ()
        # Told of every alarm and event as it is written (the MQTT bridge publishes them);
        # a listener must not block.
        self.listeners: list[Callable[[dict[str, Any]], None]] = []
        # Told of every alarm as it is cleared, with the record as amended (``cleared_at``
        # set). A list of its own: the listeners above (MQTT's {root}/events) are told of new
        # records only, as before. Called on the thread that cleared; must not block.
        self.clear_listeners: list[Callable[[dict[str, Any]], None]] = []
        since = clock.now() - ADOPT_WINDOW
        for record in history.query(since=since, where=_is_open_alarm):
            self._open[(record["kind"], record["target"])] = record
        self._publish()

    def raise_alarm(self, kind: str, target: str, message: str, *,
                    severity: str = "alarm") -> bool:
        """Open an alarm; False if the same kind is already open on that target."""
        key = (kind, target)
        if key in self._open:
            return False
        record = self._history.append(
            {"type": "alarm", "severity": severity, "kind": kind, "target": target,
             "message": message}, at=self._clock.now())
        with self._lock:
            self._open[key] = record
            self._publish()
        log.warning("alarm %s on %s: %s", kind, target, message)
        self._tell(record)
        return True

    def clear(self, kind: str, target: str, message: str = "") -> bool:
        with self._lock:
            record = self._open.pop((kind, target), None)
            if record is None:
                return False
            self._publish()
        now = self._clock.now()
        cleared = {"cleared_at": now.isoformat()}
        self._history.amend(record["id"], cleared, at=now)
        log.info("cleared %s on %s%s", kind, target, f": {message}" if message else "")
        amended = {**record, **cleared, **({"cleared_message": message} if message else {})}
        for listener in self.clear_listeners:
            listener(amended)
        return True

    def set(self, active: bool, kind: str, target: str, message: str) -> None:
        """Raise or clear, whichever the latest observation says."""
        if active:
            self.raise_alarm(kind, target, message)
        else:
            self.clear(kind, target)

    def is_open(self, kind: str, target: str) -> bool:
        return (kind, target) in self._open

    def open_alarms(self) -> tuple[dict[str, Any], ...]:
        """The open alarms, oldest first: a snapshot, safe to read from any thread or across
        an await, and not to be changed (the records in it are shared)."""
        return self._open_view

    def _publish(self) -> None:
        # Called with _lock held (or before any other thread can see the book). One
        # assignment: a reader gets either the old tuple or the new one, whole.
        self._open_view = tuple(sorted(self._open.values(), key=lambda r: r["id"]))

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
        """Mark an alarm or event seen. It fsyncs: callable from a worker thread while the
        loop raises and clears."""
        record = self._history.get(event_id)
        if record is None:
            return None
        now = self._clock.now()
        acked = {"acked_by": by, "acked_at": now.isoformat()}
        self._history.amend(event_id, acked, at=now)
        with self._lock:
            # Only an alarm still open is updated: one cleared meanwhile stays cleared.
            for key, open_record in self._open.items():
                if open_record["id"] == event_id:
                    self._open[key] = {**open_record, **acked}
                    self._publish()
                    break
        return self._history.get(event_id)


def _is_open_alarm(record: dict[str, Any]) -> bool:
    return record.get("type") == "alarm" and "cleared_at" not in record
