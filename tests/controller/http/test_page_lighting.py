"""The lighting view in headless Chromium against a real controller (relays on a simulated
board): a technician forces a circuit on for an hour and sees the relay close and the reason
in words, sends it back to its schedule, changes tonight's off time in the programme editor
(seeing the preview say it before saving, then the plan), and adds a lunar date to a calendar.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.controller.http.browser import CONFIG, Controller, make_user, screenshot, sign_in
from tests.controller.http.page_support import (
    SITE_TZ,
    api_call,
    check_page,
    click,
    local_hm,
    machine_token,
    open_view,
    scroll_to,
    set_value,
    text_of,
    wait,
    wait_text,
)

pytestmark = pytest.mark.integration
PASSWORD = "den-duong-so-5"
EVENING = 'windows = [{{ on = "sunset+5m", off = "earliest(23:00, sunrise-10m)" }}]'


def off_now_config() -> str:
    """The shared config with the programme's window three hours from now, so that the relay
    is open when the test starts whatever the time of day."""
    now = datetime.now(SITE_TZ)
    on, off = ((now + timedelta(hours=h)).strftime("%H:%M") for h in (3, 4))
    assert EVENING in CONFIG
    return CONFIG.replace(EVENING, f'windows = [{{{{ on = "{on}", off = "{off}" }}}}]')


def test_override_for_an_hour_then_back_to_the_schedule(browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver = browser
    with Controller(tmp_path / "data", off_now_config()) as controller:
        make_user(controller, "lan", "technician", PASSWORD)
        sign_in(driver, controller.url, "lan", PASSWORD)
        open_view(driver, "lighting")
        card = '[data-circuit="road-5"]'
        assert not controller.coil(0)
        wait_text(driver, f"{card} [data-field=reason]", "theo lịch: tắt, bật lại lúc")

        Select(driver.find_element(By.ID, "lt-duration")).select_by_value("60")
        click(driver, f'{card} [data-action="on"]')
        wait(driver).until(lambda _: controller.coil(0))
        token = machine_token(controller)
        overrides = api_call(controller, token, "/overrides")
        assert [o["target"] for o in overrides] == ["circuit:road-5"]
        until = datetime.fromisoformat(overrides[0]["until"])
        made = datetime.fromisoformat(overrides[0]["created_at"])
        assert until - made == timedelta(hours=1)
        assert overrides[0]["created_by"] == "lan"
        # "điều khiển tay đến 21:30 (bởi lan)"; past midnight the date follows the time.
        wait_text(driver, f"{card} [data-field=reason]", f"điều khiển tay đến {local_hm(until)}")
        wait_text(driver, f"{card} [data-field=reason]", "(bởi lan)")
        wait_text(driver, f"{card} [data-field=desired]", "Bật 100%")
        wait_text(driver, f"{card} [data-field=actual]", "Bật 100%")
        wait_text(driver, "#lt-overrides", "Đường số 5: Bật 100% đến")
        # The other circuit is not touched.
        assert not controller.coil(1)
        check_page(driver)
        scroll_to(driver, "#lt-circuits")
        screenshot(driver, "lighting")

        click(driver, f'{card} [data-action="schedule"]')
        wait(driver).until(lambda _: not controller.coil(0))
        assert api_call(controller, token, "/overrides") == []
        wait_text(driver, f"{card} [data-field=reason]", "theo lịch: tắt, bật lại lúc")
        wait_text(driver, "#lt-overrides", "Không có điều khiển tay nào.")
        assert not driver.find_elements(By.CSS_SELECTOR, f'{card} [data-action="schedule"]')


def test_tonights_off_time_changed_in_the_programme_editor(browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    driver = browser
    with Controller(tmp_path / "data") as controller:
        make_user(controller, "lan", "technician", PASSWORD)
        sign_in(driver, controller.url, "lan", PASSWORD)
        open_view(driver, "lighting")
        program = '[data-program="evening"]'
        wait_text(driver, program, "Bật 5 phút sau hoàng hôn, tắt 23:00 hoặc 10 phút trước "
                                   "bình minh, cái nào sớm hơn")
        click(driver, f"{program} [data-action=edit]")
        editor = "[data-editor=program]"
        tonight = f"{editor} .lt-preview [data-tonight] [data-field=spans]"
        wait_text(driver, tonight, "tắt 23:00")

        # The off time: a clock time (23:00) or 10 minutes before sunrise, whichever is
        # earlier; the clock time becomes 22:00.
        off = driver.find_element(By.CSS_SELECTOR, f'{editor} [data-window="0"] [data-time="off"]')
        first = off.find_element(By.CSS_SELECTOR, ".lt-leaf input[type=time]")
        assert first.get_attribute("value") == "23:00"
        set_value(driver, first, "22:00")
        wait_text(driver, f'{editor} [data-window="0"] [data-time="off"] .lt-reads',
                  "22:00 hoặc 10 phút trước bình minh, cái nào sớm hơn")
        wait_text(driver, tonight, "tắt 22:00")
        assert "Tối nay" in text_of(driver, f"{editor} .lt-preview [data-tonight]")
        check_page(driver)
        scroll_to(driver, f"{editor} [data-action=remove-window]")
        screenshot(driver, "lighting-program")
        # Nothing is stored before saving.
        token = machine_token(controller)
        stored = api_call(controller, token, "/lighting-programs/evening")
        assert stored["windows"][0]["off"] == "earliest(23:00, sunrise-10m)"

        click(driver, f"{editor} [data-action=save]")
        wait_text(driver, program, "tắt 22:00 hoặc 10 phút trước bình minh")
        stored = api_call(controller, token, "/lighting-programs/evening")
        assert stored["windows"][0]["off"] == "earliest(22:00, sunrise-10m)"
        assert stored["windows"][0]["on"] == "sunset+5m"
        plan = api_call(controller, token, "/plan")
        offs = [e for e in plan["entries"]
                if e["kind"] == "lighting" and e["target"] == "road-5" and e["state"] == "off"]
        assert offs and local_hm(offs[0]["time"]) == "22:00", offs


def test_a_lunar_date_added_to_a_calendar(browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver = browser
    with Controller(tmp_path / "data") as controller:
        make_user(controller, "lan", "technician", PASSWORD)
        sign_in(driver, controller.url, "lan", PASSWORD)
        open_view(driver, "lighting")
        calendar = '[data-calendar="tet"]'
        wait_text(driver, calendar, "mùng 1 tháng Giêng (âm lịch)")
        click(driver, f"{calendar} [data-action=edit]")
        editor = "[data-editor=calendar]"
        Select(driver.find_element(By.CSS_SELECTOR, f"{editor} [data-role=date-kind]")
               ).select_by_value("lunar")
        Select(driver.find_element(By.CSS_SELECTOR, f"{editor} [data-role=lunar-day]")
               ).select_by_value("15")
        Select(driver.find_element(By.CSS_SELECTOR, f"{editor} [data-role=lunar-month]")
               ).select_by_value("1")
        click(driver, f"{editor} [data-action=add-date]")
        wait_text(driver, f"{editor} [data-list=dates]", "rằm tháng Giêng (âm lịch)")
        click(driver, f"{editor} label.choice")  # public holidays
        check_page(driver)
        click(driver, f"{editor} [data-action=save]")
        wait_text(driver, calendar, "rằm tháng Giêng (âm lịch)")
        wait_text(driver, calendar, "các ngày lễ của Việt Nam")
        stored = api_call(controller, machine_token(controller), "/calendars/tet")
        assert stored["dates"] == ["lunar:01-01", "lunar:01-02", "lunar:01-03", "lunar:01-15"]
        assert stored["public_holidays"] == "VN"
