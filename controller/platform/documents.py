"""Reading the fields of a stored document, for the features' typed records (``from_doc``).

A document in storage is JSON someone may have edited by hand or an older version wrote; a
field of the wrong type is a ``TypeError`` naming the key, raised where the record is read,
never a wrong value carried on. The records (controller/lighting/records.py,
controller/radio/records.py) are the only callers: nowhere else spells a document's keys.

Also ``Instant``: a time as clients send it (ISO 8601 with an offset), for the request models
of the features and of the HTTP API alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, cast

from pydantic import AfterValidator, AwareDatetime

Document = Mapping[str, object]


def text(doc: Document, key: str, default: str | None = None) -> str:
    value = doc.get(key, default)
    if not isinstance(value, str):
        raise TypeError(f"{key}: expected a string, found {value!r}")
    return value


def optional_text(doc: Document, key: str) -> str | None:
    value = doc.get(key)
    if value is not None and not isinstance(value, str):
        raise TypeError(f"{key}: expected a string or null, found {value!r}")
    return value


def texts(doc: Document, key: str) -> tuple[str, ...]:
    value = doc.get(key, [])
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"{key}: expected a list of strings, found {value!r}")
    return tuple(cast(Sequence[str], value))


def number(doc: Document, key: str, default: float | None = None) -> float:
    value = doc.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{key}: expected a number, found {value!r}")
    return value


def whole(doc: Document, key: str, default: int | None = None) -> int:
    value = doc.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{key}: expected a whole number, found {value!r}")
    return value


def optional_whole(doc: Document, key: str) -> int | None:
    return None if doc.get(key) is None else whole(doc, key)


def moment(doc: Document, key: str) -> datetime:
    return datetime.fromisoformat(text(doc, key))


def optional_moment(doc: Document, key: str) -> datetime | None:
    value = optional_text(doc, key)
    return None if value is None else datetime.fromisoformat(value)


def iso(instant: datetime | None) -> str | None:
    return None if instant is None else instant.isoformat()


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
