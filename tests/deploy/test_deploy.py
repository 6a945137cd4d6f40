"""What deploy/ ships: a unit that systemd-analyze accepts, with the notify and watchdog
settings and the devices the controller needs; an install script that parses."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.conftest import require_program

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
UNIT = DEPLOY / "communectl.service"


def settings() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def test_the_unit_notifies_has_a_watchdog_and_reaches_serial_ports_and_sound() -> None:
    unit = settings()
    assert unit["Type"] == ["notify"] and unit["WatchdogSec"] == ["30"]
    assert "PrivateDevices" not in unit  # it would hide serial ports and the sound card
    assert {"char-ttyUSB rw", "char-ttyAMA rw", "char-alsa rw"} <= set(unit["DeviceAllow"])
    assert unit["SupplementaryGroups"] == ["dialout audio"]


def test_systemd_analyze_accepts_the_unit(tmp_path: Path) -> None:
    analyze = require_program("systemd-analyze")
    # The installed path of the binary does not exist here: point ExecStart at one that does.
    text = re.sub(r"^ExecStart=.*$", "ExecStart=/bin/true", UNIT.read_text(),
                  flags=re.MULTILINE)
    unit = tmp_path / "communectl.service"
    unit.write_text(text)
    result = subprocess.run([analyze, "verify", "--man=no", str(unit)], capture_output=True,
                            text=True, check=False)
    problems = [line for line in (result.stdout + result.stderr).splitlines()
                if "communectl.service" in line]
    assert problems == [], result.stdout + result.stderr


def test_the_install_script_parses() -> None:
    result = subprocess.run(["bash", "-n", str(DEPLOY / "install.sh")], capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stderr
