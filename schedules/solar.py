"""Sun events for a site and a local date, polar-safe and cached.

Wraps astral 3.2. Two of its traps are handled here (docs/libraries.md, astral):

- the zone is passed as ``tzinfo=`` by keyword: without it astral treats the date as a UTC
  date, and east of Greenwich (all of Vietnam) it returns the event of the wrong day;
- astral's ``Observer.elevation`` is the height above the *visible horizon* and adds a dip
  correction, while a site's elevation is metres above sea level. A mountain commune is not
  a lighthouse: its horizon is hills, not the sea 1,500 m below, so passing the altitude
  would switch Sa Pa's lights on minutes late. Sun events therefore use a sea-level horizon
  (the confusion is discussed in home-assistant/core issues #119795 and #128360).

Results are cached per (site, day, event): a year's plan for every circuit asks for the same
few thousand events again and again.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import astral
import astral.sun

from schedules.errors import NoSunEvent, ScheduleError

EVENTS = ("sunrise", "sunset", "dawn", "dusk")

# The sun's altitude at each event, as astral defines it: the upper limb on the horizon
# (refraction 0.5667 deg + semi-diameter 0.2667 deg) for sunrise and sunset; the centre 6 deg
# below it for civil dawn and dusk.
_EVENT_ALTITUDE_DEG = {"sunrise": -0.833, "sunset": -0.833, "dawn": -6.0, "dusk": -6.0}


@dataclass(frozen=True)
class Site:
    """Where the lights are. ``elevation`` is metres above sea level (informational, see above)."""

    latitude: float
    longitude: float
    timezone: str
    elevation: float = 0.0

    def __post_init__(self) -> None:
        if not -90.0 <= self.latitude <= 90.0:
            raise ScheduleError(f"latitude {self.latitude} is outside [-90, 90]")
        if not -180.0 <= self.longitude <= 180.0:
            raise ScheduleError(f"longitude {self.longitude} is outside [-180, 180]")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ScheduleError(f"unknown IANA time zone {self.timezone!r}") from None

    @functools.cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @functools.cached_property
    def observer(self) -> astral.Observer:
        return astral.Observer(latitude=self.latitude, longitude=self.longitude, elevation=0.0)


@dataclass(frozen=True)
class _Missing:
    """A cached 'no such event', turned into a fresh NoSunEvent on every call (re-raising one
    cached exception instance would grow its traceback forever)."""

    reason: str
    detail: str


def sun_event(site: Site, day: date, event: str) -> datetime:
    """The ``event`` ("sunrise", "sunset", "dawn", "dusk": civil twilight) of the local ``day``,
    as an aware datetime in the site's zone. Raises NoSunEvent on polar days and nights."""
    return sun_event_utc(site, day, event).astimezone(site.tz)


def sun_event_utc(site: Site, day: date, event: str) -> datetime:
    """As ``sun_event``, in UTC: the form to compare and subtract (aware datetimes that share a
    ZoneInfo compare by wall time, which is wrong across a DST change)."""
    if event not in _EVENT_ALTITUDE_DEG:
        raise ScheduleError(f"unknown sun event {event!r}; expected one of {', '.join(EVENTS)}")
    found = _cached_event(site, day, event)
    if isinstance(found, _Missing):
        raise NoSunEvent(event, day, found.reason, found.detail)
    return found


def clear_sun_cache() -> None:
    """Forget every cached sun event (benchmarks measure the cold path with it)."""
    _cached_event.cache_clear()


# Large enough for a few years of every event at a handful of sites.
@functools.lru_cache(maxsize=16384)
def _cached_event(site: Site, day: date, event: str) -> datetime | _Missing:
    observer, tz = site.observer, site.tz
    try:
        match event:
            case "sunrise":
                found = astral.sun.sunrise(observer, date=day, tzinfo=tz)
            case "sunset":
                found = astral.sun.sunset(observer, date=day, tzinfo=tz)
            case "dawn":
                found = astral.sun.dawn(observer, date=day, tzinfo=tz)
            case _:
                found = astral.sun.dusk(observer, date=day, tzinfo=tz)
    except ValueError:
        return _missing(site, day, event)
    return found.astimezone(UTC)


def _missing(site: Site, day: date, event: str) -> _Missing:
    """Why the event does not happen. The sun is highest at solar noon: if it is above the
    event's altitude then, it never comes down to it that day, otherwise it never comes up."""
    noon = astral.sun.noon(site.observer, date=day, tzinfo=site.tz)
    altitude = astral.sun.elevation(site.observer, noon)
    threshold = _EVENT_ALTITUDE_DEG[event]
    stays = "above" if altitude > threshold else "below"
    if stays == "below":
        reason = "polar night"
    elif event in ("sunrise", "sunset"):
        reason = "polar day"
    else:
        reason = "white night"
    where = "the horizon" if threshold > -1 else f"{-threshold:g} deg below the horizon"
    return _Missing(reason, f"the sun stays {stays} {where} all day")
