"""The monthly report as a printable page (docs/reports.md), in Vietnamese or English.

The page runs no script and loads one stylesheet: served by the controller it links
``/static/report.css`` (the dashboard's Content-Security-Policy allows styles from its own
origin only, never a ``<style>`` element); written to a file by ``communectl report`` the same
sheet is put inside it, since a file opened from disk has no origin to load it from. Every
text from storage (a title, a reason) is escaped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from html import escape
from zoneinfo import ZoneInfo

from controller.reports import labels
from controller.reports.labels import Lang
from controller.reports.monthly import AirRow, MonthlyReport

Cell = str | int | float | date | datetime | None


def render(report: MonthlyReport, *, lang: Lang = "vi", stylesheet: str | None = None,
           inline_css: str | None = None) -> str:
    """The page; ``stylesheet`` is the URL of report.css, or ``inline_css`` its text."""
    page = _Page(report, lang)
    return page.render(stylesheet=stylesheet, inline_css=inline_css)


class _Page:
    def __init__(self, report: MonthlyReport, lang: Lang) -> None:
        self.report = report
        self.lang = lang
        self.text = labels.TEXT[lang]
        self.tz = ZoneInfo(report.timezone)

    def render(self, *, stylesheet: str | None, inline_css: str | None) -> str:
        report, text = self.report, self.text
        if stylesheet is not None:
            style = f'<link rel="stylesheet" href="{escape(stylesheet)}">'
        else:
            style = f"<style>{inline_css or ''}</style>"
        month = f"{report.first_day:%m/%Y}" if self.lang == "vi" else report.month
        title = text["title"].format(month=month)
        period = text["period"].format(first=self.cell(report.first_day),
                                       last=self.cell(report.last_day))
        notes = [period]
        if not report.complete:
            notes.append(text["running"].format(until=self.cell(report.period_end)))
        notes.append(text["generated"].format(at=self.cell(report.generated_at)))
        summary = report.summary
        radio, lighting = report.radio, report.lighting
        parts = [
            "<!DOCTYPE html>",
            f'<html lang="{self.lang}"><head><meta charset="utf-8">',
            f"<title>{escape(title)} - {escape(report.site_name)}</title>",
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            style, "</head><body><main>",
            f'<header><h1>{escape(title)}</h1><p class="site">{escape(report.site_name)}</p>',
            f'<p class="period">{escape(" · ".join(notes))}</p></header>',
            f'<section class="summary"><h2>{escape(text["summary"])}</h2><dl>',
            *(f'<div><dt>{escape(text[name])}</dt><dd data-field="{name}">'
              f'{escape(self.cell(getattr(summary, name)))}</dd></div>'
              for name in labels.SUMMARY_FIELDS),
            "</dl></section>",
            '<div class="columns">',
            f'<section class="radio"><h2>{escape(text["radio"])}</h2>',
            self.table([text["by_outcome"], text["count"]],
                       [(labels.outcome(o, self.lang), n) for o, n in radio.by_outcome.items()]),
            self.table([text["by_level"], text["count"]],
                       [(labels.level(lv, self.lang), n) for lv, n in radio.by_level.items()]),
            self.table([text["zone"], text["items"], text["minutes"]],
                       [(z.name, z.items, z.minutes) for z in radio.by_zone]),
            "</section>",
            f'<section class="lighting"><h2>{escape(text["lighting"])}</h2>',
            self.table([text["circuit"], text["on_hours"]],
                       [(c.name, c.on_hours) for c in lighting.circuits],
                       foot=(text["days_recorded"], lighting.days_recorded)),
            self.table([text["meter"], text["kwh"], text["note"]],
                       [(m.meter, m.energy_kwh, m.note) for m in lighting.meters])
            if lighting.meters else "",
            self.table([text["alarm_kind"], text["count"]],
                       list(lighting.alarms_by_kind.items()),
                       foot=(text["alarms_total"], lighting.alarms_total)),
            self.table([text["device"], text["online_pct"], text["outages"]],
                       [(d.device, d.online_pct, d.outages) for d in lighting.devices]),
            "</section></div>",
            self.items("missed_failed", radio.missed_failed,
                       [text["due"], text["outcome"], text["item_title"], text["zone"],
                        text["reason"]],
                       lambda r: (r.due, labels.outcome(r.outcome, self.lang), r.title,
                                  ", ".join(r.zone_names), r.reason)),
            self.items("emergencies", radio.emergencies,
                       [text["due"], text["outcome"], text["item_title"], text["zone"],
                        text["minutes"]],
                       lambda r: (r.due, labels.outcome(r.outcome, self.lang), r.title,
                                  ", ".join(r.zone_names), r.minutes)),
            "</main></body></html>",
        ]
        return "\n".join(p for p in parts if p) + "\n"

    def items(self, name: str, rows: Sequence[AirRow], headers: list[str],
              cells: Callable[[AirRow], Sequence[Cell]]) -> str:
        heading = f'<section class="items {name}"><h2>{escape(self.text[name])}</h2>'
        if not rows:
            return f'{heading}<p class="none">{escape(self.text["none"])}</p></section>'
        return heading + self.table(headers, [cells(r) for r in rows]) + "</section>"

    def table(self, headers: Sequence[str], rows: Iterable[Sequence[Cell]], *,
              foot: tuple[str, Cell] | None = None) -> str:
        head = "".join(f"<th>{escape(h)}</th>" for h in headers)
        body = "".join(
            "<tr>" + "".join(self.td(value) for value in row) + "</tr>" for row in rows)
        tail = ""
        if foot is not None:
            tail = (f'<tfoot><tr><th colspan="{len(headers) - 1}">{escape(foot[0])}</th>'
                    f"{self.td(foot[1])}</tr></tfoot>")
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody>{tail}</table>"

    def td(self, value: Cell) -> str:
        number = isinstance(value, int | float) and not isinstance(value, bool)
        return f'<td class="num">{escape(self.cell(value))}</td>' if number else \
            f"<td>{escape(self.cell(value))}</td>"

    def cell(self, value: Cell) -> str:
        vi = self.lang == "vi"
        if value is None:
            return "–"
        if isinstance(value, datetime):
            local = value.astimezone(self.tz)
            return local.strftime("%d/%m/%Y %H:%M" if vi else "%Y-%m-%d %H:%M")
        if isinstance(value, date):
            return value.strftime("%d/%m/%Y" if vi else "%Y-%m-%d")
        if isinstance(value, float):
            shown = f"{value:,.2f}".rstrip("0").rstrip(".") if value % 1 else f"{value:,.0f}"
            # Vietnamese writes 1.234,5 where English writes 1,234.5.
            return shown.translate(str.maketrans(",.", ".,")) if vi else shown
        if isinstance(value, int):
            return f"{value:,}".replace(",", ".") if vi else f"{value:,}"
        return value

