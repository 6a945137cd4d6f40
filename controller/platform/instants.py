"""``Instant``: a time as clients send it (ISO 8601 with an offset), for the request models of
the features and of the HTTP API alike."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime


def _representable_in_utc(value: datetime) -> datetime:
    # "0001-01-01T00:00+14:00" parses, but is before datetime.min in UTC: every later use of
    # it (an override's end compared with the clock, History converting to UTC) would raise
    # OverflowError.
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise ValueError("outside the range of dates the controller can handle") from None
    return value


Instant = Annotated[AwareDatetime, AfterValidator(_representable_in_utc)]
"""An ISO-8601 time with an offset, as clients send it."""
