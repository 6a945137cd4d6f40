"""What the page ships, checked on the files themselves: together under the budget once
compressed (a 2G/3G phone in a village, a gateway on a SIM), nothing fetched from the internet,
no emoji (a phone's fonts may lack them: icons are the SVG sprite), and every file the page
names is one the controller serves."""

from __future__ import annotations

import gzip
import re
import unicodedata

from controller.http.pages import MEDIA_TYPES, STATIC

BUDGET_BYTES = 200 * 1024
# XML namespaces name a URL but fetch nothing.
NAMESPACES = {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}


def shipped() -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(STATIC.iterdir())
            if path.suffix in MEDIA_TYPES}


def test_every_asset_together_is_under_the_budget_compressed() -> None:
    files = shipped()
    assert {"index.html", "core.js", "app.js", "style.css", "icons.svg"} <= set(files)
    compressed = sum(len(gzip.compress(body, compresslevel=9)) for body in files.values())
    assert compressed < BUDGET_BYTES, f"{compressed} bytes compressed"


def test_nothing_comes_from_the_internet() -> None:
    for name, body in shipped().items():
        urls = set(re.findall(r"(?:https?:)?//[A-Za-z0-9.-]+\.[A-Za-z]{2,}[^\s\"'`)]*",
                              body.decode()))
        assert urls <= NAMESPACES, (name, urls - NAMESPACES)


def test_no_emoji_anywhere_the_page_shows() -> None:
    for name, body in shipped().items():
        pictographs = {ch for ch in body.decode()
                       if unicodedata.category(ch) == "So" and ord(ch) >= 0x2190}
        assert not pictographs, (name, sorted(pictographs))


def test_every_file_the_page_names_is_served() -> None:
    files = shipped()
    named = set()
    for body in files.values():
        named |= set(re.findall(r"/static/([A-Za-z0-9_.-]+\.[a-z]+)", body.decode()))
        named |= set(re.findall(r"""from\s+["']\./([A-Za-z0-9_.-]+\.js)["']""", body.decode()))
        named |= set(re.findall(r"""import\s+["']\./([A-Za-z0-9_.-]+\.js)["']""", body.decode()))
    assert named, "the page names no file: the patterns above are wrong"
    assert named <= set(files), named - set(files)
