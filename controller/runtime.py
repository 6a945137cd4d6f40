"""Everything a running controller holds, built in one place (the composition root).

``build_runtime`` wires config, storage, devices and coordinators; the API, the CLI and the tests
all receive a ``Runtime`` rather than reaching for globals. Nothing here starts a task: ``run``
in ``controller.app`` does that.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version

from controller.alarms import AlarmBook
from controller.clock import Clock
from controller.config import Config
from controller.devices import DeviceManager
from controller.history import History
from controller.lighting import LightingCoordinator
from controller.overrides import OverrideBook
from controller.programs import ProgramBook, seed
from controller.store import Store
from controller.tokens import TokenRegistry


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
    started_at: datetime
    version: str = field(default_factory=package_version)
    demo: bool = False


def build_runtime(config: Config, clock: Clock, *, demo: bool = False) -> Runtime:
    data = config.storage.path
    store = Store(data)
    seed(store, config)
    events = History(data / "history", "events")
    audit = History(data / "history", "audit")
    programs = ProgramBook(store)
    overrides = OverrideBook(store)
    devices = DeviceManager(config, clock)
    alarms = AlarmBook(events, clock)
    lighting = LightingCoordinator(config=config, clock=clock, programs=programs,
                                   overrides=overrides, devices=devices, alarms=alarms)
    return Runtime(config=config, clock=clock, store=store, events=events, audit=audit,
                   tokens=TokenRegistry(store), programs=programs, overrides=overrides,
                   devices=devices, alarms=alarms, lighting=lighting,
                   started_at=clock.now(), demo=demo)
