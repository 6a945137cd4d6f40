"""Helpers of the lighting, health, report and users views' browser tests (beside
tests/controller/http/browser.py): opening a view, reading the page, and asking the API
directly with a machine token to check what the page did."""

from __future__ import annotations

import json
import urllib.request
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from tests.controller.http.browser import WAIT_S, Controller, check_axe, check_targets

SITE_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def machine_token(controller: Controller, role: str = "admin") -> str:
    """A bearer token (tokens stay for machines) to check the API behind the page."""
    assert controller.runtime is not None
    taken = {t.name for t in controller.runtime.tokens.list()}
    name = next(f"check-{role}-{n}" for n in range(1, 100) if f"check-{role}-{n}" not in taken)
    secret, _ = controller.runtime.tokens.create(
        name=name, role=role, expires_days=None, now=controller.runtime.clock.now())
    return str(secret)


def api_call(controller: Controller, token: str, path: str, *, method: str = "GET",
             body: object = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        controller.url.rstrip("/") + "/api/v1" + path, data=data, method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=WAIT_S) as answer:
        raw = answer.read()
    return json.loads(raw) if raw else None


def local_hm(moment: str | datetime) -> str:
    """An instant as the page shows a time today: HH:MM at the site."""
    value = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return value.astimezone(SITE_TZ).strftime("%H:%M")


def wait(driver: Any) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT_S)


def open_view(driver: Any, view: str, *, checks: bool = True) -> None:
    """Go to #/view through the navigation bar, wait until it is drawn, then run axe-core and
    the tap-target check on it."""
    from selenium.webdriver.common.by import By

    link = driver.find_element(By.CSS_SELECTOR, f'#nav a[data-view="{view}"]')
    link.click()
    wait(driver).until(lambda d: d.execute_script(
        "const v = document.getElementById('view');"
        "return v.dataset.view === arguments[0] && v.querySelector(':scope > .view') !== null",
        view))
    if checks:
        check_page(driver)


def check_page(driver: Any) -> None:
    check_axe(driver)
    check_targets(driver)


def text_of(driver: Any, css: str) -> str:
    from selenium.webdriver.common.by import By

    return str(driver.find_element(By.CSS_SELECTOR, css).text)


def wait_text(driver: Any, css: str, text: str) -> None:
    """Until the element's visible text contains ``text`` (the page polls /status every 5 s)."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

    def found(_: Any) -> bool:
        try:
            return text in text_of(driver, css)
        except (NoSuchElementException, StaleElementReferenceException):
            return False

    try:
        wait(driver).until(found)
    except Exception as error:
        try:
            shown = text_of(driver, css)
        except Exception:  # the element went away: only for the message
            shown = "(no such element)"
        raise AssertionError(f"{css}: {text!r} not shown; it shows {shown!r}") from error


def click(driver: Any, css: str) -> None:
    from selenium.webdriver.common.by import By

    element = wait(driver).until(lambda d: d.find_element(By.CSS_SELECTOR, css))
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    element.click()


def set_value(driver: Any, element: Any, value: str) -> None:
    """Set an input's or select's value as a person would, with its input and change events
    (a time input's typing depends on the browser's locale)."""
    driver.execute_script(
        "arguments[0].value = arguments[1];"
        "arguments[0].dispatchEvent(new Event('input', {bubbles: true}));"
        "arguments[0].dispatchEvent(new Event('change', {bubbles: true}));", element, value)


def session_cookie_header(driver: Any) -> str:
    return "; ".join(f"{c['name']}={c['value']}" for c in driver.get_cookies())


def scroll_to(driver: Any, css: str) -> None:
    """Bring an element to the top of the screen, below the sticky header (for a screenshot)."""
    driver.execute_script(
        "const e = document.querySelector(arguments[0]);"
        "window.scrollTo(0, e.getBoundingClientRect().top + window.scrollY - 56)", css)
