"""Shared support of the page's browser tests (Selenium + Debian's headless Chromium against a
real controller): the controller on a thread, people's accounts, signing in, the browser with a
fake microphone, and the two checks every view must pass (axe-core, tap targets at 360 px).

Use from a test module::

    from tests.controller.http.browser import (Controller, check_axe, check_targets,
                                               make_user, sign_in)

and take the fixtures ``browser`` (and ``microphone_wav``) as arguments: the folder's
conftest.py makes them known to pytest.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self

import pytest

from controller.app import run_controller
from controller.config import parse_config
from controller.platform.clock import SystemClock
from controller.platform.users import UserBook
from controller.runtime import Runtime
from drivers.simulator import SimulatedCabinet
from tests.conftest import require_program

ROOT = Path(__file__).resolve().parents[3]
SCREENSHOTS = ROOT / "docs" / "screenshots"
AXE = ROOT / ".venv" / "share" / "axe-core" / "axe.min.js"
WAIT_S = 20
WIDTH, HEIGHT = 360, 800
MIN_TARGET_PX = 44
# The sentence the fake microphone says (espeak-ng), and the one the tests type.
SPOKEN = "Kính mời bà con thôn Minh Đức họp tại nhà văn hóa lúc bảy giờ tối nay."

# Two circuits and two zones on one simulated relay board (Modbus TCP), the file sink, and a
# programme, a calendar and a broadcast of each kind the page shows. An operator's
# announcement waits for approval. ``{data}`` and ``{port}`` are filled in by Controller.
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

[[circuits]]
id = "market"
name = "Chợ Thiệu Long"
device = "relay-1"
channel = 1
program = "evening"

[[lighting_programs]]
id = "evening"
name = "Buổi tối"
windows = [{{ on = "sunset+5m", off = "earliest(23:00, sunrise-10m)" }}]

[[calendars]]
id = "tet"
name = "Tết"
dates = ["lunar:01-01", "lunar:01-02", "lunar:01-03"]

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

[[zones]]
id = "trung-tam"
name = "Trung tâm xã"
device = "relay-1"
channel = 5
amplifier = "amp-1"

[broadcast]
output = "file:air"
chime = false
quiet_hours = ""  # none: these tests run on the system clock, at any hour
require_approval = true

[[broadcast_programs]]
id = "morning"
name = "Bản tin buổi sáng"
schedule = {{ times = ["06:00"] }}
source = {{ type = "tts", text = "Chào buổi sáng bà con." }}
"""
ZONE_COILS = {"minh-duc": 7, "trung-tam": 5}


class Controller:
    """A controller (run_controller: coordinators and API on one loop, the front process)
    on a thread of the test's own, so that Selenium's blocking calls do not stall it."""

    def __init__(self, data: Path, config: str = CONFIG, *, inputs: int = 0) -> None:
        self.data = data
        self.inputs = inputs  # the relay board's digital inputs
        self.config_text = config
        self.ready = threading.Event()
        self.runtime: Runtime | None = None
        self.url = ""
        self.cabinet: SimulatedCabinet | None = None
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as error:  # reported by __enter__
            self._failure = error
            self.ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self.cabinet = SimulatedCabinet()
        self.cabinet.add_relay_board(1, coils=8, inputs=self.inputs)
        port = await self.cabinet.start_tcp("127.0.0.1", 0)
        config = parse_config(self.config_text.format(data=self.data, port=port))

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
        if self._failure is not None:
            raise AssertionError("the controller did not start") from self._failure
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(WAIT_S)

    def coil(self, channel: int) -> bool:
        assert self.cabinet is not None
        return bool(self.cabinet.coils(1)[channel])


def make_user(controller: Controller, name: str, role: str, password: str) -> None:
    """A person's account in the running controller's store (as `communectl user create`)."""
    assert controller.runtime is not None
    UserBook(controller.runtime.store).create(name=name, role=role, password=password,
                                              now=controller.runtime.clock.now())


