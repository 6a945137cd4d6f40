"""Broadcast schedules against independent truth: the weekday calendar, PyEphem's new moons
(UTC+7) and the ``holidays`` package's Tết for the lunar days, the published 2027 DST changes
of New York (03-14, 11-07) and Berlin (03-28, 10-31), and dateutil expanding a rule from its
true DTSTART (which ``occurrences`` avoids doing)."""

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import ephem
import holidays
import pytest
from dateutil.rrule import rrulestr

from schedules.broadcasts import (
    LEVELS,
    QuietHours,
    Recurrence,
    level_rank,
    may_air,
    occurrences,
)
from schedules.errors import ScheduleError

VN = ZoneInfo("Asia/Ho_Chi_Minh")
NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
MONDAY = date(2027, 1, 4)  # 2027-01-01 is a Friday
TET = {d.year: d for d in holidays.VN(years=range(2025, 2029), language="en_US")
       .get_named("Lunar New Year", lookup="exact")}


def local(day: date, hour: int = 0, minute: int = 0, tz: ZoneInfo = VN) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)


def aired(spec: dict[str, Any], first: date, last: date, tz: ZoneInfo = VN) -> list[str]:
    """ISO times (with offsets) of the airings on local days first..last."""
    found = occurrences(Recurrence.parse(spec), tz, start=local(first, tz=tz),
                        end=local(last + timedelta(days=1), tz=tz))
    return [when.isoformat() for when in found]


def days_at(days: list[int], clock: str, month: str = "2027-01", offset: str = "+07:00",
            ) -> list[str]:
    return [f"{month}-{day:02d}T{clock}:00{offset}" for day in days]


WEEK = list(range(4, 11))  # Monday 2027-01-04 to Sunday 2027-01-10


@pytest.mark.parametrize(("spec", "expected"), [
    ({"times": ["05:30", "17:00"]},
     sorted(days_at(WEEK, "05:30") + days_at(WEEK, "17:00"))),
    ({"times": ["17:00", "05:30"], "days": ["mon", "WED", "Fri"]},
     sorted(days_at([4, 6, 8], "05:30") + days_at([4, 6, 8], "17:00"))),
    ({"times": ["19:00"], "days": ["sat"]}, days_at([9], "19:00")),
    ({"times": ["06:00"], "days": ["sat", "sun"]}, days_at([9, 10], "06:00")),
], ids=["every-day", "mon-wed-fri", "saturday-only", "weekend"])
def test_times_and_days_across_a_week(spec: dict[str, Any], expected: list[str]) -> None:
    assert aired(spec, MONDAY, MONDAY + timedelta(days=6)) == expected


