from datetime import UTC, date, datetime, timedelta

import pytest

from schedules.errors import ScheduleError
from schedules.lighting import (
    Desired,
    LitSpan,
    Program,
    SkippedWindow,
    Transition,
    Window,
    desired_state,
    nights,
    plan,
    transitions,
)
from schedules.solar import Site, sun_event
from tests.schedules.programs import CALENDARS, HALF_AFTER_23, PART_NIGHT
from tests.schedules.sites import BERLIN, THIEU_LONG, TROMSO

TZ = THIEU_LONG.tz
ORDINARY_DAY = date(2026, 6, 3)  # a Wednesday: no holiday, lunar 04-18
RAM_THANG_GIENG = date(2027, 2, 20)  # lunar 01-15, in the holidays calendar; the 19th is not
MINUTE = timedelta(minutes=1)
NO_CALENDARS: dict = {}


def local(day: date, hour: int, minute: int = 0, site: Site = THIEU_LONG) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=site.tz)


def sun(day: date, event: str, minutes: int = 0) -> datetime:
    return sun_event(THIEU_LONG, day, event) + timedelta(minutes=minutes)


def next_day(day: date) -> date:
    return day + timedelta(days=1)


EVENING_RULE = "sunset+5m..earliest(23:00, sunrise-10m)"
MORNING_RULE = "04:30..sunrise-10m"
HOLIDAY_RULE = "sunset+5m..sunrise-10m"


@pytest.mark.parametrize(("at", "expected"), [
    (local(ORDINARY_DAY, 20), Desired("on", 100, EVENING_RULE, sun(ORDINARY_DAY, "sunset", 5),
                                      local(ORDINARY_DAY, 23))),
    (local(ORDINARY_DAY, 23, 30), Desired("off", 0, None, local(ORDINARY_DAY, 23),
                                          local(next_day(ORDINARY_DAY), 4, 30))),
    (local(ORDINARY_DAY, 4, 45), Desired("on", 100, MORNING_RULE, local(ORDINARY_DAY, 4, 30),
                                         sun(ORDINARY_DAY, "sunrise", -10))),
    (local(ORDINARY_DAY, 12), Desired("off", 0, None, sun(ORDINARY_DAY, "sunrise", -10),
                                      sun(ORDINARY_DAY, "sunset", 5))),
    # On a holiday (Rằm tháng Giêng, from the lunar calendar) the night is lit throughout.
    (local(RAM_THANG_GIENG, 23, 30), Desired("on", 100, HOLIDAY_RULE,
                                             sun(RAM_THANG_GIENG, "sunset", 5),
                                             sun(next_day(RAM_THANG_GIENG), "sunrise", -10))),
    (local(next_day(RAM_THANG_GIENG), 2), Desired("on", 100, HOLIDAY_RULE,
                                                  sun(RAM_THANG_GIENG, "sunset", 5),
                                                  sun(next_day(RAM_THANG_GIENG), "sunrise",
                                                      -10))),
    # The window belongs to the day it starts on: 02:00 on the holiday is the ordinary night
    # before it, off since 23:00.
    (local(RAM_THANG_GIENG, 2), Desired("off", 0, None, local(RAM_THANG_GIENG - timedelta(1), 23),
                                        local(RAM_THANG_GIENG, 4, 30))),
])
def test_spec_part_night_program(at: datetime, expected: Desired) -> None:
    assert desired_state(PART_NIGHT, THIEU_LONG, CALENDARS, at=at) == expected


def test_desired_state_accepts_an_instant_in_any_zone() -> None:
    at = local(ORDINARY_DAY, 20).astimezone(UTC)
    assert desired_state(PART_NIGHT, THIEU_LONG, CALENDARS, at=at).level == 100


@pytest.mark.parametrize(("at", "level", "rule"), [
    (local(ORDINARY_DAY, 20), 100, "sunset+5m..23:00"),
    (local(ORDINARY_DAY, 23), 50, "23:00..sunrise-10m"),
    (local(ORDINARY_DAY, 23, 30), 50, "23:00..sunrise-10m"),
    (local(next_day(ORDINARY_DAY), 3), 50, "23:00..sunrise-10m"),
    (local(ORDINARY_DAY, 12), 0, None),
])
def test_half_after_23(at: datetime, level: int, rule: str | None) -> None:
    found = desired_state(HALF_AFTER_23, THIEU_LONG, NO_CALENDARS, at=at)
    assert (found.level, found.rule) == (level, rule)


