"""A gateway installed as ``deploy/install.sh`` installs it: a fresh virtual environment and a
plain ``pip install`` of the source, no extras. Its ``[mqtt]`` link must work out of the box:
``check`` passes, and ``run`` goes online on a real mosquitto and offline when stopped."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import require_program

ROOT = Path(__file__).resolve().parents[2]
INSTALL_TIMEOUT_S = 600
ONLINE_TIMEOUT_S = 60
STOP_TIMEOUT_S = 30

CONFIG = """
[site]
id = "fresh-gw"
name = "Xã Mới"
latitude = 19.87
longitude = 105.71

[storage]
path = "{data}"

[api]
host = "127.0.0.1"
port = 0
front_process = false

[mqtt]
url = "mqtt://127.0.0.1:{port}"
prefix = "communectl"
"""


def _source_copy(target: Path) -> Path:
    """The repository as a user would have it, without this checkout's venv and build leftovers."""
    ignore = shutil.ignore_patterns(".git", ".venv", "communectl-data", "*.egg-info", "build",
                                    "__pycache__", ".pytest_cache", "node_modules")
    shutil.copytree(ROOT, target, ignore=ignore)
    return target


def _retained(sub: str, port: int, topic: str) -> str:
    result = subprocess.run([sub, "-h", "127.0.0.1", "-p", str(port), "-t", topic, "-C", "1",
                             "-W", "3"], capture_output=True, text=True, check=False)
    return result.stdout.strip()


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("fresh")
    source = _source_copy(base / "src")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    result = subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", str(source)],
                            capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S,
                            check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return venv


@pytest.mark.integration
@pytest.mark.timeout(INSTALL_TIMEOUT_S + 120)
def test_plain_install_runs_an_mqtt_config(fresh_venv: Path, mosquitto: int,
                                           tmp_path: Path) -> None:
    sub = require_program("mosquitto_sub")
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(data=tmp_path / "data", port=mosquitto), encoding="utf-8")
    communectl = str(fresh_venv / "bin" / "communectl")

    checked = subprocess.run([communectl, "check", "--config", str(config)],
                             capture_output=True, text=True, timeout=60, check=False)
    assert checked.returncode == 0, checked.stderr
    assert "mqtt      mqtt://127.0.0.1:" in checked.stdout

    log = (tmp_path / "run.log").open("w")
    # faulthandler: should it not stop, SIGABRT prints where each of its threads is.
    process = subprocess.Popen([communectl, "run", "--config", str(config)],
                               stdout=log, stderr=subprocess.STDOUT,
                               env={**os.environ, "PYTHONFAULTHANDLER": "1"})
    try:
        deadline = time.monotonic() + ONLINE_TIMEOUT_S
        status = ""
        while status != "online" and time.monotonic() < deadline and process.poll() is None:
            status = _retained(sub, mosquitto, "communectl/fresh-gw/status")
        assert status == "online", (tmp_path / "run.log").read_text()
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGABRT)
            process.wait()
            log.close()
            raise AssertionError(f"not stopped {STOP_TIMEOUT_S} s after SIGTERM:\n"
                                 + (tmp_path / "run.log").read_text()) from None
        log.close()
    output = (tmp_path / "run.log").read_text()
    assert code == 0, output
    assert "Traceback" not in output
    assert _retained(sub, mosquitto, "communectl/fresh-gw/status") == "offline"


@pytest.mark.integration
@pytest.mark.timeout(INSTALL_TIMEOUT_S + 120)
def test_a_missing_part_is_one_line_from_check_and_run(fresh_venv: Path, tmp_path: Path) -> None:
    """Take aiomqtt away from the installed gateway: both commands name the setting and
    what to install, exit 2, no traceback (systemd would otherwise restart it forever)."""
    python = fresh_venv / "bin" / "python"
    site_packages = subprocess.run(
        [str(python), "-c",
         "import aiomqtt, pathlib; print(pathlib.Path(aiomqtt.__file__).parent)"],
        capture_output=True, text=True, check=True).stdout.strip()
    hidden = Path(site_packages).with_name("aiomqtt.hidden")
    Path(site_packages).rename(hidden)
    try:
        config = tmp_path / "config.toml"
        config.write_text(CONFIG.format(data=tmp_path / "data", port=1883), encoding="utf-8")
        outputs = []
        for command in ("check", "run"):
            result = subprocess.run([str(fresh_venv / "bin" / "communectl"), command,
                                     "--config", str(config)],
                                    capture_output=True, text=True, timeout=60, check=False)
            assert result.returncode == 2, result.stderr
            assert "Traceback" not in result.stderr
            outputs.append(result.stderr.splitlines())
        assert outputs[0] == outputs[1]
        assert len(outputs[0]) == 1
        assert outputs[0][0].startswith(f"{config}: mqtt: needs the Python package aiomqtt")
    finally:
        hidden.rename(site_packages)
    assert not (tmp_path / "data").exists()
