"""Time expressions and windows as structured terms (schedules.explain): every form of the
grammar, and nothing but the grammar's names and numbers in them."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from schedules.explain import expression_terms, window_terms
from schedules.expressions import parse_time_expression
from schedules.windows import Window

CLOCK_23 = {"kind": "clock", "time": "23:00"}


@pytest.mark.parametrize(("text", "terms"), [
    # HH:MM, one or two digits of hour
    ("23:00", CLOCK_23),
    ("4:30", {"kind": "clock", "time": "04:30"}),
    # each sun event, without an offset, and with each form of offset
    ("sunrise", {"kind": "sun", "event": "sunrise", "offset_min": 0}),
    ("SunSet", {"kind": "sun", "event": "sunset", "offset_min": 0}),
    ("dawn", {"kind": "sun", "event": "dawn", "offset_min": 0}),
    ("dusk", {"kind": "sun", "event": "dusk", "offset_min": 0}),
    ("sunset+5m", {"kind": "sun", "event": "sunset", "offset_min": 5}),
    ("sunrise-10m", {"kind": "sun", "event": "sunrise", "offset_min": -10}),
    ("dusk+1h", {"kind": "sun", "event": "dusk", "offset_min": 60}),
    ("dawn - 1h 30m", {"kind": "sun", "event": "dawn", "offset_min": -90}),
    ("sunrise+12h", {"kind": "sun", "event": "sunrise", "offset_min": 720}),
    ("sunset+0m", {"kind": "sun", "event": "sunset", "offset_min": 0}),
    # the two combinators, and one inside the other
    ("earliest(23:00, sunrise-10m)",
     {"kind": "earliest", "of": [CLOCK_23, {"kind": "sun", "event": "sunrise",
                                           "offset_min": -10}]}),
    ("LATEST(04:30,dawn)",
     {"kind": "latest", "of": [{"kind": "clock", "time": "04:30"},
                               {"kind": "sun", "event": "dawn", "offset_min": 0}]}),
    ("latest(earliest(sunset+1h, 19:00), dusk)",
     {"kind": "latest", "of": [
         {"kind": "earliest", "of": [{"kind": "sun", "event": "sunset", "offset_min": 60},
                                     {"kind": "clock", "time": "19:00"}]},
         {"kind": "sun", "event": "dusk", "offset_min": 0}]}),
])
def test_every_form_of_the_grammar_has_its_terms(text: str, terms: dict[str, Any]) -> None:
    assert expression_terms(parse_time_expression(text)) == terms


def _rebuilt(terms: dict[str, Any]) -> str:
    """The canonical text from the terms alone: what a page does with them, in English."""
    match terms["kind"]:
        case "clock":
            return str(terms["time"])
        case "sun":
            offset = terms["offset_min"]
            if not offset:
                return str(terms["event"])
            hours, minutes = divmod(abs(offset), 60)
            text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")
            return f"{terms['event']}{'+' if offset > 0 else '-'}{text}"
        case _:
            first, second = (_rebuilt(t) for t in terms["of"])
            return f"{terms['kind']}({first}, {second})"


@pytest.mark.parametrize("text", [
    "00:00", "sunset+1h30m", "dusk-12h", "earliest(latest(dawn, 05:00), sunrise-1h5m)",
    "latest(sunset, earliest(18:00, dusk+2h))",
])
def test_the_terms_hold_the_whole_expression(text: str) -> None:
    parsed = parse_time_expression(text)
    assert _rebuilt(expression_terms(parsed)) == str(parsed)


def test_a_window_gives_its_times_level_weekdays_and_calendar() -> None:
    window = Window.parse("sunset+5m", "earliest(23:00, sunrise-10m)", level=60,
                          days=["sun", 0, "sat"], calendar="holidays")
    assert window_terms(window) == {
        "on": {"kind": "sun", "event": "sunset", "offset_min": 5},
        "off": {"kind": "earliest", "of": [CLOCK_23, {"kind": "sun", "event": "sunrise",
                                                      "offset_min": -10}]},
        "level": 60, "days": [0, 5, 6], "calendar": "holidays"}
    assert window_terms(Window.parse("18:00", "05:00")) == {
        "on": {"kind": "clock", "time": "18:00"}, "off": {"kind": "clock", "time": "05:00"},
        "level": 100, "days": None, "calendar": None}


def test_no_words_but_the_grammar_names() -> None:
    window = Window.parse("latest(sunset+5m, 18:00)", "earliest(23:00, dawn-10m)",
                          days=[1], calendar="tet")
    words = set(re.findall(r"[a-z_]+", json.dumps(window_terms(window))))
    assert words <= {"on", "off", "kind", "of", "clock", "time", "sun", "event", "offset_min",
                     "earliest", "latest", "sunset", "dawn", "level", "days", "calendar",
                     "tet", "null"}
