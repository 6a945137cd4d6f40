"""The three ways a notification leaves the gateway: SMS through the modem, e-mail, webhooks.

Each channel sends one ``Outgoing`` and either returns (the other side took it) or raises
``ChannelError`` saying whether trying again later could help (``retryable``); the outbox
(``controller.notify.outbox``) owns the retries. What counts as retryable:

- SMS: the modem missing, unplugged or silent, and any refusal but the ones about the number
  itself (``+CMS ERROR`` 1, 8, 10, 21, 28, 29, 30, 50, 96: unassigned number, barred, rejected,
  unknown subscriber ...) and the bad-parameter ones (304, 305) that the same text would get
  again. A SIM that wants a PIN is retryable: someone may set it.
- e-mail: network errors, timeouts and SMTP 4xx answers; not 5xx answers (a refused login,
  sender or recipient), a certificate that does not verify, or a server without STARTTLS
  when it is required.
- webhook: network errors, timeouts, 5xx, 408 and 429; not other 4xx, nor a redirect.

Documented in docs/notifications.md, "Channels" (what each sends, byte for byte for webhooks).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formataddr, formatdate
from typing import Any, Literal, Protocol
from urllib.parse import parse_qs, urlsplit, urlunsplit

import httpx

from controller.notify.channel_config import EmailConfig, SmsConfig, WebhookDefaults
from drivers.errors import DeviceUnavailable, ModemRejected
from drivers.modem import Modem, ModemProbe

# 3GPP TS 24.011 8.2.5.4 and TS 27.005 3.2.5: refusals the same message to the same number gets
# again however often it is sent.
PERMANENT_CMS_ERRORS = frozenset({1, 8, 10, 21, 28, 29, 30, 50, 96, 304, 305})
SIGNATURE_HEADER = "X-Communectl-Signature"
TELEGRAM_HOST = "api.telegram.org"
TELEGRAM_TEXT_LIMIT = 4096  # characters of one Bot API sendMessage
_TELEGRAM_PATH = re.compile(r"^/bot[^/]+/sendMessage$")


@dataclass(frozen=True)
class Outgoing:
    message_id: str  # stable across retries and restarts (the idempotency key)
    channel: Literal["sms", "email", "webhook"]
    address: str  # phone number (+84...), e-mail address, or http(s) URL
    subject: str  # e-mail subject; SMS ignores it
    text: str  # the whole message in words (Vietnamese)
    payload: Mapping[str, Any] = field(default_factory=dict)  # structured form, for webhooks
    secret: str | None = None  # webhook HMAC-SHA256 key


class ChannelError(Exception):
    """A message did not go; ``retryable``: trying again later may work."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        self.retryable = retryable
        super().__init__(message)


class Channel(Protocol):
    name: str

    async def send(self, message: Outgoing) -> None:
        """Send it, or raise ChannelError."""
        ...


def build_channels(sms: SmsConfig | None, email: EmailConfig | None,
                   webhook: WebhookDefaults) -> dict[str, Channel]:
    """The channels the config sets up, by name: webhook always, sms and email when set."""
    channels: dict[str, Channel] = {"webhook": WebhookChannel(webhook)}
    if sms is not None:
        channels["sms"] = SmsChannel(sms)
    if email is not None:
        channels["email"] = EmailChannel(email)
    return channels


# --- SMS -------------------------------------------------------------------------------------

