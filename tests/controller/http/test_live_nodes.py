"""A live talk reaches the field nodes of its zones: a real controller on a real mosquitto, a
Python WebSocket client talking as the page does, and two simulated IP loudspeaker receivers.
Each node acknowledges ``play`` as the firmware does and hands the stream URL to ffmpeg, the
player a receiver runs; what ffmpeg decodes is compared with what was said (cross-correlation)
and with what the gateway's own output aired. An emergency announcement that cuts the talk
ends the nodes' streams and sends them ``stop``, then plays on them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self

import aiomqtt
import httpx
import numpy as np
import pytest

from tests.conftest import eventually, require_program
from tests.controller.http.browser import Controller, make_user
from tests.controller.http.live_client import LiveSocket
from tests.controller.http.test_live import (
    LIVE_CONFIG,
    RATE,
    api,
    correlate,
    live_records,
    open_talk,
    read_wav,
    send_pcm,
    speech,  # noqa: F401 (a fixture)
)

pytestmark = pytest.mark.integration

SITE = "thieu-long"
NODES = ("spk-1", "spk-2")
NODE_CONFIG = LIVE_CONFIG + """
[[zones]]
id = "thon-dong"
name = "Thôn Đông (loa IP)"
nodes = ["spk-1", "spk-2"]

[mqtt]
url = "mqtt://127.0.0.1:BROKER_PORT"
"""


class StreamingNode:
    """An IP loudspeaker receiver in miniature: online, acknowledges every command, and plays
    each ``play``'s stream with ffmpeg (decoded to house PCM, kept with when it came)."""

    def __init__(self, broker: int, node: str, *, wav: bool = False) -> None:
        self.broker = broker
        self.wav = wav  # play a live talk's WAV stream rather than its bare PCM
        self.root = f"communectl/{SITE}/node/{node}"
        self.commands: list[dict[str, Any]] = []
        self.streams: list[bytearray] = []
        self.first_byte_at: list[float] = []
        self._players: list[asyncio.Task[None]] = []
        self._task: asyncio.Task[None] | None = None
        self.ffmpeg = require_program("ffmpeg")

    async def _run(self) -> None:
        async with aiomqtt.Client("127.0.0.1", self.broker) as client:
            await client.subscribe(f"{self.root}/cmd", qos=1)
            await client.publish(f"{self.root}/status", "online", qos=1, retain=True)
            await client.publish(f"{self.root}/telemetry", json.dumps({"fw": "2.0.1"}), qos=1)
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                command = json.loads(message.payload)
                self.commands.append(command)
                await client.publish(f"{self.root}/ack",
                                     json.dumps({"id": command["id"], "ok": True}), qos=1)
                if command["op"] == "play":
                    for part in command["parts"]:
                        self._players.append(asyncio.create_task(self._play(part)))

    async def _play(self, part: dict[str, Any]) -> None:
        pcm = bytearray()
        self.streams.append(pcm)
        if self.wav or not part.get("live"):
            source = ["-i", part.get("stream") or part["url"]]
        else:  # told the format: no probe at all
            form = part["format"]
            assert form["encoding"] == "s16le", form
            source = ["-f", "s16le", "-ar", str(form["rate"]), "-ac", str(form["channels"]),
                      "-i", part["pcm"]]
        process = await asyncio.create_subprocess_exec(
            # A small probe, so that playing starts with the first bytes ("-fflags nobuffer"
            # would throw away the 4 KiB the probe read: 93 ms of the first word).
            self.ffmpeg, "-hide_banner", "-loglevel", "error",
            "-probesize", "32", "-analyzeduration", "0", *source,
            "-f", "s16le", "-ac", "1", "-ar", str(RATE), "-flush_packets", "1", "-",
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE)
        assert process.stdout is not None
        try:
            while data := await process.stdout.read(4096):
                if not pcm:
                    self.first_byte_at.append(time.monotonic())
                pcm += data
        finally:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
            try:
                await process.communicate()  # to the pipe's end, which closes the transport
            except asyncio.CancelledError:
                # Cancelled at the end of a test while ffmpeg finishes: the pipe must still be
                # read to its end, or its transport is left open (a ResourceWarning that
                # fails whichever test the garbage collector happens to run in).
                await process.communicate()
                raise

    async def first_player(self) -> None:
        await self._players[0]

    async def players_done(self, timeout_s: float = 20) -> None:
        await asyncio.wait_for(asyncio.gather(*self._players), timeout_s)

    async def __aenter__(self) -> Self:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        tasks = [self._task, *self._players]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@pytest.fixture
