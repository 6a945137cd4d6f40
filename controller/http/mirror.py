"""The front process's copy of the controller's ``GET /status`` (controller.http.front).

Every dashboard polls /status; the front answers it from this copy, so that the polling never
reaches the coordinators' process. The copy is refreshed with ``If-None-Match``: the controller
answers 304 unless what /status shows changed or its own copy is a second old
(controller.http.routes_status).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from controller.http.proxy import UpstreamProxy

log = logging.getLogger(__name__)

STATUS_PATH = "/api/v1/status"
# How old the mirror may get before a request triggers a refresh in the background. The
# controller answers a refresh with 304 unless what /status shows changed or its copy is a
# second old (controller.http.routes_status), so this costs it a few cheap requests a second.
MIRROR_REFRESH_S = 0.25
# A controller that does not answer a refresh in this long is not well; a copy older than
# MIRROR_MAX_AGE_S is not served (the request waits for a refresh, else gets 503), so a hung
# controller never shows as a frozen "all fine".
MIRROR_TIMEOUT_S = 2.0
MIRROR_MAX_AGE_S = 3.0


class StatusMirror:
    """The controller's last ``GET /status`` body, refreshed with ``If-None-Match``.

    Fetched at once (the request waits) when there is none yet, when it is older than
    ``max_age_s`` or after a change forwarded through this process (a client that just made a
    change sees it in its next /status). In the background, while requests get the copy at
    hand, when the copy is older than ``refresh_s``: what changes otherwise (the lights on
    their own, the CLI, the air) shows within that. Not on every change of storage: a burst of
    writes would have the controller build /status again for each. A refresh carries the
    credentials of the request that needed it, already checked here; the body does not depend
    on who asks.
    """

    def __init__(self, proxy: UpstreamProxy, *, refresh_s: float = MIRROR_REFRESH_S,
                 max_age_s: float = MIRROR_MAX_AGE_S, timeout_s: float = MIRROR_TIMEOUT_S,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._proxy = proxy
        self._refresh_s = refresh_s
        self._max_age_s = max_age_s
        self._timeout_s = timeout_s
        self._monotonic = monotonic
        self.body: bytes | None = None
        self.etag: str | None = None
        self.unreachable = False  # the last refresh got no answer at all
        self._fetched_mono = 0.0
        self._stale = True
        self._refreshing: asyncio.Task[None] | None = None
        self.refreshes = 0
        self.not_modified = 0

    def invalidate(self) -> None:
        self._stale = True

    async def current(self, credentials: dict[str, str]) -> bytes | None:
        """The body to answer with, or None when the controller gave none (``unreachable``
        tells whether it answered at all)."""
        age_s = self._monotonic() - self._fetched_mono
        if self.body is None or self._stale or age_s > self._max_age_s:
            await self._refresh_once(credentials)
        elif age_s > self._refresh_s:
            self._start_refresh(credentials)
        return self.body

    def _start_refresh(self, credentials: dict[str, str]) -> asyncio.Task[None]:
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.create_task(self._refresh(credentials),
                                                   name="status-mirror")
        return self._refreshing

    async def _refresh_once(self, credentials: dict[str, str]) -> None:
        # One refresh in flight at a time; every request that needs it waits for that one.
        await asyncio.shield(self._start_refresh(credentials))
        if self._stale:  # the change came while that one was in flight: once more
            await asyncio.shield(self._start_refresh(credentials))

    async def _refresh(self, credentials: dict[str, str]) -> None:
        self._stale = False
        headers = dict(credentials)
        if self.etag is not None and self.body is not None:
            headers["if-none-match"] = self.etag
        try:
            response = await self._proxy.get(STATUS_PATH, headers, timeout_s=self._timeout_s)
        except Exception as exc:  # noqa: BLE001 - no answer of any kind: say 503, try again
            if not self.unreachable:
                log.warning("api: the controller does not answer GET /status: %r", exc)
            self.body, self.unreachable = None, True
            return
        if self.unreachable:
            log.info("api: the controller answers GET /status again")
        self.unreachable = False
        self._fetched_mono = self._monotonic()
        if response.status_code == 304:
            self.not_modified += 1
        elif response.status_code == 200:
            self.body, self.etag = response.content, response.headers.get("etag")
            self.refreshes += 1
        else:  # its own answer (say, the token was revoked meanwhile): let it give it
            self.body = self.etag = None
