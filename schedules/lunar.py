"""The Vietnamese lunisolar calendar (âm lịch), for lunar dates such as ``lunar:01-15``.

Hồ Ngọc Đức's published astronomical algorithm ("Thuật toán tính âm lịch", Hồ Ngọc Đức,
2004, https://www.informatik.uni-leipzig.de/~duc/amlich/calrules.html), computed for
UTC+7, the meridian Vietnam's calendar has used since 1968:

- a month starts on the local day of a new moon (mean new moon plus the main periodic terms,
  after Jean Meeus, "Astronomical Algorithms", ch. 49);
- month 11 is the month that contains the winter solstice;
- a year with 13 months between two months 11 has a leap month: the first month after month
  11 that contains no major solar term (the sun's longitude does not cross a multiple of 30°),
  and it takes the number of the month before it.

It differs from the Chinese calendar (computed for UTC+8) when a new moon or a solar term falls
between 16:00 and 17:00 UTC: Tết was 1985-01-21 in Vietnam and 1985-02-20 in China, and
2007-02-17 against 2007-02-18. No maintained PyPI library implements the Vietnamese variant.
The author gives it as accurate for 1800-2199; dates outside that range are refused.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from datetime import date

from schedules.errors import ScheduleError

TIMEZONE_H = 7.0
FIRST_YEAR, LAST_YEAR = 1800, 2199

_SYNODIC_MONTH_D = 29.530588853
_JD_OF_NEW_MOON_ZERO = 2415021.076998695  # the new moon of 1900-01-01 (lunation k = 0)
_JDN_OF_ORDINAL_ZERO = 1721425  # date.fromordinal(1) is Julian Day Number 1721426


@dataclass(frozen=True)
class LunarDate:
    year: int
    month: int
    day: int
    leap: bool = False

    def __str__(self) -> str:
        leap = " (leap)" if self.leap else ""
        return f"{self.year:04d}-{self.month:02d}{leap}-{self.day:02d}"


def to_lunar(day: date) -> LunarDate:
    """The Vietnamese lunar date of a Gregorian date."""
    _check_year(day.year)
    jdn = day.toordinal() + _JDN_OF_ORDINAL_ZERO
    # The published code looks one lunation back from the mean estimate; the true new moon
    # can lie far enough from the mean one (e.g. around 2054-05-07) to need a second step.
    k = math.floor((jdn - _JD_OF_NEW_MOON_ZERO) / _SYNODIC_MONTH_D) + 1
    while (month_start := _new_moon_day(k)) > jdn:
        k -= 1
    a11 = _month_11(day.year)
    b11 = a11
    if a11 >= month_start:
        lunar_year = day.year
        a11 = _month_11(day.year - 1)
    else:
        lunar_year = day.year + 1
        b11 = _month_11(day.year + 1)
    lunar_day = jdn - month_start + 1
    diff = (month_start - a11) // 29
    leap = False
    month = diff + 11
    if b11 - a11 > 365:  # 13 months between the two months 11: this lunar year has a leap month
        leap_diff = _leap_month_offset(a11)
        if diff >= leap_diff:
            month = diff + 10
            leap = diff == leap_diff
    if month > 12:
        month -= 12
    if month >= 11 and diff < 4:
        lunar_year -= 1
    return LunarDate(lunar_year, month, lunar_day, leap)


def from_lunar(year: int, month: int, day: int, leap: bool = False) -> date | None:
    """The Gregorian date of a Vietnamese lunar date, or None when that lunar day does not exist
    (day 30 of a 29-day month, or a leap month the year does not have)."""
    if not 1 <= month <= 12 or not 1 <= day <= 30:
        raise ScheduleError(f"lunar month {month} day {day} is out of range (1-12, 1-30)")
    _check_year(year + 1 if month >= 11 else year)  # months 11 and 12 end in the next year
    if month < 11:
        a11, b11 = _month_11(year - 1), _month_11(year)
    else:
        a11, b11 = _month_11(year), _month_11(year + 1)
    k = math.floor(0.5 + (a11 - _JD_OF_NEW_MOON_ZERO) / _SYNODIC_MONTH_D)
    offset = (month - 11) % 12
    if b11 - a11 > 365:
        leap_offset = _leap_month_offset(a11)
        leap_month = (leap_offset - 2) % 12
        if leap and month != leap_month:
            return None
        if leap or offset >= leap_offset:
            offset += 1
    elif leap:
        return None
    month_start = _new_moon_day(k + offset)
    if day == 30 and _new_moon_day(k + offset + 1) - month_start < 30:
        return None
    return date.fromordinal(month_start + day - 1 - _JDN_OF_ORDINAL_ZERO)


def lunar_dates_in_year(month: int, day: int, gregorian_year: int) -> list[date]:
    """Every date of ``gregorian_year`` that is lunar ``month``/``day`` of an ordinary (non-leap)
    month. Usually one; none when the day does not exist; for month 11 or 12 it may be two,
    since the lunar year that ends in January or February also started in the previous year."""
    _check_year(gregorian_year)
    found = (from_lunar(lunar_year, month, day)
             for lunar_year in (gregorian_year - 1, gregorian_year, gregorian_year + 1)
             if FIRST_YEAR <= lunar_year <= LAST_YEAR)
    return sorted(d for d in found if d is not None and d.year == gregorian_year)


def _check_year(year: int) -> None:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ScheduleError(
            f"year {year} is outside the lunar calendar's range {FIRST_YEAR}-{LAST_YEAR}")


@functools.lru_cache(maxsize=4096)
def _new_moon_day(k: int) -> int:
    """Julian Day Number of the UTC+7 day of the k-th new moon after 1900-01-01."""
    return math.floor(_new_moon_jd(k) + 0.5 + TIMEZONE_H / 24)


def _new_moon_jd(k: int) -> float:
    """Julian Date (TT corrected to UT) of the k-th new moon; Meeus ch. 49, as given by Hồ Ngọc
    Đức. Coefficients are the published ones, kept verbatim so results match his tables."""
    t = k / 1236.85
    t2, t3 = t * t, t * t * t
    dr = math.pi / 180
    jd1 = 2415020.75933 + 29.53058868 * k + 0.0001178 * t2 - 0.000000155 * t3
    jd1 += 0.00033 * math.sin((166.56 + 132.87 * t - 0.009173 * t2) * dr)
    m = 359.2242 + 29.10535608 * k - 0.0000333 * t2 - 0.00000347 * t3  # sun's mean anomaly
    mpr = 306.0253 + 385.81691806 * k + 0.0107306 * t2 + 0.00001236 * t3  # moon's mean anomaly
    f = 21.2964 + 390.67050646 * k - 0.0016528 * t2 - 0.00000239 * t3  # moon's argument of lat.
    c1 = (0.1734 - 0.000393 * t) * math.sin(m * dr) + 0.0021 * math.sin(2 * dr * m)
    c1 -= 0.4068 * math.sin(mpr * dr) - 0.0161 * math.sin(dr * 2 * mpr)
    c1 -= 0.0004 * math.sin(dr * 3 * mpr)
    c1 += 0.0104 * math.sin(dr * 2 * f) - 0.0051 * math.sin(dr * (m + mpr))
    c1 -= 0.0074 * math.sin(dr * (m - mpr)) - 0.0004 * math.sin(dr * (2 * f + m))
    c1 -= 0.0004 * math.sin(dr * (2 * f - m)) + 0.0006 * math.sin(dr * (2 * f + mpr))
    c1 += 0.0010 * math.sin(dr * (2 * f - mpr)) + 0.0005 * math.sin(dr * (2 * mpr + m))
    if t < -11:
        delta_t = 0.001 + 0.000839 * t + 0.0002261 * t2 - 0.00000845 * t3 - 0.000000081 * t * t3
    else:
        delta_t = -0.000278 + 0.000265 * t + 0.000262 * t2
    return jd1 + c1 - delta_t


def _sun_sector(jdn: int) -> int:
    """Which 30° sector (0-11) of the ecliptic the sun is in at the start of the UTC+7 day."""
    t = (jdn - 0.5 - TIMEZONE_H / 24 - 2451545.0) / 36525
    t2 = t * t
    dr = math.pi / 180
    m = 357.52910 + 35999.05030 * t - 0.0001559 * t2 - 0.00000048 * t * t2  # mean anomaly
    l0 = 280.46645 + 36000.76983 * t + 0.0003032 * t2  # mean longitude
    dl = (1.914600 - 0.004817 * t - 0.000014 * t2) * math.sin(dr * m)
    dl += (0.019993 - 0.000101 * t) * math.sin(dr * 2 * m) + 0.000290 * math.sin(dr * 3 * m)
    longitude = ((l0 + dl) * dr) % (2 * math.pi)
    return math.floor(longitude / math.pi * 6)


@functools.lru_cache(maxsize=512)
def _month_11(year: int) -> int:
    """Julian Day Number of the first day of lunar month 11 (the month of the winter solstice)
    that starts in Gregorian ``year``."""
    off = date(year, 12, 31).toordinal() + _JDN_OF_ORDINAL_ZERO - 2415021
    k = math.floor(off / _SYNODIC_MONTH_D)
    new_moon = _new_moon_day(k)
    if _sun_sector(new_moon) >= 9:  # already past the solstice: month 11 began a moon earlier
        new_moon = _new_moon_day(k - 1)
    return new_moon


@functools.lru_cache(maxsize=512)
def _leap_month_offset(a11: int) -> int:
    """Months after month 11 (starting at ``a11``) to the leap month: the first month in which
    the sun stays in one sector, i.e. that contains no major solar term."""
    k = math.floor((a11 - _JD_OF_NEW_MOON_ZERO) / _SYNODIC_MONTH_D + 0.5)
    i = 1
    sector = _sun_sector(_new_moon_day(k + i))
    while True:
        previous = sector
        i += 1
        sector = _sun_sector(_new_moon_day(k + i))
        if sector == previous or i >= 14:
            return i - 1
