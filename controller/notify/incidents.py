"""Incidents: what is worth telling people, derived from the alarm book's records.

An alarm is one incident when it opens and one when it clears (its recovery); raising an alarm
that is already open does nothing in the book (controller.platform.alarms), so a board that
fails every poll is one incident, and one when it answers again. A few events that are not
conditions are incidents too (``NOTABLE_EVENTS``); they have no recovery.

Where each kind is raised (docs/notifications.md lists them with their words):

- ``device_offline``, ``device_error``, ``relay_not_following``, ``lamp_failure``,
  ``day_burner``, digital inputs by their configured names (``cabinet-door``,
  ``breaker-tripped``): controller/lighting/coordinator.py; ``relay_drift`` (an event)
  there too;
- ``clock_implausible``, ``clock_unsynchronised``, ``clock_step`` (an event):
  controller/platform/clock_guard.py;
- ``broadcast_failed``: controller/radio/coordinator.py, which notes ``broadcast_missed``;
  ``zone_switch_failed``: controller/radio/zones.py;
- ``node_offline``: controller/nodes/mqtt_port.py; ``node_no_ack``:
  controller/nodes/node_zones.py; ``firmware_rollout_failed``: controller/nodes/firmware.py.

Not incidents: ``override`` and ``firmware_rollout`` (what people did, info), and the
notifications' own ``notify_sent`` and ``notify_failed``: nothing notifies about a
notification.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

State = Literal["opened", "cleared", "event"]

NOTABLE_EVENTS = frozenset({"relay_drift", "clock_step", "broadcast_missed"})
NEVER = frozenset({"notify_sent", "notify_failed", "override", "firmware_rollout"})
URGENT = "alarm"  # the severity that quiet hours do not hold


@dataclass(frozen=True)
class Incident:
    id: str  # the record's id; a recovery's is the alarm's id + ".cleared"
    kind: str
    target: str
    severity: str
    state: State
    at: datetime
    message: str = ""

    @property
    def urgent(self) -> bool:
        return self.severity == URGENT

    def to_doc(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "target": self.target,
                "severity": self.severity, "state": self.state, "at": self.at.isoformat(),
                "message": self.message}

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> Incident:
        return cls(id=doc["id"], kind=doc["kind"], target=doc["target"],
                   severity=doc["severity"], state=doc["state"],
                   at=datetime.fromisoformat(doc["at"]), message=doc.get("message", ""))


def from_record(record: dict[str, Any], *, cleared: bool = False) -> Incident | None:
    """The incident an alarm book record makes (a new record, or an alarm just cleared), or
    None when it is not notable."""
    kind, kind_of_record = record.get("kind"), record.get("type")
    if not isinstance(kind, str) or kind in NEVER:
        return None
    if kind_of_record == "alarm":
        if cleared:
            return Incident(id=f"{record['id']}.cleared", kind=kind, target=record["target"],
                            severity=record.get("severity", "alarm"), state="cleared",
                            at=datetime.fromisoformat(record["cleared_at"]),
                            message=record.get("cleared_message", ""))
        state: State = "opened"
    elif kind_of_record == "event" and kind in NOTABLE_EVENTS and not cleared:
        state = "event"
    else:
        return None
    return Incident(id=record["id"], kind=kind, target=record["target"],
                    severity=record.get("severity", "info"), state=state,
                    at=datetime.fromisoformat(record["time"]),
                    message=record.get("message", ""))


def from_history(records: list[dict[str, Any]], *, since: datetime) -> list[Incident]:
    """The incidents of a span of the events history, oldest first: each alarm and notable
    event recorded since ``since``, and each recovery since then (of alarms opened before it
    too, when they are in ``records``)."""
    found: list[Incident] = []
    for record in records:
        opened = from_record(record)
        if opened is not None and opened.at >= since:
            found.append(opened)
        if record.get("type") == "alarm" and "cleared_at" in record:
            recovery = from_record(record, cleared=True)
            if recovery is not None and recovery.at >= since:
                found.append(recovery)
    found.sort(key=lambda i: i.at)
    return found


def wanted(incident: Incident, *, severities: list[str], kinds: list[str] | str) -> bool:
    """Whether a recipient with these settings wants it: its severity (a recovery has the
    alarm's) and its kind."""
    return incident.severity in severities and (kinds == "all" or incident.kind in kinds)
