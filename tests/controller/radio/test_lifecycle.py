"""The announcement lifecycle (controller.radio.lifecycle) as a table: each row is a record
before, a move, and what the record is after (or the refusal)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from controller.errors import Conflict
from controller.radio import lifecycle
from controller.radio.records import Announcement, AnnouncementStatus

ICT = ZoneInfo("Asia/Ho_Chi_Minh")
CREATED = datetime(2026, 12, 2, 8, 0, tzinfo=ICT)
AT = CREATED + timedelta(minutes=30)
NOW = AT + timedelta(seconds=40)  # an airing of 40 s has just ended

BASE = Announcement(id="ann-1", at=AT, source={"type": "tts", "text": "Họp dân."},
                    zones="all", level="normal", status="scheduled", created_by="op",
                    created_at=CREATED, repeat=2, repeat_gap_min=5)


def with_(**changes: object) -> Announcement:
    return replace(BASE, **changes)  # type: ignore[arg-type]


Move = Callable[[Announcement], Announcement]

MOVES: list[tuple[str, Announcement, Move, Announcement | type[Exception]]] = [
    ("approve a waiting one", with_(status="waiting_approval"),
     lambda a: lifecycle.approve(a, by="tech"), with_(status="scheduled", approved_by="tech")),
    ("approve one already scheduled", BASE, lambda a: lifecycle.approve(a, by="tech"), Conflict),
    ("approve a cancelled one", with_(status="cancelled"),
     lambda a: lifecycle.approve(a, by="tech"), Conflict),
    ("cancel a scheduled one", BASE, lambda a: lifecycle.cancel(a, by="op"),
     with_(status="cancelled", cancelled_by="op")),
    ("reject a waiting one", with_(status="waiting_approval"),
     lambda a: lifecycle.cancel(a, by="tech"), with_(status="cancelled", cancelled_by="tech")),
    ("cancel a done one: unchanged", with_(status="done", aired=2),
     lambda a: lifecycle.cancel(a, by="op"), with_(status="done", aired=2)),
    ("cancel again: unchanged", with_(status="cancelled", cancelled_by="op"),
     lambda a: lifecycle.cancel(a, by="other"), with_(status="cancelled", cancelled_by="op")),
    ("first of two repeats aired", BASE,
     lambda a: lifecycle.after_repeat(a, 1, due=AT, now=NOW),
     with_(aired=1, next_at=AT + timedelta(minutes=5), next_known_at=NOW)),
    ("the gap counts from the end when the airing ran past it", BASE,
     lambda a: lifecycle.after_repeat(a, 1, due=AT, now=AT + timedelta(minutes=7)),
     with_(aired=1, next_at=AT + timedelta(minutes=7), next_known_at=AT + timedelta(minutes=7))),
    ("last repeat aired: done", with_(aired=1, next_at=AT + timedelta(minutes=5)),
     lambda a: lifecycle.after_repeat(a, 2, due=AT + timedelta(minutes=5), now=NOW),
     with_(aired=2, next_at=AT + timedelta(minutes=10), next_known_at=NOW, status="done")),
    ("a repeat counted twice changes nothing", with_(aired=1, next_at=AT),
     lambda a: lifecycle.after_repeat(a, 1, due=AT, now=NOW), with_(aired=1, next_at=AT)),
    ("a cancelled one cut on air counts its airing and stays cancelled",
     with_(status="cancelled", repeat=1),
     lambda a: lifecycle.after_repeat(a, 1, due=AT, now=NOW),
     with_(status="cancelled", repeat=1, aired=1, next_at=AT + timedelta(minutes=5),
           next_known_at=NOW)),
]


@pytest.mark.parametrize(("before", "move", "after"), [row[1:] for row in MOVES],
                         ids=[row[0] for row in MOVES])
def test_moves(before: Announcement, move: Move,
               after: Announcement | type[Exception]) -> None:
    if isinstance(after, Announcement):
        assert move(before) == after
    else:
        with pytest.raises(after):
            move(before)


@pytest.mark.parametrize(("require_approval", "role", "status"), [
    (False, "operator", "scheduled"),
    (True, "operator", "waiting_approval"),
    (True, "technician", "scheduled"),
    (True, "admin", "scheduled"),
])
def test_initial_status(require_approval: bool, role: str, status: AnnouncementStatus) -> None:
    assert lifecycle.initial_status(require_approval=require_approval, role=role) == status


@pytest.mark.parametrize(("record", "live", "airs", "repeat", "due", "known"), [
    (with_(status="waiting_approval"), True, False, 1, AT, CREATED),
    (BASE, True, True, 1, AT, CREATED),
    (with_(aired=1, next_at=AT + timedelta(minutes=5), next_known_at=NOW), True, True, 2,
     AT + timedelta(minutes=5), NOW),
    (with_(status="done", aired=2, next_at=AT), False, False, None, AT, None),
    (with_(status="cancelled"), False, False, 1, AT, CREATED),
])
def test_what_a_status_allows(record: Announcement, live: bool, airs: bool,
                              repeat: int | None, due: datetime,
                              known: datetime | None) -> None:
    assert (lifecycle.is_live(record), lifecycle.may_air(record)) == (live, airs)
    assert lifecycle.next_repeat(record) == repeat
    assert (lifecycle.next_due(record), lifecycle.next_known_at(record)) == (due, known)
