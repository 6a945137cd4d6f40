"""People's accounts as use cases: signing in and out, one's own password, and an admin's
management of accounts. The HTTP routes (controller.http.routes_session) call only this.

Password hashing (argon2id) costs tens of milliseconds and 64 MiB for a moment, and every
change here is an fsync'd write: all of it runs in a worker thread, off the coordinators' loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from controller.errors import Conflict, InvalidInput, NotFound
from controller.platform.audit import Actor, AuditTrail
from controller.platform.clock import Clock
from controller.platform.sessions import SessionBook, SignedIn
from controller.platform.users import SignIn, User, UserBook

log = logging.getLogger(__name__)
T = TypeVar("T")


# Refused sign-ins from one client address within ADDRESS_WINDOW beyond which its sign-ins wait
# until the oldest of them is out of the window. The per-account delays and lock do not see a
# guessing run that tries each user name a few times, nor someone locking every account from one
# phone; this does, and refuses before the password is hashed.
ADDRESS_FAILURES = 20
ADDRESS_WINDOW = timedelta(minutes=15)
# Addresses remembered at most (the ones seen longest ago are forgotten first): a flood from
# many addresses cannot grow this without bound.
ADDRESSES_KEPT = 4096


class AddressThrottle:
    """Recent wrong passwords by client address, in memory (a restart forgets them; the
    per-account counters are the ones kept in storage)."""

    def __init__(self) -> None:
        self._failures: OrderedDict[str, deque[datetime]] = OrderedDict()

    def retry_at(self, address: str, now: datetime) -> datetime | None:
        """When ``address`` may try again, or None if it may now."""
        failures = self._recent(address, now)
        if failures is None or len(failures) < ADDRESS_FAILURES:
            return None
        return failures[0] + ADDRESS_WINDOW

    def succeeded(self, address: str, at: datetime) -> None:
        """The attempt counted at ``at`` had the right password: it is not a failure."""
        failures = self._failures.get(address)
        if failures is not None and at in failures:
            failures.remove(at)

    def failed(self, address: str, now: datetime) -> None:
        failures = self._recent(address, now)
        if failures is None:
            failures = self._failures[address] = deque(maxlen=ADDRESS_FAILURES)
        failures.append(now)
        if len(failures) == ADDRESS_FAILURES:
            log.warning("sign-ins from %s wait until %s: %d refused within %d minutes",
                        address, (failures[0] + ADDRESS_WINDOW).isoformat(timespec="seconds"),
                        ADDRESS_FAILURES, ADDRESS_WINDOW.total_seconds() // 60)
        self._failures.move_to_end(address)
        while len(self._failures) > ADDRESSES_KEPT:
            self._failures.popitem(last=False)

    def _recent(self, address: str, now: datetime) -> deque[datetime] | None:
        failures = self._failures.get(address)
        if failures is None:
            return None
        while failures and failures[0] <= now - ADDRESS_WINDOW:
            failures.popleft()
        if not failures:
            del self._failures[address]
            return None
        return failures


class SignInRefused(Exception):
    """A sign-in that did not succeed, with why (SignIn.outcome) and when to try again."""

    def __init__(self, attempt: SignIn) -> None:
        super().__init__(attempt.outcome)
        self.attempt = attempt


@dataclass(frozen=True)
class Opened:
    """A new session: the cookie's secret (to hand to the browser once) and who it is."""

    secret: str
    person: SignedIn


@dataclass(frozen=True)
class UserChange:
    role: str | None = None
    disabled: bool | None = None
    password: str | None = None


