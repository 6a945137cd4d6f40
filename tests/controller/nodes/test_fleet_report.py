"""``communectl fleet report`` over three controllers on one real mosquitto: each publishes its
retained month report (broadcast log, lighting usage and alarms as their stores hold them),
one gateway is then stopped, and the province's table still has all three rows with their
exact figures, the stopped one offline; the XLSX opened with openpyxl holds numbers as
numbers, the CSV English column names."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import sys
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from controller.config import parse_config
from controller.lighting.usage import TABLE as USAGE
from controller.lighting.usage import DayUsage, MeterDay
from controller.platform.clock import FakeClock
from controller.radio.items import AirItem
from controller.runtime import Runtime, build_runtime
from drivers.simulator import SimulatedCabinet
from firmware_bridge.bridge import connect
from firmware_bridge.fleet import fleet_report
from tests.conftest import eventually
from tests.controller.conftest import ICT

pytestmark = pytest.mark.integration
NOW = datetime(2027, 3, 14, 20, 0, tzinfo=ICT)
SITES = {"thieu-long": "Xã Thiệu Long", "thieu-ngoc": "Xã Thiệu Ngọc", "thieu-vu": "Xã Thiệu Vũ"}

CONFIG = """
[site]
id = "{site}"
name = "{name}"
latitude = 19.87
longitude = 105.71
timezone = "Asia/Ho_Chi_Minh"

[storage]
path = "{data}"

[api]
public_url = "http://127.0.0.1:8080"  # where the field nodes would fetch their audio

[[buses]]
id = "cabinet"
kind = "tcp"
host = "127.0.0.1"
port = {port}
timeout_s = 0.3

[[devices]]
id = "relay-1"
bus = "cabinet"
unit = 1
profile = "relay8"

[[devices]]
id = "meter-1"
bus = "cabinet"
unit = 2
profile = "sdm120"

[[circuits]]
id = "road-5"
device = "relay-1"
channel = 0
meter = "meter-1"

[[zones]]
id = "thon-1"
device = "relay-1"
channel = 5

[[zones]]
id = "loa"
nodes = ["spk-1"]

[broadcast]
output = "null"

