"""The gateway on MQTT (docs/mqtt.md). Every aiomqtt import of the project is in this module
(aiomqtt 2.x; 3.0 is a rewrite).

The connection is the loop aiomqtt's maintainers show: ``async with Client(...)`` inside a
``while``, catching ``MqttError`` and backing off (capped, jittered), re-subscribing and
re-publishing the retained state on every connect. The broker publishes our last will
(``offline``, retained) when the link drops uncleanly; on a clean stop we publish it ourselves,
since the broker does not send the will then.

Local work never waits for the broker: state is compared and published from a loop of its
own, events go through a bounded queue (the oldest dropped and counted while offline), and a
command that arrives is answered from a task of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import secrets
import socket
import ssl
import time
import uuid
from collections import Counter, OrderedDict, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

import aiomqtt

from drivers.errors import BrokerError, NodeError
from firmware_bridge import signing, topics
from firmware_bridge.nodes import NodeRegistry

log = logging.getLogger(__name__)

BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 30.0
EVENT_QUEUE = 1000
# Bad input: what one source (a field node, a circuit's command topic) may send, and how
# often its refusals are logged (docs/mqtt.md, "Bad input").
SOURCE_RATE_PER_S = 50.0
SOURCE_BURST = 100.0
REJECT_LOG_INTERVAL_S = 60.0
MAX_SOURCES = 20_000  # sources tracked at most: a flood of made-up node ids stays bounded
REJECT_REASONS = ("oversized", "malformed", "unknown_topic", "rate_limited")
NO_DELAY = (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # connect() says why
COMMAND_KINDS = ("circuit_set", "announce", "ha_set", "ha_schedule")  # with accept_commands
HA_KINDS = ("ha_status", "ha_set", "ha_schedule")  # with ha_discovery
COMMANDS_REMEMBERED = 1000  # circuit command ids answered, for a second delivery


class NodeTimeout(NodeError):
    """A field node did not acknowledge a command in time."""


class NodeRefused(NodeError):
    """A field node acknowledged a command with ``ok: false``."""


@dataclass(frozen=True)
class BridgeSettings:
    url: str
    prefix: str
    site_id: str
    site_name: str = ""
    accept_commands: bool = False
    ha_discovery: bool = False
    username: str | None = None
    password: str | None = None
    client_id: str | None = None
    state_interval_s: float = 1.0
    node_offline_after_s: float = 120.0
    report_interval_s: float = 300.0  # the day's and month's reports, checked and re-published
    # Which province commands are taken (docs/mqtt.md, "Signed commands"): "any" or
    # "credential" (the broker's ACL decides who may write them), or "signed" with this key.
    province_commands: str = "any"
    province_key: bytes | None = None
    command_window_s: float = 300.0
    ca_file: str | None = None  # with mqtts://: the CA that signed the broker's certificate
    cert_file: str | None = None  # a client certificate (and its key_file), if the broker asks
    key_file: str | None = None
    source_rate_per_s: float = SOURCE_RATE_PER_S  # messages per second per source, then dropped
    source_burst: float = SOURCE_BURST


class GatewayPort(Protocol):
    def circuit_states(self) -> dict[str, dict[str, Any]]: ...
    def broadcast_now(self) -> dict[str, Any] | None: ...
    async def set_circuit(self, circuit_id: str, command: dict[str, Any]) -> None: ...
    async def announce(self, command: dict[str, Any]) -> str: ...
    def node_changed(self, node_id: str, node: dict[str, Any]) -> None: ...
    # Home Assistant (with ha_discovery)
    def ha_circuits(self) -> list[topics.HaCircuit]: ...
    async def ha_command(self, circuit_id: str, command: topics.HaCommand) -> None: ...
    async def back_to_schedule(self, circuit_id: str) -> int: ...
    # The province's reports (retained, {root}/report/day|month/...)
    async def reports(self) -> topics.ReportBatch: ...


@dataclass
class BridgeStats:
    connected: bool = False
    connects: int = 0
    disconnects: int = 0
    published: int = 0
    received: int = 0
    malformed: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)  # by reason, REJECT_REASONS
    events_dropped: int = 0
    refused: Counter[str] = field(default_factory=Counter)  # province commands, by kind
    last_error: str | None = None  # why the last connection attempt failed, until one works

    def as_json(self) -> dict[str, Any]:
        return {"connected": self.connected, "connects": self.connects,
                "disconnects": self.disconnects, "published": self.published,
                "received": self.received, "malformed": dict(self.malformed),
                "rejected": {reason: self.rejected[reason] for reason in REJECT_REASONS},
                "events_dropped": self.events_dropped, "refused": dict(self.refused),
                "last_error": self.last_error}


def connect(url: str, *, client_id: str | None = None, username: str | None = None,
            password: str | None = None, will: aiomqtt.Will | None = None,
            ca_file: str | None = None, cert_file: str | None = None,
            key_file: str | None = None, persistent: bool = False) -> aiomqtt.Client:
    """An aiomqtt client for ``mqtt://host:port`` or ``mqtts://host:port`` (TLS: the system's
    CAs, or only ``ca_file``'s; a client certificate when ``cert_file`` is given); use it as
    ``async with``. ``persistent``: an MQTT 3.1.1 session that outlives the connection
    (CleanSession 0, 3.1.2.4), for which ``client_id`` must be stable.

    TCP_NODELAY, as the broker should have it too (mosquitto's ``set_tcp_nodelay true``,
    deploy/mosquitto/gateway-bridge.conf): paho writes each MQTT packet whole, and with Nagle's
    algorithm (RFC 896) a small packet written right after another one waits until the peer
    acknowledges the first, which a peer with nothing to say delays by 40 ms (Linux's delayed
    ACK). The gateway writes a PUBACK and then its answer to the same command: with Nagle on
    either side, every command took 43 ms or 86 ms on loopback instead of under 1 ms."""
    parts = urlsplit(url)
    secure = parts.scheme == "mqtts"
    return aiomqtt.Client(
        parts.hostname or "127.0.0.1", parts.port or (8883 if secure else 1883),
        identifier=client_id or f"communectl-{secrets.token_hex(6)}", username=username,
        password=password, will=will, keepalive=30,
        tls_context=tls_context(ca_file, cert_file, key_file) if secure else None,
        clean_session=not persistent, max_queued_incoming_messages=10_000,
        socket_options=[NO_DELAY])


def tls_context(ca_file: str | None = None, cert_file: str | None = None,
                key_file: str | None = None) -> ssl.SSLContext:
    """The broker's certificate checked against ``ca_file`` (else the system's CAs), its name
    against the URL's host; ``BrokerError`` (one line) when a file cannot be used."""
    try:
        context = ssl.create_default_context(cafile=ca_file)
        if cert_file is not None:
            context.load_cert_chain(cert_file, key_file)
    except (OSError, ssl.SSLError) as exc:
        used = ", ".join(str(f) for f in (ca_file, cert_file) if f) or "the system's CAs"
        raise BrokerError(f"TLS files ({used}): {getattr(exc, 'strerror', None) or exc}"
                          ) from None
    return context


