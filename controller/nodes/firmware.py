"""Firmware updates for field nodes, rolled out with a canary.

An admin uploads an image with its version; the gateway keeps it with its sha256 and serves it
over HTTP at a random URL for as long as a rollout needs it (nodes carry no API token). A
rollout sends ``ota`` (url, sha256, version) to one node first and waits until that node is
back online reporting the new version in its telemetry; only then are the others updated. A
node that refuses, does not acknowledge, or does not come back running the new version in time
stops the rollout, which is reported ``failed`` with the reason; the nodes not yet updated are
left alone.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import shutil
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from controller.errors import ControllerError
from controller.nodes.node_zones import MediaShelf
from controller.platform.alarms import AlarmBook
from controller.platform.clock import Clock
from controller.platform.store import Store
from drivers.errors import BrokerError, NodeError
from drivers.files import file_sha256

log = logging.getLogger(__name__)

FIRMWARE = "firmware"
ROLLOUTS = "rollouts"
ACK_TIMEOUT_S = 10.0
BACK_TIMEOUT_S = 300.0  # a node reboots into the new image within five minutes
POLL_S = 0.2


class FirmwareBook:
    def __init__(self, *, store: Store, data_dir: Path, clock: Clock, alarms: AlarmBook,
                 shelf: MediaShelf) -> None:
        self._store = store
        self.folder = data_dir / "firmware"
        self._clock = clock
        self._alarms = alarms
        self._shelf = shelf
        self.base_url = ""
        self.command: Callable[..., Awaitable[dict[str, Any]]] | None = None
        self.node_version: Callable[[str], str | None] = lambda node: None
        self.node_online: Callable[[str], bool] = lambda node: False
        self.tasks: dict[str, asyncio.Task[None]] = {}
        self.back_timeout_s = BACK_TIMEOUT_S

    def add(self, upload: Path, *, version: str, uploaded_by: str) -> dict[str, Any]:
        digest = file_sha256(upload)
        image_id = f"fw-{version}-{digest[:8]}".lower().replace(".", "-")
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.folder / f"{image_id}.bin"
        shutil.move(upload, target)
        doc = {"id": image_id, "version": version, "sha256": digest,
               "size_bytes": target.stat().st_size, "file": target.name,
               "uploaded_by": uploaded_by, "uploaded_at": self._clock.now().isoformat()}
        self._store.put(FIRMWARE, doc)
        return doc

    def start(self, image: dict[str, Any], nodes: list[str], *, by: str) -> dict[str, Any]:
        rollout = {"id": f"rollout-{secrets.token_hex(4)}", "firmware": image["id"],
                   "version": image["version"], "nodes": dict.fromkeys(nodes, "pending"),
                   "canary": nodes[0], "status": "running", "reason": None,
                   "started_by": by, "started_at": self._clock.now().isoformat()}
        self._store.put(ROLLOUTS, rollout)
        self.tasks[rollout["id"]] = asyncio.create_task(self._run(rollout["id"], image, nodes),
                                                        name=rollout["id"])
        return rollout

    async def _run(self, rollout_id: str, image: dict[str, Any], nodes: list[str]) -> None:
        token = self._shelf.offer(self.folder / image["file"])
        url = f"{self.base_url}/media/{token}.bin"
        try:
            canary, rest = nodes[0], nodes[1:]
            await self._update(rollout_id, canary, url, image)
            results = await asyncio.gather(*(self._update(rollout_id, n, url, image)
                                             for n in rest), return_exceptions=True)
            failures = [r for r in results if isinstance(r, RolloutFailed)]
            if failures:
                raise failures[0]
            self._set(rollout_id, status="done")
            self._alarms.note("firmware_rollout", rollout_id,
                              f"{image['version']} on {len(nodes)} node(s)")
        except RolloutFailed as exc:
            self._set(rollout_id, status="failed", reason=str(exc))
            self._alarms.raise_alarm("firmware_rollout_failed", rollout_id, str(exc),
                                     severity="warning")
        finally:
            self._shelf.withdraw([token])

    async def _update(self, rollout_id: str, node: str, url: str, image: dict[str, Any]) -> None:
        if self.command is None:
            raise RolloutFailed(f"{node}: MQTT is not running")
        self._set_node(rollout_id, node, "sent")
        try:
            await self.command(node, "ota", timeout_s=ACK_TIMEOUT_S, url=url,
                               sha256=image["sha256"], version=image["version"])
        except (BrokerError, NodeError) as exc:
            self._set_node(rollout_id, node, "failed")
            raise RolloutFailed(f"{node}: {exc}") from exc
        # Waiting for a device to come back is a network timeout, measured in real time like
        # the Modbus and MQTT ones (not on the controller's schedule clock).
        deadline = time.monotonic() + self.back_timeout_s
        while not (self.node_online(node) and self.node_version(node) == image["version"]):
            if time.monotonic() >= deadline:
                self._set_node(rollout_id, node, "failed")
                raise RolloutFailed(f"{node}: not back running {image['version']} after "
                                    f"{self.back_timeout_s:.0f} s (reports "
                                    f"{self.node_version(node)})")
            await asyncio.sleep(POLL_S)
        self._set_node(rollout_id, node, "updated")

    def _set(self, rollout_id: str, **changes: Any) -> None:
        self._store.update(ROLLOUTS, rollout_id, lambda d: {**d, **changes})

    def _set_node(self, rollout_id: str, node: str, state: str) -> None:
        self._store.update(ROLLOUTS, rollout_id,
                           lambda d: {**d, "nodes": {**d["nodes"], node: state}})


class RolloutFailed(ControllerError):
    """A node of a rollout did not take its image: the rollout stops there."""
