"""Who is asking, and may they (docs/api.md, Authentication and roles).

Two kinds of caller: a machine with a bearer token (``Authorization: Bearer cmt_...``), and a
person signed in from the page with a session cookie (controller.platform.sessions), whose
changes must also carry the session's ``X-CSRF-Token`` header. A request with a token is judged
by the token alone, whatever cookie it carries.

Every endpoint but ``GET /health`` and the sign-in itself declares the least role it needs by
taking a ``Viewer``, ``Operator``, ``Technician`` or ``Admin`` argument; each role includes the
ones before it. Tokens, sessions and accounts are looked up on every request, so a token
revoked or an account disabled by ``communectl`` in another process counts at once.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from controller.http.context import RuntimeDep
from controller.http.errors import ApiError
from controller.platform.audit import Actor
from controller.platform.sessions import COOKIE, CSRF_HEADER
from controller.platform.tokens import role_at_least

# auto_error=False: a missing token must answer our error shape, not FastAPI's.
_bearer = HTTPBearer(auto_error=False, description="a token from `communectl token create` "
                     "or POST /api/v1/tokens")


# Who sent the request: the token's name and role, as the services take it.
Caller = Actor


def require(role: str) -> Any:
    """A dependency that answers 401 without a live token and 403 below ``role``."""

    async def caller(request: Request, runtime: RuntimeDep,
                     credentials: Annotated[HTTPAuthorizationCredentials | None,
                                            Security(_bearer)]) -> Caller:
        if credentials is None:
            return _person(request, runtime, role)
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


def _person(request: Request, runtime: RuntimeDep, role: str) -> Caller:
    """The person of the request's session cookie, or 401; 403 for a change without the
    session's CSRF header or below ``role``."""
    secret = request.cookies.get(COOKIE)
    if not secret:
        raise ApiError(401, "sign in, or send an API token: Authorization: Bearer TOKEN",
                       headers={"WWW-Authenticate": "Bearer"})
    person = runtime.sessions.verify(secret, now=runtime.clock.now())
    if person is None:
        raise ApiError(401, "the session has ended: sign in again",
                       headers={"WWW-Authenticate": "Bearer"})
    if request.method not in SAFE_METHODS and not person.csrf_matches(
            request.headers.get(CSRF_HEADER, "")):
        raise ApiError(403, "a change from a signed-in page needs its X-CSRF-Token header",
                       code="csrf_failed")
    if not role_at_least(person.role, role):
        raise ApiError(403, f"this needs the {role} role; {person.name!r} is {person.role}")
    return Caller(name=person.name, role=person.role)


SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

Viewer = Annotated[Caller, require("viewer")]
Operator = Annotated[Caller, require("operator")]
Technician = Annotated[Caller, require("technician")]
Admin = Annotated[Caller, require("admin")]
