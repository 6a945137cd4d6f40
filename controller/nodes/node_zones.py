"""Zones made of field nodes (IP/4G loudspeaker receivers running their own firmware).

Such a zone has no relay here: each of its nodes is told over MQTT to ``play`` the item
(docs/mqtt.md: ``{root}/node/{node}/cmd`` with an id, answered on ``.../ack``) and to ``stop``
after it. A node fetches the item's audio from the gateway over HTTP: each prepared file gets
a random URL (``/media/{token}.wav``) that exists only while the item airs, with its sha256 so
the node can check what it fetched; a relayed station is sent as its own URL, which the node
plays itself.

A node that does not acknowledge within ``ACK_TIMEOUT_S`` (or refuses) raises an alarm and is
named in the item's log record; the other zones play on.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from controller.config import Config
from controller.platform.alarms import AlarmBook
from drivers.errors import BrokerError, NodeError
from drivers.files import file_sha256

log = logging.getLogger(__name__)

ACK_TIMEOUT_S = 5.0
NodeCommand = Callable[..., Awaitable[dict[str, Any]]]  # bridge.node_command(node, op, ...)


class MediaShelf:
    """The files nodes may fetch now: random token -> path, for the items on air."""

    def __init__(self) -> None:
        self._files: dict[str, Path] = {}

    def offer(self, path: Path) -> str:
        token = secrets.token_urlsafe(18)
        self._files[token] = path
        return token

    def withdraw(self, tokens: list[str]) -> None:
        for token in tokens:
            self._files.pop(token, None)

    def path(self, token: str) -> Path | None:
        return self._files.get(token)


class NodeZones:
    def __init__(self, *, config: Config, alarms: AlarmBook, shelf: MediaShelf) -> None:
        self._config = config
        self._alarms = alarms
        self.shelf = shelf
        self.command: NodeCommand | None = None  # set when the MQTT bridge runs
        self.base_url = config.api.public_url or f"http://{config.api.host}:{config.api.port}"
        self._offered: dict[str, list[str]] = {}  # item key -> tokens

    def nodes_of(self, zones: tuple[str, ...] | list[str]) -> list[str]:
        return sorted({n for z in self._config.zones if z.id in zones for n in z.nodes})

    async def play(self, key: str, zones: tuple[str, ...], parts: list[Any], *,
                   level: str, volume: float) -> list[str]:
        """Tell every node of ``zones`` to play; returns the nodes that did not acknowledge."""
        nodes = self.nodes_of(zones)
        if not nodes:
            return []
        if self.command is None:
            return [f"{n} (no MQTT)" for n in nodes]
        described, tokens = [], []
        for part in parts:
            if part.wav is not None:
                token = self.shelf.offer(part.wav)
                tokens.append(token)
                described.append({"url": f"{self.base_url}/media/{token}.wav",
                                  "sha256": file_sha256(part.wav),
                                  "duration_s": round(part.duration_s, 3)})
            else:
                described.append({"stream": part.url, "duration_s": part.duration_s})
        self._offered[key] = tokens
        return await self._everyone(nodes, "play", item=key, parts=described, level=level,
                                    volume=volume)

    async def stop(self, key: str, zones: tuple[str, ...]) -> list[str]:
        self.shelf.withdraw(self._offered.pop(key, []))
        nodes = self.nodes_of(zones)
        if not nodes or self.command is None:
            return []
        return await self._everyone(nodes, "stop", item=key)

    async def _everyone(self, nodes: list[str], op: str, **args: Any) -> list[str]:
        assert self.command is not None
        results = await asyncio.gather(
            *(self.command(node, op, timeout_s=ACK_TIMEOUT_S, **args) for node in nodes),
            return_exceptions=True)
        failed = []
        for node, result in zip(nodes, results, strict=True):
            if isinstance(result, BrokerError | NodeError):
                failed.append(node)
                self._alarms.raise_alarm("node_no_ack", node, f"{op}: {result}",
                                         severity="warning")
            elif isinstance(result, BaseException):
                raise result
            else:
                self._alarms.clear("node_no_ack", node, f"{op} acknowledged")
        if failed:
            log.warning("%s not acknowledged by %s", op, ", ".join(failed))
        return failed
