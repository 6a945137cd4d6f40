from datetime import date

import pytest

from schedules.errors import NoSunEvent, ScheduleError
from schedules.solar import EVENTS, Site, sun_event
from tests.schedules.almanac import ephem_event
from tests.schedules.sites import (
    BERLIN,
    HOBART,
    NEW_YORK,
    SA_PA,
    TROMSO,
    USHUAIA,
    VIETNAM,
)

TOLERANCE_S = 60

DAYS_ACROSS_THE_YEAR = [date(2026, 1, 5), date(2026, 3, 20), date(2026, 5, 15),
                        date(2026, 6, 21), date(2026, 8, 10), date(2026, 9, 23),
                        date(2026, 11, 7), date(2026, 12, 21)]

# The spring-forward and fall-back days of 2026, with the days around them.
DST_DAYS = {
    "berlin": (BERLIN, [date(2026, 3, 28), date(2026, 3, 29), date(2026, 3, 30),
                        date(2026, 10, 24), date(2026, 10, 25), date(2026, 10, 26)]),
    "new-york": (NEW_YORK, [date(2026, 3, 7), date(2026, 3, 8), date(2026, 3, 9),
                            date(2026, 10, 31), date(2026, 11, 1), date(2026, 11, 2)]),
}
SOUTHERN_DAYS = [date(2026, 1, 10), date(2026, 4, 5), date(2026, 6, 21), date(2026, 9, 30),
                 date(2026, 12, 21)]

VIETNAM_CASES = [pytest.param(site, day, event, id=f"{name}-{day}-{event}")
                 for name, site in VIETNAM.items() for day in DAYS_ACROSS_THE_YEAR
                 for event in EVENTS]
DST_CASES = [pytest.param(site, day, event, id=f"{name}-{day}-{event}")
             for name, (site, days) in DST_DAYS.items() for day in days for event in EVENTS]
SOUTHERN_CASES = [pytest.param(site, day, event, id=f"{name}-{day}-{event}")
                  for name, site in (("hobart", HOBART), ("ushuaia", USHUAIA))
                  for day in SOUTHERN_DAYS for event in EVENTS]


@pytest.mark.parametrize(("site", "day", "event"), VIETNAM_CASES + DST_CASES + SOUTHERN_CASES)
def test_sun_event_agrees_with_pyephem(site: Site, day: date, event: str) -> None:
    ours = sun_event(site, day, event)
    assert abs((ours - ephem_event(site, day, event)).total_seconds()) <= TOLERANCE_S


@pytest.mark.parametrize(("site", "day", "event"), VIETNAM_CASES + DST_CASES)
def test_sun_event_is_on_the_local_day_asked_for_in_the_site_zone(site: Site, day: date,
                                                                  event: str) -> None:
    # astral without tzinfo= would answer with the next local day's sunrise east of Greenwich.
    ours = sun_event(site, day, event)
    assert (ours.date(), ours.tzinfo) == (day, site.tz)


def test_elevation_above_sea_level_does_not_move_sun_events() -> None:
    at_sea_level = Site(SA_PA.latitude, SA_PA.longitude, SA_PA.timezone, elevation=0)
    day = date(2026, 6, 21)
    assert [sun_event(SA_PA, day, e) for e in EVENTS] == \
        [sun_event(at_sea_level, day, e) for e in EVENTS]


@pytest.mark.parametrize(("day", "event", "reason"), [
    (date(2026, 6, 21), "sunrise", "polar day"),
    (date(2026, 6, 21), "sunset", "polar day"),
    (date(2026, 6, 21), "dawn", "white night"),
    (date(2026, 6, 21), "dusk", "white night"),
    (date(2026, 12, 21), "sunrise", "polar night"),
    (date(2026, 12, 21), "sunset", "polar night"),
    (date(2027, 1, 3), "sunset", "polar night"),
    (date(2027, 7, 1), "sunrise", "polar day"),
])
def test_polar_days_and_nights_raise_no_sun_event_with_the_reason(day: date, event: str,
                                                                  reason: str) -> None:
    with pytest.raises(NoSunEvent) as caught:
        sun_event(TROMSO, day, event)
    assert (caught.value.event, caught.value.day, caught.value.reason) == (event, day, reason)
    assert reason in str(caught.value)


def test_no_sun_event_is_a_schedule_error_and_a_value_error() -> None:
    assert issubclass(NoSunEvent, ScheduleError)
    assert issubclass(ScheduleError, ValueError)


def test_polar_noon_still_has_civil_twilight_in_december() -> None:
    # At 69.65 N the sun stays below the horizon on the solstice but comes within 6 deg of it.
    day = date(2026, 12, 21)
    dawn, dusk = sun_event(TROMSO, day, "dawn"), sun_event(TROMSO, day, "dusk")
    assert abs((dawn - ephem_event(TROMSO, day, "dawn")).total_seconds()) <= 2 * TOLERANCE_S
    assert dawn < dusk


def test_repeated_polar_queries_raise_fresh_errors() -> None:
    errors = []
    for _ in range(2):
        with pytest.raises(NoSunEvent) as caught:
            sun_event(TROMSO, date(2026, 6, 21), "sunset")
        errors.append(caught.value)
    assert errors[0] is not errors[1]


@pytest.mark.parametrize(("latitude", "longitude", "zone", "message"), [
    (90.5, 0.0, "UTC", "latitude"),
    (-91.0, 0.0, "UTC", "latitude"),
    (0.0, 180.5, "UTC", "longitude"),
    (0.0, 0.0, "Asia/Ha_Noi", "time zone"),
    (0.0, 0.0, "", "time zone"),
])
def test_site_is_validated(latitude: float, longitude: float, zone: str, message: str) -> None:
    with pytest.raises(ScheduleError, match=message):
        Site(latitude=latitude, longitude=longitude, timezone=zone)


def test_unknown_event_is_refused() -> None:
    with pytest.raises(ScheduleError, match="noon"):
        sun_event(VIETNAM["ha-noi"], date(2026, 1, 1), "noon")
