"""The phone page (controller/http/static/) in headless Chromium at 360 x 800, served by a real
controller (its front process, the API behind it, a simulated relay board over Modbus TCP):

1. cold open of the sign-in page, a fresh browser and profile: navigation start to the sign-in
   form visible, with the bytes and requests it took (Navigation and Resource Timing);
2. sign-in: the form's submit to the first view (``#view .view``) rendered;
3. each view opened from the navigation bar's hash route to its own content rendered;
4. warm reload (signed in, cached): navigation start to the home view rendered.

Every time is taken inside the page with ``performance.now()`` by a poll (a timer, no
MutationObserver) installed before the page's own scripts run, so no WebDriver round trip is
counted; the poll's resolution is the timer's clamp, about 4 ms.

Baselines, in the same run and the same Chromium: a static HTML page of the same total byte
size (one request, its sign-in form after the padding) served by Python's http.server from a
temporary folder on 127.0.0.1, the floor of browser + loopback, for 1 and 4; the same
page files served by http.server (its /api/v1/session answers 404, so the page shows its form),
which leaves out the controller and keeps the page's own work; and for 2 and 3, a fetch() round
trip from a page to http.server, the floor of one request.

Goal (issue): a page opens in under a second from the gateway. Measured here over loopback on
this machine, so it is the server's and the page's share; a phone on the commune's Wi-Fi adds
its round trips, hence the request count. Also the compressed size of the static files (gzip -9)
against the 200 KB budget. Figures and ratios only: nothing here asserts a wall-clock time.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import http.server
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from controller.app import run_controller
from controller.config import parse_config
from controller.platform.clock import SystemClock
from controller.platform.users import UserBook
from controller.runtime import Runtime
from drivers.simulator import SimulatedCabinet

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "controller" / "http" / "static"
ROUNDS = 5
WIDTH, HEIGHT = 360, 800
GOAL_S = 1.0
BUDGET_KB = 200
WAIT_S = 20
USER, PASSWORD = "bench", "bench-password-1"
# Each view (the id it registers in its module) and an element only its rendered content has:
# the router inserts `.view` once the view's render() has finished, data and all.
VIEWS = {
    "radio": "#week",
    "lighting": "#lt-circuits > li",
    "health": "#hl-devices > li",
    "report": "#rp-body > :not(.muted)",
    "home": "#on-air",
}

# A commune's cabinet: 12 street-light circuits on two relay boards, one amplifier and three
# loudspeaker zones, a lighting programme, a calendar and a morning bulletin.
CONFIG = """
[site]
id = "bench"
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

[[devices]]
id = "relay-2"
bus = "cabinet"
unit = 2
profile = "relay8"

{circuits}

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
device = "relay-2"
channel = 4
warmup_s = 0

{zones}

[broadcast]
output = "null"
chime = false

[[broadcast_programs]]
id = "morning"
name = "Bản tin buổi sáng"
schedule = {{ times = ["06:00"] }}
source = {{ type = "tts", text = "Chào buổi sáng bà con." }}
"""
CIRCUITS = [(f"road-{n}", f"Đường số {n}", "relay-1" if n <= 8 else "relay-2", (n - 1) % 8)
            for n in range(1, 13)]
ZONES = [("minh-duc", "Thôn Minh Đức", 5), ("trung-tam", "Trung tâm xã", 6),
         ("dong-phu", "Thôn Đông Phú", 7)]


def config_text(data: Path, port: int) -> str:
    circuits = "\n".join(
        f'[[circuits]]\nid = "{cid}"\nname = "{name}"\ndevice = "{device}"\nchannel = {ch}\n'
        'program = "evening"\n' for cid, name, device, ch in CIRCUITS)
    zones = "\n".join(
        f'[[zones]]\nid = "{zid}"\nname = "{name}"\ndevice = "relay-2"\nchannel = {ch}\n'
        'amplifier = "amp-1"\n' for zid, name, ch in ZONES)
    return CONFIG.format(data=data, port=port, circuits=circuits, zones=zones)


class Controller:
    """run_controller (coordinators, API and front process) on a thread of its own, so that
    Selenium's blocking calls do not stall its loop. A copy of the few lines the browser tests
    use (tests/controller/http/browser.py) rather than an import: that module needs pytest and
    the tests' fixtures, and a benchmark should run from a plain install."""

    def __init__(self, data: Path) -> None:
        self.data = data
        self.ready = threading.Event()
        self.runtime: Runtime | None = None
        self.url = ""
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as error:  # noqa: BLE001 (start() raises it on the main thread)
            self._failure = error
            self.ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        cabinet = SimulatedCabinet()
        cabinet.add_relay_board(1, coils=8)
        cabinet.add_relay_board(2, coils=8)
        port = await cabinet.start_tcp("127.0.0.1", 0)
        config = parse_config(config_text(self.data, port))

        def on_ready(runtime: Runtime, url: str) -> None:
            self.runtime, self.url = runtime, url
            self.ready.set()

        try:
            await run_controller(config, SystemClock(), on_ready=on_ready, stop=self._stop)
        finally:
            await cabinet.stop()

    def start(self) -> None:
        self._thread.start()
        if not self.ready.wait(WAIT_S) or self._failure is not None:
            raise RuntimeError("the controller did not start") from self._failure
        assert self.runtime is not None
        UserBook(self.runtime.store).create(name=USER, role="admin", password=PASSWORD,
                                            now=self.runtime.clock.now())

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(WAIT_S)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as uvicorn
    # Headers and body are two writes: with Nagle's algorithm a small answer waits for the
    # client's delayed ACK (40 ms). uvicorn sets TCP_NODELAY too.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def http_server(folder: Path) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


