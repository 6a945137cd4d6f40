"""Reading the fields of a stored document, for the features' typed records (``from_doc``).

A document in storage is JSON someone may have edited by hand or an older version wrote; a
field of the wrong type is a ``TypeError`` naming the key, raised where the record is read,
never a wrong value carried on. The records (controller/lighting/records.py,
controller/radio/records.py) are the only callers: nowhere else spells a document's keys.

No pydantic here: the front process reads accounts and sessions through these readers and must
not load it (``Instant``, for request models, is in controller/platform/instants.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import cast

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
