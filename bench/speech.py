"""Speech: time to synthesise a 60-word Vietnamese announcement, cold (espeak-ng runs) and
cached, against the floor of running espeak-ng alone on the already normalised text
(measured in the same run).
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drivers.tts import SpeechSynth
from drivers.vi_text import normalise_vietnamese

ROUNDS = 7
ANNOUNCEMENT = (
    "Thông báo của UBND xã Thiệu Long: theo tin của BCH PCTT tỉnh, cơn bão số 9 sẽ đổ bộ vào "
    "đất liền lúc 18:30 ngày 20/11/2026, gió giật cấp 12, lượng mưa từ 150 đến 300 mm. "
    "Đề nghị bà con thôn Minh Đức và thôn Trung Tâm chằng chống nhà cửa, thu hoạch lúa sớm, "
    "không ra đồng khi trời mưa to."
)


def timed(function: object) -> float:
    started = time.perf_counter()
    asyncio.run(function())  # type: ignore[operator]
    return time.perf_counter() - started


def main() -> None:
    typed_words = len(ANNOUNCEMENT.split())
    words = len(normalise_vietnamese(ANNOUNCEMENT).split())
    spoken = normalise_vietnamese(ANNOUNCEMENT)
    floor, cold, cached = [], [], []
    with tempfile.TemporaryDirectory() as workdir:
        out = Path(workdir) / "floor.wav"
        for _ in range(ROUNDS):
            started = time.perf_counter()
            subprocess.run(["espeak-ng", "-v", "vi", "-s", "140", "-w", str(out), "--stdin"],
                           input=spoken.encode(), check=True)
            floor.append(time.perf_counter() - started)
        for round_ in range(ROUNDS):
            synth = SpeechSynth(Path(workdir) / f"cold-{round_}", words_per_minute=140)
            synth.cache_path(ANNOUNCEMENT)  # espeak-ng's version: read once per process

            async def cold_run(synth: SpeechSynth = synth) -> None:
                await synth.synthesise(ANNOUNCEMENT)

            cold.append(timed(cold_run))
        warm = SpeechSynth(Path(workdir) / "cold-0", words_per_minute=140)

        async def cached_runs() -> None:
            for _ in range(ROUNDS * 10):
                started = time.perf_counter()
                await warm.synthesise(ANNOUNCEMENT)
                cached.append(time.perf_counter() - started)

        asyncio.run(cached_runs())
        # ffprobe ships with ffmpeg, which the speech path needs anyway (sox may be absent).
        duration_s = subprocess.run(
            ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of",
             "default=noprint_wrappers=1:nokey=1", str(out)],
            capture_output=True, text=True, check=False).stdout.strip() or "nan"
    def ms(values: list[float]) -> float:
        return statistics.median(values) * 1000

    print(f"a {typed_words}-word announcement as typed ({words} words once times, dates and "
          f"numbers are spelled out; {float(duration_s):.1f} s of speech), median of {ROUNDS}:")
    print(f"  espeak-ng alone on normalised text     {ms(floor):8.1f} ms  (baseline)")
    print(f"  cold: normalise + synthesise + cache   {ms(cold):8.1f} ms  "
          f"({ms(cold) / ms(floor):.2f}x the baseline)")
    print(f"  cached                                 {ms(cached):8.3f} ms  "
          f"({ms(floor) / ms(cached):.0f}x faster than the baseline)")


if __name__ == "__main__":
    main()
