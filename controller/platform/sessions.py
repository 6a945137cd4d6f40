"""Browser sessions of people signed in with a password (controller.platform.users).

A session is a random secret in an HttpOnly, SameSite=Strict cookie: the page's script never
sees it, and another site cannot send it. Only its SHA-256 is stored, as for tokens, so a copy
of the storage signs nobody in. Each session also has a CSRF secret that the page reads from
``GET /api/v1/session`` and sends back in the ``X-CSRF-Token`` header with every change: a
form on another site can make the browser send the cookie, never that header (the double
check behind SameSite, for browsers that do not honour it).

What a session may do is read from the person's account on every request, never stored in the
session: a new role, a disabled account or a new password count at once. A password change
ends every session opened before it (the person's current one is replaced by a new one), and
"sign out everywhere" deletes them all.

Like tokens, sessions are checked both in the controller and in the front process, from the
shared storage, with an index rebuilt only when ``Store.revision()`` changes.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from controller.platform import documents as fields
from controller.platform.store import Store
from controller.platform.users import TABLE as USERS_TABLE
from controller.platform.users import User

log = logging.getLogger(__name__)

TABLE = "sessions"
COOKIE = "communectl_session"
CSRF_HEADER = "x-csrf-token"
# A week: a clerk signs in on her own phone once, not every morning; "sign out everywhere"
# and a password change end a session sooner.
LIFETIME = timedelta(days=7)
SECRET_PREFIX = "cms_"


@dataclass(frozen=True)
class Session:
    """A stored session. ``id`` is the SHA-256 of the cookie's secret."""

    id: str
    user: str
    csrf: str
    created_at: datetime
    expires_at: datetime

    @classmethod
    def from_doc(cls, doc: fields.Document) -> Session:
        return cls(id=fields.text(doc, "id"), user=fields.text(doc, "user"),
                   csrf=fields.text(doc, "csrf"), created_at=fields.moment(doc, "created_at"),
                   expires_at=fields.moment(doc, "expires_at"))

    def to_doc(self) -> dict[str, object]:
        return {"id": self.id, "user": self.user, "csrf": self.csrf,
                "created_at": self.created_at.isoformat(),
                "expires_at": self.expires_at.isoformat()}


@dataclass(frozen=True)
class SignedIn:
    """Who a live session belongs to, as the account says now."""

    name: str
    role: str
    csrf: str
    expires_at: datetime
    session_id: str

    def csrf_matches(self, sent: str) -> bool:
        return bool(sent) and hmac.compare_digest(sent.encode(), self.csrf.encode())


class SessionBook:
    def __init__(self, store: Store) -> None:
        self._store = store
        # (store revision, sessions by id, users by name), replaced as one tuple.
        self._index: tuple[tuple[int, ...], dict[str, Session], dict[str, User]] | None = None

    def open(self, user: User, *, now: datetime) -> tuple[str, SignedIn]:
        """A new session for ``user``; returns the cookie's secret (never stored)."""
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        session = Session(id=_digest(secret), user=user.name, csrf=secrets.token_urlsafe(24),
                          created_at=now, expires_at=now + LIFETIME)
        with self._store.transaction() as tables:
            for doc in tables.all(TABLE):  # expired ones go as new ones come
                if _expired(doc, now):
                    tables.delete(TABLE, doc["id"])
            tables.put(TABLE, session.to_doc())
        return secret, SignedIn(name=user.name, role=user.role, csrf=session.csrf,
                                expires_at=session.expires_at, session_id=session.id)

    def verify(self, secret: str, *, now: datetime, reread: bool = True) -> SignedIn | None:
        """The person behind a live session, or None (unknown, expired, ended by a password
        change, or the account is disabled or gone). ``reread=False`` answers from what was
        read last (by ``load``), as TokenRegistry.verify."""
        if not isinstance(secret, str) or not secret.startswith(SECRET_PREFIX):
            return None
        index = self._index
        if reread or index is None:
            index = self._current()
        _, sessions, users = index
        session = sessions.get(_digest(secret))
        if session is None or now >= session.expires_at:
            return None
        user = users.get(session.user)
        if user is None or user.disabled or session.created_at < user.password_changed_at:
            return None
        return SignedIn(name=user.name, role=user.role, csrf=session.csrf,
                        expires_at=session.expires_at, session_id=session.id)

    def index_is_current(self) -> bool:
        index = self._index
        return index is not None and index[0] == self._store.revision()

    def load(self) -> None:
        self._current()

    def close(self, session_id: str) -> None:
        self._store.delete(TABLE, session_id)

    def close_all(self, user: str) -> int:
        """Ends every session of ``user``; returns how many there were."""
        with self._store.transaction() as tables:
            ended = [doc["id"] for doc in tables.all(TABLE) if doc.get("user") == user]
            for doc_id in ended:
                tables.delete(TABLE, doc_id)
        return len(ended)

    def _current(self) -> tuple[tuple[int, ...], dict[str, Session], dict[str, User]]:
        # Revision first, documents second (as TokenRegistry): a write in between makes the
        # index newer than its revision, and it is read once more next time.
        revision = self._store.revision()
        index = self._index
        if index is None or index[0] != revision:
            index = (revision, _sessions(self._store.all(TABLE)),
                     _users(self._store.all(USERS_TABLE)))
            self._index = index
        return index


def _sessions(docs: Sequence[fields.Document]) -> dict[str, Session]:
    sessions = {}
    for doc in docs:
        try:
            session = Session.from_doc(doc)
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("ignoring a stored session: %s", exc)
            continue
        sessions[session.id] = session
    return sessions


def _users(docs: Sequence[fields.Document]) -> dict[str, User]:
    users = {}
    for doc in docs:
        try:
            user = User.from_doc(doc)
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("ignoring stored user %r: %s", doc.get("id"), exc)
            continue
        users[user.name] = user
    return users


def _expired(doc: fields.Document, now: datetime) -> bool:
    try:
        return now >= fields.moment(doc, "expires_at")
    except (KeyError, TypeError, ValueError):
        return True


def _digest(secret: str) -> str:
    # Plain SHA-256, as for tokens: the secret has 256 random bits, nothing to brute-force.
    return hashlib.sha256(secret.encode()).hexdigest()