@pytest.mark.parametrize(("spec", "first", "last", "expected"), [
    ({"rrule": "FREQ=WEEKLY;BYDAY=MO,TH;BYHOUR=6;BYMINUTE=0"}, MONDAY, date(2027, 1, 17),
     days_at([4, 7, 11, 14], "06:00")),
    ({"rrule": "FREQ=MONTHLY;BYMONTHDAY=1;BYHOUR=7;BYMINUTE=0"}, date(2027, 1, 1),
     date(2027, 4, 30),
     ["2027-01-01T07:00:00+07:00", "2027-02-01T07:00:00+07:00", "2027-03-01T07:00:00+07:00",
      "2027-04-01T07:00:00+07:00"]),
    # Without BYHOUR the rule picks days and `times` the times: the last Friday of the month.
    ({"rrule": "FREQ=MONTHLY;BYDAY=-1FR", "times": ["19:30"]}, date(2027, 1, 1),
     date(2027, 3, 31),
     ["2027-01-29T19:30:00+07:00", "2027-02-26T19:30:00+07:00", "2027-03-26T19:30:00+07:00"]),
    ({"rrule": "rrule:freq=daily;byhour=6;byminute=15"}, MONDAY, date(2027, 1, 6),
     days_at([4, 5, 6], "06:15")),
    ({"rrule": "FREQ=HOURLY;INTERVAL=6"}, MONDAY, MONDAY,
     days_at([4], "00:00") + days_at([4], "06:00") + days_at([4], "12:00")
     + days_at([4], "18:00")),
    # COUNT counts from valid_from, however wide the window.
    ({"rrule": "FREQ=WEEKLY;BYDAY=MO;COUNT=3", "times": ["06:00"], "valid_from": "2027-01-01"},
     date(2026, 1, 1), date(2028, 12, 31), days_at([4, 11, 18], "06:00")),
    # With `times`, COUNT counts the days the rule picks.
    ({"rrule": "FREQ=DAILY;COUNT=2", "times": ["06:00", "18:00"], "valid_from": "2027-01-04"},
     date(2027, 1, 1), date(2027, 1, 31),
     sorted(days_at([4, 5], "06:00") + days_at([4, 5], "18:00"))),
    # INTERVAL keeps its phase from valid_from in a window months later: 2027-06-07 is 22
    # weeks after 2027-01-04, 2027-06-14 is 23.
    ({"rrule": "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO", "times": ["06:00"],
      "valid_from": "2027-01-04"}, date(2027, 6, 1), date(2027, 6, 30),
     days_at([7, 21], "06:00", month="2027-06")),
    # UNTIL: a date is inclusive, a UTC time is an instant (06:00 on the 6th is 23:00Z on
    # the 5th), a local time cuts the day it falls on.
    ({"rrule": "FREQ=DAILY;UNTIL=20270106", "times": ["06:00"]}, MONDAY, date(2027, 1, 10),
     days_at([4, 5, 6], "06:00")),
    ({"rrule": "FREQ=DAILY;BYHOUR=6;UNTIL=20270105T230000Z"}, MONDAY, date(2027, 1, 10),
     days_at([4, 5, 6], "06:00")),
    ({"rrule": "FREQ=DAILY;UNTIL=20270105T120000", "times": ["06:00", "18:00"]}, MONDAY,
     date(2027, 1, 10),
     ["2027-01-04T06:00:00+07:00", "2027-01-04T18:00:00+07:00", "2027-01-05T06:00:00+07:00"]),
], ids=["weekly", "monthly", "last-friday", "prefix-and-case", "hourly", "count",
        "count-days", "interval-phase", "until-date", "until-utc", "until-local"])
def test_rrule(spec: dict[str, Any], first: date, last: date, expected: list[str]) -> None:
    assert aired(spec, first, last) == expected


ANCHOR = datetime(2001, 3, 31)  # a Saturday, the last day of a month


@pytest.mark.parametrize("rule", [
    "FREQ=YEARLY;INTERVAL=3;BYHOUR=8",  # 31 March, every third year
    "FREQ=MONTHLY;INTERVAL=5;BYHOUR=8",  # the 31st, in every fifth month that has one
    "FREQ=MONTHLY;INTERVAL=2;BYDAY=FR;BYSETPOS=-1;BYHOUR=8",
    "FREQ=WEEKLY;INTERVAL=3;WKST=SU;BYDAY=SA,SU;BYHOUR=8",
    "FREQ=WEEKLY;INTERVAL=2;BYHOUR=8",  # Saturdays, from DTSTART
    "FREQ=DAILY;INTERVAL=10;BYHOUR=8",
    "FREQ=HOURLY;INTERVAL=7",
])
@pytest.mark.parametrize("first", [date(2001, 3, 20), date(2027, 2, 10), date(2031, 12, 25)])
def test_rule_far_from_valid_from_is_what_dateutil_gives_from_there(rule: str,
                                                                    first: date) -> None:
    last = first + timedelta(days=40)
    truth = rrulestr(rule, dtstart=ANCHOR).between(
        datetime.combine(first, time()), datetime.combine(last + timedelta(days=1), time()))
    spec = {"rrule": rule, "valid_from": ANCHOR.date().isoformat()}
    assert aired(spec, first, last) == [when.replace(tzinfo=VN).isoformat() for when in truth]


def _new_moons_utc7(year: int) -> list[date]:
    found, moment = [], ephem.Date(f"{year}/1/1")
    while (moment := ephem.next_new_moon(moment)).datetime().year <= year:
        found.append((moment.datetime() + timedelta(hours=7)).date())
    return [day for day in found if day.year == year]


def test_lunar_first_days_are_the_new_moons() -> None:
    expected = [local(day, 6).isoformat() for day in _new_moons_utc7(2027)]
    assert aired({"lunar_days": [1], "times": ["06:00"]}, date(2027, 1, 1),
                 date(2027, 12, 31)) == expected


