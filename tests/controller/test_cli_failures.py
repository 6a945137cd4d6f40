"""Expected failures end in one line and a non-zero status, never in a traceback.

Each command runs as a user runs it (the console entry point in a process of its own), so a
traceback from any process it starts (the HTTP front, say) would show too.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SITE = """
[site]
id = "x"
latitude = 19.87
longitude = 105.71
[storage]
path = "{data}"
[api]
host = "127.0.0.1"
port = {api_port}
"""

DEAD_BOARD = """
[[buses]]
id = "b"
kind = "tcp"
host = "127.0.0.1"
port = {closed}
timeout_s = 0.2
retries = 0
[[devices]]
id = "relay-1"
bus = "b"
unit = 1
profile = "relay8"
"""


@dataclass(frozen=True)
class Failure:
    name: str
    args: tuple[str, ...]  # {config}, {closed}, {silent} are filled in
    status: int
    says: str
    config: str = SITE


FAILURES = [
    Failure("fleet status, broker refuses", ("fleet", "status", "--broker",
                                             "mqtt://127.0.0.1:{closed}"), 1,
            "communectl: MQTT broker mqtt://127.0.0.1:"),
    Failure("fleet status, broker never answers", ("fleet", "status", "--broker",
                                                   "mqtt://127.0.0.1:{silent}"), 1,
            "communectl: MQTT broker mqtt://127.0.0.1:"),
    Failure("fleet announce, broker refuses", ("fleet", "announce", "--broker",
                                               "mqtt://127.0.0.1:{closed}", "--sites", "a,b",
                                               "--text", "Thông báo"), 1,
            "communectl: MQTT broker"),
    Failure("fleet, not an MQTT URL", ("fleet", "status", "--broker", "http://broker"), 2,
            "expected mqtt://host:port"),
    Failure("run, port in use", ("run", "--config", "{config}"), 1,
            "cannot listen on 127.0.0.1:"),
    Failure("run, data folder impossible", ("run", "--config", "{config}"), 1,
            "cannot create the data folder", config=SITE.replace("{data}", "{blocked}")),
    Failure("token create, data folder impossible",
            ("token", "create", "--role", "admin", "--name", "an", "--config", "{config}"), 1,
            "cannot create the data folder", config=SITE.replace("{data}", "{blocked}")),
    Failure("token revoke, unknown", ("token", "revoke", "nobody", "--config", "{config}"), 1,
            "no token named 'nobody'"),
    Failure("devices, board dead", ("devices", "--config", "{config}"), 1,
            "relay-1          UNREACHABLE", config=SITE + DEAD_BOARD),
    Failure("check, no such file", ("check", "--config", "{missing}"), 2,
            "(file): cannot read"),
    Failure("plan, impossible date", ("plan", "--from", "2026-13-01", "--config", "{config}"),
            2, "invalid"),
]


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A TCP port that accepts connections and never says a word, as a hung broker."""
    server = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def _closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]


@pytest.mark.integration
@pytest.mark.parametrize("failure", FAILURES, ids=[f.name for f in FAILURES])
def test_expected_failure_is_one_line(failure: Failure, tmp_path: Path,
                                      silent_port: int) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    busy = socket.create_server(("127.0.0.1", 0))  # held during the command: a port in use
    closed = _closed_port()
    try:
        config = tmp_path / "config.toml"
        config.write_text(failure.config.format(
            data=tmp_path / "data", blocked=blocker / "data", closed=closed,
            api_port=busy.getsockname()[1]), encoding="utf-8")
        args = [a.format(config=config, closed=closed, silent=silent_port,
                         missing=tmp_path / "missing.toml") for a in failure.args]
        result = subprocess.run([sys.executable, "-m", "controller.cli", *args],
                                capture_output=True, text=True, timeout=90, check=False)
    finally:
        busy.close()
    output = result.stdout + result.stderr
    assert result.returncode == failure.status, output
    assert "Traceback" not in output
    assert failure.says in output, output
    problem_lines = [line for line in result.stderr.splitlines()
                     if " WARNING " not in line and " INFO " not in line]
    if failure.status == 1 and not result.stdout:  # (devices reports on stdout, a line each)
        assert len(problem_lines) == 1, result.stderr
