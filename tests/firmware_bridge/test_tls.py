"""The bridge against a TLS mosquitto (a CA and a server certificate for 127.0.0.1 made with
openssl, a password file, ``allow_anonymous false``): with the CA and its own credentials it
connects and publishes; with another CA or a wrong password it says why in one log line (no
traceback), keeps retrying, and ``stats.last_error`` tells the same. ``communectl fleet status``
with ``--ca-file`` reads through the same listener."""

from __future__ import annotations

import asyncio
import gc
import logging
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from firmware_bridge.bridge import BridgeSettings, MqttBridge
from tests.conftest import eventually
from tests.firmware_bridge.brokers import Broker, certificates, free_port, password_file
from tests.firmware_bridge.test_bridge import FakePort

pytestmark = pytest.mark.integration
PASSWORDS = {"thieu-long": "long-secret", "province": "tinh-secret"}


@pytest.fixture
async def tls_broker(tmp_path: Path) -> AsyncIterator[tuple[int, dict[str, Path]]]:
    files = certificates(tmp_path / "pki")
    port = free_port()
    broker = Broker(tmp_path, "tls", f"listener {port} 127.0.0.1\n"
                    f"cafile {files['ca']}\ncertfile {files['cert']}\nkeyfile {files['key']}\n"
                    "allow_anonymous false\n"
                    f"password_file {password_file(tmp_path, PASSWORDS)}\n"
                    "persistence false\n", port)
    broker.start()
    try:
        yield port, files
    finally:
        broker.stop()


async def run_bridge(port: int, **settings: object) -> tuple[MqttBridge, asyncio.Task[None]]:
    bridge = MqttBridge(BridgeSettings(url=f"mqtts://127.0.0.1:{port}", prefix="communectl",
                                       site_id="thieu-long", state_interval_s=0.05,
                                       **settings), FakePort())  # type: ignore[arg-type]
    return bridge, asyncio.create_task(bridge.run())


async def end(bridge: MqttBridge, task: asyncio.Task[None]) -> None:
    await bridge.stop()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


async def test_the_ca_and_the_gateways_credentials_connect(
        tls_broker: tuple[int, dict[str, Path]]) -> None:
    port, files = tls_broker
    bridge, task = await run_bridge(port, ca_file=str(files["ca"]), username="thieu-long",
                                    password=PASSWORDS["thieu-long"])
    try:
        await eventually(lambda: bridge.stats.connected, "connected over TLS")
        await eventually(lambda: bridge.stats.published >= 2, "status and state published")
        done = await asyncio.to_thread(subprocess.run, [
            sys.executable, "-m", "controller.cli", "fleet", "status", "--broker",
            f"mqtts://127.0.0.1:{port}", "--ca-file", str(files["ca"]), "--username",
            "province", "--password", PASSWORDS["province"], "--listen", "0.5"],
            capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
        assert done.stdout.split()[:2] == ["thieu-long", "online"]
    finally:
        await end(bridge, task)


# paho-mqtt drops the socket of a refused TLS handshake without closing it; the garbage
# collector closes it (and says so): collected within the test, where it is expected.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize(("wrong", "said"), [
    ("ca", "certificate verify failed"), ("password", "not authori")])
async def test_a_wrong_ca_or_password_is_one_clear_line(
        tls_broker: tuple[int, dict[str, Path]], tmp_path: Path, wrong: str, said: str,
        caplog: pytest.LogCaptureFixture) -> None:
    port, files = tls_broker
    other = certificates(tmp_path / "other-pki", "other")
    bridge, task = await run_bridge(
        port, ca_file=str(other["ca"] if wrong == "ca" else files["ca"]),
        username="thieu-long", password="guess" if wrong == "password" else
        PASSWORDS["thieu-long"])
    caplog.set_level(logging.ERROR, logger="firmware_bridge.bridge")
    try:
        await eventually(lambda: bridge.stats.last_error is not None, "refused")
        await asyncio.sleep(1.5)  # a retry or two: still one line
    finally:
        await end(bridge, task)
        gc.collect()
    assert not bridge.stats.connected and bridge.stats.connects == 0
    assert said in (bridge.stats.last_error or "").lower(), bridge.stats.last_error
    lines = [r for r in caplog.records if r.name == "firmware_bridge.bridge"]
    assert len(lines) == 1, [r.getMessage() for r in lines]
    assert lines[0].exc_info is None and "\n" not in lines[0].getMessage()
    assert lines[0].getMessage().startswith(f"MQTT cannot connect to mqtts://127.0.0.1:{port}:")


def test_a_fleet_command_with_an_unusable_ca_file_is_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate\n")
    done = subprocess.run([sys.executable, "-m", "controller.cli", "fleet", "status",
                           "--broker", "mqtts://127.0.0.1:1", "--ca-file", str(bad)],
                          capture_output=True, text=True, check=False)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "TLS files" in done.stderr
