"""Config validation: the shipped examples pass, and a bad file names every problem."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from controller.config import load_config, parse_config
from controller.demo import demo_config
from controller.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]

MINIMAL = """
[site]
id = "x"
latitude = 19.87
longitude = 105.71
[[buses]]
id = "b"
kind = "tcp"
host = "127.0.0.1"
port = 502
[[devices]]
id = "relay-1"
bus = "b"
unit = 1
profile = "relay8"
[[circuits]]
id = "c1"
device = "relay-1"
channel = 0
program = "p"
[[lighting_programs]]
id = "p"
windows = [{ on = "sunset", off = "sunrise" }]
"""


def test_shipped_example_is_valid() -> None:
    config = load_config(ROOT / "deploy" / "config.example.toml")
    assert [c.id for c in config.circuits] == ["road-5", "qt-axis"]


def test_demo_config_is_valid() -> None:
    config = demo_config(port=5020)
    assert config.site.id == "thieu-long"
    assert config.buses[0].port == 5020


def test_minimal_config_parses_with_defaults() -> None:
    config = parse_config(MINIMAL)
    assert config.api.port == 8080
    assert config.site.timezone == "Asia/Ho_Chi_Minh"
    assert config.mqtt is None


BAD_CASES = [
    (MINIMAL.replace("latitude = 19.87", "latitude = 123"), "site.latitude:"),
    (MINIMAL.replace('profile = "relay8"', 'profile = "relay99x"'), "devices[0].profile:"),
    (MINIMAL.replace('bus = "b"', 'bus = "nope"'), "devices[0].bus: unknown bus 'nope'"),
    (MINIMAL.replace("channel = 0", "channel = 8"), "circuits[0].device: channel 8 is beyond"),
    (MINIMAL.replace('program = "p"', 'program = "q"'), "circuits[0].program: unknown"),
    (MINIMAL.replace('off = "sunrise"', 'off = "sunrise+banana"'),
     "lighting_programs[0].windows[0].off: bad time expression"),
    (MINIMAL.replace("unit = 1", "unit = 0"), "devices[0].unit:"),
    (MINIMAL.replace('kind = "tcp"', 'kind = "udp"'), "buses[0].kind:"),
    (MINIMAL + '\n[site2]\nx = 1\n', "site2: unknown section"),
]


@pytest.mark.parametrize(("text", "expected"), BAD_CASES)
def test_bad_config_names_the_field(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="bad.toml")
    assert any(line.startswith(f"bad.toml: {expected}") for line in caught.value.lines()), \
        caught.value.lines()


def test_every_problem_is_reported_at_once() -> None:
    text = (MINIMAL.replace("unit = 1", "unit = 300")
            .replace("latitude = 19.87", "latitude = 99")
            .replace('host = "127.0.0.1"\n', ""))
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="bad.toml")
    paths = sorted(line.split(": ")[1] for line in caught.value.lines())
    assert paths == ["buses[0]", "devices[0].unit", "site.latitude"]


def test_toml_syntax_error_is_one_line() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config("[site\nid=", source="bad.toml")
    assert len(caught.value.lines()) == 1
    assert caught.value.lines()[0].startswith("bad.toml: (file): not valid TOML")


def test_duplicate_ids_and_shared_channels() -> None:
    text = MINIMAL + '\n[[circuits]]\nid = "c1"\ndevice = "relay-1"\nchannel = 0\n'
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="f")
    lines = caught.value.lines()
    assert "f: circuits[1].id: duplicate id 'c1'" in lines
    assert any("channel 0 of 'relay-1' is already used by 'c1'" in line for line in lines)


def test_check_command_exits_2_with_one_line_per_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(MINIMAL.replace("unit = 1", "unit = 300").replace("latitude = 19.87",
                                                                     "latitude = 99"))
    result = subprocess.run([sys.executable, "-m", "controller.cli", "check", "--config",
                             str(bad)], capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"{bad}: site.latitude: Input should be less than or equal to 90",
        f"{bad}: devices[0].unit: Input should be less than or equal to 247",
    ]
    assert result.stdout == ""


def test_check_command_prints_a_summary(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "controller.cli", "--config",
                             str(ROOT / "deploy" / "config.example.toml"), "check"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("config OK:")
    assert "sunset" in result.stdout
    assert len(result.stdout.splitlines()) < 25


def test_node_zones_need_an_address_the_nodes_can_reach() -> None:
    text = MINIMAL + '[[zones]]\nid = "thon-dong"\nnodes = ["spk-1"]\n'
    with pytest.raises(ConfigError) as caught:
        parse_config(text, source="bad.toml")
    (line,) = caught.value.lines()
    assert line.startswith("bad.toml: api.public_url: the field nodes of thon-dong fetch"), line
    fixed = text + '[api]\npublic_url = "http://192.168.1.10:8080"\n'
    assert parse_config(fixed).api.public_url == "http://192.168.1.10:8080"
    on_one_address = text + '[api]\nhost = "192.168.1.10"\n'
    assert parse_config(on_one_address).api.host == "192.168.1.10"
