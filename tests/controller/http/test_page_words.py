"""Every word of the lighting, health, report, users and notifications views exists in both
languages: each module's addWords() lists are read by node with core.js replaced by a recorder,
and their keys compared (core.js falls back to Vietnamese for a word missing in English, so the
browser alone would not show it)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import require_program

STATIC = Path(__file__).resolve().parents[3] / "controller" / "http" / "static"
VIEWS = ("lighting.js", "health.js", "report.js", "users.js", "notify.js")

# Stands in for core.js: records the word lists, and every other export is a no-op.
RECORDER = """
export const recorded = [];
export function addWords(lists) { recorded.push(lists); }
const nothing = () => undefined;
export const api = nothing, can = nothing, confirmAction = nothing, el = nothing,
  errorText = nothing, field = nothing, formatDate = nothing, formatDateTime = nothing,
  formatTime = nothing, getJson = nothing, icon = nothing, lang = () => "vi",
  localDate = nothing, onStatus = nothing, registerView = nothing, roleName = nothing,
  say = nothing, session = nothing, status = nothing, t = (key) => key;
"""


@pytest.mark.parametrize("module", VIEWS)
def test_every_word_in_vietnamese_and_english(module: str, tmp_path: Path) -> None:
    node = require_program("node")
    for name in VIEWS:
        shutil.copy(STATIC / name, tmp_path / name)
    (tmp_path / "core.js").write_text(RECORDER, encoding="utf-8")
    (tmp_path / "package.json").write_text('{"type": "module"}', encoding="utf-8")
    script = (f"const core = await import('./core.js'); const before = core.recorded.length;"
              f"await import('./{module}');"
              "console.log(JSON.stringify(core.recorded.slice(before)));")
    # report.js imports health.js: both modules' lists are then recorded, and both checked.
    found = subprocess.run([node, "--input-type=module", "-e", script], cwd=tmp_path,
                           capture_output=True, text=True, timeout=30, check=True)
    lists = json.loads(found.stdout)
    assert lists, f"{module} adds no words"
    for words in lists:
        vi, en = set(words["vi"]), set(words["en"])
        assert vi == en, {"only in Vietnamese": sorted(vi - en),
                          "only in English": sorted(en - vi)}
        # A word the same in both and written with Vietnamese letters was not translated.
        untranslated = [k for k in vi if words["en"][k] == words["vi"][k]
                        and any(ord(ch) > 127 for ch in words["vi"][k])]
        assert not untranslated, f"English words left in Vietnamese: {untranslated}"
