"""API tokens: the secret is shown once, only a hash is stored (docs/api.md, Authentication).

Roles, each including the one before: viewer (read) < operator (audio, broadcasts) <
technician (overrides, programmes, devices) < admin (tokens, audit).

A token is created by the API or by ``communectl token create`` in another process while the
controller runs, and must be honoured at once: ``verify`` keeps an index of the stored hashes
that it rebuilds only when ``Store.revision()`` changes, so a request costs one ``stat`` and a
hash when nothing changed.
"""

from __future__ import annotations

import builtins
import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from controller.platform.store import Store

log = logging.getLogger(__name__)

ROLES = ("viewer", "operator", "technician", "admin")
TABLE = "tokens"
SECRET_PREFIX = "cmt_"  # makes a leaked token recognisable to secret scanners and to people
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


def role_at_least(role: str, needed: str) -> bool:
    """Whether ``role`` includes ``needed``. An unknown ``role`` (say, a hand-edited file)
    grants nothing; an unknown ``needed`` is a bug in the caller."""
    if needed not in ROLES:
        raise ValueError(f"unknown role {needed!r}; roles are {', '.join(ROLES)}")
    return role in ROLES and ROLES.index(role) >= ROLES.index(needed)


@dataclass(frozen=True)
class TokenInfo:
    name: str
    role: str
    created_at: datetime
    expires_at: datetime | None
    last4: str  # the secret's last four characters, so a person can tell which one they hold

    def is_expired(self, *, at: datetime) -> bool:
        return self.expires_at is not None and at >= self.expires_at


class TokenRegistry:
    def __init__(self, store: Store) -> None:
        self._store = store
        # (store revision, {sha256 hex: TokenInfo}) replaced as one tuple, so a ``load`` in a
        # worker thread and a ``verify`` on the loop never pair an old index with a new
        # revision.
        self._index: tuple[tuple[int, ...], dict[str, TokenInfo]] | None = None

    def create(self, *, name: str, role: str, expires_days: int | None,
               now: datetime) -> tuple[str, TokenInfo]:
        """A new token; returns the secret (to show once, never stored) and its description.
        Raises ValueError for an unknown role, a bad or taken name, or a bad expiry."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
        if not _NAME.fullmatch(name):
            raise ValueError(f"token name {name!r}: use 1-64 letters, digits, '.', '_', '@' "
                             "or '-', starting with a letter or digit")
        if expires_days is not None and expires_days < 1:
            raise ValueError(f"expires_days must be at least 1, not {expires_days}")
        if now.tzinfo is None:
            raise ValueError(f"now must be timezone-aware, not {now!r}")
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        expires_at = None if expires_days is None else now + timedelta(days=expires_days)
        info = TokenInfo(name=name, role=role, created_at=now, expires_at=expires_at,
                         last4=secret[-4:])
        doc = {"id": name, "role": role, "sha256": _digest(secret),
               "created_at": now.isoformat(),
               "expires_at": None if expires_at is None else expires_at.isoformat(),
               "last4": info.last4}
        if not self._store.insert_new(TABLE, doc):
            raise ValueError(f"a token named {name!r} already exists; revoke it first")
        return secret, info

    def verify(self, secret: str, *, now: datetime, reread: bool = True) -> TokenInfo | None:
        """The token's description if ``secret`` is a live token, else None. ``reread=False``
        answers from the tokens read last (by ``load``), even if storage changed since."""
        if not isinstance(secret, str) or not secret.startswith(SECRET_PREFIX):
            return None
        # A dict lookup by hash instead of hmac.compare_digest over every stored hash: its
        # timing depends only on the SHA-256 of the guess, and learning about the hash of a
        # guess tells an attacker nothing about an unknown secret (that would take a preimage).
        index = self._index
        by_hash = index[1] if not reread and index is not None else self._by_hash()
        info = by_hash.get(_digest(secret))
        if info is None or info.is_expired(at=now):
            return None
        return info

    def index_is_current(self) -> bool:
        """Whether ``verify`` can answer from memory: False after any process wrote storage,
        until ``load`` or ``verify`` reads the tokens again (a parse under a shared lock that
        waits for a writer's fsync, which a caller on an event loop may run in a thread)."""
        index = self._index
        return index is not None and index[0] == self._store.revision()

    def load(self) -> None:
        """Read the stored tokens again if storage changed."""
        self._by_hash()

    def revoke(self, name: str) -> bool:
        return self._store.delete(TABLE, name)

    def list(self) -> builtins.list[TokenInfo]:
        """Every stored token, expired ones included, by name."""
        infos = (_info(doc) for doc in self._store.all(TABLE))
        return sorted((i for i in infos if i is not None), key=lambda i: i.name)

    def _by_hash(self) -> dict[str, TokenInfo]:
        # Revision first, documents second: if another process writes in between, the index is
        # newer than its revision and is rebuilt once more next time, never the reverse.
        revision = self._store.revision()
        index = self._index
        if index is None or index[0] != revision:
            by_hash = {}
            for doc in self._store.all(TABLE):
                info = _info(doc)
                if info is not None:
                    by_hash[doc["sha256"]] = info
            index = (revision, by_hash)
            self._index = index
        return index[1]


def _digest(secret: str) -> str:
    # Plain SHA-256 rather than a slow password hash (bcrypt, scrypt): the secret has 256 bits
    # from secrets.token_urlsafe, so there is nothing to brute-force, and every API request
    # verifies a token, which a slow KDF would make cost tens of milliseconds on the gateway.
    return hashlib.sha256(secret.encode()).hexdigest()


def _info(doc: dict[str, Any]) -> TokenInfo | None:
    try:
        expires = doc["expires_at"]
        info = TokenInfo(name=doc["id"], role=doc["role"],
                         created_at=datetime.fromisoformat(doc["created_at"]),
                         expires_at=None if expires is None else datetime.fromisoformat(expires),
                         last4=doc.get("last4", ""))
        if not isinstance(doc["sha256"], str):
            raise TypeError("sha256 is not a string")
    except (KeyError, TypeError, ValueError) as exc:
        log.warning("ignoring stored token %r: %s", doc.get("id"), exc)
        return None
    return info
