"""The running controller: one task group with the coordinators and the API, and a stop that
leaves the hardware and the storage in a known state.

HTTP comes in through a process of its own (controller.http.front, watched by
controller.http.front_process) on the port this process binds; it forwards what it does not answer
itself to the API, which runs here, on the coordinators' own event loop, on a Unix socket
(``api.front_process = false``: the API serves the port itself, on the same loop). One loop: a
handler calls the coordinators directly, and nothing is read across threads
(docs/architecture.md, "Processes and threads").

Shutdown order on SIGTERM/SIGINT: stop accepting HTTP requests, wait for every device's
transaction in flight (the coordinators hold a device's lock across a read-modify-write), then
cancel the coordinators and close the buses. uvicorn's own signal handlers are disabled
(docs/libraries.md, uvicorn: they re-raise the signal after uvicorn's shutdown and skip ours).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import secrets
import signal
import socket
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack

import uvicorn

from controller.config import Config
from controller.errors import StartupError
from controller.http.app import body_limits, create_app
from controller.http.front_process import FrontProcess
from controller.http.server import ApiServer
from controller.platform import systemd
from controller.platform.clock import Clock
from controller.platform.memory import settle_after_start
from controller.platform.store import Store
from controller.runtime import Runtime, build_runtime

log = logging.getLogger(__name__)


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind before anything starts, so a busy port is a clear error instead of uvicorn's
    SystemExit(3) in the middle of the task group."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it on Linux. uvicorn sets it only on sockets it makes
    # itself; without it a response written in two parts (headers, body) waits for the
    # client's delayed ACK: 40 ms per request, about 230 requests/s at 10 connections.
    if family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        reason = "is already in use" if exc.errno == errno.EADDRINUSE else f"failed: {exc}"
        raise StartupError(f"api: cannot listen on {host}:{port}: the port {reason}") from exc
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def bind_upstream_socket() -> tuple[socket.socket, str]:
    """The API's Unix socket for the front process, named at random in Linux's abstract
    namespace ("@name"): nothing on disk to clean up after a crash or a SIGKILL. A local user
    can connect to it as to the public port; the API checks a token on every request."""
    name = f"communectl-api-{os.getpid()}-{secrets.token_hex(6)}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind("\0" + name)
    sock.listen(128)
    return sock, "@" + name


async def run_controller(config: Config, clock: Clock, *, demo: bool = False,
                         on_ready: Callable[[Runtime, str], Awaitable[None] | None] | None = None,
                         stop: asyncio.Event | None = None) -> None:
    """Run until ``stop`` is set or SIGTERM/SIGINT arrives."""
    stop = stop or asyncio.Event()
    # The data folder first: the front process reads tokens from it, and a folder that cannot
    # be made is the controller's one-line StorageError, not a traceback from the front.
    Store(config.storage.path)
    sock = bind_socket(config.api.host, config.api.port)
    front: FrontProcess | None = None
    served = sock  # what the API's own server listens on
    if config.api.front_process:
        served, upstream_path = bind_upstream_socket()
        front = FrontProcess(listener=sock, upstream=upstream_path, storage=config.storage.path,
                             body_limits=body_limits(config))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    host, port = sock.getsockname()[:2]
    url_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    url = f"http://{url_host}:{port}/"
    async with AsyncExitStack() as cleanup:
        if front is not None:
            cleanup.push_async_callback(front.stop)  # should the start-up below fail
            await front.spawn()
        runtime = build_runtime(config, clock, demo=demo)
        runtime.front = front
        if config.api.public_url is None and runtime.broadcasts.nodes is not None:
            # The port bound, which "port = 0" leaves to the system to choose.
            nodes_url = f"http://{config.api.host}:{port}"
            runtime.broadcasts.nodes.base_url = nodes_url
            if runtime.firmware is not None:
                runtime.firmware.base_url = nodes_url
        app = create_app(runtime)
        # ws="none" as in the front: the API has no websocket route, and uvicorn would
        # otherwise import a websocket library (about 1.3 MiB) to refuse upgrades with.
        server = ApiServer(uvicorn.Config(app, log_level="warning", access_log=False,
                                          lifespan="on", ws="none",
                                          timeout_graceful_shutdown=5))
        cleanup.push_async_callback(runtime.devices.close)
        lighting = asyncio.create_task(runtime.lighting.run(), name="lighting")
        radio = asyncio.create_task(runtime.broadcasts.run(), name="broadcasts")
        # The API on the coordinators' own loop: its handlers call the coordinators and
        # read their state directly. What phones poll does not come this far: the front
        # process answers GET /status from its mirror, so the requests that reach this loop
        # are few, and each is short (storage writes go to a worker thread).
        # bench/api_load.py measures the transitions' lateness under /status load, here
        # and with the API serving the public port itself.
        api = asyncio.create_task(server.serve(sockets=[served]), name="api")
        assert runtime.guard is not None
        runtime.guard.check()  # before the first decision: is the time plausible?
        guard = asyncio.create_task(runtime.guard.run(), name="clock-guard")
        tasks = {lighting, radio, api, guard}
        # Notifications: their storage writes and sends go to worker threads (the channels'
        # blocking I/O too), so the coordinators on this loop keep their timing.
        notify = None
        if runtime.notify is not None and config.notify.enabled:
            notify = asyncio.create_task(runtime.notify.run(), name="notify")
            tasks.add(notify)
        talk_button = None
        if runtime.talk_button is not None:
            talk_button = asyncio.create_task(runtime.talk_button.run(), name="talk-button")
            tasks.add(talk_button)
        bridge = None
        if runtime.bridge is not None:
            bridge = asyncio.create_task(runtime.bridge.run(), name="mqtt")
            tasks.add(bridge)
        try:
            while not server.started and not api.done():
                await asyncio.sleep(0.01)
            if api.done():
                api.result()
            if front is not None:
                await front.wait_ready()
                supervisor = asyncio.create_task(front.supervise(), name="api-front")
                cleanup.callback(supervisor.cancel)
                tasks.add(supervisor)
            # Start-up's garbage collected, its free pages returned, the rest frozen out of
            # the collector's sight (shorter full collections; controller.platform.memory).
            settle_after_start()
            log.info("controller ready: %s", url)
            systemd.notify("READY=1", f"STATUS=serving {url}")
            interval_s = systemd.watchdog_interval_s()
            if interval_s is not None:
                # Pinged from the coordinators' own loop and only while none of them has
                # ended: a stalled loop or a dead coordinator lets systemd restart us.
                coordinators = set(tasks)
                watchdog = asyncio.create_task(systemd.watchdog(
                    lambda: not any(t.done() for t in coordinators), interval_s),
                    name="watchdog")
                cleanup.callback(watchdog.cancel)
            if on_ready is not None:
                result = on_ready(runtime, url)
                if asyncio.iscoroutine(result):
                    await result
            stopper = asyncio.create_task(stop.wait(), name="stop")
            done, _ = await asyncio.wait(tasks | {stopper}, return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            for task in done & tasks:
                task.result()  # a coordinator that died: let its error propagate
        finally:
            log.info("stopping")
            systemd.notify("STOPPING=1")
            if front is not None:
                # Ours first: once the front closes its own, new connections are refused,
                # not left waiting; requests in flight in the front still finish.
                sock.close()
                await front.stop()
            server.should_exit = True
            # The radio first: its stop logs the item cut short and switches zones off, which
            # needs the device locks that the lighting's stop then holds.
            stopping = [radio, guard]
            if talk_button is not None:
                talk_button.cancel()  # before the radio: no talk is started as it stops
                await asyncio.gather(talk_button, return_exceptions=True)
            radio.cancel()
            guard.cancel()
            if notify is not None:
                # What it holds and queues is in storage: the next start sends it.
                notify.cancel()
                stopping.append(notify)
            await asyncio.gather(*stopping, return_exceptions=True)
            await _finish_device_transactions(runtime, lighting)
            if bridge is not None:
                # Last: "offline" is published once everything else has stopped.
                await runtime.bridge.stop()
                bridge.cancel()
                await asyncio.gather(bridge, return_exceptions=True)
            await asyncio.gather(api, return_exceptions=True)
            for sig in (signal.SIGTERM, signal.SIGINT):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.remove_signal_handler(sig)
            sock.close()
            served.close()
    log.info("stopped")


async def _finish_device_transactions(runtime: Runtime, *tasks: asyncio.Task[None]) -> None:
    """Take every device lock (waiting for a read-modify-write in flight), then cancel."""
    async with AsyncExitStack() as held:
        for lock in runtime.devices.locks.values():
            await held.enter_async_context(lock)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
