"""What the page ships, checked on the files themselves: together under the budget once
compressed (a 2G/3G phone in a village, a gateway on a SIM), nothing fetched from the internet,
no emoji (a phone's fonts may lack them: icons are the SVG sprite), and every file the page
names is one the controller serves."""

from __future__ import annotations

import gzip
import re
import unicodedata

import httpx
from fastapi import FastAPI

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


async def test_files_are_sent_gzipped_and_a_reload_gets_304(api_app: FastAPI) -> None:
    transport = httpx.ASGITransport(app=api_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        for path, name in (("/", "index.html"), ("/static/core.js", "core.js")):
            on_disk = (STATIC / name).read_bytes()
            first = await client.get(path, headers={"Accept-Encoding": "gzip, br"})
            assert first.headers["content-encoding"] == "gzip"
            assert first.content == on_disk  # httpx undoes the gzip
            assert int(first.headers["content-length"]) < len(on_disk)
            assert "no-cache" in first.headers["cache-control"]
            etag = first.headers["etag"]
            again = await client.get(path, headers={"If-None-Match": etag,
                                                    "Accept-Encoding": "gzip"})
            assert (again.status_code, again.content) == (304, b"")
            assert again.headers["etag"] == etag
            assert "content-security-policy" in again.headers
            other = await client.get(path, headers={"If-None-Match": '"another"',
                                                    "Accept-Encoding": "identity"})
            assert other.status_code == 200 and "content-encoding" not in other.headers
            assert other.content == on_disk
