"""The health view in headless Chromium against a real controller: the simulated relay board
stops answering, the controller raises its device_offline alarm, a technician sees it in
words, probes the board, acknowledges the alarm; the board answers again and the alarm shows
as cleared in the history."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.controller.http.browser import CONFIG, Controller, make_user, screenshot, sign_in
from tests.controller.http.page_support import (
    api_call,
    check_page,
    click,
    machine_token,
    open_view,
    scroll_to,
    wait,
    wait_text,
)

pytestmark = pytest.mark.integration
PASSWORD = "thiet-bi-relay-1"
# The board is checked every second, so that its silence is noticed within the test.
FAST_CHECKS = CONFIG + """
[lighting]
check_interval_s = 1
offline_retry_s = 1
"""


def test_a_device_goes_offline_and_its_alarm_is_acknowledged(browser: Any,
                                                             tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    driver = browser
    with Controller(tmp_path / "data", FAST_CHECKS) as controller:
        assert controller.cabinet is not None
        make_user(controller, "lan", "technician", PASSWORD)
        sign_in(driver, controller.url, "lan", PASSWORD)
        open_view(driver, "health")
        device = '[data-device="relay-1"]'
        wait_text(driver, device, "Trực tuyến")
        wait_text(driver, device, "Bảng rơ-le 8 kênh")

        # The board answers later than the bus waits (timeout_s = 0.5): it is offline.
        controller.cabinet.set_reply_delay(1, 5.0)
        alarm = '#hl-open [data-kind="device_offline"]'
        wait_text(driver, alarm, "Thiết bị mất kết nối")
        wait_text(driver, alarm, "Nghiêm trọng")
        wait_text(driver, alarm, "Vẫn đang mở")
        wait_text(driver, device, "Mất kết nối")
        click(driver, f"{device} [data-action=probe]")
        wait_text(driver, f"{device} .hl-probe-result", "relay-1 không trả lời")
        check_page(driver)
        scroll_to(driver, "#view")
        screenshot(driver, "health")

        token = machine_token(controller)
        open_alarms = api_call(controller, token, "/events?open=true")
        offline = [e for e in open_alarms if e["kind"] == "device_offline"]
        assert len(offline) == 1 and not offline[0].get("acked_by")
        click(driver, f"{alarm} [data-action=ack]")
        wait_text(driver, alarm, "Đã xác nhận bởi lan lúc")
        acked = api_call(controller, token, "/events?open=true")
        assert [e["acked_by"] for e in acked if e["kind"] == "device_offline"] == ["lan"]
        assert not driver.find_elements(By.CSS_SELECTOR, f"{alarm} [data-action=ack]")

        # The board answers again: the alarm is cleared, and the history says so.
        controller.cabinet.set_reply_delay(1, 0)
        wait(driver).until(lambda d: not d.find_elements(By.CSS_SELECTOR, alarm))
        wait_text(driver, f'#hl-history [data-event="{offline[0]["id"]}"]', "Đã hết lúc")
        wait_text(driver, device, "Trực tuyến")
        wait_text(driver, f"{device} [data-action=probe]", "Kiểm tra ngay")
        click(driver, f"{device} [data-action=probe]")
        wait_text(driver, f"{device} .hl-probe-result", "relay-1 trả lời sau")
        check_page(driver)
