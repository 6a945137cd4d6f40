"""``communectl notify test`` as a user runs it (a process of its own, no controller running):
an unknown recipient is one line and status 2; a webhook recipient on a real receiver on
loopback gets the test and the command says so (0); a receiver that is down is one clear line
and status 1; each attempt is in the events history, as the controller logs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from controller.platform.history import History
from tests.controller.notify.webhook_receiver import WebhookReceiver, webhook_receiver

__all__ = ["webhook_receiver"]

pytestmark = pytest.mark.integration

CONFIG = """
[site]
id = "thieu-long"
name = "Xã Thiệu Long"
latitude = 19.87
longitude = 105.71
[storage]
path = "{data}"

[[notify.recipients]]
id = "ops"
name = "Tổ trực"
channel = "webhook"
address = "{hook}"
secret = "khoá-ops"

[[notify.recipients]]
id = "zalo"
channel = "webhook"
address = "{hook}?relay=zalo"
"""


def notify_test(config: Path, *more: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "controller.cli", "notify", "test",
                           "--config", str(config), *more],
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture
def config(tmp_path: Path, webhook_receiver: WebhookReceiver) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.format(data=tmp_path / "data", hook=webhook_receiver.url),
                    encoding="utf-8")
    return path


def events(config: Path) -> list[dict[str, object]]:
    history = History(config.parent / "data" / "history", "events")
    return history.query(where=lambda r: str(r.get("kind", "")).startswith("notify_"))


def test_an_unknown_recipient_is_one_line_and_status_2(
        config: Path, webhook_receiver: WebhookReceiver) -> None:
    result = notify_test(config, "--recipient", "nobody")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert "nobody" in line and "ops, zalo" in line, line
    assert webhook_receiver.received() == []
    assert events(config) == []


def test_a_webhook_recipient_gets_the_test_and_the_command_says_so(
        config: Path, webhook_receiver: WebhookReceiver) -> None:
    result = notify_test(config, "--recipient", "ops")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    [line] = result.stdout.splitlines()
    [post] = webhook_receiver.received()
    assert line == f"ops: sent by webhook to {webhook_receiver.url} " \
                   f"({post.json['message_id']})"
    assert post.json["type"] == "test"
    assert post.json["text"].startswith("[Xã Thiệu Long] THỬ: tin nhắn thử")
    assert post.signed_with("khoá-ops")
    [logged] = events(config)
    assert (logged["kind"], logged["target"], logged["message_id"], logged["test"]) == (
        "notify_sent", "ops", post.json["message_id"], True)
    # Without --recipient: each one, a line each.
    both = notify_test(config)
    assert both.returncode == 0, both.stderr
    assert [line.split(":")[0] for line in both.stdout.splitlines()] == ["ops", "zalo"]
    assert [p.path for p in webhook_receiver.received()[1:]] == ["/hook", "/hook?relay=zalo"]


def test_a_receiver_that_is_down_is_one_clear_line_and_status_1(
        config: Path, webhook_receiver: WebhookReceiver) -> None:
    webhook_receiver.down()
    result = notify_test(config, "--recipient", "ops")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(f"ops: NOT sent by webhook to {webhook_receiver.url}: "), line
    assert line.endswith("; may work later"), line
    [logged] = events(config)
    assert (logged["kind"], logged["target"]) == ("notify_failed", "ops")
    assert logged["error"]