class SmsChannel:
    """One modem, one message at a time (its parts one after another)."""

    name = "sms"

    def __init__(self, config: SmsConfig) -> None:
        self.config = config
        self.modem = Modem(config.port, baudrate=config.baudrate, timeout_s=config.timeout_s,
                           send_timeout_s=config.send_timeout_s, pin=config.pin,
                           max_parts=config.max_parts)
        self._lock = asyncio.Lock()

    async def send(self, message: Outgoing) -> None:
        async with self._lock:
            try:
                await self.modem.send_sms(message.address, message.text)
            except ValueError as exc:
                raise ChannelError(f"not an SMS: {exc}", retryable=False) from exc
            except DeviceUnavailable as exc:
                raise ChannelError(f"modem unavailable: {exc}", retryable=True) from exc
            except ModemRejected as exc:
                permanent = (exc.answer.startswith("+CMS ERROR")
                             and exc.code in PERMANENT_CMS_ERRORS)
                raise ChannelError(f"modem refused: {exc}", retryable=not permanent) from exc

    async def probe(self) -> ModemProbe:
        """The modem's answers (AT, SIM, signal, operator), for the health view and the CLI."""
        async with self._lock:
            return await self.modem.probe()

    async def close(self) -> None:
        await self.modem.close()


# --- e-mail ----------------------------------------------------------------------------------

class EmailChannel:
    """SMTP with STARTTLS and a login, in a worker thread (smtplib blocks)."""

    name = "email"

    def __init__(self, config: EmailConfig) -> None:
        self.config = config

    async def send(self, message: Outgoing) -> None:
        await asyncio.to_thread(self._send_blocking, message)

    def build(self, message: Outgoing) -> EmailMessage:
        """The message as it goes: UTF-8 subject and body, a Message-ID from message_id."""
        config = self.config
        mail = EmailMessage()
        mail["From"] = formataddr((config.sender_name, config.sender))
        mail["To"] = message.address
        mail["Subject"] = message.subject
        mail["Date"] = formatdate(localtime=True)
        domain = config.sender.rsplit("@", 1)[1]
        local = re.sub(r"[^A-Za-z0-9._-]", "-", message.message_id) or "message"
        mail["Message-ID"] = f"<{local}@{domain}>"
        mail.set_content(message.text, charset="utf-8")
        return mail

    def _send_blocking(self, message: Outgoing) -> None:
        config = self.config
        mail = self.build(message)
        try:
            password = config.read_password()
        except OSError as exc:
            raise ChannelError(f"cannot read the mail password_file: {exc}",
                               retryable=False) from exc
        try:
            with smtplib.SMTP(config.host, config.port, timeout=config.timeout_s) as smtp:
                smtp.ehlo()
                if config.starttls:
                    if not smtp.has_extn("starttls"):
                        raise ChannelError(f"{config.host} does not offer STARTTLS",
                                           retryable=False)
                    context = ssl.create_default_context(
                        cafile=str(config.ca_file) if config.ca_file else None)
                    smtp.starttls(context=context)
                    smtp.ehlo()
                if config.username is not None:
                    _login(smtp, config.username, password or "")
                smtp.send_message(mail)
        except ChannelError:
            raise
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise ChannelError(f"recipient refused: {exc.recipients}",
                               retryable=all(400 <= code < 500 for code in codes)) from exc
        except smtplib.SMTPResponseException as exc:
            what = exc.smtp_error.decode(errors="replace") if isinstance(
                exc.smtp_error, bytes) else str(exc.smtp_error)
            raise ChannelError(f"mail server answered {exc.smtp_code} {what}",
                               retryable=not 500 <= exc.smtp_code < 600) from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise ChannelError(f"mail server: {exc}", retryable=False) from exc
        except ssl.SSLCertVerificationError as exc:
            raise ChannelError(f"the mail server's certificate: {exc.verify_message}",
                               retryable=False) from exc
        except (smtplib.SMTPException, OSError) as exc:  # disconnects, timeouts, refusals
            raise ChannelError(f"mail server unreachable: {exc}", retryable=True) from exc