@pytest.mark.parametrize("year", sorted(TET))
def test_lunar_first_day_airs_on_tet(year: int) -> None:
    tet = TET[year]
    assert aired({"lunar_days": [1], "times": ["06:00"]}, tet - timedelta(days=3),
                 tet + timedelta(days=3)) == [local(tet, 6).isoformat()]


@pytest.mark.parametrize(("lunar_days", "first", "last", "expected"), [
    ([1, 15], date(2027, 2, 1), date(2027, 2, 28), days_at([6, 20], "06:00", "2027-02")),
    # Month 1 of 2026 has a 30th (03-18); month 2 (03-19 to 04-16) has 29 days.
    ([30], date(2026, 3, 1), date(2026, 5, 1), days_at([18], "06:00", "2026-03")),
], ids=["ram-thang-gieng-2027", "thirtieth"])
def test_lunar_days(lunar_days: list[int], first: date, last: date,
                    expected: list[str]) -> None:
    assert aired({"lunar_days": lunar_days, "times": ["06:00"]}, first, last) == expected


@pytest.mark.parametrize(("spec", "last", "expected"), [
    ({"times": ["06:00"], "valid_from": "2027-01-06", "valid_until": "2027-01-08"},
     date(2027, 1, 10), days_at([6, 7, 8], "06:00")),
    ({"times": ["06:00"], "days": ["mon"], "valid_until": "2027-01-11"}, date(2027, 1, 31),
     days_at([4, 11], "06:00")),
    ({"rrule": "FREQ=DAILY;BYHOUR=6", "valid_from": "2027-01-09"}, date(2027, 1, 10),
     days_at([9, 10], "06:00")),
    # The lunar month before Tết starts on 2027-01-08.
    ({"lunar_days": [1], "times": ["06:00"], "valid_from": "2027-01-09"}, date(2027, 2, 10),
     days_at([6], "06:00", "2027-02")),
], ids=["from-until", "until-inclusive", "rrule-from", "lunar-from"])
def test_valid_from_and_until(spec: dict[str, Any], last: date, expected: list[str]) -> None:
    assert aired(spec, MONDAY, last) == expected


@pytest.mark.parametrize(("spec", "tz", "day", "expected"), [
    # Spring forward: 02:30 does not exist and airs at 03:30, once.
    ({"times": ["02:30"]}, NEW_YORK, date(2027, 3, 14),
     ["2027-03-13T02:30:00-05:00", "2027-03-14T03:30:00-04:00", "2027-03-15T02:30:00-04:00"]),
    ({"times": ["02:30"]}, BERLIN, date(2027, 3, 28),
     ["2027-03-27T02:30:00+01:00", "2027-03-28T03:30:00+02:00", "2027-03-29T02:30:00+02:00"]),
    # Fall back: 01:30 (New York) and 02:30 (Berlin) happen twice and air once, the first time.
    ({"times": ["01:30"]}, NEW_YORK, date(2027, 11, 7),
     ["2027-11-06T01:30:00-04:00", "2027-11-07T01:30:00-04:00", "2027-11-08T01:30:00-05:00"]),
    ({"times": ["02:30"]}, BERLIN, date(2027, 10, 31),
     ["2027-10-30T02:30:00+02:00", "2027-10-31T02:30:00+02:00", "2027-11-01T02:30:00+01:00"]),
], ids=["new-york-spring", "berlin-spring", "new-york-autumn", "berlin-autumn"])
def test_dst_changes(spec: dict[str, Any], tz: ZoneInfo, day: date,
                     expected: list[str]) -> None:
    assert aired(spec, day - timedelta(days=1), day + timedelta(days=1), tz) == expected


@pytest.mark.parametrize(("day", "expected"), [
    # 02:00 resolves to 03:00, which airs anyway: once.
    (date(2027, 3, 14), ["2027-03-14T01:00:00-05:00", "2027-03-14T03:00:00-04:00"]),
    # A rule runs on wall time: 01:00 once, though the hour from 01:00 happens twice.
    (date(2027, 11, 7), ["2027-11-07T01:00:00-04:00", "2027-11-07T02:00:00-05:00",
                         "2027-11-07T03:00:00-05:00"]),
], ids=["spring", "autumn"])
def test_an_hourly_rule_across_dst(day: date, expected: list[str]) -> None:
    assert aired({"rrule": "FREQ=HOURLY;BYHOUR=1,2,3"}, day, day, NEW_YORK) == expected


