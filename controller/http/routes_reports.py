"""Reports over HTTP: the monthly report as JSON, an XLSX workbook or a printable page
(docs/reports.md). The handler parses the month, gathers the inputs through the services
(``controller.reports.sources``), builds the record and renders it."""

from __future__ import annotations

from typing import Literal
from zoneinfo import ZoneInfo

from fastapi import Response
from starlette.concurrency import run_in_threadpool

from controller.http.auth import Viewer
from controller.http.bodies import json_router
from controller.http.context import RuntimeDep
from controller.http.pages import CSP
from controller.http.report_models import MonthlyReportPublic
from controller.platform.exports import MEDIA_TYPES, content_disposition
from controller.reports import page, xlsx
from controller.reports.monthly import Month, build_monthly_report, check_not_future
from controller.reports.sources import from_services

router = json_router(tags=["reports"])

HTML_TYPE = "text/html; charset=utf-8"
STYLESHEET = "/static/report.css"


@router.get("/reports/monthly",
            summary="The monthly report: radio and lighting of one month (docs/reports.md)",
            response_model=MonthlyReportPublic,
            responses={200: {"content": {MEDIA_TYPES["xlsx"]: {}, "text/html": {}}}})
async def monthly_report(runtime: RuntimeDep, caller: Viewer, month: str | None = None,
                         format: Literal["json", "xlsx", "html"] = "json",
                         lang: Literal["vi", "en"] = "vi") -> Response | MonthlyReportPublic:
    """`month` is `YYYY-MM` in the site's time zone (default: the current month, counted up
    to now); a month not yet begun is refused. `lang` is for `format=html` only."""
    tz = ZoneInfo(runtime.config.site.timezone)
    now = runtime.clock.now()
    wanted = Month.parse(month) if month is not None else Month.containing(now, tz)
    check_not_future(wanted, now=now, tz=tz)
    inputs = await from_services(runtime.config, wanted, radio=runtime.radio_service,
                                 lighting=runtime.lighting_service, events=runtime.events)
    report = build_monthly_report(runtime.config, wanted, inputs, now=now)
    if format == "xlsx":
        body = await run_in_threadpool(xlsx.render, report)  # zipping takes a moment
        return Response(body, media_type=MEDIA_TYPES["xlsx"], headers={
            "Content-Disposition": content_disposition(f"report-{wanted}.xlsx")})
    if format == "html":
        html = page.render(report, lang=lang, stylesheet=STYLESHEET)
        return Response(html, media_type=HTML_TYPE, headers={
            "Content-Security-Policy": CSP, "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff"})
    return MonthlyReportPublic.model_validate(report)