def _login(smtp: smtplib.SMTP, username: str, password: str) -> None:
    """smtplib's login, except for credentials outside ASCII (a Vietnamese password), which
    smtplib cannot encode: those go as UTF-8 (RFC 4616 for PLAIN; LOGIN as servers take it)."""
    if username.isascii() and password.isascii():
        smtp.login(username, password)
        return
    offered = smtp.esmtp_features.get("auth", "").upper().split()
    if "PLAIN" in offered:
        token = base64.b64encode(f"\0{username}\0{password}".encode()).decode("ascii")
        code, answer = smtp.docmd("AUTH", f"PLAIN {token}")
    elif "LOGIN" in offered:
        code, answer = smtp.docmd("AUTH", "LOGIN " + _b64(username))
        if code == 334:
            code, answer = smtp.docmd(_b64(password))
    else:
        raise smtplib.SMTPNotSupportedError("the server offers neither AUTH PLAIN nor LOGIN")
    if code not in (235, 503):  # 503: already authenticated
        raise smtplib.SMTPAuthenticationError(code, answer)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


# --- webhooks --------------------------------------------------------------------------------

def webhook_body(message: Outgoing) -> bytes:
    """Our JSON: the payload's fields, then "text" and "message_id"; UTF-8, compact, keys
    sorted, so that the signature is over exactly these bytes."""
    document = {**message.payload, "text": message.text, "message_id": message.message_id}
    return json.dumps(document, ensure_ascii=False, sort_keys=True,
                      separators=(",", ":")).encode("utf-8")


def signature(secret: str, body: bytes) -> str:
    """The X-Communectl-Signature value: "sha256=" and the hex HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def telegram_request(address: str, text: str) -> tuple[str, bytes] | None:
    """For a Bot API address (https://api.telegram.org/bot<TOKEN>/sendMessage?chat_id=<ID>):
    the URL to post to and Telegram's body {"chat_id", "text"}; None for any other URL."""
    parts = urlsplit(address)
    if parts.hostname != TELEGRAM_HOST or not _TELEGRAM_PATH.match(parts.path):
        return None
    chat = parse_qs(parts.query).get("chat_id", [""])[0]
    if not chat:
        raise ChannelError("a Telegram address needs ?chat_id=<ID>", retryable=False)
    if len(text) > TELEGRAM_TEXT_LIMIT:
        text = text[: TELEGRAM_TEXT_LIMIT - 3] + "..."
    chat_id: int | str = int(chat) if re.fullmatch(r"-?[0-9]+", chat) else chat
    body = json.dumps({"chat_id": chat_id, "text": text}, ensure_ascii=False).encode("utf-8")
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", "")), body


class WebhookChannel:
    """A JSON POST with httpx; Telegram's Bot API recognised by its address."""

    name = "webhook"

    def __init__(self, defaults: WebhookDefaults) -> None:
        self.defaults = defaults

    async def send(self, message: Outgoing) -> None:
        telegram = telegram_request(message.address, message.text)
        if telegram is not None:
            url, body = telegram
        else:
            url, body = message.address, webhook_body(message)
        headers = {"Content-Type": "application/json; charset=utf-8",
                   "Idempotency-Key": message.message_id,
                   "User-Agent": "communectl"}
        if message.secret:
            headers[SIGNATURE_HEADER] = signature(message.secret, body)
        where = "Telegram" if telegram is not None else "webhook"
        try:
            async with httpx.AsyncClient(timeout=self.defaults.timeout_s) as client:
                response = await client.post(url, content=body, headers=headers)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise ChannelError(f"{where}: bad URL: {exc}", retryable=False) from exc
        except httpx.TimeoutException as exc:
            raise ChannelError(f"{where}: no answer within {self.defaults.timeout_s:g} s",
                               retryable=True) from exc
        except httpx.HTTPError as exc:  # refused, reset, DNS: the network
            raise ChannelError(f"{where}: {type(exc).__name__}: {exc}", retryable=True) from exc
        status = response.status_code
        if 200 <= status < 300:
            return
        reason = f"{where} answered {status} {response.reason_phrase}".rstrip()
        detail = response.text[:200].strip()
        if detail:
            reason += f": {detail}"
        if 300 <= status < 400:
            raise ChannelError(f"{reason} (redirected: point the webhook at the final URL)",
                               retryable=False)
        raise ChannelError(reason, retryable=status >= 500 or status in (408, 429))
