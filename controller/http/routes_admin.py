"""Admin: API tokens and the audit trail."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Response
from starlette.concurrency import run_in_threadpool

from controller.http.audit import record_change
from controller.http.auth import Admin
from controller.http.bodies import json_router
from controller.http.context import RuntimeDep
from controller.http.errors import conflict, error_responses, invalid, not_found
from controller.http.models import (
    AuditRecordPublic,
    TokenCreate,
    TokenCreated,
    TokenPublic,
)
from controller.platform.instants import Instant
from controller.platform.tokens import TokenInfo
from controller.runtime import Runtime

MAX_AUDIT_RECORDS = 1000

router = json_router(tags=["admin"])


@router.get("/audit", summary="Who changed what, when; newest first")
async def list_audit(
        runtime: RuntimeDep, caller: Admin,
        since: Annotated[Instant | None, Query(
            description="ISO-8601 with an offset (URL-encode the '+')")] = None,
        action: Annotated[str | None, Query(description="e.g. override.create")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_AUDIT_RECORDS)] = 100,
) -> list[AuditRecordPublic]:
    def wanted(record: dict[str, Any]) -> bool:
        return action is None or record.get("action") == action

    records = await run_in_threadpool(
        lambda: runtime.audit.query(since=since, where=wanted, limit=limit, newest_first=True))
    return [AuditRecordPublic.model_validate(r) for r in records]


@router.get("/tokens", summary="Every token (never its secret)")
async def list_tokens(runtime: RuntimeDep, caller: Admin) -> list[TokenPublic]:
    return [token_public(runtime, info) for info in runtime.tokens.list()]


@router.post("/tokens", status_code=201, summary="A new token; its secret is shown only here",
             responses=error_responses(409))
async def create_token(body: TokenCreate, runtime: RuntimeDep, caller: Admin) -> TokenCreated:
    now = runtime.clock.now()
    try:
        secret, info = await run_in_threadpool(
            lambda: runtime.tokens.create(name=body.name, role=body.role,
                                          expires_days=body.expires_days, now=now))
    except ValueError as exc:
        if any(t.name == body.name for t in runtime.tokens.list()):
            raise conflict(f"a token named {body.name!r} exists; revoke it first",
                           field="name") from exc
        raise invalid("name", str(exc)) from exc
    await record_change(runtime, caller, "token.create", info.name,
                        {"role": info.role, "expires_days": body.expires_days})
    return TokenCreated(**token_public(runtime, info).model_dump(), secret=secret)


@router.delete("/tokens/{name}", status_code=204, summary="Revoke a token at once")
async def revoke_token(name: str, runtime: RuntimeDep, caller: Admin) -> Response:
    if not await run_in_threadpool(runtime.tokens.revoke, name):
        raise not_found("token", name)
    await record_change(runtime, caller, "token.revoke", name)
    return Response(status_code=204)


def token_public(runtime: Runtime, info: TokenInfo) -> TokenPublic:
    return TokenPublic(name=info.name, role=info.role, created_at=info.created_at,
                       expires_at=info.expires_at, last4=info.last4,
                       expired=info.is_expired(at=runtime.clock.now()))
