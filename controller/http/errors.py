"""Every error the API answers, in one JSON shape (docs/api.md, Errors):

    {"error": {"code": "not_found", "message": "no circuit 'x'", "field": "target"}}

``field`` is present when one input is to blame, as the dotted path into the body or the name
of the query parameter ("duration_min", "windows.0.on", "days").

Statuses: 400 malformed body, 401 no or bad token, 403 role too low, 404 unknown id or path,
405 method, 409 conflicts with what is stored, 413 body too large, 415 not JSON, 422 the body
or a parameter is well-formed but invalid. FastAPI's and Starlette's own errors (validation,
HTTPException, routing 404/405) are mapped here so that none of them answers in another shape.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from controller.config import FieldProblem
from controller.errors import Conflict, InvalidInput, NotAllowed, NotFound, RequestError
from controller.http.models import ErrorBody, ErrorPublic

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    423: "account_locked",
    429: "slow_down",
}
# Where a validation error can be: the first element of pydantic's ``loc`` for a request.
_LOCATIONS = {"body", "query", "path", "header", "cookie"}
# pydantic names the branch of a union (``int | str``, ``function-after[...]``) in ``loc``; a
# reader wants the field, not the branch.
_BRANCH_TAGS = {"int", "str", "float", "bool", "none",
                # the tags of the SOURCE union (controller.radio.source_models), named like branches
                "tts", "audio", "stream", "playlist"}
_BRANCH_PREFIXES = ("function-", "constrained-")


class ApiError(HTTPException):
    """An error we answer on purpose. A subclass of Starlette's HTTPException, so that it
    passes through FastAPI's body parsing unchanged when raised there."""

    def __init__(self, status: int, message: str, *, code: str | None = None,
                 field: str | None = None, headers: Mapping[str, str] | None = None,
                 retry_at: datetime | None = None) -> None:
        super().__init__(status_code=status, detail=message, headers=dict(headers or {}))
        self.code = code or CODES.get(status, "error")
        self.field = field
        self.retry_at = retry_at


def not_found(kind: str, identifier: str) -> ApiError:
    return ApiError(404, f"no {kind} {identifier!r}")


def invalid(field: str | None, message: str) -> ApiError:
    return ApiError(422, message, field=field)


def conflict(message: str, *, field: str | None = None) -> ApiError:
    return ApiError(409, message, field=field)


def error_response(status: int, code: str, message: str, *, field: str | None = None,
                   headers: Mapping[str, str] | None = None,
                   retry_at: datetime | None = None) -> JSONResponse:
    body = ErrorPublic(error=ErrorBody(code=code, message=message, field=field,
                                       retry_at=retry_at))
    return JSONResponse(body.model_dump(mode="json", exclude_none=True), status_code=status,
                        headers=dict(headers or {}))


def field_of(loc: Sequence[Any]) -> str | None:
    """("body", "windows", 0, "on") -> "windows.0.on"; ("query", "days") -> "days"."""
    parts = list(loc[1:] if loc and loc[0] in _LOCATIONS else loc)
    kept = [str(p) for p in parts if not (isinstance(p, str) and (
        p in _BRANCH_TAGS or "[" in p or p.startswith(_BRANCH_PREFIXES)))]
    return ".".join(kept) or None


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status_code, exc.code, str(exc.detail), field=exc.field,
                          headers=exc.headers, retry_at=exc.retry_at)


# The controller's refusals (controller.errors), raised by the services, by HTTP status.
REQUEST_STATUSES: tuple[tuple[type[RequestError], int], ...] = (
    (NotFound, 404), (Conflict, 409), (NotAllowed, 403), (InvalidInput, 422))


def request_status(exc: RequestError) -> int:
    return next((status for kind, status in REQUEST_STATUSES if isinstance(exc, kind)), 422)


async def _request_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestError)
    status = request_status(exc)
    return error_response(status, CODES[status], exc.message, field=exc.field)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    if isinstance(exc, ApiError):
        return await _api_error(request, exc)
    return error_response(exc.status_code, CODES.get(exc.status_code, "error"),
                          str(exc.detail), headers=exc.headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    first: dict[str, Any] = dict(errors[0]) if errors else {}
    if first.get("type") == "json_invalid":  # from a route that parses with json.loads
        return error_response(400, "malformed_json", "the body is not valid JSON")
    cause = first.get("ctx", {}).get("error")
    below = cause.parts if isinstance(cause, FieldProblem) else ()  # a part of that field
    field = field_of((*first.get("loc", ()), *below))
    message = (cause.message if isinstance(cause, FieldProblem) else
               str(first.get("msg", "invalid")).removeprefix("Value error, "))
    if first.get("type") == "missing" and field is None:
        message = "a JSON body is required"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return error_response(422, CODES[422], message, field=field)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # Starlette calls this from its outermost middleware and re-raises the exception after
    # the response is sent, so the traceback still reaches uvicorn's log (and the tests): the
    # client gets the usual shape, and the bug is not hidden.
    return error_response(500, "internal", "internal error; the controller log has details")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestError, _request_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """For the OpenAPI document: these statuses answer an ``ErrorPublic``."""
    return {status: {"model": ErrorPublic, "description": CODES[status].replace("_", " ")}
            for status in statuses}
