"""Everything a running controller holds, built in one place (the composition root).

``build_runtime`` wires config, storage, devices and coordinators; the API, the CLI and the tests
all receive a ``Runtime`` rather than reaching for globals. Nothing here starts a task: ``run``
in ``controller.app`` does that.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from zoneinfo import ZoneInfo

from controller.config import Config
from controller.lighting.coordinator import LightingCoordinator
from controller.lighting.overrides import OverrideBook
from controller.lighting.programs import ProgramBook, seed
from controller.lighting.service import LightingService
from controller.lighting.usage import UsageRecorder
from controller.nodes.firmware import FirmwareBook
from controller.nodes.node_zones import MediaShelf, NodeZones
from controller.platform.accounts import AccountService
from controller.platform.alarms import AlarmBook
from controller.platform.audit import AuditTrail
from controller.platform.clock import Clock
from controller.platform.clock_guard import ClockGuard
from controller.platform.devices import DeviceManager
from controller.platform.history import History
from controller.platform.sessions import SessionBook
from controller.platform.store import Store
from controller.platform.tokens import TokenRegistry
from controller.platform.users import UserBook
from controller.radio.airlog import AirLog
from controller.radio.coordinator import BroadcastCoordinator
from controller.radio.library import AudioLibrary
from controller.radio.records import RadioBook
from controller.radio.service import RadioService
from controller.radio.sources import SourcePlayer
from controller.radio.talk_button import TalkButton
from controller.radio.zones import ZoneSwitch
from drivers.audio import make_sink
from drivers.tts import SpeechSynth


def package_version() -> str:
    try:
        return version("commune-controller")
    except PackageNotFoundError:
        return "0+unknown"


@dataclass
class Runtime:
    config: Config
    clock: Clock
    store: Store
    events: History
    audit: History
    tokens: TokenRegistry
    programs: ProgramBook
    overrides: OverrideBook
    devices: DeviceManager
    alarms: AlarmBook
    lighting: LightingCoordinator
    library: AudioLibrary
    player: SourcePlayer
    broadcasts: BroadcastCoordinator
    trail: AuditTrail
    # Set by build_runtime once the trail exists: the one owner of lighting's use cases.
    lighting_service: LightingService = field(init=False)
    # Likewise the radio's: programmes, announcements, audio, what is on air.
    radio_service: RadioService = field(init=False)
    # People's accounts and their browser sessions (tokens are for machines).
    users: UserBook = field(init=False)
    sessions: SessionBook = field(init=False)
    accounts: AccountService = field(init=False)
    started_at: datetime
    version: str = field(default_factory=package_version)
    demo: bool = False
    guard: ClockGuard | None = None
    firmware: FirmwareBook | None = None
    # What field nodes may fetch (audio for node zones, firmware images), by one-time token.
    media_shelf: MediaShelf = field(default_factory=MediaShelf)
    status_cache: Any = None  # the last GET /status body and what it was built from
    bridge: Any = None  # firmware_bridge.bridge.MqttBridge when [mqtt] is configured
    front: Any = None  # controller.http.front_process.FrontProcess while run_controller serves
    notify: Any = None  # controller.notify.service.NotifyService: alarms to people
    talk_button: TalkButton | None = None  # [broadcast.talk_button]: push to talk

    def clock_synced(self) -> bool:
        return True if self.guard is None else self.guard.clock_synced()

    def nodes(self) -> list[dict[str, Any]]:
        """Field nodes seen on MQTT (none without it)."""
        return [] if self.bridge is None else self.bridge.nodes.as_json()


def build_runtime(config: Config, clock: Clock, *, demo: bool = False) -> Runtime:
    data = config.storage.path
    store = Store(data)
    seed(store, config)
    RadioBook(store).seed_programs(config.broadcast_programs, now=clock.now())
    events = History(data / "history", "events")
    audit = History(data / "history", "audit")
    programs = ProgramBook(store)
    overrides = OverrideBook(store)
    devices = DeviceManager(config, clock)
    alarms = AlarmBook(events, clock)
    lighting = LightingCoordinator(config=config, clock=clock, programs=programs,
                                   overrides=overrides, devices=devices, alarms=alarms)
    # A pass runs at least every check_interval_s: a longer gap is a stop or a clock step.
    lighting.usage = UsageRecorder(store, ZoneInfo(config.site.timezone),
                                   max_gap_s=2 * config.lighting.check_interval_s + 60)
    library = AudioLibrary(store, data)
    radio = config.broadcast
    player = SourcePlayer(
        library=library,
        synth=SpeechSynth(data / "cache" / "tts", voice=radio.tts_voice,
                          words_per_minute=radio.tts_words_per_minute),
        stream_connect_timeout_s=radio.stream_connect_timeout_s)
    shelf = MediaShelf()
    broadcasts = BroadcastCoordinator(
        config=config, clock=clock, store=store,
        airlog=AirLog(History(data / "history", "broadcasts")),
        zones=ZoneSwitch(config=config, devices=devices, alarms=alarms, clock=clock),
        player=player, sink=make_sink(radio.output, clock, data_dir=data), alarms=alarms,
        nodes=NodeZones(config=config, alarms=alarms, shelf=shelf))
    runtime = Runtime(config=config, clock=clock, store=store, events=events, audit=audit,
                      tokens=TokenRegistry(store), programs=programs, overrides=overrides,
                      devices=devices, alarms=alarms, lighting=lighting, library=library,
                      player=player, broadcasts=broadcasts, trail=AuditTrail(audit, clock),
                      started_at=clock.now(), demo=demo)
    runtime.users = UserBook(store)
    runtime.sessions = SessionBook(store)
    runtime.accounts = AccountService(users=runtime.users, sessions=runtime.sessions,
                                      trail=runtime.trail, clock=clock)
    runtime.lighting_service = LightingService(
        config=config, clock=clock, store=store, overrides=overrides, programs=programs,
        coordinator=lighting, devices=devices, alarms=alarms, trail=runtime.trail)
    runtime.radio_service = RadioService(
        config=config, clock=clock, store=store, library=library, player=player,
        broadcasts=broadcasts, trail=runtime.trail)
    button = config.broadcast.talk_button
    if button is not None:
        radio_service = runtime.radio_service
        runtime.talk_button = TalkButton(
            button, devices, clock,
            lambda request, actor: radio_service.start_live(request, actor=actor))
    guard = ClockGuard(clock, alarms)
    guard.on_step += [lighting.wake, broadcasts.wake]
    lighting.clock_trusted = broadcasts.clock_trusted = lambda: guard.trusted
    runtime.guard = guard
    runtime.firmware = FirmwareBook(store=store, data_dir=data, clock=clock, alarms=alarms,
                                    shelf=shelf)
    runtime.media_shelf = shelf
    runtime.firmware.base_url = broadcasts.nodes.base_url if broadcasts.nodes else ""
    if config.mqtt is not None:
        runtime.bridge = make_bridge(runtime)
    runtime.notify = make_notify(runtime)
    return runtime


def make_notify(runtime: Runtime) -> Any:
    """The notifications (controller.notify): told of every alarm and notable event by the
    alarm book; its runner is a task of ``run_controller``."""
    from controller.notify.channels import build_channels
    from controller.notify.service import NotifyService

    settings = runtime.config.notify
    service = NotifyService(
        config=runtime.config, store=runtime.store, events=runtime.events, clock=runtime.clock,
        channels=build_channels(settings.sms, settings.email, settings.webhook),
        note=runtime.alarms.note)
    runtime.alarms.listeners.append(service.on_record)
    runtime.alarms.clear_listeners.append(service.on_cleared)
    return service


def make_bridge(runtime: Runtime) -> Any:
    # Imported only with [mqtt]: aiomqtt stays out of installations that do not use it.
    from controller.nodes.mqtt_port import ControllerPort
    from controller.reports.province import ReportFeed
    from firmware_bridge.bridge import BridgeSettings, MqttBridge
    from firmware_bridge.signing import read_key

    mqtt = runtime.config.mqtt
    assert mqtt is not None
    port = ControllerPort(runtime)
    port.report_feed = ReportFeed(
        runtime.config, runtime.clock, radio=runtime.radio_service,
        lighting=runtime.lighting_service, events=runtime.events,
        clusters_online=port.clusters_online).reports
    bridge = MqttBridge(BridgeSettings(
        url=mqtt.url, prefix=mqtt.prefix, site_id=runtime.config.site.id,
        site_name=runtime.config.site.name, accept_commands=mqtt.accept_commands,
        ha_discovery=mqtt.ha_discovery, username=mqtt.username,
        password=mqtt.broker_password(),
        ca_file=None if mqtt.ca_file is None else str(mqtt.ca_file),
        cert_file=None if mqtt.cert_file is None else str(mqtt.cert_file),
        key_file=None if mqtt.key_file is None else str(mqtt.key_file),
        report_interval_s=mqtt.report_interval_min * 60.0,
        province_commands=mqtt.province_commands, command_window_s=mqtt.command_window_s,
        province_key=None if mqtt.province_key_file is None else
        read_key(mqtt.province_key_file)),
        port)
    runtime.alarms.listeners.append(bridge.publish_event)
    if runtime.broadcasts.nodes is not None:
        runtime.broadcasts.nodes.command = bridge.node_command
    if runtime.firmware is not None:
        firmware = runtime.firmware
        firmware.command = bridge.node_command

        def node(node_id: str) -> dict[str, Any]:
            return next((n for n in bridge.nodes.as_json() if n["id"] == node_id), {})

        firmware.node_version = lambda n: (node(n).get("telemetry") or {}).get("fw")
        firmware.node_online = lambda n: node(n).get("status") == "online"
    return bridge
