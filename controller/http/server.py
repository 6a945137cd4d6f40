"""uvicorn as both our processes run it (controller.app's API, controller.http.front).

Light on purpose: the front imports it, and must not import the coordinators or FastAPI.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator
from email.utils import formatdate
from typing import Any

import uvicorn

# uvicorn's own loop wakes ten times a second to refresh its Date header and look at
# ``should_exit``; this one wakes once a second, and only while a connection is open.
TICK_S = 1.0


class _Connections(set[Any]):
    """uvicorn's set of open connections, which tells when one is added (a protocol adds
    itself when a client connects)."""

    def __init__(self, on_add: Callable[[], None]) -> None:
        super().__init__()
        self._on_add = on_add

    def add(self, connection: Any) -> None:
        super().add(connection)
        self._on_add()


class ApiServer(uvicorn.Server):
    """uvicorn without its signal handling, and quiet when nobody is connected.

    - No signal handlers: our own code decides when it stops (uvicorn's handlers re-raise the
      signal after its shutdown and skip ours).
    - At rest no timer: uvicorn's ``main_loop`` polls every 0.1 s (for the Date header,
      ``should_exit``, and ``limit_max_requests`` and ``callback_notify``, which we do not
      use). Here it sleeps until a client connects or ``should_exit`` is set (from the loop
      or any other thread), and ticks once a second while connections are open. The Date
      header is brought up to date when a client connects, so the first answer after a quiet
      hour does not carry that hour's date.
    """

    def __init__(self, config: uvicorn.Config) -> None:
        self._exit = False
        self._wake: Callable[[], None] | None = None
        self._date_at = float("-inf")
        super().__init__(config)
        # Before any connection: each protocol takes the set when it is made.
        self.server_state.connections = _Connections(self._connected)

    @property
    def should_exit(self) -> bool:
        return self._exit

    @should_exit.setter
    def should_exit(self, value: bool) -> None:
        self._exit = value
        wake = self._wake
        if value and wake is not None:
            wake()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def _connected(self) -> None:
        if time.time() - self._date_at >= TICK_S:
            self._refresh_date()
        wake = self._wake
        if wake is not None:
            wake()

    def _refresh_date(self) -> None:
        self._date_at = time.time()
        date = [(b"date", formatdate(self._date_at, usegmt=True).encode())] \
            if self.config.date_header else []
        self.server_state.default_headers = date + self.config.encoded_headers

    async def main_loop(self) -> None:
        loop = asyncio.get_running_loop()
        woken = asyncio.Event()

        def wake() -> None:  # from this loop's thread or another one
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is loop:
                woken.set()
            else:
                loop.call_soon_threadsafe(woken.set)

        self._wake = wake
        try:
            while not self._exit:
                self._refresh_date()
                woken.clear()
                if self.server_state.connections:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(TICK_S):
                            await woken.wait()
                else:
                    await woken.wait()
        finally:
            self._wake = None


def event_loop_runner() -> Callable[[Any], None]:
    """uvloop's runner when installed, as uvicorn itself picks it: fewer cycles per request
    (libuv's event loop and socket handling in C); else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run
    return uvloop.run
