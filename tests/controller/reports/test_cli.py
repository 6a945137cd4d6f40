"""``communectl report``: the month read from the data folder as an offline command, and a bad
month refused with exit status 2 and one line."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

from controller.cli import main
from tests.controller.reports.conftest import Month

MINIMAL = """
[site]
id = "cli-test"
latitude = 19.87
longitude = 105.71

[storage]
path = "{data}"
"""


@pytest.mark.parametrize("month", ["2026-13", "11/2026", "2026-00"])
def test_a_bad_month_exits_2_with_one_line(tmp_path: Path, month: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(MINIMAL.format(data=tmp_path / "data"), encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "controller.cli", "report", "--month", month,
                           "--config", str(config)], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 2, done
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("communectl: month: ") and "Traceback" not in done.stderr


@pytest.mark.integration
async def test_the_month_from_the_data_folder(month: Month,
                                              capsysbinary: pytest.CaptureFixture[bytes],
                                              tmp_path: Path) -> None:
    config = str(month.config_file)
    assert main(["report", "--month", "2026-11", "--format", "csv", "--config", config]) == 0
    out = capsysbinary.readouterr().out
    assert out.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(out.decode("utf-8-sig"), newline="")))
    figures = {(r["section"], r["figure"]): r for r in rows}
    assert figures[("summary", "commune")]["text"] == "Xã Thử Nghiệm"
    assert figures[("summary", "bulletins_scheduled")]["value"] == "34"
    assert figures[("summary", "play_time_min")]["value"] == "147.5"
    assert figures[("lighting_on_hours", "road-5")]["value"] == "120.0"
    assert figures[("energy_kwh", "meter-1")]["value"] == "12.1"
    assert figures[("device_online_pct", "relay-1")]["value"] == "99.17"
    missed = [r for r in rows if r["section"] == "missed_failed"]
    assert [(r["figure"], r["at_local"]) for r in missed] == [
        ("missed morning", "2026-11-05 06:00:00"), ("failed morning", "2026-11-06 06:00:00")]

    assert main(["report", "--month", "2026-11", "--config", config]) == 0
    table = capsysbinary.readouterr().out.decode()
    assert "Báo cáo tháng 2026-11 - Xã Thử Nghiệm" in table
    assert "Số lượt phát thành công" in table and "Đường số 5" in table

    target = tmp_path / "november.xlsx"
    assert main(["report", "--month", "2026-11", "--format", "xlsx", "-o", str(target),
                 "--config", config]) == 0
    sheet = openpyxl.load_workbook(target)["Báo cáo"]
    assert any(r[0].value == "Số tin, bài theo lịch" and r[1].value == 34
               for r in sheet.iter_rows())

    page = tmp_path / "november.html"
    assert main(["report", "--month", "2026-11", "--format", "html", "--lang", "en",
                 "-o", str(page), "--config", config]) == 0
    html = page.read_text(encoding="utf-8")
    assert "<style>" in html and "@page" in html  # a file from disk carries its stylesheet
    assert "Monthly report 2026-11" in html
