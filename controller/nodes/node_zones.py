"""Zones made of field nodes (IP/4G loudspeaker receivers running their own firmware).

Such a zone has no relay here: each of its nodes is told over MQTT to ``play`` the item
(docs/mqtt.md: ``{root}/node/{node}/cmd`` with an id, answered on ``.../ack``) and to ``stop``
after it. A node fetches the item's audio from the gateway over HTTP: each prepared file gets
a random URL (``/media/{token}.wav``) that exists only while the item airs, with its sha256 so
the node can check what it fetched; a relayed station is sent as its own URL, which the node
plays itself. A live talk is a stream at such a URL too: an endless WAV of what the gateway
airs, chunk by chunk as it goes to its own output, which ends when the talk does.

A node that does not acknowledge within ``ACK_TIMEOUT_S`` (or refuses) raises an alarm and is
named in the item's log record; the other zones play on.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

from controller.config import Config
from controller.platform.alarms import AlarmBook
from drivers.errors import BrokerError, NodeError
from drivers.files import file_sha256
from drivers.pcm import PCM_CHANNELS, PCM_RATE

log = logging.getLogger(__name__)

ACK_TIMEOUT_S = 5.0
# What a live talk's bare PCM stream is (drivers.audio's house format).
LIVE_PCM_FORMAT = {"encoding": "s16le", "rate": PCM_RATE, "channels": PCM_CHANNELS}
NodeCommand = Callable[..., Awaitable[dict[str, Any]]]  # bridge.node_command(node, op, ...)


class LiveListener(Protocol):
    """One node's share of a live talk (``controller.radio.live.LiveTap``)."""

    def stream(self) -> AsyncIterator[bytes]: ...

    def close(self) -> None: ...


class LiveAudio(Protocol):
    """A live talk as nodes hear it (``controller.radio.live.LiveTalk``)."""

    def listen(self) -> LiveListener: ...


class MediaShelf:
    """What nodes may fetch now, by random token: the files of the items on air, and the live
    talk on air."""

    def __init__(self) -> None:
        self._files: dict[str, Path] = {}
        self._live: dict[str, LiveAudio] = {}

    def offer(self, path: Path) -> str:
        token = secrets.token_urlsafe(18)
        self._files[token] = path
        return token

    def offer_live(self, talk: LiveAudio) -> str:
        token = secrets.token_urlsafe(18)
        self._live[token] = talk
        return token

    def withdraw(self, tokens: list[str]) -> None:
        for token in tokens:
            self._files.pop(token, None)
            self._live.pop(token, None)

    def path(self, token: str) -> Path | None:
        return self._files.get(token)

    def live(self, token: str) -> LiveAudio | None:
        return self._live.get(token)


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

    async def play_live(self, key: str, zones: tuple[str, ...], talk: LiveAudio, *,
                        level: str, volume: float) -> list[str]:
        """Tell every node of ``zones`` to play a live talk: one stream, no length; returns
        the nodes that did not acknowledge."""
        nodes = self.nodes_of(zones)
        if not nodes:
            return []
        if self.command is None:
            return [f"{n} (no MQTT)" for n in nodes]
        token = self.shelf.offer_live(talk)
        self._offered[key] = [token]
        # The same stream twice: a WAV any player takes, and its bare PCM for those that read
        # a WAV's first 64 KiB before they play (routes_media.py).
        url = f"{self.base_url}/media/{token}"
        part = {"stream": f"{url}.wav", "pcm": f"{url}.pcm", "format": dict(LIVE_PCM_FORMAT),
                "live": True, "duration_s": None}
        return await self._everyone(nodes, "play", item=key, parts=[part], level=level,
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
