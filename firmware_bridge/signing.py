"""Signed commands from the province (``[mqtt] province_commands = "signed"``; docs/mqtt.md,
"Signed commands"). Pure: no I/O but reading the key file.

A signed command is the usual JSON object plus ``"ts"`` (Unix seconds when it was signed) and
``"sig"``: the lower-case hex HMAC-SHA256, with the province's shared key, of the topic, a
newline, and the canonical JSON of the object without ``"sig"`` (keys sorted, no spaces, UTF-8
as is). The topic is signed too, so a command for one commune cannot be replayed to another;
``"ts"`` must be within the window of the gateway's clock, and the gateway remembers the ids
it has taken (an announcement with an id already seen airs once).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

SIGNATURE = "sig"
TIMESTAMP = "ts"
MIN_KEY_BYTES = 16


class CommandRefused(ValueError):
    """A command the gateway will not take; ``kind`` is unsigned, bad_signature or expired."""

    def __init__(self, kind: str, reason: str) -> None:
        self.kind = kind
        super().__init__(reason)


def read_key(path: str | Path) -> bytes:
    """The shared key: the file's content, surrounding white space removed. ``ValueError``
    (one line) when it cannot be read or is too short to be a key."""
    try:
        key = Path(path).read_bytes().strip()
    except OSError as exc:
        raise ValueError(f"{path}: {exc.strerror or exc}") from None
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"{path}: a key of at least {MIN_KEY_BYTES} bytes is needed "
                         f"(e.g. openssl rand -hex 32 > {Path(path).name})")
    return key


def canonical(topic: str, command: dict[str, Any]) -> bytes:
    body = {k: v for k, v in command.items() if k != SIGNATURE}
    return topic.encode() + b"\n" + json.dumps(body, sort_keys=True, ensure_ascii=False,
                                               separators=(",", ":")).encode()


def signature(key: bytes, topic: str, command: dict[str, Any]) -> str:
    return hmac.new(key, canonical(topic, command), hashlib.sha256).hexdigest()


def sign(key: bytes, topic: str, command: dict[str, Any], *, now: float) -> dict[str, Any]:
    """``command`` with ``"ts"`` (``now``, whole seconds) and its ``"sig"`` for ``topic``."""
    stamped = {**{k: v for k, v in command.items() if k != SIGNATURE}, TIMESTAMP: int(now)}
    return {**stamped, SIGNATURE: signature(key, topic, stamped)}


def verify(key: bytes, topic: str, command: dict[str, Any], *, now: float,
           window_s: float) -> dict[str, Any]:
    """The command without ``"ts"`` and ``"sig"``, when signed with ``key`` for ``topic``
    within ``window_s`` of ``now`` either way; else ``CommandRefused``."""
    sig = command.get(SIGNATURE)
    if not isinstance(sig, str) or not sig:
        raise CommandRefused("unsigned", f'not signed (a "{SIGNATURE}" is required)')
    if not hmac.compare_digest(sig.lower(), signature(key, topic, command)):
        raise CommandRefused("bad_signature", "the signature does not match")
    ts = command.get(TIMESTAMP)
    if isinstance(ts, bool) or not isinstance(ts, int | float):
        raise CommandRefused("expired", f'no "{TIMESTAMP}" (Unix seconds) in the command')
    if abs(now - ts) > window_s:
        raise CommandRefused("expired", f"signed {now - ts:+.0f} s from now, outside the "
                                        f"{window_s:g} s window")
    return {k: v for k, v in command.items() if k not in (SIGNATURE, TIMESTAMP)}
