"""Errors raised by ``schedules``.

``schedules`` imports nothing of ours, so it defines its own errors; like astral, they are
``ValueError`` subclasses, and ``controller`` maps them to its own tree at the boundary.

    ScheduleError        a time expression, window, calendar or date is invalid
    └── NoSunEvent       the sun does not rise, set or reach civil twilight on that day
"""

from __future__ import annotations

from datetime import date


class ScheduleError(ValueError):
    """A schedule cannot be understood or evaluated; the message names the offending text.

    ``parts`` is the path of the field at fault as data (``("schedule", "times", 0)``), for a
    caller that must name the field apart from the text (an API error's ``field``); empty when
    the error is about no one field.
    """

    def __init__(self, message: str, *, parts: tuple[str | int, ...] = ()) -> None:
        super().__init__(message)
        self.parts = parts


class NoSunEvent(ScheduleError):
    """The sun event does not happen on that day (polar latitudes).

    ``reason`` is short and human-readable: "polar day" (the sun stays above the horizon),
    "polar night" (it stays below), or "white night" (twilight lasts all night, so civil dawn
    and dusk do not happen).
    """

    def __init__(self, event: str, day: date, reason: str, detail: str = "") -> None:
        self.event = event
        self.day = day
        self.reason = reason
        self.detail = detail
        message = f"no {event} on {day.isoformat()}: {reason}"
        super().__init__(f"{message} ({detail})" if detail else message)
