"""``communectl speak`` and ``POST /api/v1/speech/preview``: the words a notice is read as, and
the same words read by the real espeak-ng into a WAV (docs/speech.md)."""

from __future__ import annotations

import io
import json
import wave
from pathlib import Path

import httpx
import pytest

from controller.cli import main
from controller.http.app import API_PREFIX, body_limits
from controller.radio.source_models import MAX_TTS_CHARS
from controller.runtime import Runtime
from tests.conftest import require_program

NOTICE = "Đ/c Hà, UBND xã: họp lúc 7h30 CN, ngày 6/12; phí 50.000đ/tháng; gọi 0912 345 678."
SPOKEN = ("Đồng chí Hà, ủy ban nhân dân xã: họp lúc bảy giờ ba mươi phút chủ nhật, ngày sáu "
          "tháng mười hai; phí năm mươi nghìn đồng một tháng; gọi không chín một hai ba bốn năm "
          "sáu bảy tám.")


@pytest.fixture(autouse=True)
def _no_installed_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The defaults (voice vi, 140 words a minute), whatever config this machine has.
    monkeypatch.setenv("COMMUNECTL_CONFIG", str(tmp_path / "absent.toml"))


def wav_seconds(data: bytes) -> float:
    with wave.open(io.BytesIO(data), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth()) == (1, 2)
        return wav.getnframes() / wav.getframerate()


def test_show_prints_the_words_on_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["speak", "--show", "Họp dân\nlúc 19:30,\tthôn 5"]) == 0
    out = capsys.readouterr().out
    assert out == "Họp dân lúc mười chín giờ ba mươi phút, thôn năm\n"


def test_show_reads_the_notice_as_a_listener_expects(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["speak", "--show", NOTICE]) == 0
    assert capsys.readouterr().out.rstrip("\n") == SPOKEN


def test_an_empty_text_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["speak", "--show", "  \n "]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == "communectl speak: nothing to say: the text is empty\n"


def test_without_espeak_ng_one_line_and_a_failure_exit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no espeak-ng on the path
    out = tmp_path / "notice.wav"
    assert main(["speak", "--out", str(out), "xin chào"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "espeak-ng is not installed" in err
    assert "Traceback" not in err
    assert not out.exists()


@pytest.mark.integration
def test_out_writes_a_wav_read_by_espeak_ng(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    require_program("espeak-ng")
    out = tmp_path / "notice.wav"
    assert main(["speak", "--show", "--out", str(out), NOTICE]) == 0
    assert capsys.readouterr().out.rstrip("\n") == SPOKEN
    # About 50 words at the radio's 140 words a minute.
    assert 10 < wav_seconds(out.read_bytes()) < 60


@pytest.mark.integration
def test_an_unknown_voice_is_one_line(tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    require_program("espeak-ng")
    out = tmp_path / "notice.wav"
    assert main(["speak", "--voice", "zz", "--out", str(out), "xin chào"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'zz'" in err
    assert not out.exists()


# -- the API ---------------------------------------------------------------------------------

@pytest.mark.integration
async def test_preview_answers_the_words_and_a_wav(
        api_client: httpx.AsyncClient, role_headers: dict[str, dict[str, str]],
        api_runtime: Runtime) -> None:
    require_program("espeak-ng")
    answer = await api_client.post("/speech/preview", json={"text": NOTICE},
                                   headers=role_headers["operator"])
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["spoken"] == SPOKEN
    assert body["audio_url"].startswith(f"{API_PREFIX}/speech/preview/")
    audio = await api_client.get(f"http://testserver{body['audio_url']}",
                                 headers=role_headers["viewer"])
    assert audio.status_code == 200
    assert audio.headers["content-type"] == "audio/wav"
    assert 10 < wav_seconds(audio.content) < 60
    # In the radio's own cache (controller/runtime.py): the notice airs without being
    # synthesised again.
    name = body["audio_url"].rsplit("/", 1)[1]
    assert (api_runtime.config.storage.path / "cache" / "tts" / name).is_file()


@pytest.mark.integration
async def test_a_voice_espeak_ng_lacks_is_422(api_client: httpx.AsyncClient,
                                              role_headers: dict[str, dict[str, str]]) -> None:
    require_program("espeak-ng")
    answer = await api_client.post("/speech/preview", json={"text": "xin chào", "voice": "zz"},
                                   headers=role_headers["operator"])
    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == "voice"


async def test_without_espeak_ng_the_preview_is_503_json(
        api_client: httpx.AsyncClient, role_headers: dict[str, dict[str, str]],
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no espeak-ng on the path
    answer = await api_client.post("/speech/preview", json={"text": "xin chào"},
                                   headers=role_headers["operator"])
    assert answer.status_code == 503
    assert answer.json()["error"]["code"] == "speech_unavailable"


@pytest.mark.parametrize(("body", "field"), [
    ({"text": ""}, "text"),
    ({"text": " \n\t "}, "text"),
    ({"text": "x" * (MAX_TTS_CHARS + 1)}, "text"),
    ({"text": "xin chào", "voice": "vi; rm -rf /"}, "voice"),
    ({"text": "xin chào", "speed": 3}, "speed"),
    ({}, "text"),
])
async def test_bad_previews_are_422_json(api_client: httpx.AsyncClient,
                                         role_headers: dict[str, dict[str, str]],
                                         body: dict[str, object], field: str) -> None:
    answer = await api_client.post("/speech/preview", json=body,
                                   headers=role_headers["operator"])
    assert answer.status_code == 422
    assert answer.json()["error"]["field"] == field


async def test_preview_needs_an_operator(api_client: httpx.AsyncClient,
                                         role_headers: dict[str, dict[str, str]]) -> None:
    answer = await api_client.post("/speech/preview", json={"text": "xin chào"},
                                   headers=role_headers["viewer"])
    assert answer.status_code == 403
    assert (await api_client.post("/speech/preview", json={"text": "x"})).status_code == 401


@pytest.mark.parametrize("key", ["0" * 32, "..%2F..%2Fconfig", "ABC"])
async def test_an_unknown_preview_is_404(api_client: httpx.AsyncClient,
                                         role_headers: dict[str, dict[str, str]],
                                         key: str) -> None:
    answer = await api_client.get(f"/speech/preview/{key}.wav",
                                  headers=role_headers["viewer"])
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not_found"


def test_the_front_lets_the_longest_preview_through(api_runtime: Runtime) -> None:
    # The worst case: every character JSON-escaped as \\uXXXX.
    longest = json.dumps({"text": "ạ" * MAX_TTS_CHARS, "voice": "vi"}, ensure_ascii=True)
    limit = body_limits(api_runtime.config).for_path(f"{API_PREFIX}/speech/preview")
    assert len(longest.encode()) <= limit
