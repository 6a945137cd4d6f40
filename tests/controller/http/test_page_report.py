"""The report view in headless Chromium against a real controller: an announcement airs
(espeak-ng into the file sink), the month's report shows the same figures as the API, and its
Excel link downloads a workbook openpyxl opens; the printable page answers in HTML."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import pytest

from tests.controller.http.browser import Controller, make_user, screenshot, sign_in
from tests.controller.http.page_support import (
    api_call,
    machine_token,
    open_view,
    scroll_to,
    text_of,
    wait,
    wait_text,
)

pytestmark = pytest.mark.integration
PASSWORD = "bao-cao-thang-12"

FETCH_JS = """
const [href, done] = [arguments[0], arguments[arguments.length - 1]];
fetch(href, {credentials: 'same-origin'}).then(async (r) => {
  const bytes = new Uint8Array(await r.arrayBuffer());
  let text = '';
  for (const b of bytes) text += String.fromCharCode(b);
  done({status: r.status, type: r.headers.get('content-type'), body: btoa(text)});
}, (e) => done({status: 0, type: String(e), body: ''}));
"""


def fetch_in_page(driver: Any, href: str) -> tuple[int, str, bytes]:
    """GET ``href`` as the page would, with its session."""
    answer = driver.execute_async_script(FETCH_JS, href)
    return int(answer["status"]), str(answer["type"]), base64.b64decode(answer["body"])


def test_the_month_report_and_its_excel_file(browser: Any, tmp_path: Path) -> None:
    import openpyxl
    from selenium.webdriver.common.by import By

    driver = browser
    with Controller(tmp_path / "data") as controller:
        token = machine_token(controller, "technician")
        api_call(controller, token, "/announcements", method="POST", body={
            "title": "Họp dân", "source": {"type": "tts", "text": "Mời bà con họp dân."},
            "zones": "all"})
        wait(driver).until(lambda _: any(r.get("outcome") == "completed"
                                         for r in api_call(controller, token, "/broadcasts/log")))
        make_user(controller, "thu", "viewer", PASSWORD)
        sign_in(driver, controller.url, "thu", PASSWORD)
        open_view(driver, "report")
        month = driver.find_element(By.ID, "rp-month").get_attribute("value")
        report = api_call(controller, token, f"/reports/monthly?month={month}")
        assert report["summary"]["successful_plays"] >= 1
        wait_text(driver, "[data-field=heading]", f"Báo cáo tháng {int(month[5:])}/{month[:4]}")
        for key, field in (("scheduled", "bulletins_scheduled"), ("aired", "bulletins_aired"),
                           ("successful", "successful_plays"), ("emergency", "emergency_bulletins"),
                           ("clusters", "clusters")):
            shown = text_of(driver, f"[data-figure={key}] .big")
            assert shown == str(report["summary"][field]), (key, shown)
        assert text_of(driver, "[data-figure=clusters] .big") == "2"
        wait_text(driver, "#rp-body", "Phát xong")
        wait_text(driver, "#rp-body", "Đường số 5")
        scroll_to(driver, "#view")
        screenshot(driver, "report")

        xlsx = driver.find_element(By.CSS_SELECTOR, "[data-link=xlsx]").get_attribute("href")
        status, media_type, body = fetch_in_page(driver, xlsx)
        assert status == 200 and "spreadsheetml" in media_type, (status, media_type)
        workbook = openpyxl.load_workbook(io.BytesIO(body))
        assert workbook.sheetnames
        cells = [str(c.value) for sheet in workbook for row in sheet.iter_rows() for c in row
                 if c.value is not None]
        assert any(f"{int(month[5:])}/{month[:4]}" in c and "Thiệu Long" in c
                   for c in cells), cells[:40]

        printable = driver.find_element(By.CSS_SELECTOR, "[data-link=html]").get_attribute("href")
        status, media_type, body = fetch_in_page(driver, printable)
        assert status == 200 and media_type.startswith("text/html"), (status, media_type)
        assert "Thiệu Long" in body.decode()
