"""The province's view: many gateways on one broker (or a bridged cluster), seen and addressed
through the topics each gateway already publishes (docs/mqtt.md). No federation of our own: the
broker carries everything.

``fleet_status`` reads the retained messages (every gateway's ``status``, circuit states and
current broadcast), so a gateway that is offline still shows with its last state.
``fleet_announce`` sends one announcement to many gateways, each with its own command id, and
reports each one's acknowledgement, refusal or silence.

The MQTT client comes from ``firmware_bridge.bridge.connect`` (every aiomqtt import lives
there); anything with ``subscribe``, ``publish`` and ``messages`` works, which the tests use.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from firmware_bridge import signing, topics


class _Message(Protocol):
    topic: Any
    payload: Any


class FleetClient(Protocol):
    async def subscribe(self, topic: str, qos: int = 0) -> Any: ...
    async def publish(self, topic: str, payload: Any = None, qos: int = 0,
                      retain: bool = False) -> None: ...
    @property
    def messages(self) -> AsyncIterator[_Message]: ...


Connect = Callable[[], AbstractAsyncContextManager[FleetClient]]


@dataclass
class GatewayState:
    site: str
    status: str = "unknown"  # online | offline | unknown (no retained status seen)
    circuits: dict[str, dict[str, Any]] = field(default_factory=dict)
    broadcast: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        return {"site": self.site, "status": self.status, "circuits": self.circuits,
                "broadcast": self.broadcast}


@dataclass
class AnnounceResult:
    site: str
    outcome: str  # accepted | refused | silent
    announcement_id: str | None = None
    error: str | None = None
    ack_ms: float | None = None

    def as_json(self) -> dict[str, Any]:
        return {"site": self.site, "outcome": self.outcome, "id": self.announcement_id,
                "error": self.error, "ack_ms": self.ack_ms}


SETTLE_S = 0.15
PUBLISH_WINDOW = 10


async def fleet_status(connect: Connect, prefix: str, *, listen_s: float = 2.0,
                       settle_s: float = SETTLE_S) -> list[GatewayState]:
    """Every gateway with a retained message under ``prefix``, read as ``_retained`` says:
    complete once nothing more has come for ``settle_s``, ``listen_s`` at the longest."""
    gateways: dict[str, GatewayState] = {}
    async with connect() as client:
        async for topic, payload in _retained(client, topics.fleet_status_subscriptions(prefix),
                                              listen_s=listen_s, settle_s=settle_s):
            _take_status(gateways, prefix, topic, payload)
    return sorted(gateways.values(), key=lambda g: g.site)


async def _retained(client: FleetClient, patterns: list[str], *, listen_s: float,
                    settle_s: float) -> AsyncIterator[tuple[str, bytes]]:
    """The retained messages on ``patterns``, as (topic, payload). The broker sends a
    subscription's retained messages right after acknowledging it, in one stream, so they are
    all in once the subscriptions are acknowledged and nothing more has come for ``settle_s``;
    ``listen_s`` is the longest it listens (a broker far away or very busy).

    Subscribed with QoS 0: the retained state is read once, on a live connection, and a QoS 1
    subscription would put each message through the broker's queue of 1,000 per client beyond
    the 20 in flight (mosquitto's max_queued_messages, max_inflight_messages), which drops the
    rest without a word, and a province's retained state outgrows it."""
    for pattern in patterns:
        await client.subscribe(pattern, qos=0)
    messages = aiter(client.messages)
    # A deadline rather than asyncio.timeout around the loop: no cancel scope across a yield.
    deadline = time.monotonic() + listen_s
    while (left_s := deadline - time.monotonic()) > 0:
        try:
            message = await asyncio.wait_for(anext(messages), min(settle_s, left_s))
        except TimeoutError:
            return  # quiet for settle_s (every retained message is in), or listen_s is up
        yield str(message.topic), _bytes(message.payload)


def _take_status(gateways: dict[str, GatewayState], prefix: str, topic: str,
                 payload: bytes) -> None:
    seen = topics.parse_gateway_topic(prefix, topic)
    if seen is None:
        return
    state = gateways.setdefault(seen.site, GatewayState(seen.site))
    try:
        if seen.kind == "status":
            state.status = payload.decode()
        elif seen.kind == "circuit_state" and seen.circuit is not None:
            state.circuits[seen.circuit] = json.loads(payload)
        elif seen.kind == "broadcast_now":
            state.broadcast = json.loads(payload) or None
    except (ValueError, UnicodeDecodeError):
        pass  # a malformed retained message says nothing about the gateway


async def fleet_announce(connect: Connect, prefix: str, sites: list[str],
                         announcement: dict[str, Any], *, timeout_s: float = 10.0,
                         key: bytes | None = None) -> list[AnnounceResult]:
    """Publish ``announcement`` (as POST /announcements) to each site's ``announce`` topic and
    wait up to ``timeout_s`` for every ``announce/ack``; signed for each site's topic with
    ``key`` when given (gateways with ``province_commands = "signed"``)."""
    command_ids = {site: f"fleet-{uuid.uuid4().hex[:12]}" for site in sites}
    results = {site: AnnounceResult(site, "silent") for site in sites}
    async with connect() as client:
        # Subscribe before publishing, so that no acknowledgement can come too early: once,
        # for every site (one round trip, not one per site; others' acks are ignored below).
        await client.subscribe(topics.announce_ack(topics.root(prefix, topics.ANY)), qos=1)
        started = time.perf_counter()
        # PUBLISH_WINDOW at a time: one after another, each would wait for the broker's PUBACK
        # before the next goes, and the last gateway of 300 would hear of the emergency that
        # many round trips late (aiomqtt warns above 10 pending publishes).
        window = asyncio.Semaphore(PUBLISH_WINDOW)

        async def send(topic: str, command: dict[str, Any]) -> None:
            async with window:
                await client.publish(topic, json.dumps(command, ensure_ascii=False), qos=1)

        waiting = set(sites)

        async def collect() -> None:
            async for message in client.messages:
                seen = topics.parse_gateway_topic(prefix, str(message.topic))
                if seen is None or seen.kind != "announce_ack":
                    continue
                site = seen.site
                ack = _json(_bytes(message.payload))
                if site not in waiting or ack.get("id") != command_ids[site]:
                    continue
                waiting.discard(site)
                results[site] = AnnounceResult(
                    site, "accepted" if ack.get("accepted") else "refused",
                    announcement_id=ack.get("announcement_id"), error=ack.get("error"),
                    ack_ms=round((time.perf_counter() - started) * 1000, 1))
                if not waiting:
                    return

        # Read while still publishing: the first gateways answer before the last ones are
        # sent to, and each ack_ms is when its answer came, not when it was read.
        collecting = asyncio.create_task(collect())
        try:
            sending = []
            for site in sites:
                topic = topics.announce(topics.root(prefix, site))
                command = {**announcement, "id": command_ids[site]}
                if key is not None:
                    command = signing.sign(key, topic, command, now=time.time())
                sending.append(send(topic, command))
            await asyncio.gather(*sending)
            # timeout_s from the last publish, for the last gateway's answer
            await asyncio.wait([collecting], timeout=timeout_s)
        finally:
            collecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await collecting
    return [results[site] for site in sites]


def _bytes(payload: Any) -> bytes:
    if isinstance(payload, bytes | bytearray):
        return bytes(payload)
    return str(payload if payload is not None else "").encode()


def _json(payload: bytes) -> dict[str, Any]:
    try:
        found = json.loads(payload)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


# -- the province's table ----------------------------------------------------------------------

REPORT_FIGURES = {
    "radio": ("clusters", "clusters_online", "bulletins_scheduled", "bulletins_aired",
              "successful_plays", "emergency_bulletins", "minutes_aired", "missed", "failed"),
    "lighting": ("on_hours", "energy_kwh", "alarms"),
}


@dataclass
class CommuneReport:
    """One commune's row of the province's table: its retained month report (figures None
    when there is none, or it was malformed) and whether its gateway is online now."""

    site: str
    status: str = "unknown"  # online | offline | unknown, from the retained status
    commune: str | None = None
    figures: dict[str, float | int | None] = field(default_factory=dict)
    updated_at: str | None = None  # as_of of the report: when the gateway last checked it
    complete: bool | None = None
    reported: bool = False
    malformed: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"site": self.site, "commune": self.commune,
                **{name: self.figures.get(name) for names in REPORT_FIGURES.values()
                   for name in names},
                "updated_at": self.updated_at, "complete": self.complete,
                "online": self.status == "online", "status": self.status,
                "reported": self.reported, "malformed": self.malformed}


