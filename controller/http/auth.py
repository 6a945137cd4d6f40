"""Bearer tokens and roles (docs/api.md, Authentication and roles).

Every endpoint but ``GET /health`` declares the least role it needs by taking a ``Viewer``,
``Operator``, ``Technician`` or ``Admin`` argument; each role includes the ones before it. The
token is looked up on every request, so one created or revoked by ``communectl token`` in
another process counts at once.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from controller.http.context import RuntimeDep
from controller.http.errors import ApiError
from controller.platform.audit import Actor
from controller.platform.tokens import role_at_least

# auto_error=False: a missing token must answer our error shape, not FastAPI's.
_bearer = HTTPBearer(auto_error=False, description="a token from `communectl token create` "
                     "or POST /api/v1/tokens")


# Who sent the request: the token's name and role, as the services take it.
Caller = Actor


def require(role: str) -> Any:
    """A dependency that answers 401 without a live token and 403 below ``role``."""

    async def caller(runtime: RuntimeDep,
                     credentials: Annotated[HTTPAuthorizationCredentials | None,
                                            Security(_bearer)]) -> Caller:
        if credentials is None:
            raise ApiError(401, "send an API token: Authorization: Bearer TOKEN",
                           headers={"WWW-Authenticate": "Bearer"})
        info = runtime.tokens.verify(credentials.credentials, now=runtime.clock.now())
        if info is None:
            # RFC 6750 section 3.1: the error attribute tells a client to get a new token.
            raise ApiError(401, "the token is unknown, revoked or expired",
                           headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        if not role_at_least(info.role, role):
            raise ApiError(403, f"this needs the {role} role; token {info.name!r} is "
                                f"{info.role}")
        return Caller(name=info.name, role=info.role)

    # The role, as a scope, is the security requirement's role name in the OpenAPI document
    # (OpenAPI 3.1 allows role names there for non-OAuth schemes); docs/api.md is made from it.
    return Security(caller, scopes=[role])


Viewer = Annotated[Caller, require("viewer")]
Operator = Annotated[Caller, require("operator")]
Technician = Annotated[Caller, require("technician")]
Admin = Annotated[Caller, require("admin")]
