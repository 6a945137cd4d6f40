"""A GSM/3G/4G modem on a serial port, spoken to in AT commands, for sending SMS.

The modem is driven in text mode (``AT+CMGF=1``, 3GPP TS 27.005): every modem we know of
supports it, and it needs no PDU encoder of our own. A message goes out in one of two
character sets, chosen for the whole text:

- GSM 7-bit (``AT+CSCS="GSM"``, ``AT+CSMP=17,167,0,0``) when every character is in the GSM
  default alphabet (3GPP TS 23.038, 6.2.1): 160 characters per SMS. The text is written to the
  modem as GSM codes ("@" is 0x00, "è" 0x04), as TS 27.005 says for that character set.
  "Ξ" is GSM 0x1A, the Ctrl-Z that ends a message in text mode, and the extension table
  ("€", "[", "{" ...) needs ESC, which cancels one: a text holding them goes as UCS-2.
- UCS-2 (``AT+CSCS="UCS2"``, ``AT+CSMP=17,167,0,8``: data coding scheme 8) for everything else,
  which is every Vietnamese text with a diacritic: 70 UTF-16 units per SMS, the text and the
  number written as hex.

A text longer than one SMS is sent as several, each starting "(1/3) " so a phone that does
not join parts still reads them in order; parts are cut after a space where there is one, so
the parts' texts, their prefixes taken off, concatenate to the text. At most ``max_parts``
parts go out (each costs one SMS); a longer text is cut, its last part ending in "...".

Errors: a missing port, a port that goes away (a USB modem unplugged: EIO, EOF), and a modem
that does not answer in time are ``DeviceUnavailable`` (worth trying again later); an answer of
``ERROR`` / ``+CMS ERROR: <n>`` / ``+CME ERROR: <n>`` or a SIM that is not ready is
``ModemRejected`` with the modem's line and code. After any failure the port is closed and
opened again (and the modem set up again) for the next command. Whether to try again is the
caller's policy; this module only says what happened.

pyserial is blocking: each operation runs in a worker thread, one at a time per modem (an
asyncio lock for the callers, a thread lock for a thread still running after its caller was
cancelled). Every read has a deadline, so a worker never outlives ``send_timeout_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
import time
import unicodedata
from dataclasses import dataclass
from typing import Literal

import serial

from drivers.errors import DeviceUnavailable, ModemRejected

log = logging.getLogger(__name__)

Encoding = Literal["gsm", "ucs2"]

GSM_PART_CHARS = 160  # septets in one SMS
UCS2_PART_UNITS = 70  # UTF-16 code units in one SMS
DEFAULT_MAX_PARTS = 6
CTRL_Z = b"\x1a"  # ends the text after the "> " prompt
ESC = b"\x1b"  # cancels it
READ_SLICE_S = 0.05  # pyserial read timeout: how often a worker looks at its deadline
PIN_READY_WAIT_S = 15.0  # a SIM takes a few seconds to be ready after its PIN
TRUNCATED = "..."

# 3GPP TS 23.038, 6.2.1: the GSM 7-bit default alphabet, by code (0x1B is the escape to the
# extension table, never a character of its own).
GSM_DEFAULT_ALPHABET = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# What text mode can carry as GSM: not ESC, and not "Ξ" (0x1A, Ctrl-Z).
_GSM_CODES = {ch: code for code, ch in enumerate(GSM_DEFAULT_ALPHABET) if code not in (0x1A, 0x1B)}
_NUMBER = re.compile(r"^\+?[0-9]{3,20}$")
_FINAL_ERROR = re.compile(r"^\+(CMS|CME) ERROR: *(.*)$")


def normalise(text: str) -> str:
    """The text as it goes out: NFC (a Vietnamese letter and its marks as one character, one
    UTF-16 unit instead of up to three) and line ends as LF (a CR in text mode is an Enter)."""
    return unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")


def encoding_for(text: str) -> Encoding:
    """"gsm" when every character of ``text`` is in the GSM default alphabet (above), else
    "ucs2"."""
    return "gsm" if all(ch in _GSM_CODES for ch in text) else "ucs2"


def gsm_encode(text: str) -> bytes:
    """``text`` as GSM default-alphabet codes, one byte per character (what text mode takes with
    ``AT+CSCS="GSM"``). Raises ValueError for a character outside it."""
    try:
        return bytes(_GSM_CODES[ch] for ch in text)
    except KeyError as exc:
        raise ValueError(f"{exc.args[0]!r} is not in the GSM default alphabet") from None


def gsm_decode(data: bytes) -> str:
    return "".join(GSM_DEFAULT_ALPHABET[b] for b in data)


def ucs2_hex(text: str) -> str:
    """``text`` as the hex of its UTF-16 big-endian units, as ``AT+CSCS="UCS2"`` takes it."""
    return text.encode("utf-16-be").hex().upper()


def ucs2_unhex(data: str) -> str:
    return bytes.fromhex(data).decode("utf-16-be")


def _units(text: str, encoding: Encoding) -> int:
    return len(text) if encoding == "gsm" else len(text.encode("utf-16-be")) // 2


def split_sms(text: str, *, max_parts: int = DEFAULT_MAX_PARTS) -> tuple[Encoding, list[str]]:
    """The encoding of ``text`` and the SMS it takes, each within one SMS of that encoding.

    One SMS needs no prefix; several start "(i/n) ". Taken off their prefixes, the parts
    concatenate to the text, unless it needed more than ``max_parts``: then the last part is
    cut and ends with "...".
    """
    if max_parts < 1:
        raise ValueError("max_parts must be at least 1")
    text = normalise(text)
    encoding = encoding_for(text)
    limit = GSM_PART_CHARS if encoding == "gsm" else UCS2_PART_UNITS
    if _units(text, encoding) <= limit:
        return encoding, [text]
    count = 2
    while True:
        chunks = _chunks(text, limit - len(f"({count}/{count}) "), encoding)
        if len(chunks) <= count or len(chunks) > max_parts:
            break
        count = len(chunks)  # a wider prefix ("(10/12) ") may take more parts: again
    if len(chunks) > max_parts:
        count = max_parts
        capacity = limit - len(f"({count}/{count}) ")
        chunks = _chunks(text, capacity, encoding)[:count]
        last = chunks[-1]
        while last and _units(last + TRUNCATED, encoding) > capacity:
            last = last[:-1]
        chunks[-1] = last.rstrip() + TRUNCATED
    total = len(chunks)
    return encoding, [f"({i}/{total}) {chunk}" for i, chunk in enumerate(chunks, start=1)]


def _chunks(text: str, capacity: int, encoding: Encoding) -> list[str]:
    """``text`` cut into pieces of at most ``capacity`` units, after a space when one is in the
    second half of a piece (the space stays at the end of its piece)."""
    if capacity < 10:
        raise ValueError("an SMS part too small for its prefix")
    chunks: list[str] = []
    rest = text
    while rest:
        end = 0
        used = 0
        while end < len(rest):
            width = _units(rest[end], encoding)
            if used + width > capacity:
                break
            used += width
            end += 1
        if end < len(rest):
            space = max(rest.rfind(" ", 0, end), rest.rfind("\n", 0, end))
            if space >= end // 2:
                end = space + 1
        chunks.append(rest[:end])
        rest = rest[end:]
    return chunks


@dataclass(frozen=True)
class SmsReceipt:
    """What the modem said about one text: the message reference of each part (``+CMGS: <mr>``)."""

    number: str
    encoding: Encoding
    parts: int
    references: tuple[int, ...]


@dataclass(frozen=True)
class ModemProbe:
    """The modem's answers for a health view: every field None when it was not asked or did not
    say. ``signal_dbm`` from ``+CSQ`` (rssi 0..31 -> -113..-51 dBm; 99 is "not known")."""

    port: str
    answered: bool  # it said OK to AT
    sim: str | None = None  # "READY", "SIM PIN", ... (+CPIN?)
    signal_rssi: int | None = None
    signal_dbm: int | None = None
    operator: str | None = None  # +COPS? <oper>, as the modem names it ("Viettel", "45204")
    error: str | None = None


class Modem:
    """One modem on one serial port. Opens lazily, reopens after a failure."""

    def __init__(self, port: str, *, baudrate: int = 115200, timeout_s: float = 5.0,
                 send_timeout_s: float = 60.0, pin: str | None = None,
                 max_parts: int = DEFAULT_MAX_PARTS) -> None:
        if timeout_s <= 0 or send_timeout_s <= 0:
            raise ValueError("modem timeouts must be > 0")
        self.port = port
        self.baudrate = baudrate
        self.timeout_s = timeout_s
        self.send_timeout_s = send_timeout_s
        self.max_parts = max_parts
        self._pin = pin
        self._pin_refused = False  # never offer a refused PIN again: three wrong ones lock the SIM
        self._serial: serial.Serial | None = None
        self._buffer = bytearray()
        self._lock = asyncio.Lock()
        self._thread_lock = threading.Lock()

    # --- the async face -------------------------------------------------------------------

    async def send_sms(self, number: str, text: str) -> SmsReceipt:
        """Send ``text`` to ``number`` (digits, "+" first for an international number), in as
        many parts as it takes. Raises ValueError for a bad number or an empty text,
        ``DeviceUnavailable`` or ``ModemRejected`` (a part already sent stays sent)."""
        number = number.strip().replace(" ", "")
        if not _NUMBER.match(number):
            raise ValueError(f"{number!r} is not a phone number")
        if not text.strip():
            raise ValueError("an empty text")
        encoding, parts = split_sms(text, max_parts=self.max_parts)
        async with self._lock:
            return await asyncio.to_thread(self._send_blocking, number, encoding, parts)

    async def probe(self) -> ModemProbe:
        """Ask the modem AT, AT+CPIN?, AT+CSQ and AT+COPS?; never raises for the modem's sake."""
        async with self._lock:
            return await asyncio.to_thread(self._probe_blocking)

    async def close(self) -> None:
        async with self._lock:
            await asyncio.to_thread(self._close_blocking)

    # --- in the worker thread -------------------------------------------------------------

    def _close_blocking(self) -> None:
        with self._thread_lock:
            self._drop()

    def _send_blocking(self, number: str, encoding: Encoding, parts: list[str]) -> SmsReceipt:
        with self._thread_lock:
            try:
                self._ready()
                if encoding == "gsm":
                    self._charset("GSM")
                    self._command("AT+CSMP=17,167,0,0")
                    address = number
                else:
                    self._charset("UCS2")
                    self._command("AT+CSMP=17,167,0,8")
                    address = ucs2_hex(number)
                references = tuple(self._submit(address, encoding, part) for part in parts)
            except BaseException:
                self._drop()
                raise
            log.info("modem %s: sent %d part(s) to %s (%s)", self.port, len(parts), number,
                     encoding)
            return SmsReceipt(number, encoding, len(parts), references)

    def _charset(self, charset: str) -> None:
        """AT+CSCS. TS 27.007 has string parameters in the current character set, so a modem
        that follows it to the letter wants "GSM" as UCS-2 hex after AT+CSCS="UCS2"; most take
        it plain. Plain first, hex when that is refused."""
        try:
            self._command(f'AT+CSCS="{charset}"')
        except ModemRejected:
            self._command(f'AT+CSCS="{ucs2_hex(charset)}"')

    def _submit(self, address: str, encoding: Encoding, part: str) -> int:
        body = gsm_encode(part) if encoding == "gsm" else ucs2_hex(part).encode("ascii")
        self._write(f'AT+CMGS="{address}"\r'.encode("ascii"))
        try:
            self._await_prompt("AT+CMGS")
        except DeviceUnavailable:
            self._write(ESC)  # leave the modem out of its text entry, if it is in it
            raise
        self._write(body + CTRL_Z)
        lines = self._final("AT+CMGS", self.send_timeout_s, echo="")
        for line in lines:
            if line.startswith("+CMGS:"):
                try:
                    return int(line.split(":", 1)[1].strip())
                except ValueError:
                    break
        raise ModemRejected(f"AT+CMGS answered OK without +CMGS: {lines}", device=self.port,
                            answer="OK")

    def _probe_blocking(self) -> ModemProbe:
        with self._thread_lock:
            try:
                self._open()
                self._command("AT")
            except (DeviceUnavailable, ModemRejected) as exc:
                self._drop()
                return ModemProbe(self.port, answered=False, error=str(exc))
            sim = rssi = dbm = operator = None
            errors: list[str] = []
            try:
                sim = self._sim_state()
                rssi, dbm = _signal(self._command("AT+CSQ"))
                operator = _operator(self._command("AT+COPS?"))
            except ModemRejected as exc:
                errors.append(str(exc))
            except DeviceUnavailable as exc:
                self._drop()
                errors.append(str(exc))
            return ModemProbe(self.port, answered=True, sim=sim, signal_rssi=rssi,
                              signal_dbm=dbm, operator=operator,
                              error="; ".join(errors) or None)

    def _ready(self) -> None:
        """Open the port and set the modem up, if it is not already."""
        if self._serial is not None:
            return
        self._open()
        for attempt in range(3):  # a modem just plugged in may miss the first AT
            try:
                self._command("AT", timeout_s=min(self.timeout_s, 1.0) if attempt < 2 else None)
                break
            except DeviceUnavailable:
                if attempt == 2 or self._serial is None:
                    raise
        self._command("ATE0")  # no echo from here on
        self._command("AT+CMEE=1")  # numeric +CME ERROR codes instead of a bare ERROR
        self._check_sim()
        self._command("AT+CMGF=1")  # text mode

    def _sim_state(self) -> str:
        for line in self._command("AT+CPIN?"):
            if line.startswith("+CPIN:"):
                return line.split(":", 1)[1].strip()
        raise ModemRejected("AT+CPIN? gave no +CPIN line", device=self.port, answer="OK")

    def _check_sim(self) -> None:
        state = self._sim_state()
        if state == "READY":
            return
        if state != "SIM PIN":
            raise ModemRejected(f"the SIM is not ready: {state}", device=self.port,
                                answer=f"+CPIN: {state}")
        if self._pin is None:
            raise ModemRejected("the SIM asks for its PIN and none is configured",
                                device=self.port, answer="+CPIN: SIM PIN")
        if self._pin_refused:
            raise ModemRejected("the SIM refused the configured PIN before; not offering it "
                                "again (three wrong PINs lock the SIM)", device=self.port,
                                answer="+CPIN: SIM PIN")
        try:
            self._command(f'AT+CPIN="{self._pin}"', echo=None)
        except ModemRejected:
            self._pin_refused = True
            raise
        deadline = time.monotonic() + PIN_READY_WAIT_S
        while (state := self._sim_state()) != "READY":
            if time.monotonic() > deadline:
                raise ModemRejected(f"the SIM is not ready after its PIN: {state}",
                                    device=self.port, answer=f"+CPIN: {state}")
            time.sleep(0.2)

    # --- the wire -------------------------------------------------------------------------

    def _open(self) -> None:
        if self._serial is not None:
            return
        try:
            self._serial = serial.Serial(self.port, self.baudrate, timeout=READ_SLICE_S,
                                         write_timeout=self.timeout_s, exclusive=True)
        except (serial.SerialException, OSError) as exc:
            raise DeviceUnavailable(f"cannot open the modem's port: {exc}",
                                    device=self.port) from exc
        self._buffer.clear()
        try:
            self._serial.reset_input_buffer()
        except (serial.SerialException, OSError) as exc:
            self._drop()
            raise DeviceUnavailable(f"the modem's port failed: {exc}", device=self.port) from exc

    def _drop(self) -> None:
        if self._serial is not None:
            with contextlib.suppress(serial.SerialException, OSError):
                self._serial.close()
            self._serial = None
        self._buffer.clear()

    def _write(self, data: bytes) -> None:
        port = self._serial
        if port is None:
            raise DeviceUnavailable("the modem's port is closed", device=self.port)
        try:
            port.write(data)
            port.flush()
        except (serial.SerialException, OSError) as exc:
            raise DeviceUnavailable(f"the modem went away (write: {exc})",
                                    device=self.port) from exc

    def _fill(self, deadline: float, what: str) -> None:
        """Read what the modem has sent so far into the buffer, waiting at most until
        ``deadline``; DeviceUnavailable when nothing came by then."""
        port = self._serial
        if port is None:
            raise DeviceUnavailable("the modem's port is closed", device=self.port)
        if time.monotonic() > deadline:
            raise DeviceUnavailable(f"no answer to {what} in time", device=self.port)
        try:
            data = port.read(max(1, port.in_waiting))
        except (serial.SerialException, OSError) as exc:
            raise DeviceUnavailable(f"the modem went away (read: {exc})",
                                    device=self.port) from exc
        self._buffer.extend(data)

    def _next_line(self) -> str | None:
        """The next complete line in the buffer (blank lines skipped), or None."""
        while True:
            match = re.search(rb"\r\n|\n|\r", self._buffer)
            if match is None:
                return None
            raw = bytes(self._buffer[: match.start()])
            del self._buffer[: match.end()]
            line = raw.decode("ascii", errors="replace").strip()
            if line:
                return line

    def _command(self, command: str, *, timeout_s: float | None = None,
                 echo: str | None = "") -> list[str]:
        """Send one command line; the lines it answered before OK. ``echo=None`` keeps the
        command (a PIN) out of the log and errors."""
        shown = command if echo is not None else command.split("=", 1)[0] + "=..."
        self._write(command.encode("ascii") + b"\r")
        return self._final(shown, self.timeout_s if timeout_s is None else timeout_s,
                           echo=command)

    def _final(self, what: str, timeout_s: float, *, echo: str | None) -> list[str]:
        deadline = time.monotonic() + timeout_s
        lines: list[str] = []
        while True:
            line = self._next_line()
            if line is None:
                self._fill(deadline, what)
                continue
            if echo and line == echo:
                continue  # the modem's echo, before ATE0
            if line == "OK":
                return lines
            if line == "ERROR":
                raise ModemRejected(f"{what} answered ERROR", device=self.port, answer=line)
            match = _FINAL_ERROR.match(line)
            if match:
                code = int(match.group(2)) if match.group(2).isdigit() else None
                raise ModemRejected(f"{what} answered {line}", device=self.port, answer=line,
                                    code=code)
            lines.append(line)

    def _await_prompt(self, what: str) -> None:
        """Wait for the "> " that asks for the text of an AT+CMGS."""
        deadline = time.monotonic() + self.timeout_s
        while True:
            start = self._buffer.find(b">")
            if start >= 0 and not self._buffer[:start].strip(b"\r\n"):
                del self._buffer[: start + 1]
                if self._buffer[:1] == b" ":
                    del self._buffer[:1]
                return
            line = self._peek_error()
            if line is not None:
                match = _FINAL_ERROR.match(line)
                code = int(match.group(2)) if match and match.group(2).isdigit() else None
                raise ModemRejected(f"{what} answered {line}", device=self.port, answer=line,
                                    code=code)
            self._fill(deadline, f"{what} (no prompt)")

    def _peek_error(self) -> str | None:
        """An ERROR line waiting in the buffer instead of the prompt (taken out), else None;
        other complete lines (an echo, an unsolicited code) are dropped."""
        while b"\n" in self._buffer or b"\r" in self._buffer.lstrip(b"\r\n"):
            if self._buffer.lstrip(b"\r\n")[:1] == b">":
                return None
            line = self._next_line()
            if line is None:
                return None
            if line == "ERROR" or _FINAL_ERROR.match(line):
                return line
        return None


def _signal(lines: list[str]) -> tuple[int | None, int | None]:
    for line in lines:
        if line.startswith("+CSQ:"):
            try:
                rssi = int(line.split(":", 1)[1].split(",")[0])
            except ValueError:
                return None, None
            if 0 <= rssi <= 31:
                return rssi, -113 + 2 * rssi
            return rssi, None
    return None, None


def _operator(lines: list[str]) -> str | None:
    for line in lines:
        if line.startswith("+COPS:"):
            match = re.search(r'"([^"]*)"', line)
            return match.group(1) if match else None
    return None
