"""The dashboard end to end in Debian's headless Chromium, driven by Selenium, against a real
controller (its front process and API, relays on a simulated board over Modbus TCP, espeak-ng):
sign in, force a circuit on and see the relay change, submit an announcement and see it in the
log; nothing is loaded from anywhere but the controller.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Self

import pytest

from controller.app import run_controller
from controller.config import parse_config
from controller.platform.clock import SystemClock
from controller.runtime import Runtime
from drivers.simulator import SimulatedCabinet
from tests.conftest import require_program

pytestmark = pytest.mark.integration
SCREENSHOTS = Path(__file__).resolve().parents[3] / "docs" / "screenshots"
WAIT_S = 20

CONFIG = """
[site]
id = "thieu-long"
name = "Xã Thiệu Long"
latitude = 19.87
longitude = 105.71

[storage]
path = "{data}"

[api]
host = "127.0.0.1"
port = 0

[[buses]]
id = "cabinet"
kind = "tcp"
host = "127.0.0.1"
port = {port}
timeout_s = 0.5

[[devices]]
id = "relay-1"
bus = "cabinet"
unit = 1
profile = "relay8"

[[circuits]]
id = "road-5"
name = "Đường số 5"
device = "relay-1"
channel = 0
program = "evening"

[[lighting_programs]]
id = "evening"
windows = [{{ on = "sunset+5m", off = "earliest(23:00, sunrise-10m)" }}]

[[amplifiers]]
id = "amp-1"
device = "relay-1"
channel = 6
warmup_s = 0

[[zones]]
id = "minh-duc"
name = "Thôn Minh Đức"
device = "relay-1"
channel = 7
amplifier = "amp-1"

[broadcast]
output = "file:air"
chime = false
quiet_hours = "03:00-03:01"
"""


class Controller:
    """A controller (run_controller: coordinators and API on one loop, the front process)
    on a thread of the test's own, so that Selenium's blocking calls do not stall it."""

    def __init__(self, data: Path) -> None:
        self.data = data
        self.ready = threading.Event()
        self.runtime: Runtime | None = None
        self.url = ""
        self.cabinet: SimulatedCabinet | None = None
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self.cabinet = SimulatedCabinet()
        self.cabinet.add_relay_board(1, coils=8)
        port = await self.cabinet.start_tcp("127.0.0.1", 0)
        config = parse_config(CONFIG.format(data=self.data, port=port))

        def on_ready(runtime: Runtime, url: str) -> None:
            self.runtime, self.url = runtime, url
            self.ready.set()

        try:
            await run_controller(config, SystemClock(), on_ready=on_ready, stop=self._stop)
        finally:
            await self.cabinet.stop()

    def __enter__(self) -> Self:
        self._thread.start()
        assert self.ready.wait(WAIT_S), "the controller did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(WAIT_S)


@pytest.fixture
def browser() -> Iterator[object]:
    chromium = require_program("chromium")
    chromedriver = require_program("chromedriver")
    require_program("espeak-ng")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=390,844"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(chromedriver), options=options)
    driver.implicitly_wait(0)
    yield driver
    driver.quit()


def test_sign_in_force_a_circuit_and_announce(browser: object, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as when
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser  # type: ignore[assignment]
    wait = WebDriverWait(driver, WAIT_S)  # type: ignore[arg-type]
    with Controller(tmp_path / "data") as controller:
        assert controller.runtime is not None and controller.cabinet is not None
        secret, _ = controller.runtime.tokens.create(
            name="clerk", role="technician", expires_days=None,
            now=controller.runtime.clock.now())
        driver.get(controller.url)  # type: ignore[attr-defined]
        wait.until(when.visibility_of_element_located((By.ID, "token"))).send_keys(secret)
        driver.find_element(By.CSS_SELECTOR, "#sign-in-form button").click()  # type: ignore[attr-defined]

        on = wait.until(when.element_to_be_clickable(
            (By.CSS_SELECTOR, '[data-circuit="road-5"] [data-action="on"]')))
        on.click()
        cabinet = controller.cabinet
        wait.until(lambda _: cabinet.coils(1)[0])
        wait.until(when.text_to_be_present_in_element(
            (By.CSS_SELECTOR, '[data-circuit="road-5"]'), "điều khiển tay"))

        driver.find_element(By.ID, "text").send_keys("Thông báo họp dân lúc 19:30.")  # type: ignore[attr-defined]
        driver.find_element(By.CSS_SELECTOR, "#announce-form button[type=submit]").click()  # type: ignore[attr-defined]
        wait.until(when.text_to_be_present_in_element((By.ID, "log"),
                                                      "Thông báo họp dân lúc 19:30."))
        if os.environ.get("COMMUNECTL_SCREENSHOTS") == "1":
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            driver.execute_script("window.scrollTo(0, 0)")  # type: ignore[attr-defined]
            driver.save_screenshot(str(SCREENSHOTS / "dashboard.png"))  # type: ignore[attr-defined]
            log = driver.find_element(By.ID, "log")  # type: ignore[attr-defined]
            driver.execute_script("arguments[0].scrollIntoView()", log)  # type: ignore[attr-defined]
            driver.save_screenshot(str(SCREENSHOTS / "dashboard-log.png"))  # type: ignore[attr-defined]
        origin = controller.url.rstrip("/")
        loaded = driver.execute_script(  # type: ignore[attr-defined]
            "return performance.getEntriesByType('resource').map(e => e.name)")
        assert loaded and all(url.startswith(origin) for url in loaded), loaded
