"""Sun events from PyEphem, an almanac independent of astral, set up to mean what astral means.

- sunrise/sunset: the upper limb at -0:34 (astral's 0.5667 deg refraction, no further
  refraction from ephem: pressure 0);
- civil dawn/dusk: the centre at -6 deg.
ephem ignores the observer's altitude for the horizon, which is what ``schedules.solar`` does on
purpose (a site's elevation is above sea level, not above its horizon).
"""

from datetime import UTC, date, datetime, time

import ephem

from schedules.solar import Site

_HORIZON = {"sunrise": ("-0:34", False), "sunset": ("-0:34", False),
            "dawn": ("-6", True), "dusk": ("-6", True)}


def ephem_event(site: Site, day: date, event: str) -> datetime:
    """The event of the local ``day``, searched from local noon (fine outside polar regions)."""
    horizon, use_center = _HORIZON[event]
    observer = ephem.Observer()
    observer.lat, observer.lon = str(site.latitude), str(site.longitude)
    observer.elevation = site.elevation
    observer.pressure = 0
    observer.horizon = horizon
    noon = datetime.combine(day, time(12), tzinfo=site.tz).astimezone(UTC)
    observer.date = ephem.Date(noon.replace(tzinfo=None))
    search = observer.previous_rising if event in ("sunrise", "dawn") else observer.next_setting
    found = search(ephem.Sun(), use_center=use_center).datetime()
    return found.replace(tzinfo=UTC).astimezone(site.tz)
