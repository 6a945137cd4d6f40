"""The page's shell end to end in Debian's headless Chromium, driven by Selenium, against a real
controller (tests/controller/http/browser.py): signing in with a user name and password and
the refusals in words, the overview, the language switch, the account dialog and signing out;
nothing is loaded from anywhere but the controller.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.controller.http.browser import (
    WAIT_S,
    Controller,
    check_axe,
    check_targets,
    make_user,
    resources_from,
    screenshot,
    sign_in,
)

pytestmark = pytest.mark.integration


def test_sign_in_overview_language_and_sign_out(browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as when
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser
    wait = WebDriverWait(driver, WAIT_S)
    with Controller(tmp_path / "data") as controller:
        make_user(controller, "lan", "technician", "mat-khau-cua-lan")
        driver.get(controller.url)
        wait.until(when.visibility_of_element_located((By.ID, "sign-in-name"))).send_keys("lan")
        driver.find_element(By.ID, "sign-in-password").send_keys("khong-dung-dau")
        driver.find_element(By.CSS_SELECTOR, "#sign-in-form button[type=submit]").click()
        wait.until(when.text_to_be_present_in_element((By.ID, "sign-in-error"),
                                                      "Sai tên hoặc mật khẩu"))
        check_axe(driver)
        check_targets(driver)

        sign_in(driver, controller.url, "lan", "mat-khau-cua-lan")
        wait.until(when.text_to_be_present_in_element((By.ID, "site-name"), "Xã Thiệu Long"))
        wait.until(when.visibility_of_element_located((By.ID, "home-next")))
        # Both circuits run the evening program on the real clock: how many are on depends
        # on the hour the test runs, so the page is held to the relay board's coils.
        def lights_match_the_coils(_: Any) -> bool:
            lit = sum(controller.coil(channel) for channel in (0, 1))
            return f"{lit}/2" in driver.find_element(By.ID, "home-lights").text

        wait.until(lights_match_the_coils)
        assert driver.find_element(By.ID, "on-air").text.startswith("Không phát gì")
        links = driver.find_elements(By.CSS_SELECTOR, "#nav a")
        nav = [link.get_attribute("data-view") for link in links]
        assert nav[:2] == ["home", "radio"] and "users" not in nav, nav
        check_axe(driver)
        check_targets(driver)
        driver.execute_script("window.scrollTo(0, 0)")
        screenshot(driver, "home")

        driver.find_element(By.ID, "lang").click()
        wait.until(when.text_to_be_present_in_element((By.ID, "on-air"), "Nothing on air"))
        assert driver.execute_script("return document.documentElement.lang") == "en"
        check_axe(driver)
        driver.find_element(By.ID, "lang").click()
        wait.until(when.text_to_be_present_in_element((By.ID, "on-air"), "Không phát gì"))

        driver.find_element(By.ID, "account").click()
        dialog = wait.until(when.visibility_of_element_located((By.CSS_SELECTOR, "dialog[open]")))
        assert "lan" in dialog.text and "Kỹ thuật" in dialog.text, dialog.text
        check_axe(driver)
        check_targets(driver)
        driver.find_element(By.ID, "sign-out").click()
        wait.until(when.visibility_of_element_located((By.ID, "sign-in-name")))
        # Signed out means the cookie is gone: a reload asks for the password again.
        driver.refresh()
        wait.until(when.visibility_of_element_located((By.ID, "sign-in-name")))
        assert not resources_from(driver, controller.url)


def test_five_wrong_passwords_lock_the_account_and_the_page_says_until_when(
        browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as when
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser
    wait = WebDriverWait(driver, WAIT_S)
    with Controller(tmp_path / "data") as controller:
        make_user(controller, "lan", "operator", "mat-khau-cua-lan")
        driver.get(controller.url)
        name = wait.until(when.visibility_of_element_located((By.ID, "sign-in-name")))
        name.send_keys("lan")
        password = driver.find_element(By.ID, "sign-in-password")
        submit = driver.find_element(By.CSS_SELECTOR, "#sign-in-form button[type=submit]")
        error = driver.find_element(By.ID, "sign-in-error")
        seen = []
        for attempt in range(1, 6):
            # After the third failure each attempt must wait (1 s, then 2 s): the page says
            # so, and the test waits out what it says, as a person would.
            while True:
                password.clear()
                password.send_keys(f"sai-mat-khau-{attempt}")
                driver.execute_script("arguments[0].textContent = ''", error)
                submit.click()
                wait.until(lambda _: error.text.strip())
                if not error.text.startswith("Vui lòng đợi"):
                    break
                seen.append(error.text)
                time.sleep(1.1)
            seen.append(error.text)
        assert seen[0] == "Sai tên hoặc mật khẩu", seen
        assert seen[-1].startswith("Tài khoản đã bị khóa đến "), seen
        check_axe(driver)
        # The right password no longer helps, until the lock ends or an admin sets a new one.
        password.clear()
        password.send_keys("mat-khau-cua-lan")
        driver.execute_script("arguments[0].textContent = ''", error)
        submit.click()
        wait.until(when.text_to_be_present_in_element((By.ID, "sign-in-error"),
                                                      "Tài khoản đã bị khóa đến"))
        assert controller.runtime is not None
        user = controller.runtime.users.get("lan")
        assert user is not None and user.failures == 5 and user.locked_until is not None
        assert driver.find_element(By.ID, "sign-in-name").is_displayed()