def test_half_after_23_night_transitions() -> None:
    found = transitions(HALF_AFTER_23, THIEU_LONG, NO_CALENDARS, start=local(ORDINARY_DAY, 12),
                        end=local(next_day(ORDINARY_DAY), 12))
    assert found == [
        Transition(sun(ORDINARY_DAY, "sunset", 5), "on", 100, "sunset+5m..23:00"),
        Transition(local(ORDINARY_DAY, 23), "on", 50, "23:00..sunrise-10m"),
        Transition(sun(next_day(ORDINARY_DAY), "sunrise", -10), "off", 0, "23:00..sunrise-10m"),
    ]


def test_transitions_are_in_the_site_zone() -> None:
    found = transitions(PART_NIGHT, THIEU_LONG, CALENDARS, start=local(ORDINARY_DAY, 12),
                        end=local(next_day(ORDINARY_DAY), 12))
    assert {t.time.tzinfo for t in found} == {TZ}


def test_spec_part_night_plan_for_a_night() -> None:
    found = transitions(PART_NIGHT, THIEU_LONG, CALENDARS, start=local(ORDINARY_DAY, 12),
                        end=local(next_day(ORDINARY_DAY), 12))
    assert found == [
        Transition(sun(ORDINARY_DAY, "sunset", 5), "on", 100, EVENING_RULE),
        Transition(local(ORDINARY_DAY, 23), "off", 0, EVENING_RULE),
        Transition(local(next_day(ORDINARY_DAY), 4, 30), "on", 100, MORNING_RULE),
        Transition(sun(next_day(ORDINARY_DAY), "sunrise", -10), "off", 0, MORNING_RULE),
    ]


def test_the_state_at_start_is_not_a_transition_but_a_change_at_start_is() -> None:
    inside = transitions(PART_NIGHT, THIEU_LONG, CALENDARS, start=local(ORDINARY_DAY, 20),
                         end=local(ORDINARY_DAY, 23, 30))
    at_the_change = transitions(PART_NIGHT, THIEU_LONG, CALENDARS,
                                start=local(ORDINARY_DAY, 23), end=local(ORDINARY_DAY, 23, 30))
    before_the_change = transitions(PART_NIGHT, THIEU_LONG, CALENDARS,
                                    start=local(ORDINARY_DAY, 20), end=local(ORDINARY_DAY, 23))
    expected = [Transition(local(ORDINARY_DAY, 23), "off", 0, EVENING_RULE)]
    assert (inside, at_the_change, before_the_change) == (expected, expected, [])


CROSSING_MIDNIGHT = Program("late", (Window.parse("22:00", "02:00"),))
FRIDAY_NIGHTS = Program("friday", (Window.parse("sunset+5m", "sunrise-10m", days=["fri"]),))
FRIDAY = date(2026, 6, 5)


@pytest.mark.parametrize(("program", "at", "state"), [
    (CROSSING_MIDNIGHT, local(ORDINARY_DAY, 21, 59), "off"),
    (CROSSING_MIDNIGHT, local(ORDINARY_DAY, 22), "on"),
    (CROSSING_MIDNIGHT, local(next_day(ORDINARY_DAY), 1), "on"),
    (CROSSING_MIDNIGHT, local(next_day(ORDINARY_DAY), 2), "off"),
    # The Friday window started on Friday evening: still on at 01:00 on Saturday.
    (FRIDAY_NIGHTS, local(FRIDAY, 1), "off"),
    (FRIDAY_NIGHTS, local(FRIDAY, 20), "on"),
    (FRIDAY_NIGHTS, local(next_day(FRIDAY), 1), "on"),
    (FRIDAY_NIGHTS, local(next_day(FRIDAY), 20), "off"),
])
def test_windows_crossing_midnight_and_the_days_filter(program: Program, at: datetime,
                                                       state: str) -> None:
    assert desired_state(program, THIEU_LONG, NO_CALENDARS, at=at).state == state


def test_highest_level_wins_where_windows_overlap() -> None:
    program = Program("levels", (Window.parse("18:00", "22:00", level=50),
                                 Window.parse("20:00", "21:00", level=100),
                                 Window.parse("19:00", "21:30", level=0)))
    found = transitions(program, THIEU_LONG, NO_CALENDARS, start=local(ORDINARY_DAY, 12),
                        end=local(next_day(ORDINARY_DAY), 12))
    assert [(t.time, t.state, t.level) for t in found] == [
        (local(ORDINARY_DAY, 18), "on", 50),
        (local(ORDINARY_DAY, 20), "on", 100),
        (local(ORDINARY_DAY, 21), "on", 50),
        (local(ORDINARY_DAY, 22), "off", 0),
    ]


