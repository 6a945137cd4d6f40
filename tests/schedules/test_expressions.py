from datetime import UTC, date, datetime, time, timedelta

import pytest

from schedules.errors import NoSunEvent, ScheduleError
from schedules.expressions import (
    Earliest,
    FixedTime,
    Latest,
    SunTime,
    TimeExpression,
    parse_time_expression,
)
from schedules.solar import sun_event
from tests.schedules.sites import BERLIN, THIEU_LONG, TROMSO

DAY = date(2026, 6, 3)
TZ = THIEU_LONG.tz


@pytest.mark.parametrize(("text", "canonical"), [
    ("23:00", "23:00"),
    ("4:30", "04:30"),
    ("00:00", "00:00"),
    ("sunset", "sunset"),
    ("SunSet", "sunset"),
    ("sunset+5m", "sunset+5m"),
    ("sunset + 5m", "sunset+5m"),
    ("sunrise-10m", "sunrise-10m"),
    ("dawn-1h30m", "dawn-1h30m"),
    ("dawn - 1h 30m", "dawn-1h30m"),
    ("dusk+90m", "dusk+1h30m"),
    ("dusk+1h", "dusk+1h"),
    ("dusk+60m", "dusk+1h"),
    ("sunrise+0m", "sunrise"),
    ("sunrise+12h", "sunrise+12h"),
    ("earliest(23:00, sunrise-10m)", "earliest(23:00, sunrise-10m)"),
    ("  earliest ( 23:00 ,sunrise-10m )  ", "earliest(23:00, sunrise-10m)"),
    ("LATEST(04:30,dawn)", "latest(04:30, dawn)"),
    ("latest(earliest(sunset+1h, 19:00), dusk)", "latest(earliest(sunset+1h, 19:00), dusk)"),
])
def test_parse_gives_canonical_text_that_parses_back_to_the_same(text: str,
                                                                 canonical: str) -> None:
    parsed = parse_time_expression(text)
    assert (str(parsed), parse_time_expression(canonical)) == (canonical, parsed)


@pytest.mark.parametrize(("text", "expected"), [
    ("23:00", FixedTime(time(23, 0))),
    ("sunset+5m", SunTime("sunset", 5)),
    ("dawn-1h30m", SunTime("dawn", -90)),
    ("earliest(23:00, sunrise-10m)", Earliest(FixedTime(time(23, 0)), SunTime("sunrise", -10))),
    ("latest(dusk, latest(18:00, sunset))",
     Latest(SunTime("dusk"), Latest(FixedTime(time(18, 0)), SunTime("sunset")))),
])
def test_parse_builds_the_expression_tree(text: str, expected: TimeExpression) -> None:
    assert parse_time_expression(text) == expected


@pytest.mark.parametrize(("text", "complaint"), [
    ("noon", "got 'noon'"),
    ("24:00", "not a time of day"),
    ("12:60", "not a time of day"),
    ("12:3", "HH:MM"),
    ("sunset+", "bad offset"),
    ("sunset+10", "bad offset"),
    ("sunset+10s", "bad offset"),
    ("sunset+30m1h", "bad offset"),
    ("sunset+13h", "more than 12h"),
    ("sunset 10m", "HH:MM"),
    ("earliest(sunset)", "expected ','"),
    ("earliest(sunset, 23:00", "expected ')' at the end"),
    ("earliest sunset, 23:00)", "expected '('"),
    ("earliest(sunset, 23:00, dusk)", "expected ')'"),
    ("sunset+10m)", "unexpected ')'"),
    ("earliest(sunset, 23:00) later", "unexpected 'later'"),
    ("sunset!", "unexpected '!'"),
])
def test_bad_text_is_refused_with_a_message_naming_it(text: str, complaint: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        parse_time_expression(text)
    assert complaint in str(caught.value)
    assert repr(text) in str(caught.value)


@pytest.mark.parametrize("text", ["", "   "])
def test_empty_text_is_refused(text: str) -> None:
    with pytest.raises(ScheduleError, match="empty time expression"):
        parse_time_expression(text)


@pytest.mark.parametrize(("expression", "complaint"), [
    (lambda: SunTime("noon"), "unknown sun event"),
    (lambda: SunTime("sunset", 12 * 60 + 1), "more than 12h"),
    (lambda: FixedTime(time(23, 0, 30)), "HH:MM"),
])
def test_expressions_built_in_code_are_validated_too(expression, complaint: str) -> None:
    with pytest.raises(ScheduleError, match=complaint):
        expression()


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ)


def sun(day: date, event: str, minutes: int = 0) -> datetime:
    return sun_event(THIEU_LONG, day, event) + timedelta(minutes=minutes)


NEXT = DAY + timedelta(days=1)


