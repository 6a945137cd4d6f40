"""A simulated GSM modem that answers the AT dialogue of ``drivers.modem`` on a pseudo-terminal.

It stands where a USB modem's ``/dev/ttyUSB2`` would: ``ModemSimulator(device)`` runs socat for
a pty pair, the client's end linked at ``device``, and answers on the other end from a thread,
as a modem does: echo until ``ATE0``, ``AT+CMEE``, ``AT+CPIN?`` (and a PIN if it is given one),
``AT+CMGF``, ``AT+CSCS``, ``AT+CSMP``, ``AT+CSQ``, ``AT+COPS?`` and ``AT+CMGS`` with its "> "
prompt, the text ended by Ctrl-Z (or cancelled by ESC). Every message sent is recorded with its
number and its text decoded from GSM codes or UCS-2 hex; a part longer than one SMS, or UCS-2
hex sent without the data coding scheme 8 (``AT+CSMP=17,167,0,8``), is refused with
``+CMS ERROR: 305`` as a network would garble it.

Faults: ``fail_next_sends(n)`` answers the next n sends ``+CMS ERROR: 500`` (or another code);
``strict_charset`` wants ``AT+CSCS`` in UCS-2 hex once the character set is UCS-2, as TS 27.007
reads; ``mute`` stops all answers (the client times out); ``send_delay_s`` is the network's time
before ``+CMGS``; ``unplug()`` ends socat, so the client's port reads EOF, writes fail with EIO
and ``device`` vanishes, like a USB modem pulled out, and ``plug()`` brings it back at the
same path.

``ModemSimulator.on_tty(path)`` serves instead on a tty someone else made (one end of the
``socat_pty_pair`` test fixture); it cannot be unplugged, since it does not own the pair.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

import serial

from drivers.modem import (
    GSM_PART_CHARS,
    UCS2_PART_UNITS,
    Encoding,
    gsm_decode,
    ucs2_unhex,
)

log = logging.getLogger(__name__)

START_TIMEOUT_S = 5.0
CTRL_Z = 0x1A
ESC = 0x1B


@dataclass(frozen=True)
class SimMessage:
    """One SMS the simulated modem sent: the number and text decoded, the bytes as received."""

    number: str
    text: str
    encoding: Encoding
    raw: bytes
    reference: int


class ModemSimulator:
    """A modem on a pty; a context manager (``with ModemSimulator(path) as modem``)."""

    def __init__(self, device: str | Path, *, socat: str | None = None,
                 operator: str = "Viettel", rssi: int = 20, pin: str | None = None) -> None:
        self.device = Path(device)
        self.operator = operator
        self.rssi = rssi
        self.pin = pin  # the SIM asks for it until it is given
        self.send_delay_s = 0.0
        self.mute = False
        # TS 27.007 to the letter: after AT+CSCS="UCS2", the next AT+CSCS must name its
        # character set in UCS-2 hex too.
        self.strict_charset = False
        self._socat = socat
        self._own_pair = True
        self._modem_end = self.device.with_name(self.device.name + ".modem")
        self._process: subprocess.Popen[bytes] | None = None
        self._serial: serial.Serial | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._messages: list[SimMessage] = []
        self._commands: list[str] = []
        self._failures: list[int] = []
        self._reference = 0
        self._reset_state()

    @classmethod
    def on_tty(cls, tty: str | Path, *, operator: str = "Viettel", rssi: int = 20,
               pin: str | None = None) -> ModemSimulator:
        """A simulator answering on ``tty``, an end of a pty pair it does not own."""
        sim = cls(tty, operator=operator, rssi=rssi, pin=pin)
        sim._own_pair = False
        sim._modem_end = Path(tty)
        return sim

    def _reset_state(self) -> None:
        """What a modem forgets when it loses power."""
        self._echo = True
        self._cmgf = 0
        self._cscs = "IRA"
        self._dcs = 0
        self._sim_ready = self.pin is None

    # --- what a test sees and does --------------------------------------------------------

    @property
    def messages(self) -> list[SimMessage]:
        with self._lock:
            return list(self._messages)

    @property
    def commands(self) -> list[str]:
        """Every command line received, in order (a PIN shown as given)."""
        with self._lock:
            return list(self._commands)

    def fail_next_sends(self, count: int, *, code: int = 500) -> None:
        with self._lock:
            self._failures.extend([code] * count)

    @property
    def plugged(self) -> bool:
        return self._thread is not None

    def __enter__(self) -> Self:
        self.plug()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def plug(self) -> None:
        """Power the modem up (fresh state, as after a replug) and answer on its port."""
        if self._thread is not None:
            return
        if self._own_pair:
            self._start_socat()
        try:
            self._serial = serial.Serial(str(self._modem_end), 115200, timeout=0.05)
        except serial.SerialException:
            self._stop_socat()
            raise
        with self._lock:
            self._reset_state()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"modem-sim {self.device}",
                                        daemon=True)
        self._thread.start()

    def unplug(self) -> None:
        """Pull the modem out: its port goes away under the client."""
        if not self._own_pair:
            raise RuntimeError("a simulator on someone else's tty cannot be unplugged")
        self._halt()
        self._stop_socat()

    def close(self) -> None:
        self._halt()
        self._stop_socat()

    def _halt(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join(timeout=START_TIMEOUT_S)
            self._thread = None
        if self._serial is not None:
            self._serial.close()
            self._serial = None

    def _start_socat(self) -> None:
        program = self._socat or shutil.which("socat")
        if program is None:
            raise FileNotFoundError("socat is not installed (deploy/system-deps.sh installs it)")
        self._process = subprocess.Popen(
            [program, f"pty,raw,echo=0,link={self.device}",
             f"pty,raw,echo=0,link={self._modem_end}"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not (self.device.exists() and self._modem_end.exists()):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self._stop_socat()
                raise RuntimeError(f"socat did not make the pty pair at {self.device}")
            time.sleep(0.01)

    def _stop_socat(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=START_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()

    # --- the modem, in its thread ---------------------------------------------------------

    def _run(self) -> None:
        port = self._serial
        assert port is not None
        line = bytearray()
        text: bytearray | None = None  # the text of an AT+CMGS, after its prompt
        address = ""
        while not self._stop.is_set():
            try:
                data = port.read(max(1, port.in_waiting))
            except (serial.SerialException, OSError, TypeError):
                return  # the port was closed under us
            for byte in data:
                if self.mute:
                    continue
                if text is not None:
                    if byte == CTRL_Z:
                        self._deliver(port, address, bytes(text))
                        text = None
                    elif byte == ESC:
                        text = None
                        self._reply(port, "OK")
                    else:
                        text.append(byte)
                    continue
                if self._echo:
                    port.write(bytes([byte]))
                if byte == 0x0D:
                    command = line.decode("ascii", errors="replace").strip()
                    line.clear()
                    if command:
                        address_or_none = self._answer(port, command)
                        if address_or_none is not None:
                            address = address_or_none
                            text = bytearray()
                elif byte != 0x0A:
                    line.append(byte)

    def _reply(self, port: serial.Serial, *lines: str) -> None:
        port.write(b"".join(b"\r\n" + line.encode("ascii") + b"\r\n" for line in lines))

    def _answer(self, port: serial.Serial, command: str) -> str | None:
        """Answer one command line; the destination when it opened a text (AT+CMGS)."""
        with self._lock:
            self._commands.append(command)
        upper = command.upper()
        if not upper.startswith("AT"):
            self._reply(port, "ERROR")
            return None
        body = command[2:]
        if body == "" or upper in ("ATZ",):
            self._reply(port, "OK")
        elif upper in ("ATE0", "ATE1"):
            self._echo = upper == "ATE1"
            self._reply(port, "OK")
        elif re.fullmatch(r"\+CMEE=[012]", body.upper()):
            self._reply(port, "OK")
        elif body.upper() == "+CPIN?":
            self._reply(port, "+CPIN: READY" if self._sim_ready else "+CPIN: SIM PIN", "OK")
        elif (match := re.fullmatch(r'\+CPIN="([^"]*)"', body, re.IGNORECASE)):
            if self._sim_ready:
                self._reply(port, "+CME ERROR: 3")  # operation not allowed
            elif match.group(1) == self.pin:
                self._sim_ready = True
                self._reply(port, "OK")
            else:
                self._reply(port, "+CME ERROR: 16")  # incorrect password
        elif (match := re.fullmatch(r"\+CMGF=([01])", body.upper())):
            self._cmgf = int(match.group(1))
            self._reply(port, "OK")
        elif (match := re.fullmatch(r'\+CSCS="([^"]*)"', body, re.IGNORECASE)):
            charset = match.group(1).upper()
            if self._cscs == "UCS2" and re.fullmatch(r"(?:[0-9A-F]{4})+", charset):
                charset = ucs2_unhex(charset)
            elif self._cscs == "UCS2" and self.strict_charset:
                charset = ""  # a plain name is not UCS-2 hex: refused
            if charset in ("GSM", "UCS2", "IRA"):
                self._cscs = charset
                self._reply(port, "OK")
            else:
                self._reply(port, "+CME ERROR: 4")
        elif (match := re.fullmatch(r"\+CSMP=(\d+),(\d+),(\d+),(\d+)", body.upper())):
            self._dcs = int(match.group(4))
            self._reply(port, "OK")
        elif body.upper() == "+CSQ":
            self._reply(port, f"+CSQ: {self.rssi},99", "OK")
        elif body.upper() == "+COPS?":
            self._reply(port, f'+COPS: 0,0,"{self.operator}",7', "OK")
        elif (match := re.fullmatch(r'\+CMGS="([^"]*)"(?:,\d+)?', body, re.IGNORECASE)):
            if not self._sim_ready:
                self._reply(port, "+CMS ERROR: 311")  # SIM PIN required
            elif self._cmgf != 1:
                self._reply(port, "+CMS ERROR: 302")  # operation not allowed (PDU mode)
            else:
                port.write(b"\r\n> ")
                return match.group(1)
        else:
            self._reply(port, "ERROR")
        return None

    def _deliver(self, port: serial.Serial, address: str, raw: bytes) -> None:
        try:
            if self._cscs == "UCS2":
                number = ucs2_unhex(address)
                text = ucs2_unhex(raw.decode("ascii"))
                encoding: Encoding = "ucs2"
                fits = self._dcs == 8 and len(text.encode("utf-16-be")) // 2 <= UCS2_PART_UNITS
            else:
                number = address
                text = gsm_decode(raw)
                encoding = "gsm"
                fits = self._dcs == 0 and len(raw) <= GSM_PART_CHARS
        except (ValueError, IndexError):
            fits = False
        if self.send_delay_s:
            time.sleep(self.send_delay_s)
        with self._lock:
            failure = self._failures.pop(0) if self._failures else None
        if not fits:
            self._reply(port, "+CMS ERROR: 305")  # invalid text mode parameter
            return
        if failure is not None:
            self._reply(port, f"+CMS ERROR: {failure}")
            return
        with self._lock:
            self._reference = self._reference % 255 + 1
            self._messages.append(SimMessage(number, text, encoding, raw, self._reference))
            reference = self._reference
        self._reply(port, f"+CMGS: {reference}", "OK")