# Installed before any of the page's scripts (Page.addScriptToEvaluateOnNewDocument): when the
# sign-in form is first visible and when a rendered view is first present, in the page's clock
# (0 = navigation start).
MARKS_JS = """
(() => {
  const marks = window.__marks = {};
  const until = performance.now() + WAIT_MS;
  const poll = () => {
    const now = performance.now();
    const form = document.getElementById('sign-in-name');
    if (form && form.checkVisibility()) marks.form = now;
    if (document.querySelector('#view > .view')) marks.view = now;
    if (!('form' in marks) && !('view' in marks) && now < until) setTimeout(poll, 1);
  };
  poll();
})();
""".replace("WAIT_MS", str(WAIT_S * 1000))

# arguments: what to do (a function's body), the selector to wait for. Returns the time from
# just before the action to the selector present, in ms, and the requests made meanwhile.
TIMED_JS = """
const [action, selector, done] = arguments;
performance.clearResourceTimings();
const start = performance.now();
const until = start + WAIT_MS;
new Function(action)();
const poll = () => {
  const now = performance.now();
  if (document.querySelector(selector)) {
    done({ms: now - start, requests: performance.getEntriesByType('resource').length});
  } else if (now > until) {
    done({ms: -1, requests: 0});
  } else {
    setTimeout(poll, 1);
  }
};
poll();
""".replace("WAIT_MS", str(WAIT_S * 1000))

LOADED_JS = """
const nav = performance.getEntriesByType('navigation')[0];
const resources = performance.getEntriesByType('resource');
const paint = performance.getEntriesByName('first-contentful-paint')[0];
const all = [nav, ...resources];
return {
  marks: window.__marks,
  ttfb: nav.responseStart, dcl: nav.domContentLoadedEventEnd, load: nav.loadEventEnd,
  fcp: paint ? paint.startTime : null,
  requests: all.length,
  api: resources.filter((r) => r.name.includes('/api/')).length,
  transferred: all.reduce((n, r) => n + r.transferSize, 0),
  compressed: all.some((r) => r.encodedBodySize < r.decodedBodySize),
  cached: all.filter((r) => r.transferSize < r.encodedBodySize).length,
  decoded: all.filter((r) => !r.name.includes('/api/')).reduce((n, r) => n + r.decodedBodySize, 0),
};
"""

FETCH_JS = """
const done = arguments[arguments.length - 1];
const start = performance.now();
fetch('ping.json', {cache: 'no-store'}).then((r) => r.text())
  .then(() => done(performance.now() - start));
"""


def chromium(profile: Path) -> Any:
    """Headless Chromium at 360 x 800 CSS px with a profile of its own (an empty cache)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", f"--window-size={WIDTH},{HEIGHT}",
                     f"--user-data-dir={profile}", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update",
                     "--lang=vi-VN"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.implicitly_wait(0)
    driver.set_script_timeout(WAIT_S + 5)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": True})
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": MARKS_JS})
    return driver


@contextmanager
def browser() -> Iterator[Any]:
    with tempfile.TemporaryDirectory(prefix="page-load-profile-") as profile:
        driver = chromium(Path(profile))
        try:
            yield driver
        finally:
            driver.quit()


def loaded(driver: Any, mark: str) -> dict[str, Any]:
    """The page's timings once ``mark`` ("form" or "view") is set, times in ms."""
    deadline = time.monotonic() + WAIT_S
    while True:
        found = driver.execute_script(LOADED_JS)
        if mark in (found["marks"] or {}):
            found["ms"] = found["marks"][mark]
            return found
        if time.monotonic() > deadline:
            raise RuntimeError(f"{driver.current_url}: no {mark} after {WAIT_S} s: {found}")
        time.sleep(0.02)


