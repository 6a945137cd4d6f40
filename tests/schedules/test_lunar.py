"""The Vietnamese lunar calendar against independent truth: the ``holidays`` package's
Vietnamese dates (its own tables, computed for UTC+7), its Chinese dates where the two
calendars part, and PyEphem's new moons."""

from datetime import date, timedelta
from itertools import pairwise

import ephem
import holidays
import pytest

from schedules.errors import ScheduleError
from schedules.lunar import LunarDate, from_lunar, lunar_dates_in_year, to_lunar

YEARS = range(2000, 2041)
VN = holidays.VN(years=YEARS, language="en_US")
CN = holidays.CN(years=YEARS, language="en_US")
TET = {d.year: d for d in VN.get_named("Lunar New Year", lookup="exact")}
HUNG_KINGS = {d.year: d for d in VN.get_named("Hung Kings' Commemoration Day", lookup="exact")}
SPRING_FESTIVAL = {year: min(d for d in CN.get_named("Chinese New Year (Spring Festival)",
                                                     lookup="exact") if d.year == year)
                   for year in YEARS}


@pytest.mark.parametrize("year", YEARS)
def test_tet_matches_the_holidays_package(year: int) -> None:
    assert (from_lunar(year, 1, 1), to_lunar(TET[year])) == \
        (TET[year], LunarDate(year, 1, 1, False))


@pytest.mark.parametrize("year", sorted(HUNG_KINGS))
def test_hung_kings_day_is_the_tenth_of_the_third_month(year: int) -> None:
    # A public holiday since 2007; in 2023 it follows the leap 2nd month.
    assert from_lunar(year, 3, 10) == HUNG_KINGS[year]


@pytest.mark.parametrize(("year", "vietnam", "china"), [
    (2007, date(2007, 2, 17), date(2007, 2, 18)),
    (2030, date(2030, 2, 2), date(2030, 2, 3)),
])
def test_new_year_differs_from_china_where_utc7_and_utc8_disagree(
        year: int, vietnam: date, china: date) -> None:
    assert (TET[year], SPRING_FESTIVAL[year]) == (vietnam, china)
    assert from_lunar(year, 1, 1) == vietnam


def test_tet_1985_is_a_month_before_china() -> None:
    # The best-known divergence: Vietnam and China put the leap month in different years.
    vn_1985 = holidays.VN(years=1985, language="en_US").get_named("Lunar New Year",
                                                                  lookup="exact")
    cn_1985 = holidays.CN(years=1985, language="en_US").get_named(
        "Chinese New Year (Spring Festival)", lookup="exact")
    assert (vn_1985[0], min(cn_1985), from_lunar(1985, 1, 1)) == \
        (date(1985, 1, 21), date(1985, 2, 20), date(1985, 1, 21))


def _new_moons_utc7(first: int, last: int) -> list[date]:
    found, moment = [], ephem.Date(f"{first}/1/1")
    while (moment := ephem.next_new_moon(moment)).datetime().year <= last:
        found.append((moment.datetime() + timedelta(hours=7)).date())
    return found


NEW_MOONS = _new_moons_utc7(2000, 2040)


@pytest.mark.parametrize(("new_moon", "next_new_moon"), list(pairwise(NEW_MOONS)),
                         ids=str)
def test_every_month_runs_from_one_utc7_new_moon_day_to_the_next(new_moon: date,
                                                                 next_new_moon: date) -> None:
    first, last = to_lunar(new_moon), to_lunar(next_new_moon - timedelta(days=1))
    thirtieth = from_lunar(first.year, first.month, 30, first.leap)
    assert (first.day, (last.year, last.month, last.leap), last.day) == \
        (1, (first.year, first.month, first.leap), (next_new_moon - new_moon).days)
    assert (thirtieth is None) == (last.day == 29)


