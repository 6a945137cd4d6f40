"""``GET /``: the page a browser gets. The dashboard is a later piece; until then a small page
says so and points to the API documentation, rather than pretending to be the dashboard."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse


def pages_router() -> APIRouter:
    page = resources.files("controller.api").joinpath("static/index.html").read_text(
        encoding="utf-8")
    router = APIRouter(include_in_schema=False)

    @router.get("/", response_class=HTMLResponse)
    async def index() -> HTMLResponse:
        return HTMLResponse(page)

    return router
