"""Fixtures shared by every test package: external programs and serial pty pairs for Modbus RTU."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

SOCAT_START_TIMEOUT_S = 5.0


async def eventually(condition: Callable[[], bool], what: str = "", *,
                     timeout_s: float = 10.0) -> None:
    """Wait (real time) until ``condition()`` holds, for I/O to land: a deadline, not a
    timing assertion. Fails naming ``what`` when it does not come within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout_s:g} s: {what or condition}"
        await asyncio.sleep(0.01)


def require_program(name: str) -> str:
    """The path of ``name``; a missing program fails the test on CI and skips it elsewhere.

    CI (``CI=true``) must prove the integration tests ran; a developer's laptop without socat
    or mosquitto should still run everything else.
    """
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (deploy/system-deps.sh installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture
def socat_pty_pair(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two pseudo-terminals joined by socat, like two ends of an RS-485 line: (a, b)."""
    socat = require_program("socat")
    end_a, end_b = tmp_path / "pty-a", tmp_path / "pty-b"
    log_path = tmp_path / "socat.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [socat, "-d", "-d", f"pty,raw,echo=0,link={end_a}", f"pty,raw,echo=0,link={end_b}"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log_file)
    try:
        _wait_for_links(process, [end_a, end_b], log_path)
        yield str(end_a), str(end_b)
    finally:
        process.terminate()
        try:
            process.wait(timeout=SOCAT_START_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for_links(process: subprocess.Popen[bytes], links: list[Path], log_path: Path) -> None:
    deadline = time.monotonic() + SOCAT_START_TIMEOUT_S
    while not all(link.exists() for link in links):
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"socat did not create {links}: {log_path.read_text(errors='replace')}")
        time.sleep(0.01)


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[int]:
    """A real mosquitto broker on a free loopback port; yields the port."""
    import socket

    program = require_program("mosquitto")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "mosquitto.conf"
    config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n"
                      "persistence false\nmax_queued_messages 10000\n")
    log_path = tmp_path / "mosquitto.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen([program, "-c", str(config)], stdin=subprocess.DEVNULL,
                                   stdout=log_file, stderr=subprocess.STDOUT)
    try:
        _wait_for_port(process, port, log_path)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=SOCAT_START_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for_port(process: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
    import socket

    deadline = time.monotonic() + SOCAT_START_TIMEOUT_S
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"mosquitto did not start: {log_path.read_text(errors='replace')}")
            time.sleep(0.02)
