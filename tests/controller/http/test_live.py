"""Live talks ("Phát trực tiếp") end to end, without a browser: a real controller (its
coordinators, the front process, the simulated relay board, the WAV file sink) and a Python
WebSocket client doing what the page does. The received audio is compared with what was sent
by cross-correlation; the relay, the air log and the recording are checked; an emergency
announcement cuts a normal talk; refusals close the socket with a clear code and reason; the
gateway's microphone (arecord on ALSA's null device) is a second source."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import urllib.parse
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from controller.radio import coordinator as radio_coordinator
from tests.conftest import require_program
from tests.controller.http.browser import (
    CONFIG,
    SPOKEN,
    ZONE_COILS,
    Controller,
    make_user,
    speak_to_wav,
)
from tests.controller.http.live_client import Closed, LiveSocket, sign_in_cookie

pytestmark = pytest.mark.integration

CHUNK_S = 0.02
RATE = 22050
LIVE_CONFIG = CONFIG.replace('require_approval = true', 'require_approval = true\n'
                             'microphone = "null"')


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> np.ndarray:
    """Int16 samples at the house rate of espeak-ng's Vietnamese."""
    path = speak_to_wav(SPOKEN, tmp_path_factory.mktemp("live") / "spoken.wav")
    return read_wav(path)


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path)) as sound:
        assert (sound.getframerate(), sound.getnchannels(), sound.getsampwidth()) == (
            RATE, 1, 2)
        return np.frombuffer(sound.readframes(sound.getnframes()), dtype="<i2")


@pytest.fixture
def controller(tmp_path: Path) -> Iterator[Controller]:
    with Controller(tmp_path / "data", LIVE_CONFIG) as running:
        make_user(running, "hoa", "operator", "mat-khau-cua-hoa")
        make_user(running, "tuan", "technician", "mat-khau-cua-tuan")
        make_user(running, "lan", "viewer", "mat-khau-cua-lan")
        yield running


def address(controller: Controller) -> tuple[str, int]:
    parsed = urllib.parse.urlsplit(controller.url)
    assert parsed.hostname and parsed.port
    return parsed.hostname, parsed.port


async def open_talk(controller: Controller, name: str, password: str, first: dict[str, Any],
                    *, csrf: bool = True) -> tuple[LiveSocket, dict[str, Any] | Closed]:
    headers, token = await sign_in_cookie(controller.url, name, password)
    socket = await LiveSocket.open(*address(controller), headers=headers)
    await socket.send({**first, **({"csrf": token} if csrf else {})})
    return socket, await socket.next()


async def send_pcm(socket: LiveSocket, samples: np.ndarray) -> None:
    """In real time, 20 ms a message, as the page's worklet does."""
    step = round(CHUNK_S * RATE)
    start = time.monotonic()
    for n, offset in enumerate(range(0, len(samples), step)):
        await socket.send(samples[offset:offset + step].astype("<i2").tobytes())
        await asyncio.sleep(max(0.0, start + (n + 1) * CHUNK_S - time.monotonic()))


def api(controller: Controller, path: str, *, role: str = "admin", method: str = "GET",
        json: Any = None) -> httpx.Response:
    runtime = controller.runtime
    assert runtime is not None
    secret, _ = runtime.tokens.create(name=f"{role}-{time.monotonic_ns()}", role=role,
                                      expires_days=None, now=runtime.clock.now())
    return httpx.request(method, f"{controller.url.rstrip('/')}/api/v1{path}", json=json,
                         headers={"Authorization": f"Bearer {secret}"}, timeout=30,
                         trust_env=False)


def live_records(controller: Controller) -> list[dict[str, Any]]:
    return [r for r in api(controller, "/broadcasts/log").json() if r["kind"] == "live"]