EVENING_AND_MORNING = Recurrence.parse({"times": ["05:30", "23:30"]})


@pytest.mark.parametrize(("start", "end", "expected"), [
    # 16:00Z is 23:00 in Vietnam; the window runs past local midnight to 07:00.
    (datetime(2027, 1, 1, 16, tzinfo=UTC), datetime(2027, 1, 2, 0, tzinfo=UTC),
     ["2027-01-01T23:30:00+07:00", "2027-01-02T05:30:00+07:00"]),
    # [start, end): an airing at start is in, one at end is out.
    (datetime(2027, 1, 1, 16, 30, tzinfo=UTC), datetime(2027, 1, 1, 22, 30, tzinfo=UTC),
     ["2027-01-01T23:30:00+07:00"]),
    # The window in New York's zone: 10:30 to 17:30 EST is 22:30 to 05:30 in Vietnam.
    (datetime(2027, 1, 1, 10, 30, tzinfo=NEW_YORK), datetime(2027, 1, 1, 17, 30,
                                                             tzinfo=NEW_YORK),
     ["2027-01-01T23:30:00+07:00"]),
    (datetime(2027, 1, 1, 16, tzinfo=UTC), datetime(2027, 1, 1, 16, tzinfo=UTC), []),
], ids=["across-midnight", "half-open", "other-zone", "empty"])
def test_window_across_midnight_and_zones(start: datetime, end: datetime,
                                          expected: list[str]) -> None:
    found = occurrences(EVENING_AND_MORNING, "Asia/Ho_Chi_Minh", start=start, end=end)
    assert ([when.isoformat() for when in found], {when.tzinfo for when in found} - {VN}) == \
        (expected, set())


@pytest.mark.parametrize(("tz", "start", "end", "match"), [
    ("Asia/Ho_Chi_Minh", datetime(2027, 1, 2), datetime(2027, 1, 3, tzinfo=UTC),
     "start must be an aware datetime"),
    ("Asia/Ho_Chi_Minh", datetime(2027, 1, 2, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC),
     "ends .* before it starts"),
    ("Asia/Hanoi_City", datetime(2027, 1, 1, tzinfo=UTC), datetime(2027, 1, 2, tzinfo=UTC),
     "unknown IANA time zone"),
])
def test_bad_windows(tz: str, start: datetime, end: datetime, match: str) -> None:
    with pytest.raises(ScheduleError, match=match):
        occurrences(EVENING_AND_MORNING, tz, start=start, end=end)


@pytest.mark.parametrize("spec", [
    {"times": ["05:30", "17:00"], "days": ["mon", "sat"]},
    {"times": ["05:30"], "valid_from": "2027-01-01", "valid_until": "2027-12-31"},
    {"rrule": "FREQ=WEEKLY;BYDAY=MO,WE,FR;BYHOUR=6;BYMINUTE=0"},
    {"rrule": "FREQ=MONTHLY;BYMONTHDAY=1", "times": ["07:00"], "valid_from": "2027-01-01"},
    {"lunar_days": [1, 15], "times": ["06:00"]},
])
def test_as_json_round_trips(spec: dict[str, Any]) -> None:
    recurrence = Recurrence.parse(spec)
    assert (recurrence.as_json(), Recurrence.parse(recurrence.as_json())) == (spec, recurrence)


@pytest.mark.parametrize(("spec", "canonical"), [
    ({"times": ["06:00"], "days": ["SUN", "Mon"], "valid_from": None},
     {"times": ["06:00"], "days": ["mon", "sun"]}),
    ({"rrule": "RRULE:freq=weekly; byday=mo;byhour=6"},
     {"rrule": "FREQ=WEEKLY;BYDAY=MO;BYHOUR=6"}),
], ids=["days", "rrule"])
def test_as_json_is_canonical(spec: dict[str, Any], canonical: dict[str, Any]) -> None:
    assert Recurrence.parse(spec).as_json() == canonical


