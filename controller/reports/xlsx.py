"""The monthly report as an XLSX workbook (docs/reports.md), with Vietnamese headings: the
sheet "Báo cáo" holds the summary and every section; "Lỡ và lỗi" and "Khẩn cấp" list the items.

Cells as docs/exports.md describes for every file we write: numbers are number cells, days are
date cells and times date-time cells in the site's local time (Excel has no zones), text is
text and never a formula (a title typed as ``=...`` is stored with Excel's quote prefix).
openpyxl is imported when a workbook is asked for (controller/platform/exports.py says why).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, cast
from zoneinfo import ZoneInfo

from controller.platform.exports import FORMULA_TRIGGERS, XLSX_TIME_FORMAT, local_time
from controller.reports import labels
from controller.reports.monthly import AirRow, MonthlyReport

if TYPE_CHECKING:
    from openpyxl.cell.cell import Cell as XlsxCell
    from openpyxl.worksheet.worksheet import Worksheet

SHEET = "Báo cáo"
MISSED_SHEET = "Lỡ và lỗi"
EMERGENCY_SHEET = "Khẩn cấp"
DATE_FORMAT = "dd/mm/yyyy"
NUMBER_FORMAT = "0.00"
Value = str | int | float | date | datetime | None


def render(report: MonthlyReport) -> bytes:
    from openpyxl import Workbook

    text = labels.TEXT["vi"]
    tz = ZoneInfo(report.timezone)
    workbook = Workbook()
    sheet = cast("Worksheet", workbook.active)
    sheet.title = SHEET
    writer = _Writer(sheet, tz)
    writer.row([text["title"].format(month=f"{report.first_day:%m/%Y}")
                + f" - {report.site_name}"], bold=True, size=14)
    writer.row([text["from_day"], report.first_day])
    writer.row([text["to_day"], report.last_day])
    if not report.complete:
        writer.row([text["counted_until"], report.period_end])
    writer.row([text["generated_at"], report.generated_at])
    summary = report.summary
    writer.section(text["summary"], [text["figure"], text["value"]])
    for name in labels.SUMMARY_FIELDS:
        writer.row([text[name], getattr(summary, name)])

    radio = report.radio
    writer.section(f"{text['radio']}: {text['by_outcome'].lower()}",
                   [text["outcome"], text["count"]])
    for outcome, count in radio.by_outcome.items():
        writer.row([labels.outcome(outcome, "vi"), count])
    writer.section(f"{text['radio']}: {text['by_level'].lower()}", [text["level"], text["count"]])
    for level, count in radio.by_level.items():
        writer.row([labels.level(level, "vi"), count])
    writer.section(text["by_zone"], [text["zone"], text["items"], text["minutes"]])
    for zone in radio.by_zone:
        writer.row([zone.name, zone.items, zone.minutes])

    lighting = report.lighting
    writer.section(f"{text['lighting']}: {text['on_hours'].lower()}",
                   [text["circuit"], text["on_hours"]])
    for circuit in lighting.circuits:
        writer.row([circuit.name, circuit.on_hours])
    writer.row([text["days_recorded"], lighting.days_recorded])
    writer.section(text["energy"], [text["meter"], text["kwh"], text["circuits"], text["note"]])
    for meter in lighting.meters:
        writer.row([meter.meter, meter.energy_kwh, ", ".join(meter.circuits), meter.note])
    writer.section(text["alarms"], [text["alarm_kind"], text["count"]])
    for kind, count in lighting.alarms_by_kind.items():
        writer.row([kind, count])
    writer.row([text["alarms_total"], lighting.alarms_total], bold=True)
    writer.section(text["devices"], [text["device"], text["online_pct"], text["offline_min"],
                                     text["outages"]])
    for device in lighting.devices:
        writer.row([device.device, device.online_pct, device.offline_min, device.outages])
    writer.fit()

    _items(workbook.create_sheet(MISSED_SHEET), tz, radio.missed_failed,
           [text["due"], text["outcome"], text["item_title"], text["level"], text["zone"],
            text["reason"]],
           lambda r: [r.due, labels.outcome(r.outcome, "vi"), r.title,
                      labels.level(r.level, "vi"), "; ".join(r.zone_names), r.reason])
    _items(workbook.create_sheet(EMERGENCY_SHEET), tz, radio.emergencies,
           [text["due"], text["started"], text["ended"], text["outcome"], text["item_title"],
            text["zone"], text["minutes"]],
           lambda r: [r.due, r.started_at, r.ended_at, labels.outcome(r.outcome, "vi"),
                      r.title, "; ".join(r.zone_names),
                      None if r.minutes is None else round(r.minutes, 2)])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _items(sheet: Worksheet, tz: ZoneInfo, rows: Sequence[AirRow], headers: list[str],
           cells: Callable[[AirRow], Sequence[Value]]) -> None:
    writer = _Writer(sheet, tz)
    writer.row(list(headers), bold=True)
    for row in rows:
        writer.row(cells(row))
    sheet.freeze_panes = "A2"
    if rows:
        sheet.auto_filter.ref = sheet.dimensions
    writer.fit()


class _Writer:
    def __init__(self, sheet: Worksheet, tz: ZoneInfo) -> None:
        self.sheet = sheet
        self.tz = tz
        self.next_row = 1
        self.widths: dict[int, int] = {}

    def section(self, title: str, headers: list[str]) -> None:
        self.next_row += 1  # an empty row between sections
        self.row([title], bold=True, size=12)
        self.row(list(headers), bold=True)

    def row(self, values: Sequence[Value], *, bold: bool = False, size: int | None = None) -> None:
        from openpyxl.styles import Font

        for number, value in enumerate(values, start=1):
            cell = cast("XlsxCell", self.sheet.cell(row=self.next_row, column=number))
            self._set(cell, value)
            if bold or size:
                cell.font = Font(bold=bold, size=size or 11)
            if number > 1 or size is None:  # a title's width is not a column's
                self.widths[number] = max(self.widths.get(number, 8), _width(value))
        self.next_row += 1

    def fit(self) -> None:
        from openpyxl.utils import get_column_letter

        for number, width in self.widths.items():
            self.sheet.column_dimensions[get_column_letter(number)].width = min(width + 2, 60)

    def _set(self, cell: XlsxCell, value: Value) -> None:
        if isinstance(value, datetime):
            cell.value = local_time(value, self.tz).replace(tzinfo=None)
            cell.number_format = XLSX_TIME_FORMAT
        elif isinstance(value, date):
            cell.value = value
            cell.number_format = DATE_FORMAT
        elif isinstance(value, str):
            from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

            cell.value = ILLEGAL_CHARACTERS_RE.sub("", value)
            cell.data_type = "s"  # openpyxl makes a formula of a string starting with "="
            if value.startswith(FORMULA_TRIGGERS):
                cell.quotePrefix = True
        else:
            cell.value = value
            if isinstance(value, float):
                cell.number_format = NUMBER_FORMAT


def _width(value: Value) -> int:
    if isinstance(value, datetime):
        return 19
    if isinstance(value, date):
        return 10
    return 0 if value is None else len(str(value))