def correlate(received: np.ndarray, sent: np.ndarray) -> tuple[float, int]:
    """The normalised cross-correlation's peak (1.0: the same samples) and its lag."""
    a = received.astype(np.float64)
    b = sent.astype(np.float64)
    size = 1 << int(np.ceil(np.log2(len(a) + len(b))))
    corr = np.fft.irfft(np.fft.rfft(a, size) * np.conj(np.fft.rfft(b, size)), size)
    lag = int(np.argmax(corr))
    peak = corr[lag] / (np.linalg.norm(b) * np.linalg.norm(a[lag:lag + len(b)]) or 1.0)
    return float(peak), lag


def test_a_talk_airs_in_its_zone_is_logged_and_kept(controller: Controller, speech: np.ndarray,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    trims = threading.Event()  # the talk's freed buffers handed back to the system at its end
    monkeypatch.setattr(radio_coordinator, "return_free_memory", trims.set)

    async def talk() -> dict[str, Any]:
        socket, accepted = await open_talk(controller, "hoa", "mat-khau-cua-hoa",
                                           {"zones": ["minh-duc"], "level": "normal"})
        assert isinstance(accepted, dict) and accepted["event"] == "accepted", accepted
        assert (accepted["zones"], accepted["level"], accepted["person"]) == (
            ["minh-duc"], "normal", "hoa")
        assert await socket.next() == {"event": "on_air"}
        assert controller.coil(ZONE_COILS["minh-duc"]) and controller.coil(6)  # zone, amp
        assert not controller.coil(ZONE_COILS["trung-tam"])
        await send_pcm(socket, speech)
        await socket.send({"type": "stop"})
        ended = await socket.next()
        closed = await socket.wait_closed()
        await socket.close()
        assert isinstance(ended, dict), ended
        assert (closed.code, closed.reason) == (1000, "completed")
        return ended

    ended = asyncio.run(talk())
    talk_s = len(speech) / RATE
    assert ended["event"] == "ended" and ended["outcome"] == "completed", ended
    assert trims.wait(5)
    assert ended["reason"] == "the speaker ended the stream"
    assert abs(ended["aired_s"] - talk_s) < 0.3, (ended["aired_s"], talk_s)

    (aired,) = sorted((controller.data / "air").glob("*live*.wav"))
    received = read_wav(aired)
    peak, lag = correlate(received, speech)
    print(f"\nlive talk: {talk_s:.2f} s sent, {len(received) / RATE:.2f} s aired, "
          f"correlation peak {peak:.4f} at {lag / RATE * 1000:.1f} ms into the file, "
          f"gaps {ended['gaps']}, silence {ended['silence_s']} s")
    assert peak > 0.9, peak
    assert lag / RATE < 0.5

    (record,) = live_records(controller)
    assert (record["outcome"], record["level"], record["zones"]) == (
        "completed", "normal", ["minh-duc"])
    assert abs(record["duration_s"] - talk_s) < 0.3
    started = record["started_at"]
    assert started is not None
    assert not controller.coil(ZONE_COILS["minh-duc"])
    # The recording is in the audio library, the same audio as what aired.
    audio_id = record["recording"]
    (audio,) = [a for a in api(controller, "/audio").json() if a["id"] == audio_id]
    assert audio["name"].startswith("Phát trực tiếp") and audio["uploaded_by"] == "hoa"
    assert abs(audio["duration_s"] - talk_s) < 0.3
    kept = controller.data / "audio"
    recordings = list(kept.rglob(f"{audio_id}.*"))
    assert recordings, list(kept.rglob("*"))
    assert correlate(read_wav(recordings[0]), speech)[0] > 0.9


def test_an_emergency_announcement_cuts_a_normal_talk(controller: Controller,
                                                      speech: np.ndarray) -> None:
    async def talk() -> tuple[dict[str, Any] | Closed, Closed]:
        socket, accepted = await open_talk(controller, "hoa", "mat-khau-cua-hoa",
                                           {"zones": "all", "level": "normal"})
        assert isinstance(accepted, dict) and accepted["event"] == "accepted", accepted
        assert await socket.next() == {"event": "on_air"}
        sending = asyncio.create_task(send_pcm(socket, np.tile(speech, 4)))
        await asyncio.sleep(1.0)
        answer = await asyncio.to_thread(api, controller, "/announcements", role="technician",
                                         method="POST", json={
            "level": "emergency", "zones": ["trung-tam"], "title": "Bão số 9",
            "source": {"type": "tts", "text": "Bão số chín sắp đổ bộ."}})
        assert answer.status_code == 201, answer.text
        ended = await socket.next(timeout_s=60)
        closed = await socket.wait_closed()
        sending.cancel()
        with contextlib.suppress(BaseException):
            await sending
        await socket.close()
        return ended, closed

    ended, closed = asyncio.run(talk())
    assert isinstance(ended, dict), ended
    assert ended["outcome"] == "preempted", ended
    assert "emergency announcement" in ended["reason"] and "Bão số 9" in ended["reason"]
    assert (closed.code, closed.reason) == (1000, "preempted")
    (record,) = live_records(controller)
    assert record["outcome"] == "preempted" and "emergency announcement" in record["reason"]
    assert 0.5 < record["duration_s"] < 10


def test_refusals_close_the_socket_with_a_code_and_a_reason(controller: Controller,
                                                            speech: np.ndarray) -> None:
    async def refusals() -> None:
        async def refused(name: str, password: str, first: Any, *,
                          csrf: bool = True) -> Closed:
            headers, token = await sign_in_cookie(controller.url, name, password)
            socket = await LiveSocket.open(*address(controller), headers=headers)
            if isinstance(first, dict) and csrf:
                first = {**first, "csrf": token}
            await socket.send(first)
            closed = await socket.wait_closed()
            await socket.close()
            return closed

        viewer = await refused("lan", "mat-khau-cua-lan", {"zones": ["minh-duc"]})
        assert viewer.code == 4403 and "operator role" in viewer.reason, viewer
        no_csrf = await refused("hoa", "mat-khau-cua-hoa", {"zones": ["minh-duc"]}, csrf=False)
        assert no_csrf.code == 4403 and "CSRF" in no_csrf.reason, no_csrf
        not_json = await refused("hoa", "mat-khau-cua-hoa", "zones: minh-duc")
        assert not_json.code == 4400 and "JSON" in not_json.reason, not_json
        binary = await refused("hoa", "mat-khau-cua-hoa", b"\x00\x01")
        assert binary.code == 4400 and "text" in binary.reason, binary
        no_zones = await refused("hoa", "mat-khau-cua-hoa", {"level": "normal"})
        assert no_zones.code == 4400 and '"zones"' in no_zones.reason, no_zones
        level = await refused("hoa", "mat-khau-cua-hoa", {"zones": "all", "level": "loud"})
        assert level.code == 4400 and '"level"' in level.reason, level
        unknown_zone = await refused("hoa", "mat-khau-cua-hoa", {"zones": ["nowhere"]})
        assert unknown_zone.code == 4422 and "nowhere" in unknown_zone.reason, unknown_zone
        gateway = await refused("hoa", "mat-khau-cua-hoa",
                                {"zones": "all", "source": "gateway"})
        assert gateway.code == 4403 and "technician" in gateway.reason, gateway

        # Nobody signed in; a page of another site.
        anonymous = await LiveSocket.open(*address(controller), headers={})
        closed = await anonymous.wait_closed()
        await anonymous.close()
        assert closed.code == 4401, closed
        headers, _ = await sign_in_cookie(controller.url, "hoa", "mat-khau-cua-hoa")
        foreign = await LiveSocket.open(*address(controller),
                                        headers={**headers, "Origin": "http://evil.example"})
        closed = await foreign.wait_closed()
        await foreign.close()
        assert closed.code == 4403 and "page" in closed.reason, closed

        # A normal talk while another is on air: 409, with what holds the air.
        first, accepted = await open_talk(controller, "hoa", "mat-khau-cua-hoa",
                                          {"zones": ["minh-duc"], "level": "normal"})
        assert isinstance(accepted, dict) and accepted["event"] == "accepted"
        sending = asyncio.create_task(send_pcm(first, speech))
        busy = await refused("tuan", "mat-khau-cua-tuan",
                             {"zones": ["trung-tam"], "level": "priority"})
        assert busy.code == 4409 and "live talk of 'hoa'" in busy.reason, busy
        await sending
        await first.close()

    asyncio.run(refusals())


def test_a_talk_airs_through_an_alsa_device(tmp_path: Path, speech: np.ndarray,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The same talk through aplay: an ALSA "file" PCM (alsa-lib's own plugin, over its null
    PCM, so no sound card is needed) writes what aplay plays, which must be the speech."""
    require_program("aplay")
    captured = tmp_path / "alsa-out.raw"
    extra = tmp_path / "asound.conf"
    extra.write_text(f'pcm.communectl_capture {{\n  type file\n  slave.pcm "null"\n'
                     f'  file "{captured}"\n  format "raw"\n}}\n')
    # alsa-lib reads the listed files in turn: its own configuration, then ours.
    monkeypatch.setenv("ALSA_CONFIG_PATH", f"/usr/share/alsa/alsa.conf:{extra}")
    config = LIVE_CONFIG.replace('output = "file:air"', 'output = "communectl_capture"')
    with Controller(tmp_path / "data", config) as running:
        make_user(running, "hoa", "operator", "mat-khau-cua-hoa")

        async def talk() -> dict[str, Any] | Closed:
            socket, accepted = await open_talk(running, "hoa", "mat-khau-cua-hoa",
                                               {"zones": ["minh-duc"], "level": "normal"})
            assert isinstance(accepted, dict) and accepted["event"] == "accepted", accepted
            assert await socket.next() == {"event": "on_air"}
            await send_pcm(socket, speech)
            await socket.send({"type": "stop"})
            ended = await socket.next(timeout_s=30)
            await socket.close()
            return ended

        ended = asyncio.run(talk())
        assert isinstance(ended, dict) and ended["outcome"] == "completed", ended
    played = np.frombuffer(captured.read_bytes()[:captured.stat().st_size // 2 * 2],
                           dtype="<i2")
    peak, lag = correlate(played, speech)
    print(f"\nlive talk through aplay: {len(played) / RATE:.2f} s written by ALSA of "
          f"{len(speech) / RATE:.2f} s said, correlation peak {peak:.4f} at "
          f"{lag / RATE * 1000:.0f} ms")
    assert peak > 0.9, peak


def test_the_gateway_microphone_is_a_second_source(controller: Controller) -> None:
    """arecord on ALSA's "null" capture device (silence; no sound card needed): the talk is
    switched, airs, is stopped from the API, and logged."""
    started = api(controller, "/live", role="technician", method="POST",
                  json={"zones": ["trung-tam"], "level": "priority", "source": "gateway"})
    assert started.status_code == 201, started.text
    talk = started.json()
    assert talk["source"] == "gateway"
    deadline = time.monotonic() + 20
    while api(controller, f"/live/{talk['id']}").json()["aired_s"] < 1.0:
        assert time.monotonic() < deadline, "the microphone did not air"
        time.sleep(0.2)
    assert controller.coil(ZONE_COILS["trung-tam"])
    person = api(controller, "/live", role="operator", method="POST",
                 json={"zones": ["trung-tam"], "source": "gateway"})
    assert person.status_code == 403
    stopped = api(controller, f"/live/{talk['id']}/stop", role="technician", method="POST")
    assert stopped.status_code == 200, stopped.text
    while api(controller, f"/live/{talk['id']}").json()["state"] != "ended":
        assert time.monotonic() < deadline, "the talk did not end"
        time.sleep(0.2)
    (record,) = live_records(controller)
    assert record["outcome"] == "completed" and record["duration_s"] >= 1.0, record
    assert record["reason"].startswith("stopped by technician-")
