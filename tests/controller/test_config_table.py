"""Broken installation files, table-driven, through ``communectl check`` and ``communectl run``.

Both commands must refuse exactly the same files in exactly the same words: exit status 2, one
``FILE: dotted.path: message`` line per problem on stderr, every problem at once, never a
traceback. Each case edits one valid installation (``BASE``) and names the paths it expects.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from controller.cli import main

BASE = """
[site]
id = "thieu-long"
name = "Xã Thiệu Long"
latitude = 19.87
longitude = 105.71
timezone = "Asia/Ho_Chi_Minh"

[storage]
path = "{data}"
history_days = 400

[api]
host = "127.0.0.1"
port = 0

[lighting]
check_interval_s = 30

[[buses]]
id = "cabinet-1"
kind = "tcp"
host = "127.0.0.1"
port = 5020
timeout_s = 0.5
retries = 1

[[buses]]
id = "line-2"
kind = "rtu"
port = "/dev/ttyUSB0"
parity = "N"

[[devices]]
id = "relay-1"
bus = "cabinet-1"
unit = 1
profile = "relay8"

[[devices]]
id = "meter-1"
bus = "cabinet-1"
unit = 2
profile = "sdm120"

[[devices]]
id = "relay-2"
bus = "cabinet-1"
unit = 3
profile = "relay8"

[[circuits]]
id = "road-5"
name = "Đường số 5"
device = "relay-1"
channel = 0
groups = ["main-road"]
program = "part-night"
meter = "meter-1"

[[circuits]]
id = "qt-axis"
device = "relay-1"
segments = {{ a = 1, b = 2 }}
levels = {{ 100 = ["a", "b"], 50 = ["a"] }}
program = "half"

[[lighting_programs]]
id = "part-night"
windows = [
  {{ on = "sunset+5m", off = "earliest(23:00, sunrise-10m)" }},
  {{ on = "sunset+5m", off = "sunrise-10m", calendar = "holidays" }},
]

[[lighting_programs]]
id = "half"
windows = [{{ on = "sunset", off = "23:00", level = 100 }}]

[[lighting_programs]]
id = "dark"
windows = []

[[calendars]]
id = "holidays"
dates = ["09-02", "lunar:01-15"]
public_holidays = "VN"

[[amplifiers]]
id = "amp-1"
device = "relay-2"
channel = 0
warmup_s = 3

[[zones]]
id = "minh-duc"
name = "Thôn Minh Đức"
device = "relay-2"
channel = 1
amplifier = "amp-1"

[[zones]]
id = "cho"
nodes = ["spk-07"]

[broadcast]
output = "file:{data}/air"
quiet_hours = "22:00-05:00"
grace_min = 10
volume = 1.0

[[broadcast_programs]]
id = "morning"
name = "Bản tin sáng"
schedule = {{ times = ["06:00"] }}
zones = ["minh-duc"]
source = {{ type = "tts", text = "Bản tin sáng." }}