def controller(tmp_path: Path, mosquitto: int) -> Iterator[Controller]:
    config = NODE_CONFIG.replace("BROKER_PORT", str(mosquitto))
    with Controller(tmp_path / "data", config) as running:
        make_user(running, "hoa", "operator", "mat-khau-cua-hoa")
        yield running


async def talk_to_the_nodes(controller: Controller) -> LiveSocket:
    """Once both nodes are known: a normal talk in their zone, on air."""
    runtime = controller.runtime
    assert runtime is not None
    await eventually(lambda: len(runtime.nodes()) == len(NODES), "nodes registered")
    socket, accepted = await open_talk(controller, "hoa", "mat-khau-cua-hoa",
                                       {"zones": ["thon-dong"], "level": "normal"})
    assert isinstance(accepted, dict) and accepted["event"] == "accepted", accepted
    assert await socket.next() == {"event": "on_air"}
    return socket


def samples(pcm: bytes | bytearray) -> np.ndarray:
    return np.frombuffer(bytes(pcm[:len(pcm) - len(pcm) % 2]), dtype="<i2")


def test_the_nodes_of_a_zone_play_a_live_talk_as_it_is_said(
        controller: Controller, mosquitto: int, speech: np.ndarray) -> None:  # noqa: F811
    runtime = controller.runtime
    assert runtime is not None

    async def talk() -> tuple[list[StreamingNode], dict[str, Any], float]:
        # One node plays the bare PCM, as prompt as the network; the other the WAV, which
        # ffmpeg reads 64 KiB of (1.5 s) before it plays.
        nodes = [StreamingNode(mosquitto, NODES[0]), StreamingNode(mosquitto, NODES[1], wav=True)]
        async with nodes[0], nodes[1]:
            await eventually(lambda: len(runtime.nodes()) == len(NODES), "nodes registered")
            socket, accepted = await open_talk(controller, "hoa", "mat-khau-cua-hoa",
                                               {"zones": ["thon-dong", "minh-duc"],
                                                "level": "normal"})
            assert isinstance(accepted, dict) and accepted["event"] == "accepted", accepted
            assert await socket.next() == {"event": "on_air"}
            said_at = time.monotonic()
            await send_pcm(socket, speech)
            await socket.send({"type": "stop"})
            ended = await socket.next(timeout_s=30)
            await socket.close()
            assert isinstance(ended, dict), ended
            for node in nodes:
                await node.players_done()  # each stream ends with the talk
            await eventually(lambda: all(len(n.commands) == 2 for n in nodes), "stop sent")
        return nodes, ended, said_at

    nodes, ended, said_at = asyncio.run(talk())
    assert ended["outcome"] == "completed", ended
    talk_s = len(speech) / RATE
    (aired_path,) = sorted((controller.data / "air").glob("*live*.wav"))
    aired = read_wav(aired_path)
    for node in nodes:
        play, stop = node.commands
        assert (play["op"], stop["op"], play["level"]) == ("play", "stop", "normal")
        (part,) = play["parts"]
        assert part["live"] is True and part["duration_s"] is None
        assert part["stream"].startswith(controller.url.rstrip("/") + "/media/")
        assert part["pcm"] == part["stream"].removesuffix(".wav") + ".pcm"
        assert part["format"] == {"encoding": "s16le", "rate": RATE, "channels": 1}
        (stream,) = node.streams
        heard = samples(stream)
        peak, lag = correlate(heard, speech)
        delay_s = node.first_byte_at[0] + lag / RATE - said_at
        print(f"\n{node.root}: {len(heard) / RATE:.2f} s heard of {talk_s:.2f} s said, "
              f"correlation peak {peak:.4f} at {lag / RATE * 1000:.0f} ms into the stream; "
              f"first word about {delay_s * 1000:.0f} ms after it was said")
        assert peak > 0.9, peak
        # The node hears what the gateway aired, from its start: the same samples.
        assert abs(len(heard) - len(aired)) / RATE < 0.25, (len(heard), len(aired))
        assert correlate(heard, aired)[0] > 0.98
        if not node.wav:
            assert delay_s < 0.5, delay_s  # mouth to node on the LAN
        # Nothing of the stream stays offered after the talk.
        for url in (part["stream"], part["pcm"]):
            assert httpx.get(url, timeout=10, trust_env=False).status_code == 404
    (record,) = live_records(controller)
    assert sorted(record["zones"]) == ["minh-duc", "thon-dong"]
    assert "not switched" not in (record["reason"] or ""), record


