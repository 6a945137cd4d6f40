"""People's accounts: a user name, a role and a password kept as an argon2id hash.

Bearer tokens (controller.platform.tokens) stay for machines; commune staff sign in with a name
and a password. Roles are the tokens' (viewer < operator < technician < admin).

Guessing is slowed and then stopped per account: each failed sign-in since the last success
makes the next attempt wait longer (``delay_after``: 0 s for the first three, then doubling
from 1 s up to 30 s), and ``LOCK_AFTER`` failures in a row lock the account for
``LOCK_FOR``. The counters are stored with the account, so a restart does not reset them. A
disabled account cannot sign in at all, until an admin enables it or sets a new password.

Hashes are made by argon2-cffi's ``PasswordHasher`` with its defaults (argon2id, RFC 9106's
low-memory profile: 64 MiB, 3 passes, 4 lanes), about 50 ms on a Raspberry Pi 4. A hash made
with older parameters is replaced by a current one at the next successful sign-in.
"""

from __future__ import annotations

import builtins
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from controller.errors import Conflict, InvalidInput, NotFound
from controller.platform import documents as fields
from controller.platform.store import Store
from controller.platform.tokens import ROLES

if TYPE_CHECKING:
    # Imported where a hash is made or checked: the front process reads accounts (to check
    # sessions, controller.platform.sessions) and never hashes, so it does not load argon2.
    from argon2 import PasswordHasher

TABLE = "users"
MIN_PASSWORD_CHARS = 10
MAX_PASSWORD_CHARS = 256  # argon2 takes any length; this bounds the work one attempt costs
FREE_ATTEMPTS = 3  # failures in a row that cost no wait (a mistyped password or two)
MAX_DELAY = timedelta(seconds=30)
LOCK_AFTER = 5  # failures in a row that lock the account (then only an admin or time helps)
LOCK_FOR = timedelta(minutes=15)
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,31}")

SignInOutcome = Literal["ok", "wrong", "unknown", "disabled", "locked", "wait"]


def delay_after(failures: int) -> timedelta:
    """How long the next attempt must wait after ``failures`` failures in a row."""
    if failures < FREE_ATTEMPTS:
        return timedelta(0)
    return min(timedelta(seconds=2 ** (failures - FREE_ATTEMPTS)), MAX_DELAY)


@dataclass(frozen=True)
class User:
    name: str
    role: str
    password_hash: str
    created_at: datetime
    password_changed_at: datetime
    disabled: bool = False
    failures: int = 0  # failed sign-ins since the last success
    last_failure_at: datetime | None = None
    locked_until: datetime | None = None

    @classmethod
    def from_doc(cls, doc: fields.Document) -> User:
        disabled = doc.get("disabled", False)
        if not isinstance(disabled, bool):
            raise TypeError(f"disabled: expected true or false, found {disabled!r}")
        return cls(name=fields.text(doc, "id"), role=fields.text(doc, "role"),
                   password_hash=fields.text(doc, "password_hash"),
                   created_at=fields.moment(doc, "created_at"),
                   password_changed_at=fields.moment(doc, "password_changed_at"),
                   disabled=disabled, failures=fields.whole(doc, "failures", 0),
                   last_failure_at=fields.optional_moment(doc, "last_failure_at"),
                   locked_until=fields.optional_moment(doc, "locked_until"))

    def to_doc(self) -> dict[str, object]:
        return {"id": self.name, "role": self.role, "password_hash": self.password_hash,
                "created_at": self.created_at.isoformat(),
                "password_changed_at": self.password_changed_at.isoformat(),
                "disabled": self.disabled, "failures": self.failures,
                "last_failure_at": fields.iso(self.last_failure_at),
                "locked_until": fields.iso(self.locked_until)}

    def is_locked(self, *, at: datetime) -> bool:
        return self.locked_until is not None and at < self.locked_until

    def next_attempt_at(self) -> datetime | None:
        """The earliest moment the next attempt is weighed at all (None: at once)."""
        if self.last_failure_at is None or not delay_after(self.failures):
            return None
        return self.last_failure_at + delay_after(self.failures)


@dataclass(frozen=True)
class SignIn:
    """What a sign-in attempt came to. ``retry_at`` is set for "wait" and "locked"."""

    outcome: SignInOutcome
    user: User | None = None
    retry_at: datetime | None = None


