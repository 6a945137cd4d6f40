"""Wrong passwords by client address (controller.platform.accounts.AddressThrottle): the
limit within the window, the oldest failure leaving it, and a bounded memory."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from controller.platform.accounts import (
    ADDRESS_FAILURES,
    ADDRESS_WINDOW,
    ADDRESSES_KEPT,
    AddressThrottle,
)

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
