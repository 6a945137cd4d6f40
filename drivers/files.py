"""Small helpers for files that the drivers and the controller both handle.

``file_sha256``: the digest sent with a file a field node fetches (the audio of an item,
docs/mqtt.md) and kept with a firmware image; one helper, so that the gateway and what it checks
against always hash the same way. Here in ``drivers`` because ``drivers`` may not import
``controller`` while the controller may import ``drivers`` (docs/architecture.md).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

_BLOCK = 1 << 16  # read in blocks: a firmware image need not fit in memory at once


def file_sha256(path: Path) -> str:
    """The SHA-256 of the file at ``path``, as lowercase hex."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()
