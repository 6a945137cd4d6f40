"""The AT modem client against the simulated modem over a real socat pty pair, and its splitting."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from drivers.errors import DeviceUnavailable, ModemRejected
from drivers.modem import (
    GSM_PART_CHARS,
    UCS2_PART_UNITS,
    Modem,
    encoding_for,
    gsm_decode,
    gsm_encode,
    split_sms,
)
from drivers.modem_sim import ModemSimulator
from tests.conftest import require_program

VIETNAMESE = ("Cảnh báo: tủ điện Thôn Đông mất kết nối lúc 18:05, đèn đường tắt. "
              "Kỹ thuật viên kiểm tra ngay.")
NUMBER = "+84912345678"


def _reassemble(parts: list[str]) -> str:
    import re

    return "".join(re.sub(r"^\(\d+/\d+\) ", "", part, count=1) for part in parts)


def _units(text: str) -> int:
    return len(text.encode("utf-16-be")) // 2


# --- encoding and parts, no modem -------------------------------------------------------------

def test_gsm_codes_are_the_default_alphabet_not_ascii() -> None:
    assert gsm_encode("@$_è") == bytes([0x00, 0x02, 0x11, 0x04])
    assert gsm_encode("Aa0 ?") == b"Aa0 ?"
    assert gsm_decode(bytes([0x00, 0x1F, 0x7F])) == "@Éà"
    with pytest.raises(ValueError):
        gsm_encode("đ")


def test_the_encoding_is_gsm_only_when_every_character_fits() -> None:
    assert encoding_for("Tu dien Thon Dong mat ket noi @ 18:05 (cap 3)") == "gsm"
    assert encoding_for("Café à Genève") == "gsm"  # é, à, è are GSM
    assert encoding_for(VIETNAMESE) == "ucs2"
    assert encoding_for("price 5€") == "ucs2"  # the extension table needs ESC
    assert encoding_for("[zone]") == "ucs2"
    assert encoding_for("ΞΣ") == "ucs2"  # Ξ is 0x1A, Ctrl-Z, in text mode


def test_a_short_text_is_one_part_without_a_prefix() -> None:
    assert split_sms("Board offline") == ("gsm", ["Board offline"])
    assert split_sms("a" * GSM_PART_CHARS) == ("gsm", ["a" * GSM_PART_CHARS])
    assert split_sms("đ" * UCS2_PART_UNITS) == ("ucs2", ["đ" * UCS2_PART_UNITS])
    encoding, parts = split_sms("đ" * (UCS2_PART_UNITS + 1))
    assert encoding == "ucs2" and len(parts) == 2


def test_decomposed_vietnamese_is_composed_first() -> None:
    import unicodedata

    decomposed = unicodedata.normalize("NFD", VIETNAMESE)
    assert _units(decomposed) > UCS2_PART_UNITS + 20
    assert split_sms(decomposed) == split_sms(VIETNAMESE)


@pytest.mark.parametrize("text, limit", [
    (("Relay 3 of board 2 is not following its command. " * 8).strip(), GSM_PART_CHARS),
    ((VIETNAMESE + " ") * 4, UCS2_PART_UNITS),
    ("x" * 500, GSM_PART_CHARS),  # no space to cut at
])
def test_long_texts_split_into_numbered_parts_that_reassemble(text: str, limit: int) -> None:
    encoding, parts = split_sms(text, max_parts=20)
    assert len(parts) > 1
    total = len(parts)
    for index, part in enumerate(parts, start=1):
        assert part.startswith(f"({index}/{total}) ")
        assert (len(part) if encoding == "gsm" else _units(part)) <= limit
    assert _reassemble(parts) == text


def test_parts_are_cut_after_a_space() -> None:
    _, parts = split_sms((VIETNAMESE + " ") * 3, max_parts=20)
    assert all(part.endswith(" ") for part in parts[:-1])


def test_a_character_outside_the_bmp_is_never_cut_in_half() -> None:
    text = "🚨" * 50  # two UTF-16 units each
    _, parts = split_sms(text, max_parts=20)
    assert all(_units(part) <= UCS2_PART_UNITS for part in parts)
    assert _reassemble(parts) == text


def test_more_than_max_parts_is_cut_with_dots() -> None:
    _, parts = split_sms("word " * 400, max_parts=3)
    assert len(parts) == 3
    assert parts[0].startswith("(1/3) ") and parts[-1].endswith("...")
    assert all(len(part) <= GSM_PART_CHARS for part in parts)


# --- over a pty, against the simulated modem --------------------------------------------------

@pytest.fixture
def device(tmp_path: Path) -> Path:
    return tmp_path / "ttyUSB2"


@pytest.fixture
def sim(device: Path) -> Iterator[ModemSimulator]:
    with ModemSimulator(device, socat=require_program("socat")) as modem:
        yield modem


@pytest.fixture
async def modem(device: Path, sim: ModemSimulator) -> AsyncIterator[Modem]:
    client = Modem(str(device), timeout_s=1.0, send_timeout_s=2.0)
    yield client
    await client.close()


@pytest.mark.integration
async def test_a_gsm_text_goes_out_as_gsm_codes(modem: Modem, sim: ModemSimulator) -> None:
    text = "Tu dien Thon Dong: mat ket noi @ 18:05, kiem tra_ngay!"
    receipt = await modem.send_sms(NUMBER, text)
    assert (receipt.encoding, receipt.parts, len(receipt.references)) == ("gsm", 1, 1)
    [message] = sim.messages
    assert (message.number, message.text, message.encoding) == (NUMBER, text, "gsm")
    assert message.raw[message.raw.index(b"noi ") + 4] == 0x00  # "@" as GSM code 0
    assert receipt.references == (message.reference,)
    commands = sim.commands
    for expected in ("ATE0", "AT+CMGF=1", 'AT+CSCS="GSM"', "AT+CSMP=17,167,0,0",
                     f'AT+CMGS="{NUMBER}"'):
        assert expected in commands


@pytest.mark.integration
async def test_a_vietnamese_text_goes_as_ucs2_and_decodes_exactly(modem: Modem,
                                                                   sim: ModemSimulator) -> None:
    text = "Đèn đường Thôn Đông đã sáng lại."
    receipt = await modem.send_sms(NUMBER, text)
    assert (receipt.encoding, receipt.parts) == ("ucs2", 1)
    [message] = sim.messages
    assert (message.number, message.text, message.encoding) == (NUMBER, text, "ucs2")
    assert message.raw == text.encode("utf-16-be").hex().upper().encode()
    assert 'AT+CSCS="UCS2"' in sim.commands and "AT+CSMP=17,167,0,8" in sim.commands
    assert 'AT+CMGS="002B00380034003900310032003300340035003600370038"' in sim.commands


@pytest.mark.integration
async def test_back_to_gsm_after_ucs2_on_a_modem_that_wants_hex(modem: Modem,
                                                                 sim: ModemSimulator) -> None:
    sim.strict_charset = True
    await modem.send_sms(NUMBER, "Đèn sáng")
    await modem.send_sms(NUMBER, "Den sang")
    assert [(m.text, m.encoding) for m in sim.messages] == [
        ("Đèn sáng", "ucs2"), ("Den sang", "gsm")]
    assert 'AT+CSCS="00470053004D"' in sim.commands


@pytest.mark.integration
async def test_a_long_text_goes_in_parts_that_reassemble(modem: Modem, sim: ModemSimulator) -> None:
    text = VIETNAMESE + " Đèn: 12 bóng hỏng, 3 mạch không theo lệnh, cửa tủ mở."
    receipt = await modem.send_sms(NUMBER, text)
    messages = sim.messages
    assert receipt.parts == len(messages) == 3
    assert [m.text[:6] for m in messages] == ["(1/3) ", "(2/3) ", "(3/3) "]
    assert all(_units(m.text) <= UCS2_PART_UNITS for m in messages)
    assert _reassemble([m.text for m in messages]) == text
    assert len(set(receipt.references)) == 3


@pytest.mark.integration
async def test_a_refused_send_then_a_good_one(modem: Modem, sim: ModemSimulator) -> None:
    sim.fail_next_sends(1)
    with pytest.raises(ModemRejected) as refused:
        await modem.send_sms(NUMBER, "Board 2 offline")
    assert (refused.value.code, refused.value.answer) == (500, "+CMS ERROR: 500")
    assert sim.messages == []
    await modem.send_sms(NUMBER, "Board 2 offline")
    assert [m.text for m in sim.messages] == ["Board 2 offline"]


@pytest.mark.integration
async def test_an_unplugged_modem_is_unavailable_until_plugged_back(
        modem: Modem, sim: ModemSimulator, device: Path) -> None:
    await modem.send_sms(NUMBER, "one")
    sim.unplug()
    assert not device.exists()
    with pytest.raises(DeviceUnavailable, match=r"went away|cannot open"):
        await modem.send_sms(NUMBER, "two")
    with pytest.raises(DeviceUnavailable, match="cannot open"):
        await modem.send_sms(NUMBER, "two")
    sim.plug()
    await modem.send_sms(NUMBER, "three")
    assert [m.text for m in sim.messages] == ["one", "three"]
    assert sim.commands.count("ATE0") == 2  # set up again after the replug


@pytest.mark.integration
async def test_a_missing_port_is_unavailable(tmp_path: Path) -> None:
    modem = Modem(str(tmp_path / "ttyUSB9"), timeout_s=0.5)
    with pytest.raises(DeviceUnavailable, match="cannot open"):
        await modem.send_sms(NUMBER, "x")
    probe = await modem.probe()
    assert not probe.answered and probe.error and "cannot open" in probe.error


@pytest.mark.integration
async def test_a_silent_modem_times_out(modem: Modem, sim: ModemSimulator) -> None:
    sim.mute = True
    started = time.monotonic()
    with pytest.raises(DeviceUnavailable, match="no answer to AT"):
        await modem.send_sms(NUMBER, "x")
    assert time.monotonic() - started < 5.0  # 1 + 1 + 1 s of "AT" tries, not forever
    sim.mute = False
    await modem.send_sms(NUMBER, "y")
    assert [m.text for m in sim.messages] == ["y"]


@pytest.mark.integration
async def test_a_network_slower_than_send_timeout_times_out(modem: Modem,
                                                            sim: ModemSimulator) -> None:
    sim.send_delay_s = 3.0  # the client waits 2 s for +CMGS
    with pytest.raises(DeviceUnavailable, match="no answer to AT\\+CMGS"):
        await modem.send_sms(NUMBER, "slow")


@pytest.mark.integration
async def test_probe_reports_sim_signal_and_operator(modem: Modem, sim: ModemSimulator) -> None:
    probe = await modem.probe()
    assert probe.answered and probe.error is None
    assert (probe.sim, probe.signal_rssi, probe.signal_dbm, probe.operator) == (
        "READY", 20, -73, "Viettel")
    sim.unplug()
    probe = await modem.probe()
    assert not probe.answered and probe.error


@pytest.mark.integration
async def test_a_sim_pin_is_given_once(device: Path) -> None:
    with ModemSimulator(device, socat=require_program("socat"), pin="1234") as sim:
        modem = Modem(str(device), timeout_s=1.0, pin="1234")
        await modem.send_sms(NUMBER, "with pin")
        assert [m.text for m in sim.messages] == ["with pin"]
        await modem.close()


@pytest.mark.integration
async def test_a_refused_pin_is_never_offered_again(device: Path) -> None:
    with ModemSimulator(device, socat=require_program("socat"), pin="1234") as sim:
        modem = Modem(str(device), timeout_s=1.0, pin="0000")
        with pytest.raises(ModemRejected, match="CME ERROR: 16"):
            await modem.send_sms(NUMBER, "x")
        with pytest.raises(ModemRejected, match="refused the configured PIN"):
            await modem.send_sms(NUMBER, "x")
        assert sum(c.startswith("AT+CPIN=") for c in sim.commands) == 1
        no_pin = Modem(str(device), timeout_s=1.0)
        with pytest.raises(ModemRejected, match="asks for its PIN"):
            await no_pin.send_sms(NUMBER, "x")
        assert sim.messages == []
        await modem.close()
        await no_pin.close()


@pytest.mark.integration
async def test_the_simulator_on_a_socat_pty_pair_fixture(socat_pty_pair: tuple[str, str]) -> None:
    modem_end, client_end = socat_pty_pair
    sim = ModemSimulator.on_tty(modem_end)
    with sim:
        modem = Modem(client_end, timeout_s=1.0)
        await modem.send_sms("0912345678", "Loa cụm 3 mất tín hiệu")
        assert [(m.number, m.text) for m in sim.messages] == [
            ("0912345678", "Loa cụm 3 mất tín hiệu")]
        await modem.close()
        with pytest.raises(RuntimeError):
            sim.unplug()


async def test_a_bad_number_or_empty_text_is_refused_before_the_modem(tmp_path: Path) -> None:
    modem = Modem(str(tmp_path / "none"))
    with pytest.raises(ValueError):
        await modem.send_sms("not a number", "x")
    with pytest.raises(ValueError):
        await modem.send_sms(NUMBER, "  ")