[mqtt]
url = "mqtt://127.0.0.1:{broker}"
report_interval_min = 0.005
"""


def item(key: str, due: datetime, level: str = "normal") -> AirItem:
    return AirItem(key=key, kind="announcement", ref=key.split("#")[0], title=key, due=due,
                   level=level, zones=("thon-1",), source={"type": "tts", "text": key},
                   grace=timedelta(minutes=10))


def write_month(runtime: Runtime, index: int) -> None:
    """Site ``index`` (0, 1, 2): 2 + index bulletins of 5 minutes on 1..n March (the last an
    emergency), one missed, and for index 2 one failed after 1 minute; road-5 on 4 h a day on
    3 + index days; the meter counts 12.5 kWh; index alarms."""
    log = runtime.broadcasts.airlog
    for n in range(2 + index):
        due = datetime(2027, 3, n + 1, 6, 0, tzinfo=ICT)
        record = log.start(item(f"a-{n}#1", due, "emergency" if n == 1 + index else "normal"),
                           at=due)
        log.finish(record["id"], "completed", at=due + timedelta(minutes=5), started_at=due,
                   due=due)
    missed = item("m-1#1", datetime(2027, 3, 10, 7, 0, tzinfo=ICT))
    log.record(missed, "missed", at=missed.due + timedelta(minutes=10), reason="stopped")
    if index == 2:
        due = datetime(2027, 3, 11, 7, 0, tzinfo=ICT)
        record = log.start(item("f-1#1", due), at=due)
        log.finish(record["id"], "failed", at=due + timedelta(minutes=1), started_at=due,
                   due=due, reason="ffmpeg")
    with runtime.store.transaction() as tables:
        for day in range(1, 4 + index):
            at = datetime(2027, 3, day, 18, 0, tzinfo=ICT)
            meters = {"meter-1": MeterDay(100.0 + 2 * day, at, 100.0 + 2 * day + 0.5, at)} \
                if day in (1, 3 + index) else {}
            if day == 3 + index:
                meters = {"meter-1": MeterDay(112.0, at, 112.5, at)}
            tables.put(USAGE, DayUsage(at.date(), on_s={"road-5": 4 * 3600.0},
                                       meters=meters).to_doc())
    for n in range(index):
        runtime.alarms.raise_alarm("cabinet_door", f"door-{n}", "cabinet door open")


@pytest.fixture
async def province(tmp_path: Path, mosquitto: int,
                   api_cabinet: SimulatedCabinet
                   ) -> AsyncIterator[tuple[list[Runtime], list[asyncio.Task[None]]]]:
    runtimes, tasks = [], []
    for index, (site, name) in enumerate(SITES.items()):
        text = CONFIG.format(site=site, name=name, data=tmp_path / site,
                             port=api_cabinet.tcp_port, broker=mosquitto)
        clock = FakeClock(NOW - timedelta(minutes=1))  # the alarms a minute before NOW
        runtime = build_runtime(parse_config(text), clock)
        write_month(runtime, index)
        await clock.advance(60)
        runtimes.append(runtime)
        tasks.append(asyncio.create_task(runtime.bridge.run()))
    await eventually(lambda: all(r.bridge.stats.connected for r in runtimes), "connected")
    yield runtimes, tasks
    for runtime in runtimes:
        await runtime.bridge.stop()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for runtime in runtimes:
        await runtime.devices.close()


EXPECTED = {
    # site: bulletins scheduled, aired, successful, emergencies, minutes, missed, failed,
    #       on-hours, kWh, alarms
    "thieu-long": (3, 2, 2, 1, 10.0, 1, 0, 12.0, 10.5, 0),
    "thieu-ngoc": (4, 3, 3, 1, 15.0, 1, 0, 16.0, 10.5, 1),
    "thieu-vu": (6, 5, 4, 1, 21.0, 1, 1, 20.0, 10.5, 2),
}
FIGURES = ("bulletins_scheduled", "bulletins_aired", "successful_plays", "emergency_bulletins",
           "minutes_aired", "missed", "failed", "on_hours", "energy_kwh", "alarms")


async def test_fleet_report_has_every_commune_with_one_gateway_stopped(
        province: tuple[list[Runtime], list[asyncio.Task[None]]], mosquitto: int,
        tmp_path: Path) -> None:
    runtimes, tasks = province
    url = f"mqtt://127.0.0.1:{mosquitto}"

    async def month_rows() -> dict[str, dict[str, object]]:
        return {c.site: c.as_json() for c in await fleet_report(
            lambda: connect(url), "communectl", "2027-03", listen_s=0.5)}

    rows: dict[str, dict[str, object]] = {}
    for _ in range(40):
        rows = await month_rows()
        if len(rows) == 3 and all(r["reported"] for r in rows.values()):
            break
    # thieu-ngoc stops as a controller does (offline, then the bridge ends); its report
    # stays retained.
    await runtimes[1].bridge.stop()
    tasks[1].cancel()
    await asyncio.gather(tasks[1], return_exceptions=True)
    rows = await month_rows()
    assert sorted(rows) == sorted(SITES)
    for site, expected in EXPECTED.items():
        row = rows[site]
        assert tuple(row[name] for name in FIGURES) == expected, site
        assert (row["commune"], row["clusters"], row["clusters_online"]) == \
            (SITES[site], 2, 1)
        assert row["online"] is (site != "thieu-ngoc")
        assert row["updated_at"] == NOW.isoformat()

    xlsx, csv_file = tmp_path / "province.xlsx", tmp_path / "province.csv"
    for form, path in (("xlsx", xlsx), ("csv", csv_file)):
        cli = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "controller.cli", "fleet", "report", "--broker", url,
            "--month", "2027-03", "--format", form, "-o", str(path), "--listen", "0.5",
            stderr=asyncio.subprocess.PIPE)
        _, err = await cli.communicate()
        assert cli.returncode == 0, err.decode()

    from openpyxl import load_workbook

    sheet = load_workbook(xlsx).active
    assert sheet is not None
    values = list(sheet.iter_rows(values_only=True))
    headings = values[0]
    assert headings[:3] == ("Mã xã", "Xã", "Số cụm loa")
    assert "Số tin khẩn cấp" in headings and "Điện năng (kWh)" in headings
    by_site = {row[0]: dict(zip(headings, row, strict=True)) for row in values[1:]}
    vu = by_site["thieu-vu"]
    assert (vu["Xã"], vu["Số tin, bài theo lịch"], vu["Thời lượng phát (phút)"],
            vu["Số tin phát lỗi"], vu["Giờ sáng đèn"], vu["Điện năng (kWh)"],
            vu["Số cảnh báo"]) == ("Xã Thiệu Vũ", 6, 21.0, 1, 20.0, 10.5, 2)
    assert isinstance(vu["Số tin, bài theo lịch"], int)
    assert isinstance(vu["Cập nhật lúc_local"], datetime)
    assert by_site["thieu-ngoc"]["Đang trực tuyến"] == "không"

    table = list(csv.DictReader(io.StringIO(csv_file.read_text(encoding="utf-8-sig"))))
    assert [r["site"] for r in table] == sorted(SITES)
    assert table[1]["online"] == "no" and table[1]["minutes_aired"] == "15.0"
    assert table[0]["updated_at_local"] == "2027-03-14 20:00:00"


async def test_fleet_report_keeps_a_row_for_a_malformed_report(mosquitto: int) -> None:
    import aiomqtt

    async with aiomqtt.Client("127.0.0.1", mosquitto) as client:
        await client.publish("communectl/xa-a/report/month/2027-03", b"{not json", qos=1,
                             retain=True)
        await client.publish("communectl/xa-b/report/month/2027-03",
                             json.dumps({"schema": 1, "radio": {"missed": "many"},
                                         "lighting": {}}), qos=1, retain=True)
        await client.publish("communectl/xa-c/report/month/2027-03",
                             json.dumps({"schema": 2, "radio": {}, "lighting": {}}), qos=1,
                             retain=True)
    rows = {c.site: c for c in await fleet_report(
        lambda: connect(f"mqtt://127.0.0.1:{mosquitto}"), "communectl", "2027-03",
        listen_s=0.5)}
    assert sorted(rows) == ["xa-a", "xa-b", "xa-c"]
    assert not any(r.reported for r in rows.values())
    assert "not JSON" in (rows["xa-a"].malformed or "")
    assert "missed" in (rows["xa-b"].malformed or "")
    assert "schema 2" in (rows["xa-c"].malformed or "")
