"""The public HTTP listener's process (controller.http.front), started and watched from the
coordinators' loop.

The controller binds the public port itself (a busy port is its clear error) and hands the
socket to the front, which answers ``GET /status`` from a mirror and forwards the rest to the
API on a Unix socket in the controller. Should the front die, it is started again within a
second on the same socket: the kernel keeps queueing connections meanwhile, so a phone sees a
slow answer, not a refused one, and the lights and the radio never notice.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import socket
import sys
import time
from pathlib import Path

from controller.errors import StartupError
from controller.http.limits import BodyLimits

log = logging.getLogger(__name__)

READY_TIMEOUT_S = 30.0  # its imports take a few seconds on a Raspberry Pi 3 with a slow SD card
STOP_TIMEOUT_S = 5.0
RESTART_DELAY_S = 1.0
RESTART_DELAY_MAX_S = 30.0
STABLE_S = 60.0  # a front that ran this long is restarted at once again when it dies


class FrontProcess:
    def __init__(self, *, listener: socket.socket, upstream: str, storage: Path,
                 body_limits: BodyLimits) -> None:
        self.listener = listener
        self.upstream = upstream
        self.storage = storage
        self.body_limits = body_limits
        self.process: asyncio.subprocess.Process | None = None
        self.restarts = 0
        self._stopping = False

    async def start(self) -> None:
        """Start the front and wait until it accepts connections."""
        await self.spawn()
        await self.wait_ready()

    async def spawn(self) -> None:
        """Start the front without waiting: its imports (about half a second) overlap the
        controller's own start-up. It answers nothing before the API is up, and needs
        nothing of it until the first request."""
        fd = self.listener.fileno()
        self.process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "controller.http.front", "--listen-fd", str(fd),
            "--upstream", self.upstream, "--storage", str(self.storage),
            "--body-limits", json.dumps(dataclasses.asdict(self.body_limits)),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, pass_fds=(fd,),
            # Its own session: a Ctrl-C in the terminal reaches the controller only, which
            # then stops the front in its own order (first thing: no new requests).
            start_new_session=True)

    async def wait_ready(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        try:
            async with asyncio.timeout(READY_TIMEOUT_S):
                line = await self.process.stdout.readline()
        except TimeoutError:
            line = b""
        if line.strip() != b"ready":
            await self._kill()
            raise StartupError(
                f"api: the HTTP front process did not start (exit status "
                f"{self.process.returncode}); its error is in the log above")
        log.info("api: front process %d serving", self.process.pid)

    async def supervise(self) -> None:
        """Until ``stop``: start the front again whenever it exits, waiting longer after each
        start that fails or lives less than ``STABLE_S`` (a broken installation must not
        spin), and never giving up: the lights and the radio go on either way."""
        delay_s = RESTART_DELAY_S
        while True:
            assert self.process is not None
            started = time.monotonic()
            code = await self.process.wait()
            if self._stopping:
                return
            if time.monotonic() - started >= STABLE_S:
                delay_s = RESTART_DELAY_S
            log.error("api: the HTTP front process exited with status %s; starting it again "
                      "in %.0f s", code, delay_s)
            while True:
                await asyncio.sleep(delay_s)
                delay_s = min(delay_s * 2, RESTART_DELAY_MAX_S)
                if self._stopping:
                    return
                self.restarts += 1
                try:
                    await self.start()
                except (StartupError, OSError) as exc:  # OSError: fork, EMFILE, no python
                    log.error("api: %s; trying again in %.0f s", exc, delay_s)
                    continue
                break

    async def stop(self) -> None:
        """Stop accepting requests: close the front's stdin and wait for it to finish."""
        self._stopping = True
        process = self.process
        if process is None or process.returncode is not None:
            return
        assert process.stdin is not None
        process.stdin.close()
        try:
            async with asyncio.timeout(STOP_TIMEOUT_S):
                await process.wait()
        except TimeoutError:
            log.warning("api: front process %d did not stop in %.0f s; killing it",
                        process.pid, STOP_TIMEOUT_S)
            await self._kill()

    async def _kill(self) -> None:
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            await self.process.wait()
