"""Roles in the page, in headless Chromium against a real controller: an admin creates an
account in the users view and that person signs in with it; a viewer walks every view and
finds no button it could not use (and no users view at all)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.controller.http.browser import Controller, make_user, screenshot, sign_in
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
ADMIN_PASSWORD = "quan-tri-xa-2026"
NEW_PASSWORD = "chi-mai-truyen-thanh"
SECOND_PASSWORD = "mat-khau-thu-hai-cua-mai"

# What a viewer may press: reading only (a view's retry, opening a detail, the header's
# language and account buttons outside the view). Anything else in a view is a change.
READ_ONLY_BUTTONS = {"Thử lại"}
# The change buttons the views have, by their data-action (lighting, health, users) and by
# their words: none of them may show for a viewer.
CHANGE_ACTIONS = {"on", "off", "schedule", "end-override", "edit", "delete", "new-program",
                  "new-calendar", "save", "add-window", "remove-window", "add-date",
                  "add-range", "probe", "ack", "create", "role", "password", "enable",
                  "disable", "stop", "approve", "cancel", "announce", "upload", "record"}


def visible_view_buttons(driver: Any) -> list[dict[str, str]]:
    return list(driver.execute_script("""
      return [...document.querySelectorAll('#view button, #view input[type=submit]')]
        .filter((b) => { const r = b.getBoundingClientRect(); return r.width > 0 && r.height > 0; })
        .map((b) => ({text: b.textContent.trim(), action: b.dataset.action || '',
                      label: b.getAttribute('aria-label') || ''}));
    """))


def test_a_viewer_sees_no_button_it_cannot_use(browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    driver = browser
    with Controller(tmp_path / "data") as controller:
        assert controller.cabinet is not None
        make_user(controller, "hoa", "viewer", "chi-xem-thoi-nhe")
        # Something to act on everywhere: an override in force and an open alarm.
        token = machine_token(controller, "technician")
        api_call(controller, token, "/overrides", method="POST", body={
            "target": "circuit:road-5", "state": "on", "duration_min": 30, "reason": "test"})
        controller.cabinet.set_reply_delay(1, 5.0)
        wait(driver).until(lambda _: any(
            e["kind"] == "device_offline"
            for e in api_call(controller, token, "/events?open=true")))
        sign_in(driver, controller.url, "hoa", "chi-xem-thoi-nhe")
        views = [a.get_attribute("data-view")
                 for a in driver.find_elements(By.CSS_SELECTOR, "#nav a[data-view]")]
        assert {"home", "lighting", "health", "report"} <= set(views), views
        assert "users" not in views
        for view in views:
            open_view(driver, view)
            if view == "lighting":
                wait_text(driver, '[data-circuit="road-5"] [data-field=reason]', "điều khiển tay")
            if view == "health":
                wait_text(driver, "#hl-open", "Thiết bị mất kết nối")
            buttons = visible_view_buttons(driver)
            changes = [b for b in buttons
                       if b["action"] in CHANGE_ACTIONS or b["text"] not in READ_ONLY_BUTTONS]
            assert not changes, f"{view}: a viewer sees {changes}"
        # Asked for by its address, the users view is not shown either.
        driver.execute_script("location.hash = '#/users'")
        wait(driver).until(lambda d: d.execute_script(
            "return document.getElementById('view').dataset.view") != "users")
        api_call(controller, token, "/overrides")  # the controller still answers


def test_an_admin_creates_a_user_who_then_signs_in(browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver = browser
    with Controller(tmp_path / "data") as controller:
        make_user(controller, "quan", "admin", ADMIN_PASSWORD)
        sign_in(driver, controller.url, "quan", ADMIN_PASSWORD)
        open_view(driver, "users")
        wait_text(driver, '[data-user="quan"]', "Quản trị")
        form = "#us-create"
        driver.find_element(By.CSS_SELECTOR, f"{form} input[name=new-user-name]").send_keys("mai")
        Select(driver.find_element(By.CSS_SELECTOR, f"{form} select")).select_by_value("operator")
        for box in driver.find_elements(By.CSS_SELECTOR, f"{form} input[type=password]"):
            box.send_keys(NEW_PASSWORD)
        click(driver, f"{form} [data-action=create]")
        wait_text(driver, '[data-user="mai"]', "Vận hành")
        wait_text(driver, '[data-user="mai"]', "Đang dùng")
        check_page(driver)
        scroll_to(driver, '[data-user="mai"]')
        screenshot(driver, "users")
        users = {u["name"]: u for u in api_call(controller, machine_token(controller), "/users")}
        assert users["mai"]["role"] == "operator" and users["mai"]["disabled"] is False

        # The admin makes her a technician and gives her another password; then she signs
        # in on this browser with it.
        card = '[data-user="mai"]'
        Select(driver.find_element(By.CSS_SELECTOR, f"{card} .us-row select")
               ).select_by_value("technician")
        click(driver, f"{card} [data-action=role]")
        wait_text(driver, f"{card} [data-field=role]", "Kỹ thuật")
        driver.find_element(By.CSS_SELECTOR, f"{card} input[type=password]").send_keys(
            SECOND_PASSWORD)
        click(driver, f"{card} [data-action=password]")
        wait_text(driver, "#say", "Đã đặt mật khẩu mới cho mai")
        driver.delete_all_cookies()
        sign_in(driver, controller.url, "mai", SECOND_PASSWORD)
        views = [a.get_attribute("data-view")
                 for a in driver.find_elements(By.CSS_SELECTOR, "#nav a[data-view]")]
        assert "users" not in views and "lighting" in views
        open_view(driver, "lighting")
        # A technician: the override buttons are there.
        assert driver.find_elements(By.CSS_SELECTOR, '[data-circuit="road-5"] [data-action=on]')

        # Disabled by the admin, she cannot sign in any more, and is told why.
        driver.delete_all_cookies()
        sign_in(driver, controller.url, "quan", ADMIN_PASSWORD)
        open_view(driver, "users", checks=False)
        click(driver, f"{card} [data-action=disable]")
        click(driver, "dialog[open] [data-confirm=yes]")
        wait_text(driver, f"{card} [data-field=disabled]", "Đã vô hiệu hóa")
        users = {u["name"]: u for u in api_call(controller, machine_token(controller), "/users")}
        assert users["mai"]["disabled"] is True
        driver.delete_all_cookies()
        driver.get(controller.url)
        wait(driver).until(lambda d: d.find_element(By.ID, "sign-in-name").is_displayed())
        driver.find_element(By.ID, "sign-in-name").send_keys("mai")
        driver.find_element(By.ID, "sign-in-password").send_keys(SECOND_PASSWORD)
        click(driver, "#sign-in-form button[type=submit]")
        wait_text(driver, "#sign-in-error", "Tài khoản đã bị vô hiệu hóa")


RAW_KEY_JS = """
const texts = [document.body.innerText,
  ...[...document.querySelectorAll('[aria-label]')].map((e) => e.getAttribute('aria-label'))];
