"""The notifications view in headless Chromium against a real controller: an admin adds a
webhook recipient in the page pointing at a receiver on loopback, saves, taps "Gửi thử" and
the receiver gets the test, signed with the key typed in the page; a refused field and a
receiver that is down are said in words; the view in English; a technician sees the list and
the log and no button to change them. axe-core and 44 px targets at 360 px throughout."""

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
    set_value,
    wait,
    wait_text,
)
from tests.controller.notify.webhook_receiver import WebhookReceiver, webhook_receiver

__all__ = ["webhook_receiver"]

pytestmark = pytest.mark.integration
ADMIN_PASSWORD = "quan-tri-xa-2026"
TECH_PASSWORD = "ky-thuat-vien-hai"
KEY = "khoá-ký-tổ-trực"
CHANGES = {"add-recipient", "edit", "delete", "save", "undo", "test", "apply"}
RAW_KEY_JS = """
const texts = [document.body.innerText,
  ...[...document.querySelectorAll('[aria-label]')].map((e) => e.getAttribute('aria-label'))];
return texts.join('\\n').match(/\\b(nf|hl|error|field)\\.[A-Za-z_.]+/g) || [];
"""


def actions_shown(driver: Any) -> set[str]:
    return set(driver.execute_script("""
      return [...document.querySelectorAll('#view [data-action]')]
        .filter((b) => { const r = b.getBoundingClientRect(); return r.width > 0 && r.height > 0; })
        .map((b) => b.dataset.action);"""))


