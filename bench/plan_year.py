"""A year of lighting plan for 100 circuits, with and without the schedule caches.

100 circuits at Thiệu Long share 5 programmes (the two of deploy/config.example.toml,
all-night, evening-only and a weekend one), as a commune's circuits do; ``plan`` is called once
per circuit for 2027, the way a naive caller would, and the three measurements differ only in
what is cached:

- cold: every cache cleared before each circuit (each computes its sun events again);
- sun events cached: window spans and plans cleared before each circuit, sun events kept;
- all caches: sun events, window spans and plans kept from one circuit to the next (the first
  circuit of each programme pays for its sun events and spans).

Each figure is the best of a few runs.

    .venv/bin/python bench/plan_year.py
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from schedules.calendars import Calendar
from schedules.lighting import Program, Window, clear_caches, plan
from schedules.solar import Site

CIRCUITS = 100
RUNS = 3
SITE = Site(latitude=19.87, longitude=105.71, timezone="Asia/Ho_Chi_Minh", elevation=10)
# A plan day runs from noon to noon (controller.plan), so every night is whole.
START = datetime(2027, 1, 1, 12, tzinfo=SITE.tz)
END = datetime(2028, 1, 1, 12, tzinfo=SITE.tz)
CALENDARS = {"holidays": Calendar(id="holidays", dates=("09-02", "lunar:01-15", "2027-02-06"),
                                  ranges=(("2027-02-05", "2027-02-10"),),
                                  public_holidays="VN")}
PROGRAMS = (
    Program("part-night", (Window.parse("sunset+5m", "earliest(23:00, sunrise-10m)"),
                           Window.parse("04:30", "sunrise-10m"),
                           Window.parse("sunset+5m", "sunrise-10m", calendar="holidays"))),
    Program("half-after-23", (Window.parse("sunset+5m", "23:00", level=100),
                              Window.parse("23:00", "sunrise-10m", level=50))),
    Program("all-night", (Window.parse("dusk-10m", "dawn+10m"),)),
    Program("evening", (Window.parse("sunset", "latest(22:00, dusk+1h)"),)),
    Program("weekend", (Window.parse("sunset+5m", "01:00", days=["fri", "sat"]),
                        Window.parse("sunset+5m", "22:00", days=range(5)))),
)


def plan_every_circuit(before_each: Callable[[], None]) -> int:
    transitions = 0
    for circuit in range(CIRCUITS):
        before_each()
        found, _ = plan(PROGRAMS[circuit % len(PROGRAMS)], SITE, CALENDARS, start=START,
                        end=END)
        transitions += len(found)
    return transitions


def best_of(runs: int, before_run: Callable[[], None],
            before_each: Callable[[], None]) -> tuple[float, int]:
    best, transitions = float("inf"), 0
    for _ in range(runs):
        before_run()
        started = time.perf_counter()
        transitions = plan_every_circuit(before_each)
        best = min(best, time.perf_counter() - started)
    return best, transitions


def main() -> None:
    def nothing() -> None:
        pass

    def keep_sun_events() -> None:
        clear_caches(keep_sun_events=True)

    # Fill the calendars' per-year days first: they belong to the calendar, not to a cache.
    plan(PROGRAMS[0], SITE, CALENDARS, start=START, end=END)
    cold_s, transitions = best_of(RUNS, clear_caches, clear_caches)
    sun_only_s, _ = best_of(RUNS, clear_caches, keep_sun_events)
    cached_s, _ = best_of(RUNS, clear_caches, nothing)
    print(f"plan of 2027 for {CIRCUITS} circuits sharing {len(PROGRAMS)} programmes "
          f"({transitions} transitions), best of {RUNS}")
    print(f"  cold, caches cleared before each circuit: {cold_s:8.3f} s")
    print(f"  sun events cached:                        {sun_only_s:8.3f} s")
    print(f"  all caches (sun events, spans, plans):    {cached_s:8.3f} s")
    print(f"  ratio cold / sun events cached:           {cold_s / sun_only_s:8.1f} x")
    print(f"  ratio cold / all caches:                  {cold_s / cached_s:8.1f} x")


if __name__ == "__main__":
    main()
