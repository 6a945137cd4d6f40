"""The files a commune office downloads and opens in a spreadsheet (docs/exports.md).

Every export is built as one typed ``Table`` and written here, as CSV or XLSX, so that each of
them gets the same treatment:

- CSV is UTF-8 with a byte order mark: without it Excel decodes the file in the computer's
  ANSI code page and Vietnamese comes out as "ThĂ´ng bĂ¡o".
- A time is written in the site's own zone, to the second, as two columns: ``<name>_local``
  ("2026-11-26 06:00:00", a form Excel turns into a date-time cell; an ISO-8601 string with
  microseconds or an offset stays text) and ``<name>_utc_offset`` ("UTC+07:00"), so that
  nothing is lost in a zone with summer time. In XLSX the first is a real date-time cell. The
  offset carries "UTC" in front because a bare "+07:00" is read by Excel as the formula
  "=07:00" (a time of day) and "-05:00" as a negative one.
- A text cell that a spreadsheet would run as a formula (CSV injection: it starts with
  ``= + - @``, a tab or a carriage return) is neutralised as the OWASP "CSV Injection" page
  advises: in CSV a single quote is put before it; in XLSX it is stored as a string cell (never
  a formula) with Excel's own "quote prefix" mark, so that editing it keeps it text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal, cast
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from openpyxl.cell.cell import Cell as XlsxCell

Cell = str | int | float | datetime | None
ColumnKind = Literal["text", "number", "time"]
ExportFormat = Literal["csv", "xlsx"]

MEDIA_TYPES: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
# OWASP "CSV Injection": the characters a spreadsheet reads as the start of a formula.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
LOCAL_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
XLSX_TIME_FORMAT = "yyyy-mm-dd hh:mm:ss"
TIME_WIDTH = 20
OFFSET_WIDTH = 11
MAX_WIDTH = 60


@dataclass(frozen=True)
class Column:
    """One column of an export; a ``time`` column becomes ``<name>_local`` and
    ``<name>_utc_offset``."""

    name: str
    kind: ColumnKind = "text"

    def headers(self) -> tuple[str, ...]:
        if self.kind == "time":
            return (f"{self.name}_local", f"{self.name}_utc_offset")
        return (self.name,)


@dataclass(frozen=True)
class Table:
    """Rows to export: text cells are ``str``, number cells ``int``/``float``, time cells
    timezone-aware ``datetime`` (written in ``tz``), and ``None`` is an empty cell."""

    sheet: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Cell, ...], ...]
    tz: ZoneInfo

    def __post_init__(self) -> None:
        for number, row in enumerate(self.rows, start=1):
            if len(row) != len(self.columns):
                raise ValueError(f"row {number} has {len(row)} cells for "
                                 f"{len(self.columns)} columns")
            for column, value in zip(self.columns, row, strict=True):
                _check_cell(column, value)

    def headers(self) -> list[str]:
        return [header for column in self.columns for header in column.headers()]


def neutralise(text: str) -> str:
    """``text`` as a CSV cell that no spreadsheet runs as a formula."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def local_time(moment: datetime, tz: ZoneInfo) -> datetime:
    """``moment`` on the site's clock, to the second (as a clock shows it: truncated)."""
    return moment.astimezone(tz).replace(microsecond=0)