def test_an_admin_adds_a_webhook_saves_and_sends_a_test_a_technician_only_reads(
        browser: Any, tmp_path: Path, webhook_receiver: WebhookReceiver) -> None:
    from selenium.webdriver.common.by import By

    driver = browser
    with Controller(tmp_path / "data") as controller:
        make_user(controller, "quan", "admin", ADMIN_PASSWORD)
        make_user(controller, "hai", "technician", TECH_PASSWORD)
        sign_in(driver, controller.url, "quan", ADMIN_PASSWORD)
        open_view(driver, "notify")
        wait_text(driver, "#nf-list", "Chưa có người nhận nào")
        wait_text(driver, "#nf-log", "Chưa gửi tin nào")

        click(driver, "[data-action=add-recipient]")
        form = "[data-editor=new]"
        driver.find_element(By.CSS_SELECTOR, f"{form} input[name=recipient-id]").send_keys(
            "to-truc")
        driver.find_element(By.CSS_SELECTOR, f"{form} input[name=recipient-name]").send_keys(
            "Tổ trực")
        click(driver, f'{form} input[type=radio][value=webhook] + *, '
                      f'{form} label:has(input[type=radio][value=webhook])')
        driver.find_element(By.CSS_SELECTOR, f"{form} input[name=recipient-address]").send_keys(
            webhook_receiver.url)
        driver.find_element(By.CSS_SELECTOR, f"{form} input[name=recipient-secret]").send_keys(KEY)
        click(driver, f"{form} label:has(input[value=warning])")
        click(driver, f"{form} label:has([data-field=all-kinds])")
        click(driver, f"{form} label:has(input[value=device_offline])")
        click(driver, f"{form} label:has(input[value=lamp_failure])")
        set_value(driver, driver.find_element(By.CSS_SELECTOR, f"{form} [name=quiet-from]"),
                  "22:00")
        set_value(driver, driver.find_element(By.CSS_SELECTOR, f"{form} [name=quiet-to]"),
                  "06:00")
        check_page(driver)  # the editor open
        click(driver, f"{form} [data-action=apply]")
        card = '[data-recipient="to-truc"]'
        wait_text(driver, card, "Tổ trực")
        wait_text(driver, "#nf-unsaved", "Có thay đổi chưa lưu")
        # Not saved yet: nothing stored, and no test of what is not saved.
        assert driver.find_element(By.CSS_SELECTOR, f"{card} [data-action=test]"
                                   ).get_attribute("disabled") is not None
        admin = machine_token(controller)
        assert api_call(controller, admin, "/notify/recipients")["recipients"] == []
        click(driver, "[data-action=save]")
        wait_text(driver, "#say", "Đã lưu danh sách người nhận")
        wait_text(driver, "#nf-source", "Danh sách đã lưu trong trang")
        stored = api_call(controller, admin, "/notify/recipients")
        assert stored == {"source": "storage", "recipients": [{
            "id": "to-truc", "name": "Tổ trực", "channel": "webhook",
            "address": webhook_receiver.url, "has_secret": True,
            "severities": ["alarm", "warning"], "kinds": ["device_offline", "lamp_failure"],
            "quiet_hours": "22:00-06:00", "digest": False}]}
        wait_text(driver, f"{card} [data-field=summary]", "Yên lặng 22:00–06:00")

        click(driver, f"{card} [data-action=test]")
        wait_text(driver, f"{card} [data-field=test-result]",
                  "Đã gửi thử đến Tổ trực qua Webhook.")
        [post] = webhook_receiver.received()
        assert post.json["type"] == "test" and post.json["text"].startswith(
            "[Xã Thiệu Long] THỬ: tin nhắn thử")
        assert post.signed_with(KEY)
        wait_text(driver, '#nf-log [data-recipient="to-truc"]', "Đã gửi")
        wait_text(driver, '#nf-log [data-recipient="to-truc"]', "Tin thử")
        check_page(driver)
        scroll_to(driver, "#view .view-title")
        screenshot(driver, "notify")

        # The receiver down: said as a failure that may work later, and in the log.
        webhook_receiver.down()
        click(driver, f"{card} [data-action=test]")
        wait_text(driver, f"{card} [data-field=test-result]",
                  "Không gửi được đến Tổ trực qua Webhook. Có thể gửi được khi thử lại sau")
        wait_text(driver, "#nf-log li:first-child [data-field=outcome]", "Không gửi được")
        check_page(driver)  # the failure and its technical detail shown

        # A field the controller refuses is named in words, and nothing is stored.
        click(driver, f"{card} [data-action=edit]")
        address = driver.find_element(By.CSS_SELECTOR, f"{card} input[name=recipient-address]")
        address.clear()
        address.send_keys("ftp://127.0.0.1/hook")
        click(driver, f"{card} [data-action=apply]")
        click(driver, "[data-action=save]")
        wait_text(driver, "#nf-save-error", "Tổ trực: địa chỉ không hợp lệ.")
        assert api_call(controller, admin, "/notify/recipients") == stored
        click(driver, "[data-action=undo]")
        wait_text(driver, f"{card} [data-field=address]", webhook_receiver.url)

        # In English, every word.
        click(driver, "#lang")
        wait(driver).until(lambda d: d.execute_script(
            "return document.documentElement.lang") == "en")
        open_view(driver, "notify")
        wait_text(driver, "#view", "Alarm notifications")
        click(driver, f"{card} [data-action=edit]")
        wait_text(driver, f"{card} form", "Signing key")
        raw = driver.execute_script(RAW_KEY_JS)
        assert not raw, f"words missing: {sorted(set(raw))}"
        check_page(driver)
        click(driver, f"{card} [data-action=cancel-edit]")
        click(driver, "#lang")
        wait(driver).until(lambda d: d.execute_script(
            "return document.documentElement.lang") == "vi")

        # A technician reads the list and the log, and has nothing to press.
        driver.delete_all_cookies()
        sign_in(driver, controller.url, "hai", TECH_PASSWORD)
        open_view(driver, "notify")
        wait_text(driver, card, "Tổ trực")
        wait_text(driver, "#view", "Chỉ quản trị viên được sửa danh sách và gửi thử.")
        wait_text(driver, "#nf-log", "Đã gửi")
        assert not actions_shown(driver) & CHANGES, actions_shown(driver)
        assert len(webhook_receiver.received()) == 1
