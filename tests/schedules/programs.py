"""The programmes and calendar of deploy/config.example.toml, as the controller builds them."""

from schedules.calendars import Calendar
from schedules.lighting import Program, Window

PART_NIGHT = Program("part-night", (
    Window.parse("sunset+5m", "earliest(23:00, sunrise-10m)"),
    Window.parse("04:30", "sunrise-10m"),
    Window.parse("sunset+5m", "sunrise-10m", calendar="holidays"),  # all night on holidays
))
HALF_AFTER_23 = Program("half-after-23", (
    Window.parse("sunset+5m", "23:00", level=100),
    Window.parse("23:00", "sunrise-10m", level=50),
))
CALENDARS = {"holidays": Calendar(id="holidays", dates=("09-02", "lunar:01-15", "2027-02-06"),
                                  ranges=(("2027-02-05", "2027-02-10"),),
                                  public_holidays="VN")}