def timed(driver: Any, action: str, selector: str) -> dict[str, Any]:
    found = driver.execute_async_script(TIMED_JS, action, selector)
    if found["ms"] < 0:
        raise RuntimeError(f"{driver.current_url}: no {selector} after {WAIT_S} s")
    return dict(found)


def controller_round(url: str) -> dict[str, Any]:
    from selenium.webdriver.common.by import By

    figures: dict[str, Any] = {}
    with browser() as driver:
        driver.get(url)
        figures["cold"] = loaded(driver, "form")
        driver.find_element(By.ID, "sign-in-name").send_keys(USER)
        driver.find_element(By.ID, "sign-in-password").send_keys(PASSWORD)
        figures["sign-in"] = timed(
            driver, "document.querySelector('#sign-in-form button[type=submit]').click()",
            "#view > .view")
        for view, content in VIEWS.items():
            figures[view] = timed(driver, f"location.hash = '#/{view}'",
                                  f'#view[data-view="{view}"] > .view {content}')
        driver.refresh()
        figures["warm"] = loaded(driver, "view")
    return figures


def static_round(url: str, *, fetch: bool = False) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    with browser() as driver:
        driver.get(url)
        figures["cold"] = loaded(driver, "form")
        if fetch:
            driver.execute_async_script(FETCH_JS)  # the connection is open
            figures["fetch"] = statistics.median(
                driver.execute_async_script(FETCH_JS) for _ in range(5))
        driver.refresh()
        figures["warm"] = loaded(driver, "form")
    return figures