def test_a_recurrence_can_be_built_directly() -> None:
    assert Recurrence(times=(time(19),), days=frozenset({5})) == \
        Recurrence.parse({"times": ["19:00"], "days": ["sat"]})


@pytest.mark.parametrize(("spec", "match"), [
    ("daily", r"^schedule: expected an object"),
    ({"times": ["06:00"], "colour": "red", "day": ["mon"]},
     r"^schedule: unknown keys 'colour', 'day'"),
    ({"times": ["06:00"], "days": ["mon"], "lunar_days": [1]},
     r"^schedule: 'days' and 'lunar_days' cannot be combined"),
    ({"rrule": "FREQ=DAILY", "times": ["06:00"], "days": ["mon"]},
     r"^schedule: 'days' and 'rrule' cannot be combined"),
    ({"rrule": "FREQ=DAILY", "lunar_days": [1], "times": ["06:00"]},
     r"^schedule: 'rrule' and 'lunar_days' cannot be combined"),
    ({}, r"^schedule.times: required"),
    ({"days": ["mon"]}, r"^schedule.times: required"),
    ({"times": []}, r"^schedule.times: expected a non-empty list"),
    ({"times": "06:00"}, r"^schedule.times: expected a non-empty list"),
    ({"times": ["06:00", "6:30"]}, r"^schedule.times\[1\]: expected HH:MM"),
    ({"times": ["24:00"]}, r"^schedule.times\[0\]: expected HH:MM"),
    ({"times": ["06:00", "06:00"]}, r"^schedule.times\[1\]: 06:00 is given twice"),
    ({"times": ["06:00"], "days": []}, r"^schedule.days: expected a non-empty list"),
    ({"times": ["06:00"], "days": ["mon", "funday"]}, r"^schedule.days\[1\]: expected one of"),
    ({"times": ["06:00"], "days": [1]}, r"^schedule.days\[0\]: expected one of"),
    ({"times": ["06:00"], "days": ["mon", "Mon"]}, r"^schedule.days\[1\]: mon is given twice"),
    ({"lunar_days": [1]}, r"^schedule.times: required"),
    ({"lunar_days": [], "times": ["06:00"]}, r"^schedule.lunar_days: expected a non-empty"),
    ({"lunar_days": [0], "times": ["06:00"]}, r"^schedule.lunar_days\[0\]: 0 is not a lunar"),
    ({"lunar_days": [15, 31], "times": ["06:00"]}, r"^schedule.lunar_days\[1\]: 31 is not"),
    ({"lunar_days": [True], "times": ["06:00"]}, r"^schedule.lunar_days\[0\]: True is not"),
    ({"lunar_days": [1, 1], "times": ["06:00"]}, r"^schedule.lunar_days\[1\]: 1 is given"),
    ({"times": ["06:00"], "valid_from": "2027-1-1"}, r"^schedule.valid_from: expected YYYY"),
    ({"times": ["06:00"], "valid_until": "2027-02-30"}, r"^schedule.valid_until: no such date"),
    ({"times": ["06:00"], "valid_from": "2027-02-01", "valid_until": "2027-01-31"},
     r"^schedule.valid_until: 2027-01-31 is before valid_from 2027-02-01"),
    ({"rrule": "FREQ=DAILY;BYHOUR=6", "times": ["06:00"]}, r"^schedule.times: not allowed"),
    ({"rrule": "FREQ=HOURLY", "times": ["06:00"]}, r"^schedule.times: not allowed"),
    ({"rrule": "FREQ=DAILY"}, r"^schedule.times: required when the rrule has no BYHOUR"),
])
def test_bad_schedules(spec: Any, match: str) -> None:
    with pytest.raises(ScheduleError, match=match):
        Recurrence.parse(spec)