def utc_offset(moment: datetime, tz: ZoneInfo) -> str:
    """The site's offset from UTC at ``moment``, as ``UTC+07:00`` (text to a spreadsheet;
    ``datetime.strptime(text, "UTC%z")`` reads it back)."""
    offset = moment.astimezone(tz).utcoffset()
    assert offset is not None  # a ZoneInfo always has one
    seconds = int(offset.total_seconds())
    sign = "-" if seconds < 0 else "+"
    hours, minutes = divmod(abs(seconds) // 60, 60)
    return f"UTC{sign}{hours:02d}:{minutes:02d}"


def to_csv(table: Table) -> bytes:
    """The table as CSV (RFC 4180, CRLF line ends), UTF-8 with a byte order mark."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(table.headers())
    for row in table.rows:
        writer.writerow([text for column, value in zip(table.columns, row, strict=True)
                         for text in _csv_cells(column, value, table.tz)])
    return out.getvalue().encode("utf-8-sig")


def to_xlsx(table: Table) -> bytes:
    """The table as an XLSX workbook of one sheet: a bold, frozen header row with a filter,
    date-time cells in the site's time, and columns wide enough for their content."""
    # Imported when a workbook is asked for: openpyxl (and numpy, which it imports) is about
    # 15 MiB that a controller at rest would otherwise hold all its life.
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None  # a new workbook has its one sheet
    sheet.title = table.sheet
    headers = table.headers()
    sheet.append(headers)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    widths = [len(header) for header in headers]
    for row_number, row in enumerate(table.rows, start=2):
        column_number = 1
        for column, value in zip(table.columns, row, strict=True):
            for cell_value in _xlsx_cells(column, value, table.tz):
                # A new sheet has no merged cells: every cell is a plain one.
                cell = cast("XlsxCell", sheet.cell(row=row_number, column=column_number))
                _set_xlsx_cell(cell, cell_value)
                widths[column_number - 1] = max(widths[column_number - 1],
                                                _width_of(column, cell_value))
                column_number += 1
    for number, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(number)].width = min(width + 2, MAX_WIDTH)
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def render(table: Table, export_format: ExportFormat) -> bytes:
    if export_format == "xlsx":
        return to_xlsx(table)
    if export_format == "csv":
        return to_csv(table)
    raise ValueError(f"no export format {export_format!r}; known: {', '.join(MEDIA_TYPES)}")


def content_disposition(filename: str) -> str:
    """An ``attachment`` header for a file name we make ourselves (ASCII, no quotes)."""
    if not filename.isascii() or '"' in filename or "\\" in filename:
        raise ValueError(f"not a plain file name: {filename!r}")
    return f'attachment; filename="{filename}"'


def _check_cell(column: Column, value: Cell) -> None:
    expected: tuple[type, ...] = {"text": (str,), "number": (int, float),
                                  "time": (datetime,)}[column.kind]
    if value is None:
        return
    if not isinstance(value, expected) or isinstance(value, bool):
        raise TypeError(f"column {column.name!r} ({column.kind}) got {value!r}")
    if isinstance(value, datetime) and value.utcoffset() is None:
        raise ValueError(f"column {column.name!r}: a naive time ({value}) has no known zone")


def _csv_cells(column: Column, value: Cell, tz: ZoneInfo) -> Sequence[str]:
    if column.kind == "time":
        if value is None:
            return ("", "")
        assert isinstance(value, datetime)
        return (local_time(value, tz).strftime(LOCAL_TIME_FORMAT), utc_offset(value, tz))
    if value is None:
        return ("",)
    if isinstance(value, str):
        return (neutralise(value),)
    return (str(value),)  # a number: Excel reads it as one; a leading "-" is no formula


def _xlsx_cells(column: Column, value: Cell, tz: ZoneInfo) -> Sequence[Cell]:
    if column.kind == "time":
        if value is None:
            return (None, None)
        assert isinstance(value, datetime)
        # Excel has no time zones in its cells (openpyxl refuses aware datetimes): the site's
        # wall-clock time goes in the cell and its offset in the next one.
        return (local_time(value, tz).replace(tzinfo=None), utc_offset(value, tz))
    if isinstance(value, str):
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE  # imported by to_xlsx already

        # Characters XML 1.0 cannot carry (control codes) would make openpyxl refuse the file.
        return (ILLEGAL_CHARACTERS_RE.sub("", value),)
    return (value,)


def _set_xlsx_cell(cell: XlsxCell, value: Cell) -> None:
    cell.value = value
    if isinstance(value, datetime):
        cell.number_format = XLSX_TIME_FORMAT
    elif isinstance(value, str):
        # openpyxl turns any string starting with "=" into a formula; ours are text.
        cell.data_type = "s"
        if value.startswith(FORMULA_TRIGGERS):
            cell.quotePrefix = True


def _width_of(column: Column, value: Cell) -> int:
    if isinstance(value, datetime):
        return TIME_WIDTH
    if value is None:
        return 0
    text = str(value)
    return OFFSET_WIDTH if column.kind == "time" else max(map(len, text.splitlines() or [""]))