class UserBook:
    def __init__(self, store: Store, hasher: PasswordHasher | None = None) -> None:
        self._store = store
        self._given_hasher = hasher

    @functools.cached_property
    def _hasher(self) -> PasswordHasher:
        from argon2 import PasswordHasher
        return self._given_hasher or PasswordHasher()

    def create(self, *, name: str, role: str, password: str, now: datetime) -> User:
        if not _NAME.fullmatch(name):
            raise InvalidInput("use 1-32 lower-case letters, digits, '.', '_' or '-', "
                               "starting with a letter or digit", parts=("name",))
        _check_role(role)
        user = User(name=name, role=role, password_hash=self._hash(password), created_at=now,
                    password_changed_at=now)
        if not self._store.insert_new(TABLE, user.to_doc()):
            raise Conflict(f"a user named {name!r} already exists", parts=("name",))
        return user

    def get(self, name: str) -> User | None:
        doc = self._store.get(TABLE, name)
        return None if doc is None else User.from_doc(doc)

    def list(self) -> builtins.list[User]:
        return sorted((User.from_doc(doc) for doc in self._store.all(TABLE)),
                      key=lambda user: user.name)

    def set_password(self, name: str, password: str, *, now: datetime) -> User:
        """A new password; it also enables a disabled account and clears a lock."""
        password_hash = self._hash(password)
        return self._change(name, lambda user: replace(
            user, password_hash=password_hash, password_changed_at=now, disabled=False,
            failures=0, last_failure_at=None, locked_until=None))

    def set_role(self, name: str, role: str) -> User:
        _check_role(role)
        return self._change(name, lambda user: replace(user, role=role))

    def disable(self, name: str) -> User:
        return self._change(name, lambda user: replace(user, disabled=True))

    def enable(self, name: str) -> User:
        """Undo ``disable``, keeping the password; a lock from failed sign-ins stays."""
        return self._change(name, lambda user: replace(user, disabled=False))

    def sign_in(self, name: str, password: str, *, now: datetime) -> SignIn:
        """Check a password; records the failure or the success on the account."""
        user = self.get(name)
        if user is None:
            # The same work as for a real account: the answer's timing does not tell
            # whether the name exists.
            self._verify(_unknown_user_hash(), password)
            return SignIn("unknown")
        if user.disabled:
            return SignIn("disabled", user)
        if user.is_locked(at=now):
            return SignIn("locked", user, retry_at=user.locked_until)
        next_at = user.next_attempt_at()
        if next_at is not None and now < next_at:
            return SignIn("wait", user, retry_at=next_at)
        if not self._verify(user.password_hash, password):
            failures = user.failures + 1
            locked_until = now + LOCK_FOR if failures >= LOCK_AFTER else None
            failed = self._change(name, lambda u: replace(
                u, failures=failures, last_failure_at=now, locked_until=locked_until))
            return SignIn("locked" if locked_until else "wrong", failed, retry_at=locked_until)
        rehash = self._hasher.check_needs_rehash(user.password_hash)
        password_hash = self._hash(password) if rehash else user.password_hash
        signed_in = self._change(name, lambda u: replace(
            u, password_hash=password_hash, failures=0, last_failure_at=None,
            locked_until=None))
        return SignIn("ok", signed_in)

    def _change(self, name: str, change: Callable[[User], User]) -> User:
        doc = self._store.update(TABLE, name, lambda doc: change(User.from_doc(doc)).to_doc())
        if doc is None:
            raise NotFound.of("user", name)
        return User.from_doc(doc)

    def _hash(self, password: str) -> str:
        if not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
            raise InvalidInput(f"a password has {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} "
                               f"characters; this one has {len(password)}",
                               parts=("password",))
        return self._hasher.hash(password)

    def _verify(self, password_hash: str, password: str) -> bool:
        if len(password) > MAX_PASSWORD_CHARS:
            return False
        from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
        try:
            return self._hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False



def _check_role(role: str) -> None:
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r}; roles are {', '.join(ROLES)}",
                           parts=("role",))


@functools.cache
def _unknown_user_hash() -> str:
    """A hash of nothing anyone can type, checked for unknown names (see sign_in); made on
    first use, not at import: a hash takes 64 MiB for a moment."""
    from argon2 import PasswordHasher
    return PasswordHasher().hash("\0 no such user \0")
