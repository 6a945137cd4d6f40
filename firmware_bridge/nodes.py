"""The registry of field nodes seen on MQTT: status (their retained status topic, which is
also their last will), when they were last heard, and their telemetry (firmware version,
signal, uptime...). A node silent for longer than ``offline_after_s`` counts as offline too:
a 4G receiver that lost power without its will reaching the broker must not look alive.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Node:
    id: str
    status: str = "unknown"
    last_seen: float | None = None  # monotonic
    last_seen_at: str | None = None  # ISO wall time, for people
    telemetry: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status, "last_seen": self.last_seen_at,
                "telemetry": dict(self.telemetry)}


class NodeRegistry:
    def __init__(self, *, offline_after_s: float,
                 on_change: Callable[[str, dict[str, Any]], None] | None = None) -> None:
        self.offline_after_s = offline_after_s
        self._nodes: dict[str, Node] = {}
        self._on_change = on_change

    def heard(self, node_id: str, *, mono: float, wall: str, status: str | None = None,
              telemetry: dict[str, Any] | None = None) -> None:
        node = self._nodes.setdefault(node_id, Node(node_id))
        previous = node.status
        node.last_seen, node.last_seen_at = mono, wall
        if telemetry is not None:
            node.telemetry.update(telemetry)
            if node.status != "offline" or status is None:
                node.status = "online" if status is None else status
        if status is not None:
            node.status = status
        if node.status != previous:
            self._changed(node)

    def expire(self, *, mono: float) -> None:
        for node in self._nodes.values():
            if node.status == "online" and node.last_seen is not None and \
                    mono - node.last_seen > self.offline_after_s:
                node.status = "offline"
                self._changed(node)

    def get(self, node_id: str) -> Node | None:
        return self._nodes.get(node_id)

    def as_json(self) -> list[dict[str, Any]]:
        return [n.as_json() for n in sorted(self._nodes.values(), key=lambda n: n.id)]

    def _changed(self, node: Node) -> None:
        if self._on_change is not None:
            self._on_change(node.id, node.as_json())
