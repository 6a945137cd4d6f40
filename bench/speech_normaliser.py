"""Our Vietnamese normaliser (drivers/vi_text.py) against ``vietnormalizer`` (PyPI) on the
commune-notice table (tests/drivers/vi_phrases.py): exact-match rate per class and time per
phrase, both measured in the same run.

Both readings are compared after the same folding, so that only what a listener hears counts:
letter case, punctuation and hyphens ("ki-lô-mét") are dropped, and the Southern "lẻ"/"ngàn"
and the old tone placement ("hoá", "uỷ") count as their Northern and new forms. Without
vietnormalizer installed (it is in the ``test`` extra) only ours is scored.
"""

from __future__ import annotations

import re
import statistics
import sys
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drivers.vi_text import normalise_vietnamese
from tests.drivers.vi_phrases import HELD_OUT, KINDS, PHRASES

ROUNDS = 5
HELD = "held out"  # the phrases written after the rules (tests/drivers/vi_phrases.py)
_OLD_TONE_PLACEMENT = {"oà": "òa", "oá": "óa", "oả": "ỏa", "oã": "õa", "oạ": "ọa",
                       "oè": "òe", "oé": "óe", "oẻ": "ỏe", "oẽ": "õe", "oẹ": "ọe",
                       "uỳ": "ùy", "uý": "úy", "uỷ": "ủy", "uỹ": "ũy", "uỵ": "ụy"}
_SOUTHERN = {"lẻ": "linh", "ngàn": "nghìn"}


def fold(text: str) -> str:
    text = unicodedata.normalize("NFC", text).lower()
    for old, new in _OLD_TONE_PLACEMENT.items():
        text = text.replace(old, new)
    words = re.sub(r"[^\w\s]|_", " ", text).split()
    return " ".join(_SOUTHERN.get(w, w) for w in words)


def score(normalise: Callable[[str], str]) -> tuple[dict[str, float], float, list[str]]:
    """Exact-match rate per class, median seconds per phrase, and the phrases missed."""
    hits: dict[str, list[bool]] = {kind: [] for kind in (*KINDS, HELD)}
    missed: list[str] = []
    held_out = set(HELD_OUT)
    for phrase in PHRASES:
        got = normalise(phrase.text)
        hit = fold(got) == fold(phrase.spoken)
        hits[phrase.kind].append(hit)
        if phrase in held_out:
            hits[HELD].append(hit)
        if not hit:
            missed.append(f"  [{phrase.kind}] {phrase.text}\n      -> {got}")
    rounds = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for phrase in PHRASES:
            normalise(phrase.text)
        rounds.append((time.perf_counter() - started) / len(PHRASES))
    return ({kind: sum(h) / len(h) for kind, h in hits.items()}, statistics.median(rounds),
            missed)


def main() -> None:
    columns = {"ours": score(normalise_vietnamese)}
    try:
        started = time.perf_counter()
        from vietnormalizer import VietnameseNormalizer  # type: ignore[import-untyped]

        theirs = VietnameseNormalizer()
        load_ms = (time.perf_counter() - started) * 1000
        columns["vietnormalizer"] = score(theirs.normalize)
    except ImportError:
        load_ms = None
    counts = {kind: sum(p.kind == kind for p in PHRASES) for kind in KINDS}
    names = list(columns)
    print(f"{len(PHRASES)} commune-notice phrases, exact match after folding case, punctuation "
          f"and hyphens (median of {ROUNDS} rounds for times):")
    print(f"  {'class':<14}{'n':>4}" + "".join(f"{name:>16}" for name in names))
    for kind in KINDS:
        print(f"  {kind:<14}{counts[kind]:>4}"
              + "".join(f"{columns[name][0][kind]:>15.0%} " for name in names))
    total = {name: sum(columns[name][0][k] * counts[k] for k in KINDS) / len(PHRASES)
             for name in names}
    print(f"  {'all':<14}{len(PHRASES):>4}" + "".join(f"{total[n]:>15.0%} " for n in names))
    print(f"  {HELD:<14}{len(HELD_OUT):>4}"
          + "".join(f"{columns[n][0][HELD]:>15.0%} " for n in names))
    print(f"  {'µs per phrase':<18}" + "".join(f"{columns[n][1] * 1e6:>15.0f} " for n in names))
    if load_ms is None:
        print("vietnormalizer is not installed (pip install '.[test]'): only ours was scored")
    else:
        print(f"vietnormalizer: import and dictionaries loaded in {load_ms:.0f} ms")
    for name in names:
        missed = columns[name][2]
        print(f"{name} missed {len(missed)}:" + ("" if missed else " none"))
        for line in missed[:200]:
            print(line)


if __name__ == "__main__":
    main()
