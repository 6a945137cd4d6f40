"""Time expressions and windows as structured terms, for a page that says them in its own words.

``sunset+5m`` is ``{"kind": "sun", "event": "sunset", "offset_min": 5}``; a page shows it as
"5 phút sau hoàng hôn" (or in any other language) without parsing the grammar of
``schedules.expressions`` again. The terms hold no words of any language, only the grammar's
own names (the sun events, ``earliest``, ``latest``) and numbers:

    {"kind": "clock", "time": "HH:MM"}                        site-local wall time
    {"kind": "sun", "event": EVENT, "offset_min": N}          N minutes after (< 0: before)
    {"kind": "earliest", "of": [TERM, TERM]}                  whichever comes first
    {"kind": "latest", "of": [TERM, TERM]}                    whichever comes last

A window is ``{"on": TERM, "off": TERM, "level", "days", "calendar"}`` (``days``: weekday
numbers, 0 = Monday, or null for every day; ``calendar``: an id or null).
"""

from __future__ import annotations

from typing import Any

from schedules.errors import ScheduleError
from schedules.expressions import Earliest, FixedTime, Latest, SunTime, TimeExpression
from schedules.windows import Window

Term = dict[str, Any]


def expression_terms(expression: TimeExpression) -> Term:
    """The structured form of a parsed expression (``parse_time_expression``)."""
    if isinstance(expression, FixedTime):
        return {"kind": "clock", "time": str(expression)}
    if isinstance(expression, SunTime):
        return {"kind": "sun", "event": expression.event, "offset_min": expression.offset_min}
    if isinstance(expression, Earliest | Latest):
        kind = "earliest" if isinstance(expression, Earliest) else "latest"
        return {"kind": kind,
                "of": [expression_terms(expression.first), expression_terms(expression.second)]}
    raise ScheduleError(f"no structured form for {expression!r}")


def window_terms(window: Window) -> Term:
    """A parsed window's times as terms, with its level, weekdays and calendar."""
    return {"on": expression_terms(window.on), "off": expression_terms(window.off),
            "level": window.level,
            "days": None if window.days is None else sorted(window.days),
            "calendar": window.calendar}