[mqtt]
url = "mqtt://127.0.0.1:1883"
"""


@dataclass(frozen=True)
class Case:
    name: str
    edits: tuple[tuple[str, str], ...]  # (old, new) replacements in BASE; old "" puts new first
    paths: tuple[str, ...]  # the dotted paths of the lines expected, in any order
    says: str = ""  # a fragment one of the lines must contain


def case(name: str, *edits: tuple[str, str], paths: tuple[str, ...] | str,
         says: str = "") -> Case:
    return Case(name, edits, (paths,) if isinstance(paths, str) else paths, says)


CASES = [
    # site
    case("latitude out of range", ("latitude = 19.87", "latitude = 123"),
         paths="site.latitude", says="less than or equal to 90"),
    case("longitude out of range", ("longitude = 105.71", "longitude = -200"),
         paths="site.longitude"),
    case("unknown time zone", ('timezone = "Asia/Ho_Chi_Minh"', 'timezone = "Mars/Olympus"'),
         paths="site.timezone", says="unknown IANA time zone"),
    case("site id with spaces", ('id = "thieu-long"', 'id = "Thiệu Long"'), paths="site.id"),
    case("site missing", ("[site]\n", "[sitex]\n"), paths=("site", "sitex"),
         says="unknown section"),
    case("unknown site setting", ("[storage]", "altitude = 3\n[storage]"),
         paths="site.altitude", says="unknown setting"),
    case("latitude as text", ("latitude = 19.87", 'latitude = "19.87 N"'),
         paths="site.latitude"),
    # storage, api, lighting
    case("history of no days", ("history_days = 400", "history_days = 0"),
         paths="storage.history_days"),
    case("api port too high", ("port = 0\n", "port = 70000\n"), paths="api.port"),
    case("public url not http", ("port = 0\n", 'port = 0\npublic_url = "ftp://gw"\n'),
         paths="api.public_url"),
    case("check interval zero", ("check_interval_s = 30", "check_interval_s = 0"),
         paths="lighting.check_interval_s"),
    case("unknown lighting setting", ("check_interval_s = 30", "check_every = 30"),
         paths="lighting.check_every"),
    # buses
    case("bus kind unknown", ('kind = "tcp"', 'kind = "carrier-pigeon"'),
         paths="buses[0].kind"),
    case("bus timeout zero", ("timeout_s = 0.5", "timeout_s = 0"), paths="buses[0].timeout_s"),
    case("tcp bus without host", ('host = "127.0.0.1"\nport = 5020', "port = 5020"),
         paths="buses[0]", says="needs host"),
    case("tcp bus with a device path", ("port = 5020", 'port = "/dev/ttyUSB1"'),
         paths="buses[0]", says="port = 1..65535"),
    case("rtu bus with a number", ('port = "/dev/ttyUSB0"', "port = 3"), paths="buses[1]",
         says="serial device path"),
    case("bad parity", ('parity = "N"', 'parity = "X"'), paths="buses[1].parity"),
    case("too many retries", ("retries = 1", "retries = 99"), paths="buses[0].retries"),
    case("duplicate bus", ('id = "line-2"', 'id = "cabinet-1"'), paths="buses[1].id",
         says="duplicate id"),
    case("mqtt not a table", ('[mqtt]\nurl = "mqtt://127.0.0.1:1883"\n', ""),
         ("", 'mqtt = "on"'), paths="mqtt", says="expected a table"),
    # devices
    case("unit zero", ("unit = 1\n", "unit = 0\n"), paths="devices[0].unit"),
    case("unknown profile", ('profile = "relay8"', 'profile = "relay99x"'),
         paths="devices[0].profile"),
    case("unknown bus", ('bus = "cabinet-1"\nunit = 1', 'bus = "nope"\nunit = 1'),
         paths="devices[0].bus", says="unknown bus 'nope'"),
    case("unit used twice", ("unit = 3", "unit = 2"), paths="devices[2].unit",
         says="already device 'meter-1'"),
    case("inputs on a meter", ('profile = "sdm120"', 'profile = "sdm120"\ninputs = { 0 = "door" }'),
         paths="devices[1].inputs"),
    # circuits
    case("circuit on an unknown device", ('device = "relay-1"\nchannel = 0',
                                          'device = "relay-9"\nchannel = 0'),
         paths="circuits[0].device", says="unknown device 'relay-9'"),
    case("channel beyond the board", ("channel = 0\ngroups", "channel = 8\ngroups"),
         paths="circuits[0].device", says="beyond the 8 channels"),
    case("channel and segments",
         ("channel = 0\ngroups", "channel = 0\nsegments = { a = 5 }\ngroups"),
         paths="circuits[0]", says="either channel or segments"),
    case("unknown programme", ('program = "part-night"\nmeter', 'program = "q"\nmeter'),
         paths="circuits[0].program"),
    case("unknown meter", ('meter = "meter-1"', 'meter = "meter-9"'), paths="circuits[0].meter"),
    case("meter is a relay board", ('meter = "meter-1"', 'meter = "relay-2"'),
         paths="circuits[0].meter", says="not a meter"),
    case("level names an unknown segment", ('50 = ["a"]', '50 = ["c"]'), paths="circuits[1]",
         says="unknown segments"),
    case("level above 100", ("50 = [", "150 = ["), paths="circuits[1]", says="1..100"),
    case("channel shared", ("segments = { a = 1, b = 2 }", "segments = { a = 0, b = 2 }"),
         paths="circuits[1].device", says="already used by 'road-5'"),
    case("circuit named like a group", ('id = "qt-axis"', 'id = "main-road"'),
         paths="circuits[1].id", says="also a group name"),
    case("group with capitals", ('groups = ["main-road"]', 'groups = ["Main Road"]'),
         paths="circuits[0].groups[0]"),
    # lighting programmes
    case("unknown sun event offset", ('on = "sunset+5m", off = "earliest',
                                      'on = "sunset+banana", off = "earliest'),
         paths="lighting_programs[0].windows[0].on"),
    case("hour 25", ('off = "23:00", level', 'off = "25:00", level'),
         paths="lighting_programs[1].windows[0].off"),
    case("window of no length", ('on = "sunset", off = "23:00"', 'on = "18:00", off = "18:00"'),
         paths="lighting_programs[1].windows[0].off", says="same as on"),
    case("sunset to sunset", ('on = "sunset", off = "23:00"', 'on = "sunset", off = "sunset"'),
         paths="lighting_programs[1].windows[0].off", says="same as on"),
    case("level 101", ("level = 100 }", "level = 101 }"),
         paths="lighting_programs[1].windows[0].level"),
    case("a day that is not one", ('off = "23:00", level = 100',
                                   'off = "23:00", days = ["funday"], level = 100'),
         paths="lighting_programs[1].windows[0].days", says="funday"),
    case("unknown calendar", ('calendar = "holidays"', 'calendar = "tet"'),
         paths="lighting_programs[0].windows[1].calendar", says="unknown calendar 'tet'"),
    case("programme without windows", ("windows = []", 'name = "x"'),
         paths="lighting_programs[2].windows", says="is required"),
    case("window without off", ('on = "sunset", off = "23:00", level = 100',
                                'on = "sunset", level = 100'),
         paths="lighting_programs[1].windows[0].off", says="is required"),
    # calendars
    case("impossible date", ('dates = ["09-02"', 'dates = ["13-45"'),
         paths="calendars[0].dates[0]", says="no such date"),
    case("impossible lunar date", ('"lunar:01-15"', '"lunar:13-01"'),
         paths="calendars[0].dates[1]"),
    case("unknown country", ('public_holidays = "VN"', 'public_holidays = "XX"'),
         paths="calendars[0].public_holidays", says="unknown country code 'XX'"),
    # amplifiers and zones
    case("warm-up too long", ("warmup_s = 3", "warmup_s = 100"),
         paths="amplifiers[0].warmup_s"),
    case("amplifier on an unknown board", ('device = "relay-2"\nchannel = 0',
                                           'device = "relay-7"\nchannel = 0'),
         paths="amplifiers[0].device"),
    case("unknown amplifier", ('amplifier = "amp-1"', 'amplifier = "amp-2"'),
         paths="zones[0].amplifier"),
    case("zone with a device and no channel", ('device = "relay-2"\nchannel = 1\n',
                                               'device = "relay-2"\n'),
         paths="zones[0]", says="both device and channel"),
    case("zone on the amplifier's channel", ("channel = 1\namplifier", "channel = 0\namplifier"),
         paths="zones[0].device", says="already used by 'amp-1'"),
    case("zone wired to nothing", ('nodes = ["spk-07"]', 'name = "Chợ"'), paths="zones[1]"),
    # broadcast settings
    case("quiet hours of no length", ('quiet_hours = "22:00-05:00"',
                                      'quiet_hours = "22:00-22:00"'),
         paths="broadcast.quiet_hours", says="both 22:00"),
    case("quiet hours at 25:00", ('quiet_hours = "22:00-05:00"', 'quiet_hours = "25:00-05:00"'),
         paths="broadcast.quiet_hours"),
    case("quiet hours as a number", ('quiet_hours = "22:00-05:00"', "quiet_hours = 22"),
         paths="broadcast.quiet_hours"),
    case("volume too loud", ("volume = 1.0", "volume = 5"), paths="broadcast.volume"),
    case("negative grace", ("grace_min = 10", "grace_min = -1"), paths="broadcast.grace_min"),
    case("empty output", ('output = "file:{data}/air"', 'output = ""'),
         paths="broadcast.output"),
    case("file output without a folder", ('output = "file:{data}/air"', 'output = "file:"'),
         paths="broadcast.output"),
    # broadcast programmes
    case("broadcast at 25:00", ('times = ["06:00"]', 'times = ["25:00"]'),
         paths="broadcast_programs[0].schedule.times[0]"),
    case("broadcast to an unknown zone", ('zones = ["minh-duc"]', 'zones = ["xa-khac"]'),
         paths="broadcast_programs[0].zones"),
    case("broadcast level", ('zones = ["minh-duc"]', 'zones = ["minh-duc"]\nlevel = "loud"'),
         paths="broadcast_programs[0].level"),
    case("unknown source", ('source = { type = "tts"', 'source = { type = "fax"'),
         paths="broadcast_programs[0].source"),
    case("schedule with an unknown key", ('schedule = { times = ["06:00"] }',
                                          'schedule = { times = ["06:00"], every = 2 }'),
         paths="broadcast_programs[0].schedule", says="unknown key"),
    # mqtt
    case("broker as http", ('url = "mqtt://127.0.0.1:1883"', 'url = "http://broker"'),
         paths="mqtt.url"),
    case("unknown mqtt setting", ('url = "mqtt://127.0.0.1:1883"',
                                  'url = "mqtt://127.0.0.1:1883"\nretain = true'),
         paths="mqtt.retain"),
    # the whole file
    case("unknown section", ("", "[sitee]\nid = 1"), paths="sitee", says="unknown section"),
    case("TOML syntax", ("", "[[circuits]\n"), paths="(file)", says="not valid TOML"),
    # every problem at once, and no echo of a broken entry in the references to it
    case("three problems, of fields and of references",
         ("latitude = 19.87", "latitude = 123"), ('kind = "tcp"', 'kind = "carrier-pigeon"'),
         ('device = "relay-1"\nchannel = 0', 'device = "relay-9"\nchannel = 0'),
         paths=("site.latitude", "buses[0].kind", "circuits[0].device")),
    case("a broken board is not also unknown", ("unit = 1\n", "unit = 0\n"),
         paths="devices[0].unit"),
    case("entries after a broken one keep their place",
         ('id = "road-5"', 'id = "Road 5"'), ('50 = ["a"]', '50 = ["c"]'),
         paths=("circuits[0].id", "circuits[1]")),
]

LINE = re.compile(r"^(?P<file>[^:]+): (?P<path>[^:\s]+): (?P<message>.+)$")


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text.format(data=tmp_path / "data"), encoding="utf-8")
    return path


def _edited(edits: tuple[tuple[str, str], ...]) -> str:
    text = BASE
    for old, new in edits:
        if not old:
            text = new.replace("{", "{{").replace("}", "}}") + "\n" + text
            continue
        old, new = (s.replace("{", "{{").replace("}", "}}") if "{data}" not in s else s
                    for s in (old, new))
        assert text.count(old) >= 1, f"edit does not apply: {old!r}"
        text = text.replace(old, new, 1)
    return text


def _refusal(command: str, path: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    status = main([command, "--config", str(path)])
    out, err = capsys.readouterr()
    assert status == 2, (command, out, err)
    assert out == ""
    assert "Traceback" not in err
    return err.splitlines()


def test_the_table_is_large_enough() -> None:
    assert len(CASES) >= 60
    assert len({c.name for c in CASES}) == len(CASES)


def test_base_is_valid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--config", str(_write(tmp_path, BASE))]) == 0
    assert capsys.readouterr().out.startswith("config OK:")


@pytest.mark.parametrize("broken", CASES, ids=[c.name for c in CASES])
def test_check_and_run_refuse_alike(broken: Case, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, _edited(broken.edits))
    checked = _refusal("check", path, capsys)
    ran = _refusal("run", path, capsys)
    assert checked == ran
    parsed = [LINE.match(line) for line in checked]
    assert all(parsed), checked
    assert all(m["file"] == str(path) for m in parsed if m)
    assert sorted(m["path"] for m in parsed if m) == sorted(broken.paths), checked
    assert len(checked) == len(broken.paths), checked  # one line per problem, no echo
    assert not broken.says or any(broken.says in line for line in checked), checked
    assert not (tmp_path / "data").exists()  # refused before anything was made


def test_non_utf8_bytes_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.toml"  # the name as a Windows editor saves it, in Latin-1
    path.write_bytes(BASE.format(data=tmp_path / "data").encode("utf-8").replace(
        "Xã".encode(), b"X\xe3"))
    for command in ("check", "run"):
        lines = _refusal(command, path, capsys)
        assert lines == [f"{path}: (file): not UTF-8 text: byte 0xe3 on line 4 "
                         "(save the file as UTF-8)"]


def test_missing_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("check", "run"):
        lines = _refusal(command, tmp_path / "nope.toml", capsys)
        assert lines == [f"{tmp_path / 'nope.toml'}: (file): cannot read: "
                         "No such file or directory"]


def test_a_programme_without_windows_stays_valid(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    text = BASE.replace('program = "half"', 'program = "dark"')
    assert main(["check", "--config", str(_write(tmp_path, text))]) == 0


def test_config_gives_the_radio_parsed_quiet_hours(tmp_path: Path) -> None:
    from controller.config import load_config

    quiet = load_config(_write(tmp_path, BASE)).broadcast.quiet_hours
    assert quiet is not None and str(quiet) == "22:00-05:00"


@pytest.mark.integration
@pytest.mark.parametrize("command", ["check", "run"])
def test_the_installed_command_refuses_alike(command: str, tmp_path: Path) -> None:
    """The real console entry point, as systemd starts it: exit 2, the lines, no traceback."""
    path = _write(tmp_path, _edited(CASES[-3].edits))
    result = subprocess.run([sys.executable, "-m", "controller.cli", command, "--config",
                             str(path)], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert sorted(line.split(": ")[1] for line in result.stderr.splitlines()) == \
        sorted(CASES[-3].paths)
