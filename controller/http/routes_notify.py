"""Notifications: who is told (an admin edits the list), a test sent now, and the log of what
was sent or failed (docs/notifications.md)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from controller.errors import InvalidInput
from controller.http.audit import record_change
from controller.http.auth import Admin, Technician
from controller.http.bodies import json_router
from controller.http.context import RuntimeDep
from controller.http.errors import error_responses
from controller.runtime import Runtime

MAX_LOG = 1000

router = json_router(tags=["notify"])


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RecipientPublic(_Model):
    id: str
    name: str
    channel: Literal["sms", "email", "webhook"]
    address: str
    has_secret: bool = Field(description="a webhook's HMAC key is set (never shown)")
    severities: list[str]
    kinds: list[str] | Literal["all"]
    quiet_hours: str | None = Field(description='"HH:MM-HH:MM" local, or none')
    digest: bool


class RecipientsPublic(_Model):
    source: Literal["config", "storage"] = Field(
        description="config: the TOML's [[notify.recipients]]; storage: as an admin last "
                    "saved them, which then replace the TOML's")
    recipients: list[RecipientPublic]


class RecipientsBody(_Model):
    recipients: list[dict[str, Any]] = Field(
        description="each as in [[notify.recipients]]; a webhook without \"secret\" keeps the "
                    "one it has under the same id, \"secret\": \"\" removes it")


class TestBody(_Model):
    recipient: str | None = Field(default=None, description="its id; none: every recipient")


class TestResultPublic(_Model):
    recipient: str
    channel: str
    address: str
    message_id: str
    ok: bool
    error: str | None
    retryable: bool


class TestAnswer(_Model):
    results: list[TestResultPublic]


class NotifyLogPublic(_Model):
    id: str
    time: str
    outcome: Literal["sent", "failed"]
    recipient: str
    channel: str | None = None
    address: str | None = None
    message_id: str | None = None
    attempt: int | None = None
    error: str | None = None
    retry_at: str | None = None
    gave_up: bool = False
    test: bool = False
    message: str = ""


def _public(runtime: Runtime) -> RecipientsPublic:
    service = runtime.notify
    return RecipientsPublic(source=service.recipients_source(), recipients=[
        RecipientPublic(id=r.id, name=r.name, channel=r.channel, address=r.address,
                        has_secret=bool(r.secret), severities=list(r.severities),
                        kinds=r.kinds if r.kinds == "all" else list(r.kinds),
                        quiet_hours=str(r.quiet_hours) if r.quiet_hours else None,
                        digest=r.digest)
        for r in service.recipients()])


@router.get("/notify/recipients", summary="Who is told of alarms, and how")
async def get_recipients(runtime: RuntimeDep, caller: Technician) -> RecipientsPublic:
    return _public(runtime)


@router.put("/notify/recipients", summary="Replace the recipients (kept in storage)",
            responses=error_responses(422))
async def put_recipients(body: RecipientsBody, runtime: RuntimeDep,
                         caller: Admin) -> RecipientsPublic:
    service = runtime.notify
    secrets = {r.id: r.secret for r in service.recipients() if r.secret}
    raw = []
    for item in body.recipients:
        item = dict(item)
        if isinstance(item.get("id"), str) and "secret" not in item \
                and item.get("channel") == "webhook" and item["id"] in secrets:
            item["secret"] = secrets[item["id"]]
        elif item.get("secret") == "":
            item.pop("secret")
        raw.append(item)
    try:
        recipients = service.check_recipients(raw)
    except InvalidInput as exc:  # its path within the body: recipients.1.address
        raise exc.within("recipients") from None
    await service.set_recipients(recipients, by=caller.name)
    await record_change(runtime, caller, "notify.recipients", "recipients",
                        {"ids": [r.id for r in recipients]})
    service.wake()
    return _public(runtime)


@router.post("/notify/test", summary="Send a test message now and say what happened",
             responses=error_responses(404, 422))
async def send_test(body: TestBody, runtime: RuntimeDep, caller: Admin) -> TestAnswer:
    service = runtime.notify
    if body.recipient is None and not service.recipients():
        raise InvalidInput("there are no recipients to test", parts=("recipient",))
    results = await service.send_test(body.recipient)
    await record_change(runtime, caller, "notify.test", body.recipient or "all",
                        {"ok": [r.recipient for r in results if r.ok],
                         "failed": [r.recipient for r in results if not r.ok]})
    return TestAnswer(results=[TestResultPublic.model_validate(r.as_json()) for r in results])


@router.get("/notify/log", summary="Notifications sent or failed, newest first")
async def notify_log(runtime: RuntimeDep, caller: Technician,
                     limit: Annotated[int, Query(ge=1, le=MAX_LOG)] = 100,
                     ) -> list[NotifyLogPublic]:
    records = await run_in_threadpool(lambda: runtime.notify.log(limit=limit))
    return [NotifyLogPublic(
        id=r["id"], time=r["time"],
        outcome="sent" if r["kind"] == "notify_sent" else "failed", recipient=r["target"],
        channel=r.get("channel"), address=r.get("address"), message_id=r.get("message_id"),
        attempt=r.get("attempt"), error=r.get("error"), retry_at=r.get("retry_at"),
        gave_up=bool(r.get("gave_up")), test=bool(r.get("test")),
        message=r.get("message", "")) for r in records]