@pytest.mark.parametrize(("rule", "match"), [
    ("FREQ=SOMETIMES", "invalid 'FREQ': SOMETIMES"),  # dateutil's own words
    ("FREQ=DAILY;BYHOUR=25", "hour must be in 0..23"),
    ("FREQ=WEEKLY;BYDAY=MO,XX;BYHOUR=6", "invalid 'BYDAY'"),
    ("FREQ=DAILY;COLOUR=RED;BYHOUR=6", "unknown parameter 'COLOUR'"),
    ("BYHOUR=25", "FREQ is required"),
    ("FREQ=MINUTELY", "FREQ=MINUTELY is too frequent"),
    ("FREQ=SECONDLY;BYHOUR=6", "FREQ=SECONDLY is too frequent"),
    ("FREQ=DAILY;INTERVAL=0;BYHOUR=6", "INTERVAL must be 1 or more"),
    ("FREQ=DAILY;BYHOUR=6;BYSECOND=30", "BYSECOND must be 0"),
    ("FREQ=DAILY;COUNT=0;BYHOUR=6", "COUNT must be 1 to 10000"),
    ("FREQ=DAILY;COUNT=10001;BYHOUR=6", "COUNT must be 1 to 10000"),
    ("FREQ=DAILY;COUNT=3;UNTIL=20271231;BYHOUR=6", "COUNT and UNTIL cannot both be given"),
    ("FREQ=DAILY;UNTIL=2027-12-31;BYHOUR=6", "UNTIL=2027-12-31 is not YYYYMMDD"),
    ("FREQ=DAILY;UNTIL=20270230;BYHOUR=6", "UNTIL=20270230: no such date"),
    ("FREQ=DAILY;BYHOUR=6;BYHOUR=7", "BYHOUR is given twice"),
    ("FREQ=DAILY;;BYHOUR=6", "'' is not NAME=VALUE"),
    ("", "empty"),
    ("DTSTART:20270101T060000\nRRULE:FREQ=DAILY", "without DTSTART"),
    ("FREQ=YEARLY;BYMONTH=13;BYHOUR=6", "BYMONTH=13 is out of range"),
    ("FREQ=MONTHLY;BYMONTHDAY=-32;BYHOUR=6", "BYMONTHDAY=-32 is out of range"),
    ("FREQ=YEARLY;BYMONTH=2,4;BYMONTHDAY=31;BYHOUR=6", "BYMONTH=2,4 and BYMONTHDAY=31 never meet"),
    ("FREQ=YEARLY;BYMONTH=1;BYYEARDAY=100;BYHOUR=6", "the rule never occurs"),
    ("FREQ=DAILY;BYEASTER=0;BYHOUR=6", "BYEASTER is not an RFC 5545 rule part"),
    ("FREQ=HOURLY;INTERVAL=24;BYHOUR=6", "empty set"),
])
def test_bad_rrules_name_the_field(rule: str, match: str) -> None:
    with pytest.raises(ScheduleError, match=f"^schedule.rrule: .*{match}"):
        Recurrence.parse({"rrule": rule})


def test_an_rrule_that_is_not_text() -> None:
    with pytest.raises(ScheduleError, match=r"^schedule.rrule: expected text"):
        Recurrence.parse({"rrule": ["FREQ=DAILY"]})


NIGHT = QuietHours(time(22), time(5))
NOON = QuietHours(time(12), time(13, 30))


@pytest.mark.parametrize(("text", "expected"), [
    ("22:00-05:00", NIGHT),
    (" 12:00-13:30 ", NOON),
    (None, None),
    ("", None),
])
def test_quiet_hours_parse(text: str | None, expected: QuietHours | None) -> None:
    assert QuietHours.parse(text) == expected


@pytest.mark.parametrize(("text", "match"), [
    ("22:00", 'expected "HH:MM-HH:MM"'),
    ("10pm-5am", 'expected "HH:MM-HH:MM"'),
    ("24:00-05:00", "expected HH:MM"),
    ("22:00-05:60", "expected HH:MM"),
    ("22:00-22:00", "start and end are both 22:00"),
    (2200, 'expected "HH:MM-HH:MM"'),
])
def test_bad_quiet_hours(text: Any, match: str) -> None:
    with pytest.raises(ScheduleError, match=f"^quiet_hours: {match}"):
        QuietHours.parse(text)


def test_quiet_hours_print_as_parsed() -> None:
    assert (str(NIGHT), str(NOON)) == ("22:00-05:00", "12:00-13:30")


DAY = date(2027, 1, 5)


