"""Pure time logic: no I/O, no asyncio, and the clock is never read (instants are arguments).

    solar.py        sun events for a site and a local date (polar-safe, cached)
    expressions.py  "sunset+10m", "earliest(23:00, sunrise-10m)": parsed, evaluated for a day
    lunar.py        the Vietnamese lunar calendar (UTC+7)
    calendars.py    dates, ranges, yearly and lunar dates, public holidays
    windows.py      lighting windows and programmes, and their spans on a day
    timeline.py     the union of spans, highest level first
    lighting.py     desired_state(..., at=), transitions and plan(..., start=, end=)
    errors.py       ScheduleError and NoSunEvent
"""