return texts.join('\\n').match(/\\b(lt|hl|rp|us|error|field)\\.[A-Za-z_.]+/g) || [];
"""


def test_every_view_in_both_languages(browser: Any, tmp_path: Path) -> None:
    """The four views, editors open, in Vietnamese and in English: no word is missing from
    both lists (it would show as its key, e.g. "lt.previewTonight"), and axe-core passes in
    both. A word missing from the English list alone is test_page_words.py's to find."""
    from selenium.webdriver.common.by import By

    driver = browser
    with Controller(tmp_path / "data") as controller:
        make_user(controller, "quan", "admin", ADMIN_PASSWORD)
        sign_in(driver, controller.url, "quan", ADMIN_PASSWORD)
        for language, words in (("vi", "Chiếu sáng"), ("en", "Lighting")):
            if language == "en":
                click(driver, "#lang")
                wait(driver).until(lambda d: d.execute_script(
                    "return document.documentElement.lang") == "en")
            for view in ("lighting", "health", "report", "users"):
                open_view(driver, view)
                if view == "lighting":
                    wait_text(driver, "#view", words)
                    click(driver, '[data-program="evening"] [data-action=edit]')
                    wait(driver).until(lambda d: d.find_elements(
                        By.CSS_SELECTOR, "[data-editor=program] .lt-preview li"))
                    click(driver, '[data-calendar="tet"] [data-action=edit]')
                    check_page(driver)
                raw = driver.execute_script(RAW_KEY_JS)
                assert not raw, f"{language} {view}: words missing: {sorted(set(raw))}"