@pytest.mark.parametrize(("quiet", "at", "expected"), [
    (NIGHT, local(DAY, 21, 59), False),
    (NIGHT, local(DAY, 22), True),
    (NIGHT, local(DAY, 23, 59), True),
    (NIGHT, local(DAY, 0), True),
    (NIGHT, local(DAY, 4, 59), True),
    (NIGHT, local(DAY, 5), False),
    (NIGHT, local(DAY, 12), False),
    (NIGHT, datetime(2027, 1, 5, 15, tzinfo=UTC), True),  # 22:00 in Vietnam
    (NOON, local(DAY, 11, 59), False),
    (NOON, local(DAY, 12), True),
    (NOON, local(DAY, 13, 29), True),
    (NOON, local(DAY, 13, 30), False),
    (NOON, local(DAY, 23), False),
])
def test_quiet_hours_contains(quiet: QuietHours, at: datetime, expected: bool) -> None:
    assert quiet.contains(at, "Asia/Ho_Chi_Minh") is expected


@pytest.mark.parametrize(("quiet", "at", "tz", "expected"), [
    (NIGHT, local(DAY, 23), VN, "2027-01-06T05:00:00+07:00"),
    (NIGHT, local(DAY, 3), VN, "2027-01-05T05:00:00+07:00"),
    (NIGHT, datetime(2027, 1, 5, 15, tzinfo=UTC), VN, "2027-01-06T05:00:00+07:00"),
    (NOON, local(DAY, 12, 10), VN, "2027-01-05T13:30:00+07:00"),
    # Not quiet: now.
    (NIGHT, datetime(2027, 1, 5, 5, tzinfo=UTC), VN, "2027-01-05T12:00:00+07:00"),
    # The night the clocks go forward is an hour shorter.
    (NIGHT, local(date(2027, 3, 13), 23, tz=NEW_YORK), NEW_YORK, "2027-03-14T05:00:00-04:00"),
], ids=["evening", "early-morning", "utc-instant", "noon", "not-quiet", "spring-forward"])
def test_quiet_hours_next_end(quiet: QuietHours, at: datetime, tz: ZoneInfo,
                              expected: str) -> None:
    assert quiet.next_end(at, tz).isoformat() == expected


@pytest.mark.parametrize(("level", "at", "quiet", "expected"), [
    ("normal", local(DAY, 23), NIGHT, False),
    ("priority", local(DAY, 23), NIGHT, False),
    ("emergency", local(DAY, 23), NIGHT, True),
    ("normal", local(DAY, 12), NIGHT, True),
    ("priority", local(DAY, 12), NIGHT, True),
    ("emergency", local(DAY, 12), NIGHT, True),
    ("normal", local(DAY, 23), None, True),
])
def test_may_air(level: str, at: datetime, quiet: QuietHours | None, expected: bool) -> None:
    assert may_air(level, at=at, quiet=quiet, tz="Asia/Ho_Chi_Minh") is expected


def test_levels_rank_in_order() -> None:
    assert [level_rank(level) for level in LEVELS] == [0, 1, 2]


@pytest.mark.parametrize("level", ["urgent", "Emergency", None])
def test_unknown_levels_are_refused(level: Any) -> None:
    with pytest.raises(ScheduleError, match=r"^level: "):
        level_rank(level)


@pytest.mark.parametrize(("spec", "parts"), [
    ({"times": ["25:00"]}, ("schedule", "times", 0)),
    ({"times": ["06:00", "06:00"]}, ("schedule", "times", 1)),
    ({"times": []}, ("schedule", "times")),
    ({"times": ["06:00"], "days": ["mon", "someday"]}, ("schedule", "days", 1)),
    ({"lunar_days": [1, 31], "times": ["07:00"]}, ("schedule", "lunar_days", 1)),
    ({"rrule": "FREQ=SOMETIMES"}, ("schedule", "rrule")),
    ({"rrule": "FREQ=WEEKLY;BYDAY=MO"}, ("schedule", "times")),
    ({"times": ["06:00"], "valid_from": "2027-02-30"}, ("schedule", "valid_from")),
    ({"times": ["06:00"], "when": "always"}, ("schedule",)),
])
def test_a_refused_schedule_names_its_field_as_data(spec: dict[str, Any],
                                                    parts: tuple[str | int, ...]) -> None:
    with pytest.raises(ScheduleError) as raised:
        Recurrence.parse(spec)
    assert raised.value.parts == parts
    # The text names the same field, for a reader of the log.
    assert str(raised.value).startswith(parts[0])