def test_an_emergency_cuts_the_talk_on_the_nodes_too(
        controller: Controller, mosquitto: int, speech: np.ndarray) -> None:  # noqa: F811
    runtime = controller.runtime
    assert runtime is not None

    async def talk() -> tuple[StreamingNode, dict[str, Any] | Any]:
        async with StreamingNode(mosquitto, "spk-1") as node, StreamingNode(mosquitto, "spk-2"):
            socket = await talk_to_the_nodes(controller)
            sending = asyncio.create_task(send_pcm(socket, np.tile(speech, 4)))
            await eventually(lambda: bool(node.streams and len(node.streams[0]) > RATE * 2),
                             "the node hears the talk", timeout_s=20)
            answer = await asyncio.to_thread(
                api, controller, "/announcements", role="technician", method="POST", json={
                    "level": "emergency", "zones": ["thon-dong"], "title": "Bão số 9",
                    "source": {"type": "tts", "text": "Bão số chín sắp đổ bộ."}})
            assert answer.status_code == 201, answer.text
            ended = await socket.next(timeout_s=60)
            sending.cancel()
            with contextlib.suppress(BaseException):
                await sending
            await socket.close()
            await eventually(lambda: [c["op"] for c in node.commands] == [
                "play", "stop", "play"] and len(node.streams) == 2,
                "the emergency played on the node", timeout_s=30)
            # The live stream ended when the talk was cut: ffmpeg finished.
            await asyncio.wait_for(node.first_player(), 10)
        return node, ended

    node, ended = asyncio.run(talk())
    assert isinstance(ended, dict) and ended["outcome"] == "preempted", ended
    live_play, stop, emergency = node.commands
    assert live_play["parts"][0]["live"] is True
    assert stop["item"] == live_play["item"]
    assert emergency["level"] == "emergency" and "url" in emergency["parts"][0]
    # The node heard the talk until it was cut, a second or more.
    assert len(node.streams[0]) > RATE * 2


def test_a_node_that_goes_away_is_forgotten_at_once(
        controller: Controller, mosquitto: int, speech: np.ndarray) -> None:  # noqa: F811
    """A receiver on a flaky link that drops its stream (and comes back on a new one) must
    not hold the old one open in the front and in the talk until the talk ends."""
    runtime = controller.runtime
    assert runtime is not None

    async def talk() -> None:
        async with StreamingNode(mosquitto, "spk-1") as node, StreamingNode(mosquitto, "spk-2"):
            socket = await talk_to_the_nodes(controller)
            sending = asyncio.create_task(send_pcm(socket, np.tile(speech, 3)))
            await eventually(lambda: bool(node.streams and len(node.streams[0]) > RATE),
                             "the node hears the talk", timeout_s=20)
            (on_air,) = [t for t in runtime.radio_service._talks.values() if t.end is None]
            assert on_air.listeners == 2
            url = node.commands[0]["parts"][0]["pcm"]
            async with httpx.AsyncClient(trust_env=False) as client, \
                    client.stream("GET", url) as answer:
                async for _ in answer.aiter_raw():
                    break
                assert on_air.listeners == 3
            # The connection dropped.
            await eventually(lambda: on_air.listeners == 2, "the dropped stream forgotten",
                             timeout_s=3)
            sending.cancel()
            with contextlib.suppress(BaseException):
                await sending
            await socket.close()

    asyncio.run(talk())
