"""An announcement's lifecycle: its ``status``, how many repeats have ``aired`` and when the next
one is due (``next_at``), in one place (docs/api.md, Radio; docs/architecture.md, the radio's
rules).

    waiting_approval ──approve──▶ scheduled ──its last repeat logged──▶ done
           │                          │
           └────────cancel────────────┴──────────▶ cancelled

- An announcement starts ``scheduled``, or ``waiting_approval`` when the installation asks for
  approval (``broadcast.require_approval``) and its author is below a technician.
- Only a ``scheduled`` one airs. Each repeat ends in the broadcast log whatever its outcome
  (completed, preempted, failed, missed, skipped): that repeat counts as aired, and the next is
  due ``repeat_gap_min`` after the end of that one (or after its due second, if later).
- ``done`` and ``cancelled`` are final: cancelling one of them again changes nothing.

Pure functions of the record and the instant; the radio service and the broadcast coordinator
store what they return.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from controller.errors import Conflict
from controller.platform.tokens import role_at_least
from controller.radio.records import Announcement, AnnouncementStatus

# Announcements that may still air: they count for overlaps, the plan and audio in use.
LIVE: tuple[AnnouncementStatus, ...] = ("scheduled", "waiting_approval")
FINAL: tuple[AnnouncementStatus, ...] = ("done", "cancelled")
# Who approves, and whose announcements never wait.
APPROVER_ROLE = "technician"


def initial_status(*, require_approval: bool, role: str) -> AnnouncementStatus:
    waits = require_approval and not role_at_least(role, APPROVER_ROLE)
    return "waiting_approval" if waits else "scheduled"


def is_live(announcement: Announcement) -> bool:
    return announcement.status in LIVE


def may_air(announcement: Announcement) -> bool:
    """Approved, not cancelled, not done: the coordinator looks at its next repeat."""
    return announcement.status == "scheduled"


def approve(announcement: Announcement, *, by: str) -> Announcement:
    if announcement.status != "waiting_approval":
        raise Conflict(f"announcement {announcement.id!r} is {announcement.status}, "
                       "not waiting for approval")
    return replace(announcement, status="scheduled", approved_by=by)


def cancel(announcement: Announcement, *, by: str) -> Announcement:
    """Cancelled by ``by``; one already done or cancelled stays as it is."""
    if announcement.status in FINAL:
        return announcement
    return replace(announcement, status="cancelled", cancelled_by=by)


def next_repeat(announcement: Announcement) -> int | None:
    """The number (1, 2, ...) of the repeat that airs next; None when every one has, whatever
    the status."""
    if announcement.aired >= announcement.repeat:
        return None
    return announcement.aired + 1


def next_due(announcement: Announcement) -> datetime:
    """When the next repeat is due: its ``at`` first, then ``next_at``."""
    if announcement.aired and announcement.next_at is not None:
        return announcement.next_at
    return announcement.at


def next_known_at(announcement: Announcement) -> datetime | None:
    """When the next repeat's due second became known: the announcement's creation for the
    first, the previous repeat's end for the others."""
    return announcement.next_known_at if announcement.aired else announcement.created_at


def after_repeat(announcement: Announcement, number: int, *, due: datetime,
                 now: datetime) -> Announcement:
    """The announcement once repeat ``number`` (due at ``due``) is in the broadcast log at
    ``now``. Counting a repeat twice (a restart that finds it logged) changes nothing."""
    if announcement.aired >= number:
        return announcement
    gap = timedelta(minutes=announcement.repeat_gap_min)
    status: AnnouncementStatus = announcement.status
    if number >= announcement.repeat and status == "scheduled":
        status = "done"
    return replace(announcement, aired=number, next_at=max(now, due + gap),
                   next_known_at=now, status=status)