@pytest.mark.parametrize(("gregorian", "lunar"), [
    (date(2026, 9, 25), LunarDate(2026, 8, 15, False)),  # Tết Trung Thu 2026
    (date(2027, 2, 20), LunarDate(2027, 1, 15, False)),  # Rằm tháng Giêng 2027
    (date(2023, 3, 22), LunarDate(2023, 2, 1, True)),  # leap 2nd month of Quý Mão
    (date(2023, 4, 20), LunarDate(2023, 3, 1, False)),
    (date(2020, 5, 23), LunarDate(2020, 4, 1, True)),  # leap 4th month of Canh Tý
    (date(2026, 1, 1), LunarDate(2025, 11, 13, False)),  # still the previous lunar year
    (date(2054, 5, 7), LunarDate(2054, 3, 30, False)),  # needs two look-backs (lunar.py)
])
def test_known_dates(gregorian: date, lunar: LunarDate) -> None:
    assert (to_lunar(gregorian), from_lunar(lunar.year, lunar.month, lunar.day, lunar.leap)) \
        == (lunar, gregorian)


def test_published_festivals_agree_with_the_holidays_package() -> None:
    # Tết Trung Thu 2026 (China has the same day that year); Rằm tháng Giêng is Tết + 14 days.
    mid_autumn_2026 = CN.get_named("Mid-Autumn Festival", lookup="exact")
    assert date(2026, 9, 25) in mid_autumn_2026
    assert TET[2027] + timedelta(days=14) == date(2027, 2, 20)


def test_every_day_round_trips() -> None:
    first = date(1900, 1, 1)
    days = [first + timedelta(days=n) for n in range((date(2100, 12, 31) - first).days + 1)]
    lunar = [to_lunar(day) for day in days]
    back = [from_lunar(d.year, d.month, d.day, d.leap) for d in lunar]
    assert [day for day, again in zip(days, back, strict=True) if again != day] == []


@pytest.mark.parametrize(("year", "month", "day", "leap"), [
    (2026, 2, 30, False),  # the second month of 2026 has 29 days (2026-03-19 to 04-16)
    (2026, 3, 1, True),  # 2026 has no leap month
    (2023, 3, 1, True),  # 2023's leap month is the 2nd
])
def test_lunar_days_that_do_not_exist_give_none(year: int, month: int, day: int,
                                                leap: bool) -> None:
    assert from_lunar(year, month, day, leap) is None


def test_a_thirty_day_month_has_a_thirtieth() -> None:
    # New moons (UTC+7) on 2026-02-17 and 2026-03-19: the first month has 30 days.
    assert from_lunar(2026, 1, 30) == date(2026, 3, 18)


@pytest.mark.parametrize(("month", "day", "year", "expected"), [
    (1, 15, 2027, [date(2027, 2, 20)]),
    (8, 15, 2026, [date(2026, 9, 25)]),
    (2, 30, 2026, []),
    # The lunar year 2025 ends on 2026-02-16, its 12th month began on 2026-01-19; the 12th
    # month of 2026 begins in January 2027: so only one 12/01 falls in 2026.
    (12, 1, 2026, [date(2026, 1, 19)]),
    # 2024-01-11 is 12/01 of lunar 2023 and 2024-12-31 is 12/01 of lunar 2024.
    (12, 1, 2024, [date(2024, 1, 11), date(2024, 12, 31)]),
])
def test_lunar_dates_in_a_gregorian_year(month: int, day: int, year: int,
                                         expected: list[date]) -> None:
    assert lunar_dates_in_year(month, day, year) == expected


@pytest.mark.parametrize("call", [
    lambda: from_lunar(2026, 13, 1),
    lambda: from_lunar(2026, 1, 31),
    lambda: from_lunar(2026, 0, 1),
    lambda: to_lunar(date(2300, 1, 1)),
    lambda: lunar_dates_in_year(1, 15, 1700),
])
def test_out_of_range_is_refused(call) -> None:
    with pytest.raises(ScheduleError):
        call()


def test_vietnam_new_year_table_of_the_holidays_package_is_covered() -> None:
    # holidays.calendars.chinese lists the years whose Vietnamese Tết differs from China's.
    from holidays.calendars.chinese import _ChineseLunisolar

    table = _ChineseLunisolar.VIETNAMESE_CALENDAR_LUNAR_NEW_YEAR_DATES
    assert {year: from_lunar(year, 1, 1) for year in table} == \
        {year: date(year, *month_day) for year, month_day in table.items()}
