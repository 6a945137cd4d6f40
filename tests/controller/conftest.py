"""Fixtures for the HTTP API tests: a simulated cabinet served over Modbus TCP on loopback, a
runtime on a fake clock at noon of an ordinary day (every lamp off by the schedule), its API
app, a client that calls the app in-process, and a token per role."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI

from controller.config import parse_config
from controller.http.app import create_app
from controller.platform.clock import FakeClock
from controller.platform.tokens import ROLES
from controller.runtime import Runtime, build_runtime
from drivers.simulator import SimulatedCabinet

ICT = ZoneInfo("Asia/Ho_Chi_Minh")
# A Thursday, no holiday: at 19.87 N sunset is about 17:15 and sunrise about 06:10.
API_NOON = datetime(2026, 11, 26, 12, 0, tzinfo=ICT)
API_HOLIDAY = datetime(2026, 12, 1, 12, 0, tzinfo=ICT)  # in the "holidays" calendar
RELAY_UNIT = 1

API_CONFIG = """
[site]
id = "api-test"
name = "Xã Thử Nghiệm"
latitude = 19.87
longitude = 105.71
timezone = "Asia/Ho_Chi_Minh"

[storage]
path = "{data}"

[lighting]
settle_s = 0

[[buses]]
id = "cabinet-1"
kind = "tcp"
host = "127.0.0.1"
port = {port}
timeout_s = 0.3
retries = 0

[[devices]]
id = "relay-1"
bus = "cabinet-1"
unit = 1
profile = "relay8"

[[circuits]]
id = "road-5"
name = "Đường số 5"
device = "relay-1"
channel = 0
groups = ["main-road"]
program = "part-night"

[[circuits]]
id = "road-6"
device = "relay-1"
channel = 1
groups = ["main-road"]
program = "part-night"

[[lighting_programs]]
id = "part-night"
windows = [
  {{ on = "sunset+5m", off = "earliest(23:00, sunrise-10m)" }},
  {{ on = "04:30", off = "sunrise-10m" }},
  {{ on = "sunset+5m", off = "sunrise-10m", calendar = "holidays" }},
]

[[lighting_programs]]
id = "all-night"
name = "Cả đêm"
windows = [{{ on = "sunset+5m", off = "sunrise-10m" }}]

[[calendars]]
id = "holidays"
dates = ["09-02", "lunar:01-15", "2026-12-01"]
public_holidays = "VN"
"""


@pytest.fixture
async def api_cabinet() -> AsyncIterator[SimulatedCabinet]:
    cabinet = SimulatedCabinet()
    cabinet.add_relay_board(RELAY_UNIT, coils=8)
    await cabinet.start_tcp("127.0.0.1", 0)
    yield cabinet
    await cabinet.stop()


@pytest.fixture
def api_clock() -> FakeClock:
    return FakeClock(API_NOON)


@pytest.fixture
async def api_runtime(tmp_path: Path, api_cabinet: SimulatedCabinet,
                      api_clock: FakeClock) -> AsyncIterator[Runtime]:
    config = parse_config(API_CONFIG.format(data=tmp_path / "data", port=api_cabinet.tcp_port))
    runtime = build_runtime(config, api_clock)
    yield runtime
    await runtime.devices.close()


@pytest.fixture
def api_app(api_runtime: Runtime) -> FastAPI:
    return create_app(api_runtime)


@pytest.fixture
async def api_client(api_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=api_app)
    async with httpx.AsyncClient(transport=transport,
                                 base_url="http://testserver/api/v1") as client:
        yield client


@pytest.fixture
def role_headers(api_runtime: Runtime) -> dict[str, dict[str, str]]:
    """An ``Authorization`` header per role, for tokens named after their role."""
    headers = {}
    for role in ROLES:
        secret, _ = api_runtime.tokens.create(name=f"{role}-token", role=role,
                                              expires_days=None, now=api_runtime.clock.now())
        headers[role] = {"Authorization": f"Bearer {secret}"}
    return headers


# -- the radio -------------------------------------------------------------------------------

RADIO_UNIT = 3
AMP_CHANNEL, MINH_DUC_CHANNEL, TRUNG_TAM_CHANNEL = 0, 1, 2
RADIO_DAWN = datetime(2026, 11, 26, 5, 58, 0, tzinfo=ICT)  # two minutes before the programme

RADIO_CONFIG = """
[site]
id = "radio-test"
latitude = 19.87
longitude = 105.71
timezone = "Asia/Ho_Chi_Minh"

[storage]
path = "{data}"

[[buses]]
id = "cabinet-1"
kind = "tcp"
host = "127.0.0.1"
port = {port}
timeout_s = 0.3
retries = 0

[[devices]]
id = "relay-2"
bus = "cabinet-1"
unit = 3
profile = "relay8"

[[amplifiers]]
id = "amp-1"
device = "relay-2"
channel = 0
warmup_s = 3

[[zones]]
id = "minh-duc"
name = "Thôn Minh Đức"
device = "relay-2"
channel = 1
amplifier = "amp-1"

[[zones]]
id = "trung-tam"
name = "Trung tâm xã"
device = "relay-2"
channel = 2
amplifier = "amp-1"

[broadcast]
output = "file:air"
quiet_hours = "22:00-05:00"
require_approval = {approval}
max_upload_mb = 1

[[broadcast_programs]]
id = "morning"
name = "Bản tin buổi sáng"
schedule = {{ times = ["06:00"] }}
zones = ["minh-duc"]
source = {{ type = "tts", text = "Đài truyền thanh xã xin kính chào bà con. Hôm nay trời rét, bà con chú ý giữ ấm cho trẻ nhỏ và người già." }}
"""  # noqa: E501 (a TOML inline table is one line)


def radio_config_text(data: Path, port: int, *, approval: bool = False) -> str:
    return RADIO_CONFIG.format(data=data, port=port, approval=str(approval).lower())


@pytest.fixture
async def radio_cabinet() -> AsyncIterator[SimulatedCabinet]:
    cabinet = SimulatedCabinet()
    cabinet.add_relay_board(RADIO_UNIT, coils=8)
    await cabinet.start_tcp("127.0.0.1", 0)
    yield cabinet
    await cabinet.stop()
