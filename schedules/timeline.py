"""The union of overlapping lighting spans: where they overlap the highest level wins.

Works on UTC instants only: aware datetimes that share a ZoneInfo compare and subtract by wall
time, which is wrong in the hour a DST change repeats.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby


@dataclass(frozen=True)
class Span:
    """One window on one day: lit at ``level`` from ``start`` (included) to ``end`` (excluded)."""

    start: datetime
    end: datetime
    level: int
    rank: int  # breaks a tie between equal levels: the window listed first wins
    rule: str


@dataclass(frozen=True)
class Change:
    """The united level becomes ``level`` at ``time``. ``rule`` is the winning span's rule, or,
    when nothing is lit any more, the rule of the span that just ended."""

    time: datetime
    level: int
    rule: str | None
    # The rank (the window's index) of the span ``rule`` is of; not part of equality.
    window: int | None = field(default=None, compare=False)


def winner_at(spans: Iterable[Span], at: datetime) -> Span | None:
    """The span that decides the level at ``at``, or None when no span contains it."""
    containing = [s for s in spans if s.start <= at < s.end]
    return min(containing, key=_precedence) if containing else None


def changes(spans: Iterable[Span]) -> list[Change]:
    """Every instant the united level changes, in order, starting from nothing lit."""
    edges = sorted([(s.start, True, s) for s in spans] + [(s.end, False, s) for s in spans],
                   key=lambda edge: edge[0])
    active: list[Span] = []
    level, winner = 0, None
    found: list[Change] = []
    for time, group in groupby(edges, key=lambda edge: edge[0]):
        for _, starts, span in group:
            if starts:
                active.append(span)
            else:
                active.remove(span)
        previous: Span | None = winner
        winner = min(active, key=_precedence) if active else None
        new_level = winner.level if winner else 0
        if new_level != level:
            decides = winner or previous
            found.append(Change(time, new_level, decides.rule if decides else None,
                                decides.rank if decides else None))
            level = new_level
    return found


def _precedence(span: Span) -> tuple[int, int]:
    return -span.level, span.rank
