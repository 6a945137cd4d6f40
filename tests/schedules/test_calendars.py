from datetime import date, timedelta

import holidays
import pytest

from schedules.calendars import Calendar
from schedules.errors import ScheduleError

# The calendar of deploy/config.example.toml.
HOLIDAYS = Calendar(id="holidays", dates=("09-02", "lunar:01-15", "2027-02-06"),
                    ranges=(("2027-02-05", "2027-02-10"),), public_holidays="VN")
VN_2026_2027 = holidays.VN(years=(2026, 2027), language="en_US")
TET_2027 = VN_2026_2027.get_named("Lunar New Year", lookup="exact")[0]


@pytest.mark.parametrize(("calendar", "day", "expected"), [
    (Calendar("c", dates=("09-02",)), date(2026, 9, 2), True),
    (Calendar("c", dates=("09-02",)), date(2031, 9, 2), True),
    (Calendar("c", dates=("09-02",)), date(2026, 9, 3), False),
    (Calendar("c", dates=("02-29",)), date(2028, 2, 29), True),
    (Calendar("c", dates=("02-29",)), date(2027, 2, 28), False),
    (Calendar("c", dates=("02-29",)), date(2027, 3, 1), False),
    (Calendar("c", dates=("2027-02-06",)), date(2027, 2, 6), True),
    (Calendar("c", dates=("2027-02-06",)), date(2028, 2, 6), False),
    # Rằm tháng Giêng: Tết (from the holidays package) + 14 days.
    (Calendar("c", dates=("lunar:01-15",)), TET_2027 + timedelta(days=14), True),
    (Calendar("c", dates=("lunar:01-15",)), TET_2027 + timedelta(days=13), False),
    (Calendar("c", dates=("lunar:08-15",)), date(2026, 9, 25), True),  # Tết Trung Thu
    (Calendar("c", ranges=(("2027-02-05", "2027-02-10"),)), date(2027, 2, 5), True),
    (Calendar("c", ranges=(("2027-02-05", "2027-02-10"),)), date(2027, 2, 10), True),
    (Calendar("c", ranges=(("2027-02-05", "2027-02-10"),)), date(2027, 2, 11), False),
    (Calendar("c", ranges=(("2027-02-05", "2027-02-10"),)), date(2027, 2, 4), False),
    (Calendar("c", ranges=(("2026-12-30", "2027-01-02"),)), date(2026, 12, 31), True),
    (Calendar("c", ranges=(("2026-12-30", "2027-01-02"),)), date(2027, 1, 2), True),
    (Calendar("c"), date(2027, 1, 1), False),
])
def test_contains(calendar: Calendar, day: date, expected: bool) -> None:
    assert calendar.contains(day) is expected


@pytest.mark.parametrize("day", sorted(VN_2026_2027), ids=str)
def test_public_holidays_come_from_the_holidays_package(day: date) -> None:
    assert Calendar("c", public_holidays="VN").contains(day)


@pytest.mark.parametrize(("day", "expected"), [
    (date(2026, 9, 2), True),  # yearly and a public holiday
    (date(2026, 3, 3), True),  # lunar 01-15 of 2026
    (date(2027, 2, 20), True),  # lunar 01-15 of 2027
    (date(2027, 2, 5), True),  # the range (and Tết's eve)
    (date(2027, 2, 11), False),
    (date(2026, 6, 3), False),
])
def test_the_spec_example_calendar(day: date, expected: bool) -> None:
    assert HOLIDAYS.contains(day) is expected


@pytest.mark.parametrize(("kwargs", "entry", "why"), [
    ({"dates": ("02-30",)}, "'02-30'", "no such date"),
    ({"dates": ("13-01",)}, "'13-01'", "no such date"),
    ({"dates": ("9-2",)}, "'9-2'", "expected"),
    ({"dates": ("2027-02-30",)}, "'2027-02-30'", "no such date"),
    ({"dates": ("lunar:13-01",)}, "'lunar:13-01'", "lunar month"),
    ({"dates": ("lunar:01-31",)}, "'lunar:01-31'", "lunar day"),
    ({"dates": ("lunar:1-15",)}, "'lunar:1-15'", "expected"),
    ({"dates": (20270206,)}, "20270206", "expected text"),
    ({"ranges": (("2027-02-10", "2027-02-05"),)}, "2027-02-10", "ends before it starts"),
    ({"ranges": (("2027-02-10",),)}, "2027-02-10", "[first, last]"),
    ({"ranges": (("2027-02-10", "soon"),)}, "'soon'", "YYYY-MM-DD"),
    ({"public_holidays": "XX"}, "'XX'", "unknown country"),
])
def test_bad_entries_are_refused_by_name(kwargs: dict, entry: str, why: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        Calendar("feasts", **kwargs)
    message = str(caught.value)
    assert "'feasts'" in message
    assert entry in message
    assert why in message


def test_lists_from_json_are_accepted_and_the_calendar_stays_hashable() -> None:
    dates: list[str] = ["09-02", "lunar:01-15", "2027-02-06"]
    ranges: list[list[str]] = [["2027-02-05", "2027-02-10"]]
    from_json = Calendar("holidays", dates=dates, ranges=ranges,  # type: ignore[arg-type]
                         public_holidays="VN")
    assert (from_json, hash(from_json)) == (HOLIDAYS, hash(HOLIDAYS))
