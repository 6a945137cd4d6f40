"""The radio view end to end in headless Chromium against a real controller
(tests/controller/http/browser.py): a clerk (operator) signs in with her password, hears the
speech preview of a text, records an announcement with the fake microphone (a WAV espeak-ng made
of a Vietnamese sentence) and schedules a weekly programme by weekday choices; a technician
approves the waiting announcement and it airs: the zone's relay closes on the simulated board
and the file sink's WAV grows. Every view opened passes axe-core and the tap-target check.
"""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from schedules.lunar import to_lunar
from tests.controller.http.browser import (
    WAIT_S,
    ZONE_COILS,
    Controller,
    check_axe,
    check_targets,
    make_user,
    screenshot,
    sign_in,
    wav_duration_s,
)

pytestmark = pytest.mark.integration
SITE = ZoneInfo("Asia/Ho_Chi_Minh")
PREVIEW_TEXT = "Thông báo: ngày 15/12 tiêm phòng cho trẻ em tại trạm y tế xã."


def tap(driver: Any, element: Any) -> None:
    """Scroll the element to the middle (clear of the sticky header and the bottom bar), click."""
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    element.click()


def api_get(controller: Controller, secret: str, path: str) -> Any:
    request = urllib.request.Request(f"{controller.url.rstrip('/')}/api/v1{path}",
                                     headers={"Authorization": f"Bearer {secret}"})
    with urllib.request.urlopen(request, timeout=WAIT_S) as answer:
        return json.load(answer)


def open_view(driver: Any, url: str, hash_: str, ready_css: str) -> Any:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as when
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(f"{url.rstrip('/')}/{hash_}")
    return WebDriverWait(driver, WAIT_S).until(
        when.visibility_of_element_located((By.CSS_SELECTOR, ready_css)))


def choose(driver: Any, form: Any, group: str, value: str) -> None:
    """Tick the big choice ``value`` of the radio group ``group`` by tapping its label."""
    from selenium.webdriver.common.by import By

    radio = form.find_element(By.CSS_SELECTOR,
                              f'fieldset[data-choice="{group}"] input[value="{value}"]')
    tap(driver, radio.find_element(By.XPATH, "./ancestor::label"))
    assert radio.is_selected()


def set_value(driver: Any, element: Any, value: str) -> None:
    """Time and date inputs: the value set as a picker would (typing them is locale-bound)."""
    driver.execute_script("arguments[0].value = arguments[1];"
                          "arguments[0].dispatchEvent(new Event('input', {bubbles: true}));"
                          "arguments[0].dispatchEvent(new Event('change', {bubbles: true}));",
                          element, value)


def sign_out(driver: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as when
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, WAIT_S)
    tap(driver, driver.find_element(By.ID, "account"))
    tap(driver, wait.until(when.element_to_be_clickable((By.ID, "sign-out"))))
    wait.until(when.visibility_of_element_located((By.ID, "sign-in-name")))


