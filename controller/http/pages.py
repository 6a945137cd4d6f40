"""``GET /``: the dashboard, served by the controller itself: static files, no build step, and
nothing loaded from the internet. The page needs no token; its data does (the API).

A strict Content-Security-Policy: scripts, styles and connections from this origin only, so
that text shown on the page (an announcement, a programme's name) can never run as script.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse

from controller.http.errors import not_found

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
STATIC = Path(str(resources.files("controller.http").joinpath("static")))
MEDIA_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html",
               ".png": "image/png", ".svg": "image/svg+xml"}


def pages_router() -> APIRouter:
    page = (STATIC / "index.html").read_text(encoding="utf-8")
    files = {p.name: p for p in STATIC.iterdir() if p.suffix in MEDIA_TYPES}
    router = APIRouter(include_in_schema=False)
    headers = {"Content-Security-Policy": CSP, "Cache-Control": "no-cache",
               "X-Content-Type-Options": "nosniff"}

    @router.get("/", response_class=HTMLResponse)
    async def index() -> HTMLResponse:
        return HTMLResponse(page, headers=headers)

    @router.get("/static/{name}")
    async def static(name: str) -> FileResponse:
        path = files.get(name)  # only the files shipped: no path from the request reaches disk
        if path is None:
            raise not_found("file", name)
        return FileResponse(path, media_type=MEDIA_TYPES[path.suffix], headers=headers)

    return router
