"""The monthly report as files: the XLSX workbook read back with openpyxl (cells and their
types), and the printable page rendered and printed by headless Chromium (one A4 page for a
typical month, its stylesheet allowed by the page's Content-Security-Policy)."""

from __future__ import annotations

import asyncio
import io
import re
import socket
from collections.abc import AsyncIterator, Iterator
from datetime import datetime

import openpyxl
import pytest
import uvicorn

from controller.http.app import create_app
from controller.http.pages import CSP
from controller.http.server import ApiServer
from tests.conftest import require_program
from tests.controller.reports.conftest import Month

pytestmark = pytest.mark.integration
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PAGE_OBJECT = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")


async def workbook(month: Month) -> openpyxl.Workbook:
    response = await month.client.get("/reports/monthly", headers=month.viewer,
                                      params={"month": "2026-11", "format": "xlsx"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == XLSX
    assert response.headers["content-disposition"] == 'attachment; filename="report-2026-11.xlsx"'
    return openpyxl.load_workbook(io.BytesIO(response.content))


def rows_of(sheet: object, label: str) -> list[tuple[object, ...]]:
    return [tuple(r) for r in sheet.iter_rows() if r[0].value == label]  # type: ignore[attr-defined]


def row_of(sheet: object, label: str) -> tuple[object, ...]:
    rows = rows_of(sheet, label)
    assert len(rows) == 1, (label, len(rows))
    return rows[0]


async def test_the_workbook_has_the_summary_and_the_details_as_typed_cells(
        month: Month) -> None:
    book = await workbook(month)
    assert book.sheetnames == ["Báo cáo", "Lỡ và lỗi", "Khẩn cấp"]
    sheet = book["Báo cáo"]
    assert "Xã Thử Nghiệm" in sheet["A1"].value
    first = row_of(sheet, "Từ ngày")[1]
    assert first.value == datetime(2026, 11, 1) and first.is_date  # type: ignore[attr-defined]
    assert first.number_format == "dd/mm/yyyy"  # type: ignore[attr-defined]
    assert row_of(sheet, "Đến ngày")[1].value == datetime(2026, 11, 30)  # type: ignore[attr-defined]
    expected = {"Xã": "Xã Thử Nghiệm", "Số cụm loa": 2, "Số tin, bài theo lịch": 34,
                "Số tin, bài đã phát": 32, "Số lượt phát thành công": 30,
                "Số tin khẩn cấp": 1, "Thời lượng phát (phút)": 147.5, "Bị lỡ": 1,
                "Phát xong": 30, "Khẩn cấp": 1, "Đường số 5": 120.0, "Đường số 6": 2.0,
                "device_offline": 1, "Tổng số cảnh báo": 2}
    for label, value in expected.items():
        cell = row_of(sheet, label)[1]
        assert cell.value == value, label  # type: ignore[attr-defined]
        assert cell.data_type == ("s" if isinstance(value, str) else "n"), label  # type: ignore[attr-defined]
    zone = row_of(sheet, "Thôn Minh Đức")
    assert [c.value for c in zone[1:3]] == [31, 146.5]  # type: ignore[attr-defined]
    energy, availability = rows_of(sheet, "meter-1")  # its energy, then its availability
    assert (energy[1].value, availability[1].value) == (12.1, 100.0)  # type: ignore[attr-defined]
    relay = row_of(sheet, "relay-1")
    assert [c.value for c in relay[1:4]] == [99.17, 360.0, 1]  # type: ignore[attr-defined]

    missed = book["Lỡ và lỗi"]
    assert [c.value for c in missed[1]] == ["Giờ hẹn", "Kết quả", "Tiêu đề", "Mức", "Cụm loa",
                                            "Lý do"]
    assert [c.value for c in missed[2]] == [datetime(2026, 11, 5, 6, 0), "Bị lỡ",
                                            "Bản tin buổi sáng", "Thường", "Thôn Minh Đức",
                                            "the controller was stopped"]
    assert missed["A2"].is_date and missed.max_row == 3
    emergency = book["Khẩn cấp"]
    title = emergency["E2"]
    # Typed as "=...", kept as text: a string cell with the quote prefix, never a formula.
    assert (title.value, title.data_type, title.quotePrefix) == ("=Bão số 9 đổ bộ", "s", True)
    assert [emergency["B2"].value, emergency["C2"].value, emergency["G2"].value] == \
        [datetime(2026, 11, 20, 14, 0), datetime(2026, 11, 20, 14, 2, 30), 2.5]


async def test_the_page_in_vietnamese_and_in_english(month: Month) -> None:
    pages = {}
    for lang in ("vi", "en"):
        response = await month.client.get("/reports/monthly", headers=month.viewer, params={
            "month": "2026-11", "format": "html", "lang": lang})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        assert response.headers["content-security-policy"] == CSP
        pages[lang] = response.text
    vi, en = pages["vi"], pages["en"]
    assert '<html lang="vi">' in vi and '<html lang="en">' in en
    assert "Báo cáo tháng 11/2026" in vi and "Monthly report 2026-11" in en
    assert '<dd data-field="play_time_min">147,5</dd>' in vi
    assert '<dd data-field="play_time_min">147.5</dd>' in en
    assert "Số lượt phát thành công" in vi and "Successful plays" in en
    assert '<link rel="stylesheet" href="/static/report.css">' in vi
    assert "<style" not in vi and "<script" not in vi
    assert "=Bão số 9 đổ bộ" in vi  # escaped text, shown as typed
    assert "<td>Hủy" not in vi  # a cancelled item is counted, not listed


@pytest.fixture
def browser() -> Iterator[object]:
    """Debian's headless Chromium through its chromedriver, as the dashboard's tests use it."""
    chromium = require_program("chromium")
    chromedriver = require_program("chromedriver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1280,900"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(chromedriver), options=options)
    yield driver
    driver.quit()


@pytest.fixture
async def served(month: Month) -> AsyncIterator[str]:
    """The month's API on a real loopback HTTP server, as a browser reaches it."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = ApiServer(uvicorn.Config(create_app(month.runtime), host="127.0.0.1", port=port,
                                      log_level="warning", lifespan="off", ws="none"))
    serving = asyncio.create_task(server.serve(sockets=[listener]), name="api")
    async with asyncio.timeout(10):
        while not (server.started or serving.done()):
            await asyncio.sleep(0.01)
    assert server.started
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving
        listener.close()


async def test_a_typical_month_prints_on_one_a4_page(month: Month, served: str,
                                                     browser: object) -> None:
    import base64

    from selenium.webdriver.common.print_page_options import PrintOptions

    driver = browser  # Selenium blocks: its calls go to a thread, the server runs here
    token = month.viewer["Authorization"]
    await asyncio.to_thread(driver.execute_cdp_cmd, "Network.enable", {})  # type: ignore[attr-defined]
    await asyncio.to_thread(driver.execute_cdp_cmd, "Network.setExtraHTTPHeaders",  # type: ignore[attr-defined]
                            {"headers": {"Authorization": token}})
    await asyncio.to_thread(driver.get,  # type: ignore[attr-defined]
                            f"{served}/api/v1/reports/monthly?month=2026-11&format=html")
    styled = await asyncio.to_thread(driver.execute_script,  # type: ignore[attr-defined]
                                     "return getComputedStyle(document.querySelector('h1'))"
                                     ".color")
    assert styled == "rgb(31, 78, 121)", "report.css was not applied (CSP, or not served)"
    heading = await asyncio.to_thread(driver.execute_script,  # type: ignore[attr-defined]
                                      "return document.querySelector('h1').textContent")
    assert heading == "Báo cáo tháng 11/2026"
    options = PrintOptions()
    options.page_width, options.page_height = 21.0, 29.7  # A4, in centimetres
    options.background = True
    pdf = base64.b64decode(await asyncio.to_thread(driver.print_page, options))  # type: ignore[attr-defined]
    assert pdf.startswith(b"%PDF")
    assert len(PAGE_OBJECT.findall(pdf)) == 1, "a typical month should fit one A4 page"