def test_clerk_records_previews_and_schedules_technician_approves_it_airs(
        browser: Any, microphone_wav: Path, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as when
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser
    wait = WebDriverWait(driver, WAIT_S)
    spoken_s = wav_duration_s(microphone_wav)
    with Controller(tmp_path / "data") as controller:
        runtime = controller.runtime
        assert runtime is not None
        admin, _ = runtime.tokens.create(name="checker", role="admin", expires_days=None,
                                         now=runtime.clock.now())
        make_user(controller, "hoa", "operator", "mat-khau-cua-hoa")
        make_user(controller, "tuan", "technician", "mat-khau-cua-tuan")

        # -- the clerk: speech preview, a recorded announcement -------------------------------
        sign_in(driver, controller.url, "hoa", "mat-khau-cua-hoa")
        form = open_view(driver, controller.url, "#/radio/announce", "#announce-form")
        check_axe(driver)
        check_targets(driver)
        text = form.find_element(By.CSS_SELECTOR, '[data-pane="tts"] textarea')
        text.send_keys(PREVIEW_TEXT)
        tap(driver, form.find_element(By.CSS_SELECTOR, '[data-pane="tts"] [data-action="listen"]'))
        wait.until(lambda _: driver.execute_script(
            "const a = document.querySelector('#announce-form [data-pane=tts] audio');"
            "return a && !a.hidden && a.readyState >= 1 && a.duration > 0 ? a.duration : 0;"))
        assert "Máy sẽ đọc" in form.text
        screenshot(driver, "announcement-form")

        choose(driver, form, "source", "record")
        record = form.find_element(By.CSS_SELECTOR, '[data-pane="record"] [data-action="record"]')
        tap(driver, record)
        wait.until(lambda _: "Đang ghi" in form.text)
        time.sleep(spoken_s)
        tap(driver, record)
        wait.until(lambda _: "Đã ghi" in form.text)
        form.find_element(By.CSS_SELECTOR, 'input[name="title"]').send_keys("Họp dân Minh Đức")
        trung_tam = form.find_element(By.CSS_SELECTOR, 'input[name="zone"][value="trung-tam"]')
        tap(driver, trung_tam.find_element(By.XPATH, "./ancestor::label"))
        assert not trung_tam.is_selected()
        tap(driver, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
        waiting = wait.until(when.visibility_of_element_located(
            (By.CSS_SELECTOR, '#approval-queue [data-status="waiting_approval"]')))
        assert "Họp dân Minh Đức" in waiting.text and "Chờ duyệt" in waiting.text
        # a clerk cannot approve: no such button for her
        assert not waiting.find_elements(By.CSS_SELECTOR, '[data-action="approve"]')
        [recording] = api_get(controller, admin, "/audio")
        assert abs(recording["duration_s"] - spoken_s) < 1.5, (recording, spoken_s)
        [announcement] = api_get(controller, admin, "/announcements")
        assert announcement["status"] == "waiting_approval"
        assert announcement["zones"] == ["minh-duc"]
        assert announcement["source"] == {"type": "audio", "audio_id": recording["id"]}

        # -- the clerk: a weekly programme by weekday choices ---------------------------------
        form = open_view(driver, controller.url, "#/radio/programme/new", "#programme-form")
        form.find_element(By.CSS_SELECTOR, 'input[name="name"]').send_keys("Bản tin thứ Hai, Năm")
        choose(driver, form, "schedule", "weekdays")
        for day in ("mon", "thu"):
            box = form.find_element(By.CSS_SELECTOR, f'input[name="weekday"][value="{day}"]')
            tap(driver, box.find_element(By.XPATH, "./ancestor::label"))
        set_value(driver, form.find_element(By.CSS_SELECTOR, 'input[name="time"]'), "19:00")
        form.find_element(By.CSS_SELECTOR, '[data-pane="tts"] textarea').send_keys(
            "Bản tin thời sự của xã.")
        check_axe(driver)
        check_targets(driver)
        driver.execute_script("window.scrollTo(0, 0)")
        screenshot(driver, "radio-programme-editor")
        tap(driver, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))
        wait.until(when.visibility_of_element_located((By.ID, "programmes")))
        [programme] = [p for p in api_get(controller, admin, "/broadcast-programs")
                       if p["name"] == "Bản tin thứ Hai, Năm"]
        assert programme["schedule"] == {"times": ["19:00"], "days": ["mon", "thu"]}
        listed = driver.find_element(By.CSS_SELECTOR, f'[data-program="{programme["id"]}"]')
        assert "Thứ Hai và Thứ Năm lúc 19:00" in listed.text, listed.text
        check_axe(driver)
        check_targets(driver)

        open_view(driver, controller.url, "#/radio/week", "#week")
        check_axe(driver)
        check_targets(driver)
        shown = {e.get_attribute("data-key") for e in driver.find_elements(
            By.CSS_SELECTOR, f'#week [data-program="{programme["id"]}"]')}
        today = datetime.now(SITE).date()
        plan = api_get(controller, admin, f"/plan?from={today.isoformat()}&days=7")
        planned = {e["key"] for e in plan["entries"] if e.get("program") == programme["id"]}
        assert all(0 <= (datetime.fromisoformat(k.split("@")[1]).date() - today).days < 7
                   for k in planned), planned
        assert planned and shown == planned, (shown, planned)
        assert all(datetime.fromisoformat(k.split("@")[1]).weekday() in (0, 3) for k in planned)
        # Each day of the week shows its lunar date, as schedules.lunar computes it.
        lunar_shown = {e.get_attribute("data-day"): e.find_element(
            By.CSS_SELECTOR, "[data-lunar]").get_attribute("data-lunar")
            for e in driver.find_elements(By.CSS_SELECTOR, "#week [data-day]")}
        week = [today + timedelta(days=n) for n in range(7)]
        assert lunar_shown == {d.isoformat(): f"{to_lunar(d).day}/{to_lunar(d).month}"
                               for d in week}, lunar_shown
        driver.execute_script("window.scrollTo(0, 0)")
        screenshot(driver, "radio-week")

        open_view(driver, controller.url, "#/radio/library", "#library")
        item = driver.find_element(By.CSS_SELECTOR, f'[data-audio="{recording["id"]}"]')
        assert driver.execute_script("return arguments[0].querySelector('audio').src", item) \
            .endswith(f"/api/v1/audio/{recording['id']}/file")
        assert "Đang dùng ở: thông báo “Họp dân Minh Đức”" in item.text, item.text
        check_axe(driver)
        check_targets(driver)
        screenshot(driver, "audio-library")
        sign_out(driver)

        # -- the technician approves; it airs -------------------------------------------------
        sign_in(driver, controller.url, "tuan", "mat-khau-cua-tuan")
        open_view(driver, controller.url, "#/radio/announce", "#approval-queue")
        check_axe(driver)
        check_targets(driver)
        sink = controller.data / "air"
        before = {p: p.stat().st_size for p in sink.glob("*.wav")} if sink.exists() else {}
        tap(driver, driver.find_element(
            By.CSS_SELECTOR, f'[data-announcement="{announcement["id"]}"] [data-action="approve"]'))
        coil = ZONE_COILS["minh-duc"]
        wait.until(lambda _: controller.coil(coil))
        assert not controller.coil(ZONE_COILS["trung-tam"])

        def grown() -> bool:
            return any(p.stat().st_size > before.get(p, 0) + 16_000 for p in sink.glob("*.wav"))

        wait.until(lambda _: sink.exists() and grown())
        wait.until(lambda _: any(r["ref"] == announcement["id"] and r["outcome"] == "completed"
                                 for r in api_get(controller, admin, "/broadcasts/log")))
        assert api_get(controller, admin,
                       f"/announcements/{announcement['id']}")["status"] == "done"
        # The month's report counts it: the only item aired, completed, in Minh Đức only.
        month = datetime.now(SITE).strftime("%Y-%m")
        report = api_get(controller, admin, f"/reports/monthly?month={month}")["radio"]
        assert (report["items_aired"], report["by_outcome"]["completed"]) == (1, 1), report
        assert {z["zone"]: z["items"] for z in report["by_zone"]}.get("minh-duc") == 1, report
        assert {z["zone"]: z["items"] for z in report["by_zone"]}.get("trung-tam", 0) == 0
        open_view(driver, controller.url, "#/radio/log", "#log")
        entry = driver.find_element(
            By.CSS_SELECTOR, f'#log [data-key^="announcement:{announcement["id"]}"]')
        assert "Phát xong" in entry.text and "Thôn Minh Đức" in entry.text, entry.text
        check_axe(driver)
        check_targets(driver)
