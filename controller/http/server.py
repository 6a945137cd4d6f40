"""uvicorn as both our processes run it (controller.app's API, controller.http.front).

Light on purpose: the front imports it, and must not import the coordinators or FastAPI.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn


class ApiServer(uvicorn.Server):
    """uvicorn without its signal handling: our own code decides when it stops (LIBRARIES.md:
    its handlers re-raise the signal after its shutdown and skip ours)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def event_loop_runner() -> Callable[[Any], None]:
    """uvloop's runner when installed, as uvicorn itself picks it: fewer cycles per request
    (libuv's event loop and socket handling in C); else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run
    return uvloop.run