class AccountService:
    def __init__(self, *, users: UserBook, sessions: SessionBook, trail: AuditTrail,
                 clock: Clock) -> None:
        self._users = users
        self._sessions = sessions
        self._trail = trail
        self._clock = clock
        # One password hash at a time: each takes 64 MiB for a moment (argon2id), and a burst
        # of sign-ins, a flood or a dozen phones at 7 o'clock, must queue rather than take
        # gigabytes of a gateway's memory at once.
        self._one_hash_at_a_time = asyncio.Semaphore(1)
        self.addresses = AddressThrottle()

    async def sign_in(self, name: str, password: str, *, address: str | None = None) -> Opened:
        """A session for a right password; SignInRefused otherwise (nothing opened).
        ``address`` is the client's: too many wrong passwords from it make it wait."""
        now = self._clock.now()
        retry_at = None if address is None else self.addresses.retry_at(address, now)
        if retry_at is not None:
            # Logged once, when the address reached its limit (AddressThrottle.failed): not a
            # line per attempt of a guessing run.
            raise SignInRefused(SignIn("wait", retry_at=retry_at))
        if address is not None:
            # Counted before the hash and forgiven after a right password: attempts sent all
            # at once each take their place (they queue for the one hash at a time).
            self.addresses.failed(address, now)
        attempt = await self._hashing(self._users.sign_in, name, password, now=now)
        if attempt.outcome == "ok" and address is not None:
            self.addresses.succeeded(address, now)
        if attempt.outcome != "ok" or attempt.user is None:
            # Logged for the technician (a guessing run shows here), not audited: the audit
            # trail holds changes people made, and a refused sign-in changed nothing they chose.
            log.warning("sign-in refused for %r%s: %s", name,
                        "" if address is None else f" from {address}", attempt.outcome)
            raise SignInRefused(attempt)
        opened = await self._open(attempt.user)
        await self._trail.record(_actor(attempt.user), "session.open", attempt.user.name)
        return opened

    async def sign_out(self, person: SignedIn) -> None:
        await asyncio.to_thread(self._sessions.close, person.session_id)
        await self._trail.record(Actor(person.name, person.role), "session.close",
                                 person.name)

    async def sign_out_everywhere(self, person: SignedIn) -> int:
        ended = await asyncio.to_thread(self._sessions.close_all, person.name)
        await self._trail.record(Actor(person.name, person.role), "session.close_all",
                                 person.name, {"sessions": ended})
        return ended

    async def change_own_password(self, person: SignedIn, current: str, new: str) -> Opened:
        """Every session of the person ends; the one asking gets a new one."""
        now = self._clock.now()
        check = await self._hashing(self._users.sign_in, person.name, current, now=now)
        if check.outcome in ("wait", "locked"):
            raise SignInRefused(check)
        if check.outcome != "ok":
            raise InvalidInput("the current password is not right", parts=("current",))
        try:
            user = await self._hashing(self._users.set_password, person.name, new, now=now)
        except InvalidInput as exc:
            raise InvalidInput(exc.message, parts=("new",)) from exc
        await asyncio.to_thread(self._sessions.close_all, person.name)
        opened = await self._open(user)
        await self._trail.record(_actor(user), "user.password", user.name)
        return opened

    def list_users(self) -> list[User]:
        return self._users.list()

    async def create_user(self, actor: Actor, *, name: str, role: str, password: str) -> User:
        user = await self._hashing(self._create, name, role, password)
        await self._trail.record(actor, "user.create", name, {"role": role})
        return user

    async def change_user(self, actor: Actor, name: str, change: UserChange) -> User:
        """An admin's change to an account. The last admin who can sign in cannot be
        disabled or given a lower role: nobody could manage accounts from the page then."""
        user = self._users.get(name)
        if user is None:
            raise NotFound.of("user", name)
        demoted = change.role is not None and change.role != "admin"
        if user.role == "admin" and not user.disabled and (demoted or change.disabled) \
                and self._active_admins() == [user.name]:
            raise Conflict(f"{name!r} is the only admin who can sign in; make another admin "
                           "first", parts=("disabled" if change.disabled else "role",))
        now = self._clock.now()
        if change.password is not None:
            user = await self._hashing(self._users.set_password, name, change.password,
                                           now=now)
        if change.role is not None:
            user = await asyncio.to_thread(self._users.set_role, name, change.role)
        if change.disabled is True:
            user = await asyncio.to_thread(self._users.disable, name)
            await asyncio.to_thread(self._sessions.close_all, name)
        elif change.disabled is False and user.disabled:
            user = await asyncio.to_thread(self._users.enable, name)
        details = {key: value for key, value in (("role", change.role),
                                                 ("disabled", change.disabled))
                   if value is not None}
        if change.password is not None:
            details["password"] = "set"
        await self._trail.record(actor, "user.change", name, details)
        return user

    def _create(self, name: str, role: str, password: str) -> User:
        return self._users.create(name=name, role=role, password=password,
                                  now=self._clock.now())

    def _active_admins(self) -> list[str]:
        return [u.name for u in self._users.list() if u.role == "admin" and not u.disabled]

    async def _hashing(self, work: Callable[..., T], *args: object, **kwargs: object) -> T:
        """``work`` in a worker thread, one password hash at a time."""
        async with self._one_hash_at_a_time:
            return await asyncio.to_thread(work, *args, **kwargs)

    async def _open(self, user: User) -> Opened:
        secret, person = await asyncio.to_thread(self._sessions.open, user,
                                                 now=self._clock.now())
        return Opened(secret=secret, person=person)


def _actor(user: User) -> Actor:
    return Actor(name=user.name, role=user.role)
