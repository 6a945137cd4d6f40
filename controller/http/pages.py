"""``GET /``: the dashboard, served by the controller itself: static files, no build step, and
nothing loaded from the internet. The page needs no token; its data does (the API).

A strict Content-Security-Policy: scripts, styles and connections from this origin only, so
that text shown on the page (an announcement, a programme's name) can never run as script.
"""

from __future__ import annotations

import gzip
import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from controller.http.errors import not_found

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
STATIC = Path(str(resources.files("controller.http").joinpath("static")))
MEDIA_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html",
               ".png": "image/png", ".svg": "image/svg+xml"}


@dataclass(frozen=True)
class Shipped:
    """One file of the page, read once at start: as is, gzipped, and its ETag."""

    media_type: str
    body: bytes
    gzipped: bytes
    etag: str

    @classmethod
    def of(cls, path: Path) -> Shipped:
        body = path.read_bytes()
        # mtime=0: the same bytes give the same gzip, so the ETag below holds for both.
        return cls(media_type=MEDIA_TYPES[path.suffix], body=body,
                   gzipped=gzip.compress(body, compresslevel=9, mtime=0),
                   etag='"' + hashlib.sha256(body).hexdigest()[:20] + '"')

    def answer(self, request: Request, headers: dict[str, str]) -> Response:
        """304 when the browser holds this version (its ETag): a reload costs one small
        round trip per file, not the page again. Else the body, gzipped when the browser
        takes it (a third of the bytes over a SIM or a weak Wi-Fi)."""
        common = {**headers, "ETag": self.etag, "Vary": "Accept-Encoding"}
        if self.etag in _listed(request.headers.get("if-none-match", "")):
            return Response(status_code=304, headers=common)
        if "gzip" in _listed(request.headers.get("accept-encoding", "")):
            return Response(self.gzipped, media_type=self.media_type,
                            headers={**common, "Content-Encoding": "gzip"})
        return Response(self.body, media_type=self.media_type, headers=common)


def _listed(header: str) -> set[str]:
    """The items of a comma-separated header, without parameters (";q=...")."""
    return {item.split(";")[0].strip() for item in header.split(",") if item.strip()}


def pages_router() -> APIRouter:
    files = {p.name: Shipped.of(p) for p in STATIC.iterdir() if p.suffix in MEDIA_TYPES}
    page = files["index.html"]
    router = APIRouter(include_in_schema=False)
    # no-cache: the browser keeps a copy but asks each time (a 304 when unchanged), so a
    # new version of the page is never hidden behind a cached one after an upgrade.
    headers = {"Content-Security-Policy": CSP, "Cache-Control": "no-cache",
               "X-Content-Type-Options": "nosniff"}

    @router.get("/", response_class=HTMLResponse)
    async def index(request: Request) -> Response:
        return page.answer(request, headers)

    @router.get("/static/{name}")
    async def static(name: str, request: Request) -> Response:
        shipped = files.get(name)  # only the files shipped: no path from the request is read
        if shipped is None:
            raise not_found("file", name)
        return shipped.answer(request, headers)

    return router