@pytest.mark.parametrize(("text", "after", "expected"), [
    ("23:00", None, at(DAY, 23)),
    ("sunset+10m", None, sun(DAY, "sunset", 10)),
    ("dawn-1h30m", None, sun(DAY, "dawn", -90)),
    # Without `after`, every leaf is on the day itself: the morning comes first.
    ("earliest(23:00, sunrise-10m)", None, sun(DAY, "sunrise", -10)),
    ("latest(23:00, sunrise-10m)", None, at(DAY, 23)),
    # With `after`, each leaf is its first occurrence after it (docs/configuration.md: off is
    # the first such time after on).
    ("earliest(23:00, sunrise-10m)", sun(DAY, "sunset", 5), at(DAY, 23)),
    ("earliest(23:00, sunrise-10m)", at(DAY, 23, 30), sun(NEXT, "sunrise", -10)),
    ("latest(23:00, sunrise-10m)", sun(DAY, "sunset", 5), sun(NEXT, "sunrise", -10)),
    ("sunrise-10m", sun(DAY, "sunset", 5), sun(NEXT, "sunrise", -10)),
    ("sunrise-10m", at(DAY, 4, 30), sun(DAY, "sunrise", -10)),
    ("23:00", at(DAY, 23), at(NEXT, 23)),  # strictly after
    ("23:00", at(DAY, 22, 59), at(DAY, 23)),
    ("04:30", at(NEXT, 0, 30), at(NEXT, 4, 30)),
    ("sunset+12h", sun(DAY, "sunset"), sun(DAY, "sunset", 12 * 60)),
])
def test_evaluate(text: str, after: datetime | None, expected: datetime) -> None:
    found = parse_time_expression(text).evaluate(THIEU_LONG, DAY, after=after)
    assert (found, found.tzinfo) == (expected, TZ)


def test_after_may_be_given_in_any_zone() -> None:
    after = sun(DAY, "sunset", 5).astimezone(UTC)
    found = parse_time_expression("earliest(23:00, sunrise-10m)").evaluate(THIEU_LONG, DAY,
                                                                           after=after)
    assert found == at(DAY, 23)


def test_naive_after_is_refused() -> None:
    with pytest.raises(ScheduleError, match="aware"):
        parse_time_expression("23:00").evaluate(THIEU_LONG, DAY, after=datetime(2026, 6, 3, 18))


BERLIN_SPRING = date(2026, 3, 29)  # 02:00 CET -> 03:00 CEST
BERLIN_AUTUMN = date(2026, 10, 25)  # 03:00 CEST -> 02:00 CET


@pytest.mark.parametrize(("text", "day", "utc", "offset_h"), [
    # In the gap: read with the offset before it (RFC 5545 3.3.5), so 02:30 is 03:30 CEST.
    ("02:30", BERLIN_SPRING, datetime(2026, 3, 29, 1, 30, tzinfo=UTC), 2),
    ("01:59", BERLIN_SPRING, datetime(2026, 3, 29, 0, 59, tzinfo=UTC), 1),
    ("03:00", BERLIN_SPRING, datetime(2026, 3, 29, 1, 0, tzinfo=UTC), 2),
    # Ambiguous: the first occurrence (still summer time).
    ("02:30", BERLIN_AUTUMN, datetime(2026, 10, 25, 0, 30, tzinfo=UTC), 2),
    ("03:00", BERLIN_AUTUMN, datetime(2026, 10, 25, 2, 0, tzinfo=UTC), 1),
])
def test_local_times_on_dst_change_days(text: str, day: date, utc: datetime,
                                        offset_h: int) -> None:
    found = parse_time_expression(text).evaluate(BERLIN, day)
    assert (found.astimezone(UTC), found.utcoffset()) == (utc, timedelta(hours=offset_h))


def test_offsets_are_elapsed_time_across_a_dst_change() -> None:
    # Sunset on the day before spring-forward plus 10 h crosses the 02:00 gap: ten hours pass,
    # and the wall clock shows eleven more.
    day = BERLIN_SPRING - timedelta(days=1)
    sunset = sun_event(BERLIN, day, "sunset")
    found = parse_time_expression("sunset+10h").evaluate(BERLIN, day)
    assert found.astimezone(UTC) - sunset.astimezone(UTC) == timedelta(hours=10)
    assert found.replace(tzinfo=None) - sunset.replace(tzinfo=None) == timedelta(hours=11)


def test_a_missing_sun_event_raises_no_sun_event() -> None:
    with pytest.raises(NoSunEvent) as caught:
        parse_time_expression("earliest(23:00, sunset+5m)").evaluate(TROMSO, date(2026, 6, 21))
    assert (caught.value.event, caught.value.reason) == ("sunset", "polar day")


def test_a_sun_event_is_not_needed_on_a_day_that_cannot_give_the_answer() -> None:
    # 2026-06-15 has no sunset in Tromsø; an instant after 06-16 00:00 cannot be "sunset-2h"
    # of 06-15 (that is before midnight), so asking from 06-15 only looks at later days,
    # which have no sunset either: the error names the first day really needed.
    after = datetime(2026, 6, 16, 0, 0, tzinfo=TROMSO.tz)
    with pytest.raises(NoSunEvent) as caught:
        parse_time_expression("sunset-2h").evaluate(TROMSO, date(2026, 6, 15), after=after)
    assert caught.value.day == date(2026, 6, 16)
