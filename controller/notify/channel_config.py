"""The channels' settings: [notify.sms], [notify.email] and [notify.webhook] of the config file.

A leaf: pydantic only, so that ``controller.config`` can take these models into ``[notify]``
without importing the channels themselves (docs/notifications.md, "Channels").
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Frozen(BaseModel):
    # As controller.config's models: the docstring under a field is its description in
    # docs/configuration.md.
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class SmsConfig(_Frozen):
    port: str = Field(min_length=1)
    """The modem's AT command port, e.g. "/dev/ttyUSB2" (a USB modem shows several; which one
    takes AT commands depends on the model), or a stable /dev/serial/by-id/... path."""
    baudrate: int = Field(default=115200, gt=0)
    """Serial speed; a USB modem ignores it, a modem on a UART needs the right one."""
    timeout_s: float = Field(default=5.0, gt=0, le=120)
    """Seconds to wait for the answer to one AT command."""
    send_timeout_s: float = Field(default=60.0, gt=0, le=300)
    """Seconds to wait for the network's +CMGS after one SMS is handed over."""
    pin: str | None = Field(default=None, pattern=r"^[0-9]{4,8}$")
    """The SIM's PIN, when it asks for one; offered once: a refused PIN is not tried again
    until the controller restarts (three wrong ones lock the SIM)."""
    max_parts: int = Field(default=6, ge=1, le=20)
    """At most this many SMS for one message (each costs one); a longer text is cut."""


class EmailConfig(_Frozen):
    host: str = Field(min_length=1)
    """The SMTP server, e.g. "smtp.gmail.com"."""
    port: int = Field(default=587, gt=0, lt=65536)
    """587 for submission with STARTTLS."""
    starttls: bool = True
    """Upgrade the connection with STARTTLS before logging in (refuse to go on without it)."""
    ca_file: Path | None = None
    """A PEM file of the certificate authority (or the certificate itself) of a server whose
    certificate the system does not trust, e.g. a self-signed one; empty: the system's."""
    username: str | None = None
    """The login (AUTH LOGIN or PLAIN, as the server offers); empty: no login."""
    password: str | None = None
    """The login's password; better password_file, kept out of the config."""
    password_file: Path | None = None
    """A file holding the password (its first line), readable only by the controller."""
    sender: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    """The From address, e.g. "communectl@xa-thieulong.vn"."""
    sender_name: str = "communectl"
    """The From name, e.g. "Đèn và loa xã Thiệu Long"."""
    timeout_s: float = Field(default=30.0, gt=0, le=300)
    """Seconds for the connection and each SMTP command."""

    @model_validator(mode="after")
    def _login_fits(self) -> EmailConfig:
        if self.password is not None and self.password_file is not None:
            raise ValueError("give password or password_file, not both")
        if self.username is not None and self.password is None and self.password_file is None:
            raise ValueError("a username needs password or password_file")
        if self.username is None and (self.password is not None or self.password_file):
            raise ValueError("a password needs a username")
        return self

    def read_password(self) -> str | None:
        """The password, read from password_file at each call (so a changed file counts)."""
        if self.password_file is not None:
            lines = self.password_file.read_text(encoding="utf-8").splitlines()
            return lines[0] if lines else ""
        return self.password


class WebhookDefaults(_Frozen):
    timeout_s: float = Field(default=10.0, gt=0, le=120)
    """Seconds for one webhook POST, connection included."""
