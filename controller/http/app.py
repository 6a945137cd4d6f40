"""The HTTP API as a FastAPI app, made for one ``Runtime`` by ``create_app`` (never at import
time: every test, and the controller, builds its own).

Layout: ``/api/v1/...`` (JSON, bearer tokens; docs/api.md), ``/metrics`` (Prometheus, also
under ``/api/v1``), ``/docs`` and ``/openapi.json`` (FastAPI's, no token), and ``/`` (a
placeholder page until the dashboard exists).
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI

from controller.config import Config
from controller.http import (
    metrics,
    routes_admin,
    routes_audio,
    routes_devices,
    routes_events,
    routes_firmware,
    routes_lighting,
    routes_live,
    routes_media,
    routes_notify,
    routes_radio,
    routes_reports,
    routes_schedules,
    routes_session,
    routes_speech,
    routes_status,
)
from controller.http.bodies import BodyLimitMiddleware, require_json_body
from controller.http.context import attach_runtime
from controller.http.errors import error_responses, install_error_handlers
from controller.http.limits import (
    FIRMWARE_MAX_BYTES,
    LIVE_MAX_BYTES,
    MAX_JSON_BODY_BYTES,
    BodyLimits,
)
from controller.http.pages import pages_router
from controller.runtime import Runtime

API_PREFIX = "/api/v1"

DESCRIPTION = """\
Street lights and the loudspeaker radio of one commune.

Machines send `Authorization: Bearer TOKEN` with every request but `GET /api/v1/health`;
people sign in with `POST /api/v1/session` and send the session cookie, and with every change
the session's `X-CSRF-Token`. Roles, each
including the one before: **viewer** (read), **operator** (radio), **technician** (overrides,
lighting programmes, calendars, devices, acknowledging alarms), **admin** (tokens, audit).

Errors are `{"error": {"code", "message", "field"?}}`; `field` is the dotted path of the input
to blame. Every change is recorded in `GET /api/v1/audit`.
"""


def body_limits(config: Config) -> BodyLimits:
    """What the API accepts, by path; the front process refuses the same at once."""
    return BodyLimits(default=MAX_JSON_BODY_BYTES, path_prefix=API_PREFIX, by_path={
        f"{API_PREFIX}/audio": config.broadcast.max_upload_mb * 1024 * 1024,
        f"{API_PREFIX}/firmware": FIRMWARE_MAX_BYTES,
        f"{API_PREFIX}/live/audio": LIVE_MAX_BYTES,
        f"{API_PREFIX}/health": 0})  # answers without a token: it must not take a body either


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(title="communectl", version=runtime.version, description=DESCRIPTION)
    attach_runtime(app, runtime)
    app.state.metrics = metrics.metrics_registry(runtime)
    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware, limits=body_limits(runtime.config))

    api = APIRouter(prefix=API_PREFIX, dependencies=[Depends(require_json_body)],
                    responses=error_responses(400, 401, 403, 404, 413, 415, 422))
    for module in (routes_status, routes_lighting, routes_schedules, routes_radio,
                   routes_devices, routes_firmware, routes_events, routes_admin, routes_speech,
                   routes_reports, routes_session, routes_live, routes_notify, metrics):
        api.include_router(module.router)
    app.include_router(api)
    # Uploads are multipart, not JSON: outside the JSON-only router.
    for upload in (routes_audio.router, routes_firmware.upload_router,
                   routes_live.stream_router):
        app.include_router(upload, prefix=API_PREFIX, responses=error_responses(401, 403, 404))
    # Prometheus scrapes /metrics by default.
    app.include_router(metrics.router, include_in_schema=False)
    app.include_router(routes_media.router)
    app.include_router(pages_router())
    return app