def test_a_level_zero_window_alone_is_off_by_rule() -> None:
    program = Program("dark", (Window.parse("18:00", "22:00", level=0),))
    found = desired_state(program, THIEU_LONG, NO_CALENDARS, at=local(ORDINARY_DAY, 19))
    assert (found.state, found.level, found.rule) == ("off", 0, "18:00..22:00")


# Berlin, 2026-03-29: 02:00 CET jumps to 03:00 CEST; 2026-10-25: 03:00 CEST back to 02:00 CET.
SPRING, AUTUMN = date(2026, 3, 29), date(2026, 10, 25)
NIGHT_SHIFT = Program("dst", (Window.parse("01:00", "02:30"), Window.parse("02:30", "03:15"),
                              Window.parse("sunset", "latest(02:30, 23:30)", level=40)))


def berlin_utc(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def test_fixed_times_on_the_spring_forward_day() -> None:
    found = transitions(NIGHT_SHIFT, BERLIN, NO_CALENDARS,
                        start=local(SPRING, 0, 30, site=BERLIN),
                        end=local(SPRING, 12, site=BERLIN))
    # 01:00 CET = 00:00 UTC; 02:30 does not exist and reads as 03:30 CEST = 01:30 UTC, where
    # the second window opens too, until 03:15 the next day; the 40% window of the 28th ends
    # at its first 02:30 after sunset, also 01:30 UTC.
    assert [(t.time.astimezone(UTC), t.level) for t in found] == [
        (berlin_utc(SPRING, 0), 100),
    ]
    assert desired_state(NIGHT_SHIFT, BERLIN, NO_CALENDARS,
                         at=berlin_utc(SPRING, 1, 30)).level == 100


def test_fixed_times_on_the_fall_back_day() -> None:
    # 02:30 is ambiguous: the first one (CEST, 00:30 UTC). 03:15 is CET (02:15 UTC).
    second_0245 = datetime(2026, 10, 25, 2, 45, fold=1, tzinfo=BERLIN.tz)  # CET, 01:45 UTC
    found = desired_state(NIGHT_SHIFT, BERLIN, NO_CALENDARS, at=second_0245)
    assert (found.level, found.rule, found.until) == (
        100, "02:30..03:15", berlin_utc(AUTUMN, 2, 15))


def test_plan_on_dst_days_matches_sampling_in_utc() -> None:
    start = datetime(2026, 3, 28, 12, tzinfo=UTC)
    assert planned_changes(NIGHT_SHIFT, BERLIN, NO_CALENDARS, start, days=2) == \
        sampled_changes(NIGHT_SHIFT, BERLIN, NO_CALENDARS, start, days=2)


POLAR_WEEK = datetime(2026, 6, 18, 12, tzinfo=TROMSO.tz)


def test_a_polar_day_skips_sun_windows_and_says_why() -> None:
    found, skipped = plan(PART_NIGHT, TROMSO, CALENDARS, start=POLAR_WEEK,
                          end=POLAR_WEEK + timedelta(days=2))
    assert found == []
    assert skipped[:2] == [
        SkippedWindow(date(2026, 6, 18), 0, EVENING_RULE,
                      "no sunset on 2026-06-18: polar day (the sun stays above the horizon "
                      "all day)"),
        SkippedWindow(date(2026, 6, 18), 1, MORNING_RULE,
                      "no sunrise on 2026-06-18: polar day (the sun stays above the horizon "
                      "all day)"),
    ]
    assert {s.day for s in skipped} == {date(2026, 6, 18), date(2026, 6, 19), date(2026, 6, 20)}


def test_in_a_long_polar_day_nothing_changes_within_the_horizon() -> None:
    found = desired_state(PART_NIGHT, TROMSO, CALENDARS, at=datetime(2026, 6, 21, 23,
                                                                        tzinfo=TROMSO.tz))
    assert found == Desired("off", 0, None, None, None)


def test_desired_state_never_raises_at_a_polar_site() -> None:
    start = datetime(2026, 1, 1, tzinfo=TROMSO.tz)
    states = {desired_state(PART_NIGHT, TROMSO, CALENDARS, at=start + timedelta(hours=h)).state
              for h in range(0, 366 * 24, 5)}
    assert states == {"on", "off"}


def test_unknown_calendar_is_refused() -> None:
    program = Program("p", (Window.parse("sunset", "sunrise", calendar="tet"),))
    with pytest.raises(ScheduleError, match="unknown calendar 'tet'"):
        desired_state(program, THIEU_LONG, CALENDARS, at=local(ORDINARY_DAY, 20))
    with pytest.raises(ScheduleError, match="unknown calendar 'tet'"):
        plan(program, THIEU_LONG, CALENDARS, start=local(ORDINARY_DAY, 20),
             end=local(ORDINARY_DAY, 21))


@pytest.mark.parametrize("call", [
    lambda: desired_state(PART_NIGHT, THIEU_LONG, CALENDARS, at=datetime(2026, 6, 3, 20)),
    lambda: plan(PART_NIGHT, THIEU_LONG, CALENDARS, start=datetime(2026, 6, 3),
                 end=local(ORDINARY_DAY, 21)),
    lambda: plan(PART_NIGHT, THIEU_LONG, CALENDARS, start=local(ORDINARY_DAY, 21),
                 end=local(ORDINARY_DAY, 20)),
])
def test_naive_instants_and_backward_plans_are_refused(call) -> None:
    with pytest.raises(ScheduleError):
        call()


@pytest.mark.parametrize(("kwargs", "complaint"), [
    ({"on": "sunset", "off": "sunrise", "level": 101}, "level"),
    ({"on": "sunset", "off": "sunrise", "level": -1}, "level"),
    ({"on": "sunset", "off": "sunrise", "level": True}, "level"),
    ({"on": "sunset", "off": "sunrise", "days": ["funday"]}, "days"),
    ({"on": "sunset", "off": "sunrise", "days": [7]}, "days"),
    ({"on": "sunset", "off": "sunrise", "days": []}, "days"),
    ({"on": "sunset+", "off": "sunrise"}, "on: bad time expression"),
    ({"on": "sunset", "off": "sunrise-1x"}, "off: bad time expression"),
])
def test_window_parse_refuses_bad_fields_by_name(kwargs: dict, complaint: str) -> None:
    with pytest.raises(ScheduleError, match=complaint):
        Window.parse(**kwargs)


def test_window_parse_accepts_day_names_and_numbers_alike() -> None:
    by_name = Window.parse("sunset", "sunrise", days=["Mon", "fri", "sunday"])
    by_number = Window.parse("sunset", "sunrise", days=[0, 4, 6])
    assert (by_name, by_name.days) == (by_number, frozenset({0, 4, 6}))


def test_window_rule_is_the_canonical_text() -> None:
    window = Window.parse("sunset + 5m", "EARLIEST(23:00,sunrise-10m)")
    assert window.rule == "sunset+5m..earliest(23:00, sunrise-10m)"


def test_copies_of_a_programme_under_other_ids_plan_alike() -> None:
    copy = Program("road-7", PART_NIGHT.windows)
    start, end = local(ORDINARY_DAY, 12), local(ORDINARY_DAY + timedelta(days=3), 12)
    assert plan(copy, THIEU_LONG, CALENDARS, start=start, end=end) == \
        plan(PART_NIGHT, THIEU_LONG, CALENDARS, start=start, end=end)


# -- the plan agrees with the desired state sampled every minute --------------------------------

def sampled_changes(program: Program, site: Site, calendars: dict, start: datetime,
                    days: int) -> list[tuple[datetime, int]]:
    """(minute, level) wherever the level sampled at that minute differs from the minute before:
    the level changed in (minute - 1, minute]."""
    instants = [start + n * MINUTE for n in range(days * 24 * 60)]
    levels = [desired_state(program, site, calendars, at=t).level for t in instants]
    return [(instants[n], levels[n]) for n in range(1, len(instants))
            if levels[n] != levels[n - 1]]


def planned_changes(program: Program, site: Site, calendars: dict, start: datetime,
                    days: int) -> list[tuple[datetime, int]]:
    """The plan's transitions in (start, last sample], each rounded up to the minute sampled."""
    last = start + (days * 24 * 60 - 1) * MINUTE
    found = transitions(program, site, calendars, start=start + timedelta(microseconds=1),
                        end=last + timedelta(microseconds=1))
    return [(ceil_to_minute(t.time, start), t.level) for t in found]


def ceil_to_minute(instant: datetime, origin: datetime) -> datetime:
    whole, part = divmod(instant - origin, MINUTE)
    return origin + (whole + (part > timedelta(0))) * MINUTE


@pytest.mark.parametrize(("program", "site", "start"), [
    (PART_NIGHT, THIEU_LONG, local(date(2027, 2, 16), 12)),  # Rằm tháng Giêng in the week
    (HALF_AFTER_23, THIEU_LONG, local(date(2026, 8, 28), 12)),
    (FRIDAY_NIGHTS, THIEU_LONG, local(date(2026, 12, 1), 0)),
    (PART_NIGHT, TROMSO, datetime(2026, 5, 14, 12, tzinfo=UTC)),  # into the polar day
    (NIGHT_SHIFT, BERLIN, datetime(2026, 10, 21, 12, tzinfo=UTC)),  # over the autumn change
], ids=["part-night", "half-after-23", "friday-nights", "tromso-may", "berlin-october"])
def test_transitions_match_desired_state_sampled_every_minute(
        program: Program, site: Site, start: datetime) -> None:
    assert planned_changes(program, site, CALENDARS, start, days=7) == \
        sampled_changes(program, site, CALENDARS, start, days=7)


# -- which window decides, by its index ---------------------------------------------------------

@pytest.mark.parametrize(("at", "window", "next_window"), [
    (local(ORDINARY_DAY, 12), None, 0),  # off by day: the evening window switches next
    (local(ORDINARY_DAY, 20), 0, None),  # the evening window lit; off at 23:00
    (local(ORDINARY_DAY, 23, 30), None, 1),  # off after 23:00; the morning window next
    (local(next_day(ORDINARY_DAY), 4, 45), 1, None),
])
def test_desired_names_the_window_in_force_and_the_next_one(
        at: datetime, window: int | None, next_window: int | None) -> None:
    found = desired_state(PART_NIGHT, THIEU_LONG, CALENDARS, at=at)
    assert (found.window, found.next_window) == (window, next_window)
    if window is not None:
        assert found.rule == PART_NIGHT.windows[window].rule


def test_a_level_change_names_the_window_that_takes_over() -> None:
    at = local(ORDINARY_DAY, 20)
    found = desired_state(HALF_AFTER_23, THIEU_LONG, NO_CALENDARS, at=at)
    assert (found.window, found.next_window, found.until) == (0, 1, local(ORDINARY_DAY, 23))
    night = transitions(HALF_AFTER_23, THIEU_LONG, NO_CALENDARS, start=local(ORDINARY_DAY, 12),
                        end=local(next_day(ORDINARY_DAY), 12))
    assert [(t.level, t.window) for t in night] == [(100, 0), (50, 1), (0, 1)]


# -- nights: the transitions paired into lit spans, per plan day --------------------------------

def test_nights_pair_the_transitions_into_spans_per_plan_day() -> None:
    found = nights(PART_NIGHT, THIEU_LONG, CALENDARS, first=ORDINARY_DAY, days=2)
    assert [n.day for n in found] == [ORDINARY_DAY, next_day(ORDINARY_DAY)]
    for night in found:
        morning = next_day(night.day)
        assert night.spans == (
            LitSpan(sun(night.day, "sunset", 5), local(night.day, 23), 100, 0, EVENING_RULE),
            LitSpan(local(morning, 4, 30), sun(morning, "sunrise", -10), 100, 1, MORNING_RULE))
        assert night.skipped == ()


def test_a_level_change_inside_a_night_ends_one_span_and_begins_the_next() -> None:
    night = nights(HALF_AFTER_23, THIEU_LONG, NO_CALENDARS, first=ORDINARY_DAY, days=1)[0]
    morning = next_day(ORDINARY_DAY)
    assert [(s.on, s.off, s.level, s.window) for s in night.spans] == [
        (sun(ORDINARY_DAY, "sunset", 5), local(ORDINARY_DAY, 23), 100, 0),
        (local(ORDINARY_DAY, 23), sun(morning, "sunrise", -10), 50, 1)]


def test_a_span_lit_at_the_first_noon_is_shown_on_the_first_day() -> None:
    midday = Program("midday", (Window.parse("11:00", "13:30"),))
    first = nights(midday, THIEU_LONG, NO_CALENDARS, first=ORDINARY_DAY, days=2)
    second, third = next_day(ORDINARY_DAY), next_day(next_day(ORDINARY_DAY))
    # A plan day runs noon to noon: 11:00 of the next morning belongs to the day before.
    assert [[(s.on, s.off) for s in n.spans] for n in first] == [
        [(local(ORDINARY_DAY, 11), local(ORDINARY_DAY, 13, 30)),
         (local(second, 11), local(second, 13, 30))],
        [(local(third, 11), local(third, 13, 30))]]


def test_nights_of_a_polar_day_report_the_skipped_windows() -> None:
    found = nights(PART_NIGHT, TROMSO, CALENDARS, first=POLAR_WEEK.date(), days=2)
    assert [n.spans for n in found] == [(), ()]
    assert [[(s.day, s.window_index) for s in n.skipped] for n in found] == [
        [(date(2026, 6, 18), 0), (date(2026, 6, 18), 1)],
        [(date(2026, 6, 19), 0), (date(2026, 6, 19), 1)]]
    assert found[0].skipped[0].reason.startswith("no sunset on 2026-06-18: polar day")
