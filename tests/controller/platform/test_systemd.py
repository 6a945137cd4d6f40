"""The notify protocol against a real datagram socket, as systemd listens on one."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.platform import systemd


@pytest.fixture
def listener(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.settimeout(2)
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        yield sock


def test_ready_and_status_reach_systemd(listener: socket.socket) -> None:
    assert systemd.notify("READY=1", "STATUS=serving") is True
    assert listener.recv(4096) == b"READY=1\nSTATUS=serving"


def test_the_abstract_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"communectl-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert systemd.notify("WATCHDOG=1")
        assert sock.recv(100) == b"WATCHDOG=1"


def test_outside_systemd_nothing_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert systemd.notify("READY=1") is False


@pytest.mark.parametrize(("usec", "pid", "interval"), [
    ("30000000", None, 15.0), ("30000000", "self", 15.0), ("30000000", "1", None),
    (None, None, None), ("soon", None, None)])
def test_watchdog_interval_is_half_the_timeout(monkeypatch: pytest.MonkeyPatch,
                                               usec: str | None, pid: str | None,
                                               interval: float | None) -> None:
    for key, value in (("WATCHDOG_USEC", usec),
                       ("WATCHDOG_PID", str(os.getpid()) if pid == "self" else pid)):
        if value is None:
            monkeypatch.delenv(key, raising=False)
        else:
            monkeypatch.setenv(key, value)
    assert systemd.watchdog_interval_s() == interval


async def test_the_watchdog_is_fed_only_while_healthy(listener: socket.socket) -> None:
    health = iter([True, False, False, True])
    sleeps = 0

    async def fake_sleep(seconds: float) -> None:
        nonlocal sleeps
        sleeps += 1
        if sleeps == 4:
            raise StopAsyncIteration

    with pytest.raises(StopAsyncIteration):
        await systemd.watchdog(lambda: next(health), 15.0, sleep=fake_sleep)
    listener.settimeout(0.2)
    pings = [listener.recv(100), listener.recv(100)]
    assert pings == [b"WATCHDOG=1", b"WATCHDOG=1"]
    with pytest.raises(TimeoutError):
        listener.recv(100)