async def fleet_report(connect: Connect, prefix: str, month: str, *, listen_s: float = 2.0,
                       settle_s: float = SETTLE_S) -> list[CommuneReport]:
    """Every site with a retained month report for ``month`` or a retained status, read as
    ``_retained`` says (complete once nothing more has come for ``settle_s``, ``listen_s`` at
    the longest). A gateway that is offline now keeps its row: its report stays on the
    broker."""
    communes: dict[str, CommuneReport] = {}
    async with connect() as client:
        async for topic, payload in _retained(
                client, topics.fleet_report_subscriptions(prefix, month), listen_s=listen_s,
                settle_s=settle_s):
            _take_report(communes, prefix, month, topic, payload)
    return sorted(communes.values(), key=lambda c: c.site)


def _take_report(communes: dict[str, CommuneReport], prefix: str, month: str, topic: str,
                 payload: bytes) -> None:
    seen = topics.parse_gateway_topic(prefix, topic)
    if seen is not None and seen.kind == "status":
        row = communes.setdefault(seen.site, CommuneReport(seen.site))
        status = payload[:16].decode(errors="replace").strip()
        row.status = status if status in ("online", "offline") else "unknown"
        return
    found = topics.parse_report_topic(prefix, topic)
    if found is None or found[1:] != ("month", month):
        return
    row = communes.setdefault(found[0], CommuneReport(found[0]))
    if not payload:  # a retained report cleared
        return
    try:
        data = topics.parse_report(payload)
        figures = {name: _figure(data[section], name) for section, names
                   in REPORT_FIGURES.items() for name in names}
    except topics.BadPayload as exc:
        row.malformed = str(exc)
        return
    row.figures, row.reported, row.malformed = figures, True, None
    commune, as_of, complete = data.get("commune"), data.get("as_of"), data.get("complete")
    row.commune = commune if isinstance(commune, str) else None
    row.updated_at = as_of if isinstance(as_of, str) else None
    row.complete = complete if isinstance(complete, bool) else None


def _figure(section: dict[str, Any], name: str) -> float | int | None:
    value = section.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise topics.BadPayload("report", f"{name}: expected a number, not {value!r}")
    return value
