"""Signing in from the page, one's own session and password, and an admin's accounts.

``POST /session`` answers the person and the session's CSRF secret, and sets the session
cookie (HttpOnly, SameSite=Strict; Secure when the request came over HTTPS). Changes made with
the cookie must send that secret back in ``X-CSRF-Token`` (controller.http.auth).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import Request, Response
from pydantic import BaseModel, Field

from controller.http.auth import Admin, Viewer
from controller.http.bodies import json_router
from controller.http.context import RuntimeDep
from controller.http.errors import ApiError, error_responses
from controller.platform.accounts import Opened, SignInRefused, UserChange
from controller.platform.sessions import COOKIE, LIFETIME, SignedIn
from controller.platform.tokens import ROLES
from controller.platform.users import MAX_PASSWORD_CHARS, User

router = json_router(tags=["accounts"])

Role = Literal["viewer", "operator", "technician", "admin"]
assert set(ROLES) == {"viewer", "operator", "technician", "admin"}


class SessionCreate(BaseModel):
    name: str = Field(max_length=64, description="the user name")
    password: str = Field(max_length=MAX_PASSWORD_CHARS)


class SessionPublic(BaseModel):
    name: str
    role: str
    kind: Literal["user", "token"] = Field(
        description="user: signed in with a password (cookie); token: a bearer token")
    csrf: str = Field(description="send it as X-CSRF-Token with every change ('' for tokens)")
    expires_at: datetime | None


class PasswordChange(BaseModel):
    current: str = Field(max_length=MAX_PASSWORD_CHARS)
    new: str = Field(max_length=MAX_PASSWORD_CHARS)


class UserPublic(BaseModel):
    name: str
    role: str
    disabled: bool
    failures: int = Field(description="failed sign-ins in a row since the last success")
    locked_until: datetime | None
    created_at: datetime
    password_changed_at: datetime


class UserCreate(BaseModel):
    name: str = Field(max_length=32)
    role: Role
    password: str = Field(max_length=MAX_PASSWORD_CHARS)


class UserUpdate(BaseModel):
    role: Role | None = None
    disabled: bool | None = None
    password: str | None = Field(default=None, max_length=MAX_PASSWORD_CHARS,
                                 description="a new password; also enables and unlocks")


REFUSALS = {
    # outcome: (status, code, message); "unknown" answers as "wrong": the answer must not
    # tell whether a user name exists.
    "wrong": (401, "wrong_password", "the user name or the password is not right"),
    "unknown": (401, "wrong_password", "the user name or the password is not right"),
    "disabled": (403, "account_disabled", "this account is disabled; ask an admin"),
    "wait": (429, "slow_down", "too many wrong passwords: wait, then try again"),
    "locked": (423, "account_locked", "too many wrong passwords: the account is locked"),
}


@router.post("/session", summary="Sign in with a user name and password (sets the cookie)",
             responses=error_responses(423, 429))
async def sign_in(body: SessionCreate, request: Request, response: Response,
                  runtime: RuntimeDep) -> SessionPublic:
    try:
        opened = await runtime.accounts.sign_in(body.name.strip().lower(), body.password,
                                                address=client_address(request))
    except SignInRefused as refused:
        raise _refusal(refused, runtime) from None
    return _set_cookie(opened, request, response)


def client_address(request: Request) -> str | None:
    """The address of the client: the front's X-Forwarded-For when the request came through
    it (on the Unix socket, which only the front reaches), else the peer's own address (the
    API serving the port itself, where a client could write that header)."""
    if request.client is not None and request.client.host:
        return request.client.host
    forwarded = request.headers.getlist("x-forwarded-for")
    # The front appends its own last; whatever the client sent comes before it.
    return forwarded[-1].split(",")[-1].strip() or None if forwarded else None


@router.get("/session", summary="Who is signed in, and the session's CSRF secret")
async def current_session(request: Request, caller: Viewer,
                          runtime: RuntimeDep) -> SessionPublic:
    person = _person(request, runtime)
    if person is None:  # a bearer token
        return SessionPublic(name=caller.name, role=caller.role, kind="token", csrf="",
                             expires_at=None)
    return _public(person)


@router.delete("/session", status_code=204, summary="Sign out in this browser")
async def sign_out(request: Request, caller: Viewer, runtime: RuntimeDep) -> Response:
    person = _person(request, runtime)
    answer = Response(status_code=204)
    if person is not None:
        await runtime.accounts.sign_out(person)
        answer.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return answer


@router.post("/session/sign-out-everywhere", status_code=204,
             summary="End every session of the signed-in person")
async def sign_out_everywhere(request: Request, caller: Viewer,
                              runtime: RuntimeDep) -> Response:
    person = _needs_person(request, runtime)
    await runtime.accounts.sign_out_everywhere(person)
    answer = Response(status_code=204)
    answer.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return answer


@router.post("/session/password",
             summary="Change one's own password (other sessions end; this one is renewed)",
             responses=error_responses(423, 429))
async def change_password(body: PasswordChange, request: Request, response: Response,
                          caller: Viewer, runtime: RuntimeDep) -> SessionPublic:
    person = _needs_person(request, runtime)
    try:
        opened = await runtime.accounts.change_own_password(person, body.current, body.new)
    except SignInRefused as refused:
        raise _refusal(refused, runtime) from None
    return _set_cookie(opened, request, response)


@router.get("/users", summary="People's accounts")
async def list_users(runtime: RuntimeDep, caller: Admin) -> list[UserPublic]:
    return [_user_public(user) for user in runtime.accounts.list_users()]


@router.post("/users", status_code=201, summary="Add a person's account",
             responses=error_responses(409))
async def create_user(body: UserCreate, runtime: RuntimeDep, caller: Admin) -> UserPublic:
    user = await runtime.accounts.create_user(caller, name=body.name, role=body.role,
                                              password=body.password)
    return _user_public(user)


@router.patch("/users/{name}", summary="Change a person's role, disable or enable the account, "
                                        "or set a new password", responses=error_responses(409))
async def change_user(name: str, body: UserUpdate, runtime: RuntimeDep,
                      caller: Admin) -> UserPublic:
    user = await runtime.accounts.change_user(caller, name, UserChange(
        role=body.role, disabled=body.disabled, password=body.password))
    return _user_public(user)


def _person(request: Request, runtime: RuntimeDep) -> SignedIn | None:
    """The session behind the request, when it came with the cookie rather than a token."""
    if request.headers.get("authorization"):
        return None
    secret = request.cookies.get(COOKIE, "")
    return runtime.sessions.verify(secret, now=runtime.clock.now()) if secret else None


def _needs_person(request: Request, runtime: RuntimeDep) -> SignedIn:
    person = _person(request, runtime)
    if person is None:
        raise ApiError(403, "this is for a person signed in with a password, not a token")
    return person


def _refusal(refused: SignInRefused, runtime: RuntimeDep) -> ApiError:
    status, code, message = REFUSALS[refused.attempt.outcome]
    retry_at = refused.attempt.retry_at
    headers = {}
    if retry_at is not None:
        seconds = max(1, int((retry_at - runtime.clock.now()).total_seconds() + 0.999))
        headers["Retry-After"] = str(seconds)
    return ApiError(status, message, code=code, headers=headers, retry_at=retry_at)


def _set_cookie(opened: Opened, request: Request, response: Response) -> SessionPublic:
    response.set_cookie(COOKIE, opened.secret, max_age=int(LIFETIME.total_seconds()), path="/",
                        httponly=True, samesite="strict", secure=request.url.scheme == "https")
    return _public(opened.person)


def _public(person: SignedIn) -> SessionPublic:
    return SessionPublic(name=person.name, role=person.role, kind="user", csrf=person.csrf,
                         expires_at=person.expires_at)


def _user_public(user: User) -> UserPublic:
    return UserPublic(name=user.name, role=user.role, disabled=user.disabled,
                      failures=user.failures, locked_until=user.locked_until,
                      created_at=user.created_at, password_changed_at=user.password_changed_at)
