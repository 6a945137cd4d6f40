"""The notification channels against real peers: the simulated modem over a socat pty pair, an
aiosmtpd mail server with STARTTLS and AUTH LOGIN, and an HTTP server on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import hashlib
import hmac
import itertools
import json
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from controller.notify.channel_config import EmailConfig, SmsConfig, WebhookDefaults
from controller.notify.channels import (
    ChannelError,
    EmailChannel,
    Outgoing,
    SmsChannel,
    WebhookChannel,
    build_channels,
    telegram_request,
)
from drivers.modem_sim import ModemSimulator
from tests.conftest import require_program

TEXT = "Cảnh báo: tủ điện Thôn Đông mất kết nối lúc 18:05. Đèn đường có thể tắt."
SUBJECT = "[Xã Thiệu Long] Cảnh báo: tủ điện Thôn Đông mất kết nối"
PAYLOAD = {"kind": "device_offline", "severity": "alarm", "target": "cabinet-1",
           "opened_at": "2026-12-02T18:05:00+07:00"}


def outgoing(channel: str, address: str, *, secret: str | None = None,
             message_id: str = "n-20261202-0001") -> Outgoing:
    return Outgoing(message_id=message_id, channel=channel,  # type: ignore[arg-type]
                    address=address, subject=SUBJECT, text=TEXT, payload=PAYLOAD, secret=secret)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_build_channels_sets_up_what_is_configured(tmp_path: Path) -> None:
    only_webhook = build_channels(None, None, WebhookDefaults())
    assert set(only_webhook) == {"webhook"}
    every = build_channels(SmsConfig(port=str(tmp_path / "tty")),
                           EmailConfig(host="localhost", sender="a@b.vn"), WebhookDefaults())
    assert {name: channel.name for name, channel in every.items()} == {
        "webhook": "webhook", "sms": "sms", "email": "email"}


def test_email_config_wants_a_password_with_a_username(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="needs password"):
        EmailConfig(host="h", sender="a@b.vn", username="u")
    with pytest.raises(ValueError, match="not both"):
        EmailConfig(host="h", sender="a@b.vn", username="u", password="p",
                    password_file=tmp_path / "p")
    secret = tmp_path / "password"
    secret.write_text("s3cret\n", encoding="utf-8")
    assert EmailConfig(host="h", sender="a@b.vn", username="u",
                       password_file=secret).read_password() == "s3cret"


# --- SMS over the simulated modem ------------------------------------------------------------

@pytest.fixture
def sim(tmp_path: Path) -> Iterator[ModemSimulator]:
    with ModemSimulator(tmp_path / "ttyUSB2", socat=require_program("socat")) as modem:
        yield modem


@pytest.fixture
async def sms(sim: ModemSimulator) -> Any:
    channel = SmsChannel(SmsConfig(port=str(sim.device), timeout_s=1.0, send_timeout_s=2.0))
    yield channel
    await channel.close()


@pytest.mark.integration
async def test_sms_goes_through_the_modem(sms: SmsChannel, sim: ModemSimulator) -> None:
    await sms.send(outgoing("sms", "+84912345678"))
    assert [(m.number, m.encoding) for m in sim.messages] == [("+84912345678", "ucs2")] * 2
    assert "".join(m.text[6:] for m in sim.messages) == TEXT  # "(1/2) " and "(2/2) "


@pytest.mark.integration
async def test_sms_failures_say_whether_to_try_again(sms: SmsChannel,
                                                     sim: ModemSimulator) -> None:
    sim.fail_next_sends(1)
    with pytest.raises(ChannelError, match="500") as failed:
        await sms.send(outgoing("sms", "+84912345678"))
    assert failed.value.retryable
    sim.fail_next_sends(1, code=21)  # short message transfer rejected: the same again
    with pytest.raises(ChannelError, match="21") as refused:
        await sms.send(outgoing("sms", "+84912345678"))
    assert not refused.value.retryable
    with pytest.raises(ChannelError) as bad:
        await sms.send(outgoing("sms", "Anh Tuấn"))
    assert not bad.value.retryable
    await sms.send(outgoing("sms", "+84912345678"))
    assert len(sim.messages) == 2


@pytest.mark.integration
async def test_an_unplugged_modem_is_a_retryable_error(sms: SmsChannel,
                                                       sim: ModemSimulator) -> None:
    await sms.send(outgoing("sms", "0912345678"))
    sim.unplug()
    with pytest.raises(ChannelError, match="unavailable") as unplugged:
        await sms.send(outgoing("sms", "0912345678"))
    assert unplugged.value.retryable
    sim.plug()
    await sms.send(outgoing("sms", "0912345678"))
    assert len(sim.messages) == 4
    probe = await sms.probe()
    assert probe.answered and probe.operator == "Viettel"


@pytest.mark.integration
async def test_one_message_at_a_time_its_parts_together(sms: SmsChannel,
                                                        sim: ModemSimulator) -> None:
    long_a = "A " + "đèn hỏng " * 20
    long_b = "B " + "loa mất tín hiệu " * 12
    await asyncio.gather(sms.send(Outgoing("a", "sms", "+84911111111", "", long_a, {})),
                         sms.send(Outgoing("b", "sms", "+84922222222", "", long_b, {})))
    numbers = [m.number for m in sim.messages]
    assert len(numbers) > 4
    changes = sum(1 for x, y in itertools.pairwise(numbers) if x != y)
    assert changes == 1  # all of one, then all of the other


# --- webhooks against an HTTP server on loopback ---------------------------------------------

@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    url: str
    requests: list[Received] = field(default_factory=list)
    status: int = 200
    delay_s: float = 0.0


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.requests.append(Received(self.path, dict(self.headers.items()), body))
            time.sleep(state.delay_s)
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            answer = b'{"ok":true}' if state.status < 400 else b'{"error":"no"}'
            self.send_header("Content-Length", str(len(answer)))
            if 300 <= state.status < 400:
                self.send_header("Location", "http://127.0.0.1:1/elsewhere")
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(answer)  # the timeout test's client may have given up

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.block_on_close = False
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/communectl"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def verify(secret: str, body: bytes, header: str) -> bool:
    """What a receiver does: the HMAC of the raw body it read, compared in constant time."""
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header)


@pytest.mark.integration
async def test_a_webhook_posts_our_json_signed(receiver: Receiver) -> None:
    channel = WebhookChannel(WebhookDefaults(timeout_s=5))
    await channel.send(outgoing("webhook", receiver.url, secret="khóa-bí-mật"))
    [request] = receiver.requests
    assert request.path == "/hooks/communectl"
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    assert request.headers["Idempotency-Key"] == "n-20261202-0001"
    assert json.loads(request.body.decode("utf-8")) == {
        **PAYLOAD, "text": TEXT, "message_id": "n-20261202-0001"}
    assert verify("khóa-bí-mật", request.body, request.headers["X-Communectl-Signature"])
    assert not verify("another key", request.body, request.headers["X-Communectl-Signature"])
    assert not verify("khóa-bí-mật", request.body.replace(b"alarm", b"info"),
                      request.headers["X-Communectl-Signature"])


@pytest.mark.integration
async def test_a_webhook_without_a_secret_is_not_signed(receiver: Receiver) -> None:
    await WebhookChannel(WebhookDefaults()).send(outgoing("webhook", receiver.url))
    [request] = receiver.requests
    assert "X-Communectl-Signature" not in request.headers
    assert request.headers["Idempotency-Key"] == "n-20261202-0001"


@pytest.mark.integration
@pytest.mark.parametrize("status, retryable", [
    (500, True), (503, True), (429, True), (408, True),
    (400, False), (401, False), (404, False), (302, False),
])
async def test_a_webhook_answer_decides_a_retry(receiver: Receiver, status: int,
                                                retryable: bool) -> None:
    receiver.status = status
    with pytest.raises(ChannelError, match=str(status)) as failed:
        await WebhookChannel(WebhookDefaults()).send(outgoing("webhook", receiver.url))
    assert failed.value.retryable is retryable
    assert len(receiver.requests) == 1  # one POST: the outbox retries, not the channel


@pytest.mark.integration
async def test_a_webhook_refused_or_slow_is_retryable(receiver: Receiver) -> None:
    refused = f"http://127.0.0.1:{free_port()}/hook"
    with pytest.raises(ChannelError) as failed:
        await WebhookChannel(WebhookDefaults()).send(outgoing("webhook", refused))
    assert failed.value.retryable
    receiver.delay_s = 2.0
    with pytest.raises(ChannelError, match="no answer within") as slow:
        await WebhookChannel(WebhookDefaults(timeout_s=0.3)).send(
            outgoing("webhook", receiver.url))
    assert slow.value.retryable


def test_a_telegram_address_gets_telegrams_body() -> None:
    url, body = telegram_request(
        "https://api.telegram.org/bot123456:ABC-def/sendMessage?chat_id=-1001234567890", TEXT) \
        or ("", b"")
    assert url == "https://api.telegram.org/bot123456:ABC-def/sendMessage"
    assert json.loads(body) == {"chat_id": -1001234567890, "text": TEXT}
    assert telegram_request("https://example.vn/bot1/sendMessage?chat_id=1", TEXT) is None
    with pytest.raises(ChannelError) as no_chat:
        telegram_request("https://api.telegram.org/bot1:x/sendMessage", TEXT)
    assert not no_chat.value.retryable
    _, long_body = telegram_request(
        "https://api.telegram.org/bot1:x/sendMessage?chat_id=@xa_thieulong", "đ" * 5000) \
        or ("", b"")
    document = json.loads(long_body)
    assert document["chat_id"] == "@xa_thieulong" and len(document["text"]) == 4096


# --- e-mail against aiosmtpd with STARTTLS and AUTH LOGIN ------------------------------------

ACCOUNTS = {("canhbao@xa.vn", "mật-khẩu-1"), ("kythuat", "plain-ascii-2")}


@dataclass
class MailServer:
    port: int
    cert: Path
    messages: list[tuple[str, list[str], bytes]] = field(default_factory=list)
    logins: list[tuple[str, str, str]] = field(default_factory=list)  # mechanism, user, password
    refuse_rcpt: str | None = None  # an SMTP answer to RCPT TO, e.g. "550 5.1.1 no such user"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    openssl = require_program("openssl")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


def _mail_server(certificate: tuple[Path, Path], *, tls: bool) -> Iterator[MailServer]:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    cert, key = certificate
    state = MailServer(port=free_port(), cert=cert)

    class Handler:
        async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                              rcpt_options: list[str]) -> str:
            if state.refuse_rcpt:
                return state.refuse_rcpt
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            state.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                                   envelope.original_content or envelope.content))
            return "250 Message accepted"

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str,
                      auth_data: Any) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        user, password = auth_data.login.decode(), auth_data.password.decode()
        state.logins.append((mechanism, user, password))
        return AuthResult(success=(user, password) in ACCOUNTS, handled=False)

    options: dict[str, Any] = {}
    if tls:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        options = {"tls_context": context, "require_starttls": True, "auth_required": True,
                   "authenticator": authenticator, "auth_exclude_mechanism": ["PLAIN"]}
    controller = Controller(Handler(), hostname="127.0.0.1", port=state.port, **options)
    controller.start()
    try:
        yield state
    finally:
        controller.stop()


@pytest.fixture
def mail_server(certificate: tuple[Path, Path]) -> Iterator[MailServer]:
    yield from _mail_server(certificate, tls=True)


@pytest.fixture
def plain_mail_server(certificate: tuple[Path, Path]) -> Iterator[MailServer]:
    yield from _mail_server(certificate, tls=False)


def email_config(server: MailServer, **changes: Any) -> EmailConfig:
    settings: dict[str, Any] = {
        "host": "127.0.0.1", "port": server.port, "ca_file": server.cert,
        "username": "canhbao@xa.vn", "password": "mật-khẩu-1", "sender": "canhbao@xa.vn",
        "sender_name": "Đèn và loa xã Thiệu Long", "timeout_s": 5}
    settings.update(changes)
    return EmailConfig(**settings)


@pytest.mark.integration
async def test_an_email_goes_over_starttls_with_a_login(mail_server: MailServer) -> None:
    channel = EmailChannel(email_config(mail_server))
    await channel.send(outgoing("email", "anh.tuan@example.vn"))
    assert mail_server.logins == [("LOGIN", "canhbao@xa.vn", "mật-khẩu-1")]
    [(sender, recipients, raw)] = mail_server.messages
    assert (sender, recipients) == ("canhbao@xa.vn", ["anh.tuan@example.vn"])
    mail = email.message_from_bytes(raw, policy=email.policy.default)
    assert mail["Subject"] == SUBJECT
    assert mail["To"] == "anh.tuan@example.vn"
    assert mail["From"].addresses[0].display_name == "Đèn và loa xã Thiệu Long"
    assert mail["From"].addresses[0].addr_spec == "canhbao@xa.vn"
    assert mail["Message-ID"] == "<n-20261202-0001@xa.vn>"
    assert mail.get_content_type() == "text/plain"
    assert mail.get_content_charset() == "utf-8"
    assert mail.get_content().rstrip("\n") == TEXT
    raw_headers = raw.split(b"\r\n\r\n", 1)[0]
    assert "Thôn".encode() not in raw_headers  # the subject RFC 2047-encoded, not raw UTF-8


@pytest.mark.integration
async def test_an_ascii_login_goes_through_smtplib(mail_server: MailServer) -> None:
    channel = EmailChannel(email_config(mail_server, username="kythuat",
                                        password="plain-ascii-2"))
    await channel.send(outgoing("email", "anh.tuan@example.vn", message_id="n/2 x"))
    assert mail_server.logins == [("LOGIN", "kythuat", "plain-ascii-2")]
    [(_, _, raw)] = mail_server.messages
    assert email.message_from_bytes(raw, policy=email.policy.default)["Message-ID"] == \
        "<n-2-x@xa.vn>"


@pytest.mark.integration
async def test_email_failures_say_whether_to_try_again(mail_server: MailServer,
                                                       tmp_path: Path) -> None:
    with pytest.raises(ChannelError, match="535") as wrong:
        await EmailChannel(email_config(mail_server, password="sai")).send(
            outgoing("email", "a@example.vn"))
    assert not wrong.value.retryable
    with pytest.raises(ChannelError, match="certificate") as untrusted:
        await EmailChannel(email_config(mail_server, ca_file=None)).send(
            outgoing("email", "a@example.vn"))
    assert not untrusted.value.retryable
    mail_server.refuse_rcpt = "550 5.1.1 no such user"
    with pytest.raises(ChannelError) as no_user:
        await EmailChannel(email_config(mail_server)).send(outgoing("email", "x@example.vn"))
    assert not no_user.value.retryable
    mail_server.refuse_rcpt = "451 4.3.0 try again later"
    with pytest.raises(ChannelError) as later:
        await EmailChannel(email_config(mail_server)).send(outgoing("email", "x@example.vn"))
    assert later.value.retryable
    assert mail_server.messages == []
    closed = EmailConfig(host="127.0.0.1", port=free_port(), sender="a@xa.vn", timeout_s=2)
    with pytest.raises(ChannelError, match="unreachable") as refused:
        await EmailChannel(closed).send(outgoing("email", "a@example.vn"))
    assert refused.value.retryable


@pytest.mark.integration
async def test_email_refuses_a_server_without_starttls(plain_mail_server: MailServer) -> None:
    with pytest.raises(ChannelError, match="STARTTLS") as plain:
        await EmailChannel(email_config(plain_mail_server)).send(
            outgoing("email", "a@example.vn"))
    assert not plain.value.retryable
    assert plain_mail_server.messages == []
