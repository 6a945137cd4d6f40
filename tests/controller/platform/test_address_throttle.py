"""Wrong passwords by client address (controller.platform.accounts.AddressThrottle): the
limit within the window, the oldest failure leaving it, and a bounded memory."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from controller.platform.accounts import (
    ADDRESS_FAILURES,
    ADDRESS_WINDOW,
    ADDRESSES_KEPT,
    AccountService,
    AddressThrottle,
    SignInRefused,
)
from controller.platform.clock import FakeClock
from controller.platform.users import SignIn

T0 = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


def test_an_address_waits_from_its_limit_until_its_oldest_failure_is_old() -> None:
    throttle = AddressThrottle()
    for n in range(ADDRESS_FAILURES - 1):
        throttle.failed("10.0.0.66", T0 + timedelta(seconds=n))
    assert throttle.retry_at("10.0.0.66", T0 + timedelta(minutes=1)) is None
    throttle.failed("10.0.0.66", T0 + timedelta(minutes=1))
    assert throttle.retry_at("10.0.0.66", T0 + timedelta(minutes=1)) == T0 + ADDRESS_WINDOW
    assert throttle.retry_at("10.0.0.7", T0 + timedelta(minutes=1)) is None
    assert throttle.retry_at("10.0.0.66", T0 + ADDRESS_WINDOW) is None  # the first is out


def test_the_addresses_seen_longest_ago_are_forgotten_first() -> None:
    throttle = AddressThrottle()
    for _ in range(ADDRESS_FAILURES):
        throttle.failed("10.0.0.66", T0)
    for n in range(ADDRESSES_KEPT):
        throttle.failed(f"192.0.2.{n}", T0)
    assert len(throttle._failures) == ADDRESSES_KEPT
    assert throttle.retry_at("10.0.0.66", T0) is None


def test_attempts_sent_all_at_once_each_count_before_their_hash() -> None:
    """200 wrong sign-ins in parallel from one address: they queue for the one hash at a
    time, and only the first ADDRESS_FAILURES of them are hashed."""
    hashed: list[str] = []

    class Users:
        def sign_in(self, name: str, password: str, *, now: datetime) -> SignIn:
            hashed.append(name)
            return SignIn("unknown")

    async def scenario() -> list[str]:
        accounts = AccountService(users=Users(), sessions=None, trail=None,  # type: ignore[arg-type]
                                  clock=FakeClock(T0))
        outcomes = []

        async def attempt(n: int) -> None:
            try:
                await accounts.sign_in(f"user{n}", "guess", address="203.0.113.9")
            except SignInRefused as refused:
                outcomes.append(refused.attempt.outcome)

        await asyncio.gather(*(attempt(n) for n in range(200)))
        return outcomes

    outcomes = asyncio.run(scenario())
    assert len(hashed) == ADDRESS_FAILURES
    assert outcomes.count("unknown") == ADDRESS_FAILURES
    assert outcomes.count("wait") == 200 - ADDRESS_FAILURES