@contextlib.contextmanager
def broker_errors(url: str) -> Iterator[None]:
    """aiomqtt's errors as our ``BrokerError`` (one line for the user, no traceback), for
    short-lived clients such as ``communectl fleet``."""
    try:
        yield
    except aiomqtt.MqttError as exc:
        raise BrokerError(f"MQTT broker {url}: {exc}") from exc


class MqttBridge:
    def __init__(self, settings: BridgeSettings, port: GatewayPort) -> None:
        self.settings = settings
        self._port = port
        self.root = topics.root(settings.prefix, settings.site_id)
        # The same on every connection and across restarts, so that the broker keeps our
        # session (its subscriptions, and the QoS 1 commands that come while we are away).
        # One per gateway: two clients with one id knock each other off.
        self.client_id = settings.client_id or f"communectl-{settings.site_id}"
        self.stats = BridgeStats()
        self.nodes = NodeRegistry(offline_after_s=settings.node_offline_after_s,
                                  on_change=port.node_changed)
        self._client: aiomqtt.Client | None = None
        self._published: dict[str, bytes] = {}
        self._events: deque[dict[str, Any]] = deque()
        self._event_ready: asyncio.Event | None = None
        self._acks: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._handlers: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._limits = SourceLimits(settings.source_rate_per_s, settings.source_burst)
        self._reject_log = RejectLog(REJECT_LOG_INTERVAL_S)
        # Day reports the broker holds, as far as we know (published, or seen retained), and
        # the newest day the port reported: what _clear_day_reports works from.
        self._day_reports: set[str] = set()
        self._report_today: str | None = None
        self._days_changed: asyncio.Event | None = None
        # (circuit, id) of the circuit commands taken, with their answer (_set_circuit)
        self._circuit_commands: OrderedDict[tuple[str, str], asyncio.Future[dict[str, Any]]] \
            = OrderedDict()

    # -- the connection loop ---------------------------------------------------------------

    async def run(self) -> None:
        backoff = BACKOFF_FIRST_S
        self._loop = asyncio.get_running_loop()
        self._event_ready = asyncio.Event()
        self._days_changed = asyncio.Event()
        while not self._stopping:
            try:
                async with self._new_client() as client:
                    self._client = client
                    await self._on_connect(client)
                    # Connected once subscribed: a command sent before then would be lost,
                    # and whoever waits on "connected" (status, tests) means "listening".
                    self.stats.connected = True
                    self.stats.connects += 1
                    backoff = BACKOFF_FIRST_S
                    self.stats.last_error = None
                    log.info("MQTT connected to %s as %s", self.settings.url, self.client_id)
                    await self._serve(client)
            except aiomqtt.MqttError as exc:
                if self.stats.connected:
                    log.warning("MQTT connection lost: %s", exc)
                    self.stats.disconnects += 1
                elif str(exc) != self.stats.last_error:
                    # Said once (a wrong CA, a refused password), then retried quietly.
                    log.error("MQTT cannot connect to %s: %s (retrying)", self.settings.url,
                              exc)
                else:
                    log.debug("MQTT connect failed: %s", exc)
                self.stats.last_error = str(exc)
            finally:
                self._client = None
                self.stats.connected = False
            if self._stopping:
                return
            await asyncio.sleep(backoff * random.uniform(0.5, 1.0))
            backoff = min(backoff * 2, BACKOFF_MAX_S)

    async def stop(self) -> None:
        """A clean stop: ``offline`` (retained) first, since the broker keeps the will for
        unclean ends only."""
        self._stopping = True
        client = self._client
        if client is not None:
            try:
                async with asyncio.timeout(2.0):
                    await client.publish(topics.status(self.root), "offline", qos=1,
                                         retain=True)
            except (aiomqtt.MqttError, TimeoutError) as exc:
                log.warning("could not publish offline: %s", exc)

    def _new_client(self) -> aiomqtt.Client:
        will = aiomqtt.Will(topics.status(self.root), "offline", qos=1, retain=True)
        return connect(self.settings.url, client_id=self.client_id,
                       username=self.settings.username, password=self.settings.password,
                       will=will, ca_file=self.settings.ca_file,
                       cert_file=self.settings.cert_file, key_file=self.settings.key_file,
                       persistent=True)

    async def _on_connect(self, client: aiomqtt.Client) -> None:
        await self._publish(client, topics.status(self.root), b"online", retain=True)
        wanted = topics.subscriptions(self.root, accept_commands=self.settings.accept_commands,
                                      ha_discovery=self.settings.ha_discovery)
        telemetry = topics.node_telemetry(self.root, topics.ANY)
        # One SUBSCRIBE for all, every time, though the session keeps them: a broker that
        # lost its persistence file has no session, and retained messages (node status, our
        # own day reports) come again after it. QoS 1, so that the broker holds commands for
        # us while we are away; but node telemetry at QoS 0: it is most of what comes in, and
        # stale once we were away, and held for us it would come ahead of the commands. Our
        # own day reports at QoS 0: read once as they come retained, so that old ones an
        # earlier run left are cleared too.
        await client.subscribe([(t, 0 if t == telemetry else 1) for t in wanted]
                               + [(topics.own_day_reports(self.root), 0)])
        # The session outlives a change of config: what it no longer wants is dropped, so
        # that the broker stops holding commands for a gateway that no longer takes them.
        unwanted = [t for t in topics.subscriptions(self.root, accept_commands=True,
                                                    ha_discovery=True) if t not in wanted]
        if unwanted:
            await client.unsubscribe(unwanted)
        if self.settings.ha_discovery:
            await self._announce_to_home_assistant(client)
        self._published.clear()  # re-publish every retained state on this connection

    async def _serve(self, client: aiomqtt.Client) -> None:
        tasks = [asyncio.create_task(self._publish_state(client)),
                 asyncio.create_task(self._publish_reports(client)),
                 asyncio.create_task(self._clear_day_reports(client)),
                 asyncio.create_task(self._send_events(client)),
                 asyncio.create_task(self._receive(client))]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    # -- out ------------------------------------------------------------------------------------

    async def _publish(self, client: aiomqtt.Client, topic: str, payload: bytes, *,
                       retain: bool = False, qos: int = 1) -> None:
        await client.publish(topic, payload, qos=qos, retain=retain)
        self.stats.published += 1

    async def _publish_state(self, client: aiomqtt.Client) -> None:
        """Retained state, compared every ``state_interval_s`` and published when changed."""
        while True:
            states = self._port.circuit_states()
            wanted = {topics.circuit_state(self.root, c): _json(state)
                      for c, state in states.items()}
            wanted[topics.broadcast_now(self.root)] = _json(self._port.broadcast_now() or {})
            if self.settings.ha_discovery:
                wanted.update(self._ha_states(states))
            for topic, payload in wanted.items():
                if self._published.get(topic) != payload:
                    await self._publish(client, topic, payload, retain=True)
                    self._published[topic] = payload
            self.nodes.expire(mono=time.monotonic())
            await asyncio.sleep(self.settings.state_interval_s)

    async def _publish_reports(self, client: aiomqtt.Client) -> None:
        """The day's and the month's reports, retained: at once on every connection, then
        every ``report_interval_s`` and at the end of the local day (the port says when).
        The port rebuilds only when its inputs changed; a report it cannot make is logged
        once per kind of error and tried again at the next interval."""
        failing: str | None = None
        while True:
            wait_s = self.settings.report_interval_s
            try:
                batch = await self._port.reports()
            except aiomqtt.MqttError:
                raise
            except Exception as exc:  # noqa: BLE001 - the gateway's own work must go on
                if failing != type(exc).__name__:
                    log.error("reports for the province not made: %s", exc)
                    failing = type(exc).__name__
            else:
                failing = None
                for message in batch.messages:
                    topic = topics.report(self.root, message.period, message.key)
                    payload = _json(message.payload)
                    if self._published.get(topic) != payload:
                        await self._publish(client, topic, payload, retain=True)
                        self._published[topic] = payload
                self._reported_days([m.key for m in batch.messages if m.period == "day"])
                wait_s = max(0.05, min(wait_s, batch.next_in_s))
            await asyncio.sleep(wait_s)

    def _reported_days(self, days: list[str]) -> None:
        """The port's newest day is today: a new one moves the window of day reports kept,
        and the day that left it is to be cleared whether or not we saw it retained."""
        assert self._days_changed is not None
        self._day_reports.update(days)
        if days and max(days) != self._report_today:
            self._report_today = max(days)
            self._day_reports.add(topics.day_leaving_window(self._report_today))
        self._days_changed.set()

    async def _clear_day_reports(self, client: aiomqtt.Client) -> None:
        """Day reports before the last ``DAY_REPORTS_KEPT`` days, cleared from the broker with
        an empty retained message on their topic (MQTT 3.1.1, 3.3.1.3: it removes the retained
        message), which the gateway's mosquitto bridge carries to the province like any other
        report. Month reports stay: the province's table reads them."""
        assert self._days_changed is not None
        while True:
            await self._days_changed.wait()
            self._days_changed.clear()
            if self._report_today is None:
                continue  # the first batch tells what today is
            old = topics.expired_day_reports(self._day_reports, today=self._report_today)
            for day in old:
                topic = topics.report(self.root, "day", day)
                await self._publish(client, topic, b"", retain=True)
                self._day_reports.discard(day)
                self._published.pop(topic, None)
            if old:
                log.info("day reports cleared from the broker: %d, %s to %s (kept: the last "
                         "%d days to %s)", len(old), old[0], old[-1], topics.DAY_REPORTS_KEPT,
                         self._report_today)

    def publish_event(self, record: dict[str, Any]) -> None:
        """Queue an alarm or event for ``{root}/events``; never blocks the caller, and may be
        called from any thread."""
        loop = self._loop
        if loop is not None:
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is not loop:
                loop.call_soon_threadsafe(self._queue_event, record)
                return
        self._queue_event(record)

    def _queue_event(self, record: dict[str, Any]) -> None:
        if len(self._events) >= EVENT_QUEUE:
            self._events.popleft()
            self.stats.events_dropped += 1
        self._events.append(record)
        if self._event_ready is not None:
            self._event_ready.set()

    async def _send_events(self, client: aiomqtt.Client) -> None:
        assert self._event_ready is not None
        while True:
            while self._events:
                await self._publish(client, topics.events(self.root), _json(self._events[0]))
                self._events.popleft()
            self._event_ready.clear()
            await self._event_ready.wait()

    def _ha_states(self, states: dict[str, dict[str, Any]]) -> dict[str, bytes]:
        dimmable = {c.id for c in self._port.ha_circuits() if c.dimmable}
        return {topics.ha_state(self.root, c): _json(topics.ha_state_payload(
                    state, dimmable=c in dimmable)) for c, state in states.items()}

    async def _announce_to_home_assistant(self, client: aiomqtt.Client) -> None:
        for topic, payload in topics.ha_discovery_messages(
                self.settings.prefix, self.settings.site_id, self.settings.site_name,
                self._port.ha_circuits(), accept_commands=self.settings.accept_commands):
            await self._publish(client, topic, payload.encode(), retain=True)

    async def node_command(self, node: str, op: str, *, timeout_s: float = 5.0,
                           **args: Any) -> dict[str, Any]:
        """Send ``op`` to a field node and wait for its acknowledgement (same ``id``)."""
        client = self._client
        if client is None:
            raise BrokerError(f"{node}: MQTT is not connected")
        command_id = uuid.uuid4().hex
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._acks[command_id] = future
        try:
            await self._publish(client, topics.node_cmd(self.root, node),
                                _json({"id": command_id, "op": op, **args}))
            async with asyncio.timeout(timeout_s):
                ack = await future
        except TimeoutError:
            raise NodeTimeout(f"{node}: no acknowledgement of {op} within {timeout_s:g} s") \
                from None
        except aiomqtt.MqttError as exc:
            raise BrokerError(f"{node}: {op} not sent: {exc}") from exc
        finally:
            self._acks.pop(command_id, None)
        if not ack.get("ok", False):
            raise NodeRefused(f"{node}: {op} refused: {ack.get('error', 'no reason given')}")
        return ack

    # -- in ---------------------------------------------------------------------------------------

    async def _receive(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            self.stats.received += 1
            topic = str(message.topic)
            source = topics.source_of(self.root, topic)
            if not self._limits.allow(source, time.monotonic()):
                # Dropped before it is even decoded: a flood costs the least it can.
                self._rejected("rate_limited", source, f"more than "
                               f"{self.settings.source_rate_per_s:g} messages/s")
                continue
            payload = message.payload if isinstance(message.payload, bytes) else \
                str(message.payload or "").encode()
            try:
                incoming = topics.parse_incoming(self.root, topic, payload)
            except topics.BadPayload as exc:
                self.stats.malformed[exc.kind] += 1
                reason = "oversized" if isinstance(exc, topics.Oversized) else \
                    "unknown_topic" if exc.kind == "unknown_topic" else "malformed"
                self._rejected(reason, source, str(exc))
                continue
            if not self._taken(incoming.kind):
                # Held for us by the broker in a session of an earlier config, and delivered
                # as we connect, before the unsubscribe: not ours to take now.
                self._rejected("unknown_topic", source, f"{incoming.kind} is not taken with "
                               "this config")
                continue
            self._dispatch(client, incoming)

    def _taken(self, kind: str) -> bool:
        """Whether this config takes messages of ``kind`` (``subscriptions`` says the same)."""
        return (self.settings.accept_commands or kind not in COMMAND_KINDS) and \
            (self.settings.ha_discovery or kind not in HA_KINDS)

    def _rejected(self, reason: str, source: str, detail: str) -> None:
        """Counted always, logged once per source per ``REJECT_LOG_INTERVAL_S``."""
        self.stats.rejected[reason] += 1
        said = self._reject_log.note(source, time.monotonic())
        if said is not None:
            log.warning("MQTT input from %s ignored (%s: %s)%s", source, reason, detail[:200],
                        f"; {said} more from it since the last such line" if said else "")

    def _malformed(self, kind: str, reason: str) -> None:
        if kind not in self.stats.malformed:  # once per kind, then counted silently
            log.warning("MQTT payload ignored (%s); further ones of this kind are only counted",
                        reason)
        self.stats.malformed[kind] += 1

    def _dispatch(self, client: aiomqtt.Client, incoming: topics.Incoming) -> None:
        now_wall, mono = datetime.now(UTC).isoformat(), time.monotonic()
        if incoming.kind == "node_status":
            self.nodes.heard(incoming.subject or "", mono=mono, wall=now_wall,
                             status=incoming.data)
        elif incoming.kind == "node_telemetry":
            self.nodes.heard(incoming.subject or "", mono=mono, wall=now_wall,
                             telemetry=incoming.data)
        elif incoming.kind == "node_ack":
            future = self._acks.get(incoming.data["id"])
            if future is not None and not future.done():
                future.set_result(incoming.data)
        elif incoming.kind == "ha_status":
            if incoming.data == "online":  # Home Assistant restarted: announce again
                self._spawn(self._announce_to_home_assistant(client))
        elif incoming.kind in ("circuit_set", "announce"):
            self._spawn(self._province_command(client, incoming))
        elif incoming.kind == "report_day":
            assert self._days_changed is not None
            day = incoming.subject or ""
            if incoming.data:
                self._day_reports.add(day)
                self._days_changed.set()
            else:  # cleared, by us or by hand
                self._day_reports.discard(day)
        elif incoming.kind == "ha_set":
            self._spawn(self._ha_command(incoming.subject or "", incoming.data))
        elif incoming.kind == "ha_schedule":
            self._spawn(self._back_to_schedule(incoming.subject or ""))

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._handlers.add(task)
        task.add_done_callback(self._handlers.discard)

    async def _province_command(self, client: aiomqtt.Client, incoming: topics.Incoming
                                ) -> None:
        """A circuit command or an announcement, taken as ``province_commands`` says; one
        refused is counted by kind, logged once per kind, and answered with its reason."""
        circuit = incoming.subject or ""
        topic = topics.circuit_set(self.root, circuit) if incoming.kind == "circuit_set" \
            else topics.announce(self.root)
        command: dict[str, Any] = incoming.data
        if self.settings.province_commands == "signed":
            assert self.settings.province_key is not None, "signed commands need a key"
            try:
                command = signing.verify(self.settings.province_key, topic, command,
                                         now=time.time(), window_s=self.settings.command_window_s)
            except signing.CommandRefused as exc:
                if exc.kind not in self.stats.refused:
                    log.warning("command on %s refused: %s; further ones of this kind are only "
                                "counted", topic, exc)
                self.stats.refused[exc.kind] += 1
                refusal = f"refused: {exc}"
                if incoming.kind == "circuit_set":
                    ack: dict[str, Any] = {"ok": False, "error": refusal}
                    if "id" in command:
                        ack["id"] = command["id"]
                    await self._reply(client, topics.circuit_set_ack(self.root, circuit), ack)
                else:
                    await self._reply(client, topics.announce_ack(self.root),
                                      {"id": command["id"], "accepted": False, "error": refusal})
                return
        if incoming.kind == "circuit_set":
            await self._set_circuit(client, circuit, command)
        else:
            await self._announce(client, command)

    async def _set_circuit(self, client: aiomqtt.Client, circuit: str,
                           command: dict[str, Any]) -> None:
        """A circuit command, taken once per ``id``: QoS 1 is at least once (MQTT 3.1.1,
        4.3.2), and the broker delivers again what it had no PUBACK for when the link
        dropped, so a second copy gets the first one's answer and makes no second override.
        (Announcements are taken once by the port, whose ids outlive a restart.)"""
        key = (circuit, json.dumps(command["id"])) if "id" in command else None
        first = self._circuit_commands.get(key) if key is not None else None
        if first is not None:
            ack = await asyncio.shield(first)
            log.info("circuit command %s on %s delivered again: answered, not taken again",
                     command["id"], circuit)
        else:
            answer: asyncio.Future[dict[str, Any]] = \
                asyncio.get_running_loop().create_future()
            if key is not None:
                self._circuit_commands[key] = answer
                while len(self._circuit_commands) > COMMANDS_REMEMBERED:
                    self._circuit_commands.popitem(last=False)
            try:
                await self._port.set_circuit(circuit, command)
                ack = {"ok": True}
            except ValueError as exc:
                self._malformed("circuit_set", f"circuit/{circuit}/set refused: {exc}")
                ack = {"ok": False, "error": str(exc)}
            except BaseException:
                if key is not None:
                    self._circuit_commands.pop(key, None)  # not taken: a copy may try again
                answer.cancel()
                raise
            if "id" in command:
                ack["id"] = command["id"]
            answer.set_result(ack)
        await self._reply(client, topics.circuit_set_ack(self.root, circuit), ack)

    async def _ha_command(self, circuit: str, command: topics.HaCommand) -> None:
        """Home Assistant reads no acknowledgement: a refusal is counted and logged, and the
        state topic, unchanged, tells it the light did not follow."""
        try:
            await self._port.ha_command(circuit, command)
        except ValueError as exc:
            self._malformed("ha_set", f"circuit/{circuit}/ha/set refused: {exc}")

    async def _back_to_schedule(self, circuit: str) -> None:
        try:
            ended = await self._port.back_to_schedule(circuit)
        except ValueError as exc:
            self._malformed("ha_schedule", f"circuit/{circuit}/ha/schedule refused: {exc}")
            return
        log.info("Home Assistant: %s back to its schedule (%d override(s) ended)", circuit,
                 ended)

    async def _announce(self, client: aiomqtt.Client, command: dict[str, Any]) -> None:
        try:
            announcement_id = await self._port.announce(command)
            ack = {"id": command["id"], "accepted": True, "announcement_id": announcement_id}
        except ValueError as exc:
            ack = {"id": command["id"], "accepted": False, "error": str(exc)}
        await self._reply(client, topics.announce_ack(self.root), ack)

    async def _reply(self, client: aiomqtt.Client, topic: str, ack: dict[str, Any]) -> None:
        try:
            await self._publish(client, topic, _json(ack))
        except aiomqtt.MqttError as exc:
            log.warning("acknowledgement on %s not sent: %s", topic, exc)


class SourceLimits:
    """A token bucket per source: ``rate_per_s`` messages a second on average, ``burst`` at
    once; what is above is refused. At most ``MAX_SOURCES`` buckets are kept (the oldest
    half forgotten beyond), so made-up source names cannot grow it without bound."""

    def __init__(self, rate_per_s: float, burst: float) -> None:
        self.rate_per_s, self.burst = rate_per_s, burst
        self._buckets: dict[str, tuple[float, float]] = {}  # source: (tokens, at)

    def allow(self, source: str, mono: float) -> bool:
        tokens, at = self._buckets.get(source, (self.burst, mono))
        tokens = min(self.burst, tokens + (mono - at) * self.rate_per_s)
        allowed = tokens >= 1.0
        self._buckets[source] = (tokens - 1.0 if allowed else tokens, mono)
        if len(self._buckets) > MAX_SOURCES:
            for old in list(self._buckets)[:MAX_SOURCES // 2]:
                del self._buckets[old]
        return allowed


class RejectLog:
    """When to log a refusal: the first from a source, then once per ``interval_s``, telling
    how many were only counted in between."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._sources: dict[str, tuple[float, int]] = {}  # source: (last logged, unlogged)

    def note(self, source: str, mono: float) -> int | None:
        """None: count it silently; else log it, with this many left unsaid since."""
        known = self._sources.get(source)
        if known is not None and mono - known[0] < self.interval_s:
            self._sources[source] = (known[0], known[1] + 1)
            return None
        if len(self._sources) >= MAX_SOURCES:
            self._sources.clear()
        self._sources[source] = (mono, 0)
        return 0 if known is None else known[1]


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()