def sign_in(driver: Any, url: str, name: str, password: str) -> None:
    """Open the page, sign in with the form, and wait for the first view."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as when
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, WAIT_S)
    driver.get(url)
    wait.until(when.visibility_of_element_located((By.ID, "sign-in-name"))).send_keys(name)
    driver.find_element(By.ID, "sign-in-password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "#sign-in-form button[type=submit]").click()
    wait.until(when.visibility_of_element_located((By.CSS_SELECTOR, "#view .view")))


def speak_to_wav(text: str, target: Path, voice: str = "vi") -> Path:
    """A WAV of ``text`` read by espeak-ng (the fake microphone's voice)."""
    espeak = require_program("espeak-ng")
    subprocess.run([espeak, "-v", voice, "-w", str(target), text], check=True,
                   capture_output=True, timeout=60)
    return target


def wav_duration_s(path: Path) -> float:
    import wave

    with wave.open(str(path)) as sound:
        return sound.getnframes() / sound.getframerate()


@pytest.fixture(scope="module")
def microphone_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return speak_to_wav(SPOKEN, tmp_path_factory.mktemp("microphone") / "spoken.wav")


@pytest.fixture
def browser(microphone_wav: Path) -> Iterator[Any]:
    """Headless Chromium at 360 x 800 whose microphone plays ``microphone_wav``."""
    chromium = require_program("chromium")
    chromedriver = require_program("chromedriver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", f"--window-size={WIDTH},{HEIGHT}",
                     "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                     f"--use-file-for-fake-audio-capture={microphone_wav}",
                     "--autoplay-policy=no-user-gesture-required", "--lang=vi-VN"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(chromedriver), options=options)
    driver.implicitly_wait(0)
    # --window-size sets the outer window; the page must be 360 CSS px wide.
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": True})
    yield driver
    driver.quit()


def check_axe(driver: Any) -> None:
    """axe-core on the page as it is now: fails listing every serious or critical violation."""
    if not AXE.exists():
        message = f"{AXE} is missing (make .venv/share/axe-core/axe.min.js fetches it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    driver.execute_script(AXE.read_text(encoding="utf-8"))
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']})"
        ".then(r => done(JSON.stringify(r.violations)), e => done(JSON.stringify("
        "[{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}])));")
    bad = [v for v in json.loads(result) if v.get("impact") in ("serious", "critical")]
    assert not bad, "axe-core: " + "; ".join(
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(n["target"][0] if n.get("target") else "?" for n in v["nodes"][:5])
        for v in bad)


TARGETS_JS = """
const min = arguments[0];
const small = [];
const visible = (el) => { const r = el.getBoundingClientRect();
  const s = getComputedStyle(el);
  return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none'; };
const box = (el) => el.getBoundingClientRect();
const name = (el) => el.outerHTML.slice(0, 120);
const report = (r, el) => small.push(`${Math.round(r.width)}x${Math.round(r.height)} ${name(el)}`);
const under = (r) => r.width < min - 0.5 || r.height < min - 0.5;
for (const el of document.querySelectorAll('button, a[href], select, summary')) {
  if (!visible(el)) continue;
  const r = box(el);
  if (under(r)) report(r, el);
}
for (const el of document.querySelectorAll('input[type=checkbox], input[type=radio]')) {
  const label = el.closest('label') || (el.id && document.querySelector(`label[for="${el.id}"]`));
  const target = label || el;
  if (!visible(target)) continue;
  const r = box(target);
  if (under(r)) report(r, target);
}
return {small, width: document.documentElement.scrollWidth};
"""


def check_targets(driver: Any) -> None:
    """Every visible button, link, select and checkbox/radio label at least 44 x 44 px, and no
    horizontal scroll at 360 px."""
    found = driver.execute_script(TARGETS_JS, MIN_TARGET_PX)
    assert not found["small"], "tap targets under 44 px: " + "; ".join(found["small"])
    assert found["width"] <= WIDTH, f"the page is {found['width']} px wide at {WIDTH} px"


def screenshot(driver: Any, name: str) -> None:
    """docs/screenshots/<name>.png when COMMUNECTL_SCREENSHOTS=1."""
    if os.environ.get("COMMUNECTL_SCREENSHOTS") == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))


def resources_from(driver: Any, origin: str) -> list[str]:
    """Every resource the page loaded that does not come from ``origin`` (should be none)."""
    loaded = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)")
    return [url for url in loaded if not url.startswith(origin.rstrip("/"))]
