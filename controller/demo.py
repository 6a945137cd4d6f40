"""The embedded demo installation: the config in ``demo_config.toml`` and a simulated cabinet
(relay boards and a meter served on 127.0.0.1 by the real Modbus protocol) to run it against.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import tomllib
from collections.abc import Callable
from importlib import resources
from typing import Any

from controller.config import Config, validate_config
from controller.platform.clock import SystemClock
from controller.runtime import Runtime
from drivers.simulator import Lamp, SimulatedCabinet

DEMO_LAMP_W = 150.0  # one LED street lamp head
DEMO_LAMPS_ON_ROAD_5 = 12


def demo_config(*, port: int = 0) -> Config:
    """The demo config with its Modbus bus pointed at ``port`` (the simulator's)."""
    raw = tomllib.loads(resources.files("controller").joinpath("demo_config.toml").read_text(
        encoding="utf-8"))
    if port:
        raw["buses"][0]["port"] = port
    return validate_config(raw, source="embedded demo")


def demo_cabinet(config: Config) -> SimulatedCabinet:
    """Boards at the units the demo config names; the meter sees road-5's lamps."""
    cabinet = SimulatedCabinet()
    for device in config.devices:
        if device.profile.startswith("relay"):
            cabinet.add_relay_board(device.unit, coils=int(device.profile[5:]), inputs=8)
    meter = config.device("meter-1")
    road_5 = config.circuit("road-5")
    assert road_5 is not None and road_5.channel is not None
    lamps = [Lamp(config.device(road_5.device).unit, road_5.channel, DEMO_LAMP_W)
             for _ in range(DEMO_LAMPS_ON_ROAD_5)]
    cabinet.add_meter(meter.unit, lamps=lamps)
    return cabinet


async def run_with_optional_demo(
        args: argparse.Namespace,
        load: Callable[..., tuple[Config, bool]]) -> int:
    """``communectl run``: the named config, or the demo with its simulated cabinet."""
    from controller.app import run_controller

    config, is_demo = load(args)
    if args.api_port is not None:
        config = config.model_copy(update={"api": config.api.model_copy(
            update={"port": args.api_port})})
    if not is_demo:
        await run_controller(config, SystemClock())
        return 0
    cabinet = demo_cabinet(config)
    port = await cabinet.start_tcp("127.0.0.1", 0)
    try:
        config = config.model_copy(update={"buses": [
            config.buses[0].model_copy(update={"port": port}), *config.buses[1:]]})
        await run_controller(config, SystemClock(), demo=True, on_ready=_announce)
    finally:
        await cabinet.stop()
    return 0


DEMO_USER = "demo"


def _announce(runtime: Runtime, url: str) -> None:
    """Print the dashboard address, the demo person's password for the page (new at each
    start) and a one-time admin token for scripts (valid one day)."""
    name = f"demo-admin-{secrets.token_hex(2)}"
    secret, _ = runtime.tokens.create(name=name, role="admin", expires_days=1,
                                      now=runtime.clock.now())
    password = secrets.token_urlsafe(9)
    if runtime.users.get(DEMO_USER) is None:
        runtime.users.create(name=DEMO_USER, role="admin", password=password,
                             now=runtime.clock.now())
    else:  # a demo run before this one left the account: a new password, and it is unlocked
        runtime.users.set_password(DEMO_USER, password, now=runtime.clock.now())
    lines: list[Any] = [
        "",
        f"communectl demo is running: {runtime.config.site.name}",
        f"  dashboard  {url}",
        f"  API docs   {url}docs",
        f"  sign in    user {DEMO_USER}, password {password} (admin; new at each start)",
        f"  admin token (shown once, valid one day): {secret}",
        f"  try: curl -H 'Authorization: Bearer {secret}' {url}api/v1/circuits",
        "  Ctrl-C stops it.",
        "",
    ]
    print("\n".join(lines), file=sys.stdout, flush=True)
