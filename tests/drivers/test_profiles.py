"""Profile names, register decoding and argument checks: no I/O."""

from __future__ import annotations

import struct

import pytest

from drivers.modbus import ModbusBus
from drivers.profiles import (
    PROFILE_HELP,
    Dimmer,
    EnergyMeter,
    RelayBoard,
    float32_from_registers,
    known_profiles,
    make_device,
    profile_info,
)


@pytest.fixture
def bus() -> ModbusBus:
    # Never connected: every check below must fail before any frame is sent.
    return ModbusBus("b", kind="tcp", host="127.0.0.1", port=1)


@pytest.mark.parametrize(("profile", "kind", "channels", "cls"), [
    ("relay1", "relay", 1, RelayBoard),
    ("relay4", "relay", 4, RelayBoard),
    ("relay8", "relay", 8, RelayBoard),
    ("relay16", "relay", 16, RelayBoard),
    ("sdm120", "meter", 0, EnergyMeter),
    ("dimmer", "dimmer", 4, Dimmer),
    ("dimmer2", "dimmer", 2, Dimmer),
])
def test_profiles_name_kind_and_channels(bus: ModbusBus, profile: str, kind: str, channels: int,
                                         cls: type) -> None:
    device = make_device(profile, bus, 1)

    assert profile_info(profile) == (kind, channels)
    assert isinstance(device, cls)
    assert (device.kind, device.channels) == (kind, channels)


@pytest.mark.parametrize("profile", ["relay", "relay0", "relay08", "sdm630", "dimmer0",
                                     "Relay8", ""])
def test_unknown_profiles_list_the_known_ones(bus: ModbusBus, profile: str) -> None:
    with pytest.raises(ValueError, match=r"unknown profile .*known profiles: relayN"):
        make_device(profile, bus, 1)


@pytest.mark.parametrize(("profile", "limit"), [("relay1969", 1968), ("dimmer124", 123)])
def test_channels_beyond_one_frame_are_refused(bus: ModbusBus, profile: str, limit: int) -> None:
    # FC15 carries at most 1968 coils, FC16 at most 123 registers.
    with pytest.raises(ValueError, match=f"at most {limit} channels"):
        profile_info(profile)


def test_the_help_names_every_known_profile() -> None:
    assert all(name.rstrip("N") in PROFILE_HELP for name in known_profiles())


def test_relay_board_keeps_its_inputs(bus: ModbusBus) -> None:
    board = make_device("relay8", bus, 1, inputs=2)

    assert isinstance(board, RelayBoard)
    assert board.inputs == 2


def test_only_relay_boards_have_inputs(bus: ModbusBus) -> None:
    with pytest.raises(ValueError, match="discrete inputs"):
        make_device("sdm120", bus, 2, inputs=1)


async def test_relay_board_with_no_inputs_reads_none(bus: ModbusBus) -> None:
    assert await RelayBoard(bus, 1, 8).read_inputs() == []
    assert bus.stats.requests == 0


@pytest.mark.parametrize(("values", "known", "message"), [
    ({8: True}, [False] * 8, "channel 8"),
    ({-1: True}, [False] * 8, "channel -1"),
    ({0: True}, [False] * 7, "known holds 7"),
])
async def test_write_channels_checks_its_arguments(bus: ModbusBus, values: dict[int, bool],
                                                   known: list[bool], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        await RelayBoard(bus, 1, 8).write_channels(values, known=known)


@pytest.mark.parametrize("level", [-1, 101])
async def test_dimmer_levels_are_percent(bus: ModbusBus, level: int) -> None:
    with pytest.raises(ValueError, match=r"0\.\.100"):
        await Dimmer(bus, 4).write_levels({0: level})


@pytest.mark.parametrize("value", [0.0, 230.0, -1.5, 0.0434783, 12345.678])
def test_float32_is_high_word_first(value: float) -> None:
    # Eastron SDM120 protocol: IEEE 754 float32, the high word in the lower register.
    high, low = struct.unpack(">HH", struct.pack(">f", value))

    assert float32_from_registers([0xFFFF, high, low], 1) == pytest.approx(value, rel=1e-6)
