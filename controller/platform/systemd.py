"""systemd's notify protocol in a few lines of socket code (docs/libraries.md, systemd).

``notify("READY=1")`` tells systemd (``Type=notify``) that the controller is up;
``watchdog(...)`` pings ``WATCHDOG=1`` at half of ``WatchdogSec`` but only while the health
check passes, so that a controller whose loops have stalled is restarted by systemd rather
than kept alive by a timer that still runs.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Awaitable, Callable


def notify(*fields: str) -> bool:
    """Send ``fields`` ("READY=1", "STATUS=...") to $NOTIFY_SOCKET; False when not under
    systemd (or the socket is gone)."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):  # the abstract namespace
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(address)
            sock.sendall("\n".join(fields).encode())
    except OSError:
        return False
    return True


def watchdog_interval_s() -> float | None:
    """Half of the watchdog timeout systemd set for this process, or None."""
    usec = os.environ.get("WATCHDOG_USEC")
    pid = os.environ.get("WATCHDOG_PID")
    if not usec or (pid and pid.isdigit() and int(pid) != os.getpid()):
        return None
    try:
        return int(usec) / 1_000_000 / 2
    except ValueError:
        return None


async def watchdog(is_healthy: Callable[[], bool], interval_s: float, *,
                   sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
    """Ping the watchdog every ``interval_s`` while ``is_healthy()``; skip pings otherwise."""
    while True:
        if is_healthy():
            notify("WATCHDOG=1")
        await sleep(interval_s)