def baseline_page(folder: Path, size: int) -> None:
    """index.html of ``size`` bytes: a sign-in form after an HTML comment as padding, so that
    the form cannot show before every byte has arrived."""
    head = ('<!doctype html>\n<html lang="vi"><head><meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            "<title>Điều khiển xã</title>\n<!-- ")
    tail = (' -->\n</head><body><section id="sign-in"><form>'
            '<label for="sign-in-name">Tên đăng nhập</label><input id="sign-in-name">'
            '<label for="sign-in-password">Mật khẩu</label>'
            '<input id="sign-in-password" type="password">'
            "<button>Đăng nhập</button></form></section></body></html>\n")
    fixed = len((head + tail).encode())
    padding = "".join(f"{i:07d} padding to the page's size\n" for i in range(size // 32 + 1))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "index.html").write_bytes((head + padding[: max(0, size - fixed)] + tail).encode())
    (folder / "ping.json").write_text("{}\n")


def page_files(folder: Path) -> None:
    """The page's own files laid out as the controller serves them: / and /static/."""
    shutil.copytree(STATIC, folder / "static", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(STATIC / "index.html", folder / "index.html")


def gzip_size(path: Path) -> int:
    if shutil.which("gzip"):
        return len(subprocess.run(["gzip", "-9", "-n", "-c", str(path)], check=True,
                                  capture_output=True).stdout)
    return len(gzip.compress(path.read_bytes(), compresslevel=9, mtime=0))


def argon2_verify_ms() -> float:
    """What the sign-in's password check alone costs here (argon2-cffi's defaults)."""
    from argon2 import PasswordHasher

    hasher = PasswordHasher()
    stored = hasher.hash(PASSWORD)
    times = []
    for _ in range(5):
        started = time.perf_counter()
        hasher.verify(stored, PASSWORD)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def stat(rounds: list[dict[str, Any]], key: str,
         pick: Callable[[Any], float] = lambda f: float(f["ms"])) -> tuple[float, float]:
    values = [pick(r[key]) for r in rounds]
    return statistics.median(values), percentile(values, 0.9)


def ms(pair: tuple[float, float]) -> str:
    return f"p50 {pair[0]:6.1f} ms  p90 {pair[1]:6.1f} ms"


def main() -> None:
    for program in ("/usr/bin/chromium", "/usr/bin/chromedriver"):
        if not Path(program).exists():
            sys.exit(f"{program} is missing (Debian packages chromium, chromium-driver)")
    started = time.monotonic()
    controller_rounds: list[dict[str, Any]] = []
    floor_rounds: list[dict[str, Any]] = []
    files_rounds: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="page-load-") as work, ExitStack() as servers:
        work_dir = Path(work)
        controller = Controller(work_dir / "data")
        controller.start()
        servers.callback(controller.stop)
        page_files(work_dir / "files")
        files_url = servers.enter_context(http_server(work_dir / "files"))
        # Not counted: the browser's own first start (its files read from disk), on
        # http.server; then the controller's first answers after it started (code paths run
        # once, files read once), printed on their own, which also give the size of what a
        # cold open loads: the baseline page's size.
        static_round(files_url)
        first_open = controller_round(controller.url)
        baseline_page(work_dir / "floor", int(first_open["cold"]["decoded"]))
        floor_url = servers.enter_context(http_server(work_dir / "floor"))
        static_round(floor_url, fetch=True)
        # Rounds take turns, so that whatever else this machine does weighs on all three.
        for _ in range(ROUNDS):
            controller_rounds.append(controller_round(controller.url))
            floor_rounds.append(static_round(floor_url, fetch=True))
            files_rounds.append(static_round(files_url))
    elapsed_s = time.monotonic() - started

    first = controller_rounds[0]["cold"]
    static_files = sorted(p for p in STATIC.iterdir() if p.is_file())
    raw = sum(p.stat().st_size for p in static_files)
    packed = sum(gzip_size(p) for p in static_files)

    print(f"headless Chromium {WIDTH}x{HEIGHT}, {ROUNDS} rounds after one not counted (a fresh "
          f"browser and profile each), 127.0.0.1; {elapsed_s:.0f} s")
    print(f"static files: {len(static_files)}, {raw / 1000:.1f} KB, gzip -9 "
          f"{packed / 1000:.1f} KB (budget {BUDGET_KB} KB: "
          f"{'met' if packed <= BUDGET_KB * 1000 else 'NOT met'}); served "
          f"{'compressed' if first['compressed'] else 'uncompressed'}")
    print(f"sign-in page, cold: {first['requests']} requests ({first['api']} to the API), "
          f"{first['transferred'] / 1000:.1f} KB transferred, {first['decoded'] / 1000:.1f} KB "
          "of page files")

    cold = stat(controller_rounds, "cold")
    floor_cold = stat(floor_rounds, "cold")
    files_cold = stat(files_rounds, "cold")
    print("1. cold open, navigation start to the sign-in form visible")
    print(f"   controller                  {ms(cold)}   (first byte "
          f"{stat(controller_rounds, 'cold', lambda f: f['ttfb'])[0]:.1f}, DOMContentLoaded "
          f"{stat(controller_rounds, 'cold', lambda f: f['dcl'])[0]:.1f}, first paint "
          f"{stat(controller_rounds, 'cold', lambda f: f['fcp'] or 0)[0]:.1f} ms, p50)")
    print(f"   the same files, http.server {ms(files_cold)}")
    print(f"   baseline: one page of the same {first['decoded'] / 1000:.1f} KB, http.server "
          f"{ms(floor_cold)}")
    print(f"   the first open after the controller started (not counted): "
          f"{first_open['cold']['ms']:.1f} ms")
    print(f"   ratio to the baseline (p50): {cold[0] / floor_cold[0]:.2f}; the page's own files "
          f"without the controller {files_cold[0] / floor_cold[0]:.2f}")

    fetch = stat(floor_rounds, "fetch", float)
    sign_in = stat(controller_rounds, "sign-in")
    requests = stat(controller_rounds, "sign-in", lambda f: f["requests"])[0]
    print(f"2. sign-in, submit to the first view    {ms(sign_in)}   ({requests:.0f} requests; "
          f"argon2id verify alone here {argon2_verify_ms():.1f} ms)")
    print(f"3. views, hash route to content rendered (baseline: a fetch() round trip to "
          f"http.server, {ms(fetch)})")
    worst = [cold[1], sign_in[1]]
    for view in VIEWS:
        figures = stat(controller_rounds, view)
        worst.append(figures[1])
        print(f"   #/{view:9s}                 {ms(figures)}   "
              f"({stat(controller_rounds, view, lambda f: f['requests'])[0]:.0f} requests, "
              f"{figures[0] / fetch[0]:.1f} x the round trip)")
    warm = stat(controller_rounds, "warm")
    floor_warm = stat(floor_rounds, "warm")
    worst.append(warm[1])
    last = controller_rounds[0]["warm"]
    floor_last = floor_rounds[0]["warm"]
    print(f"4. warm reload (signed in), navigation start to #/home rendered  {ms(warm)}   "
          f"({last['requests']} requests, {last['cached']} from the cache, "
          f"{last['transferred'] / 1000:.1f} KB transferred)")
    print(f"   baseline: the same page reloaded                         {ms(floor_warm)}   "
          f"({floor_last['requests']} request, {floor_last['cached']} from the cache)   "
          f"ratio (p50) {warm[0] / floor_warm[0]:.2f}")
    print(f"goal: < 1 s from the gateway (here over loopback, every p90 above): "
          f"{'met' if max(worst) < GOAL_S * 1000 else 'NOT met'}, the slowest p90 "
          f"{max(worst):.0f} ms; the first open after the controller started "
          f"{first_open['cold']['ms']:.0f} ms")


if __name__ == "__main__":
    main()
