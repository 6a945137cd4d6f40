"""The monthly report for a terminal (``communectl report``, a plain table) and as a CSV of
one figure a row (section, figure, value, text), written like every export
(controller/platform/exports.py: UTF-8 with a BOM, text never a formula)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from controller.platform.exports import Cell, Column, Table, to_csv
from controller.reports import labels
from controller.reports.labels import Lang
from controller.reports.monthly import MonthlyReport

CSV_COLUMNS = (Column("section"), Column("figure"), Column("value", "number"),
               Column("text"), Column("at", "time"))


def figures(report: MonthlyReport) -> list[tuple[str, str, int | float | None, str | None]]:
    """Every figure of the report as (section, figure, value, text)."""
    rows: list[tuple[str, str, int | float | None, str | None]] = [
        ("summary", "commune", None, report.summary.commune)]
    rows += [("summary", name, getattr(report.summary, name), None)
             for name in labels.SUMMARY_FIELDS if name != "commune"]
    radio, lighting = report.radio, report.lighting
    rows += [("radio_outcome", o, n, None) for o, n in radio.by_outcome.items()]
    rows += [("radio_level", lv, n, None) for lv, n in radio.by_level.items()]
    rows += [("radio_zone_minutes", z.zone, z.minutes, z.name) for z in radio.by_zone]
    rows += [("radio_zone_items", z.zone, z.items, z.name) for z in radio.by_zone]
    rows += [("lighting_on_hours", c.circuit, c.on_hours, c.name) for c in lighting.circuits]
    rows.append(("lighting_days_recorded", "days", lighting.days_recorded, None))
    rows += [("energy_kwh", m.meter, m.energy_kwh, m.note) for m in lighting.meters]
    rows += [("alarms", kind, n, None) for kind, n in lighting.alarms_by_kind.items()]
    rows.append(("alarms", "total", lighting.alarms_total, None))
    rows += [("device_online_pct", d.device, d.online_pct, f"{d.outages} outage(s)")
             for d in lighting.devices]
    return rows


def to_table_csv(report: MonthlyReport) -> bytes:
    tz = ZoneInfo(report.timezone)
    rows: list[tuple[Cell, ...]] = [(*row, None) for row in figures(report)]
    for name, items in (("missed_failed", report.radio.missed_failed),
                        ("emergencies", report.radio.emergencies)):
        rows += [(name, f"{r.outcome} {r.ref}", r.minutes,
                  "; ".join(x for x in (r.title, r.reason) if x), r.due) for r in items]
    return to_csv(Table(sheet="report", columns=CSV_COLUMNS, rows=tuple(rows), tz=tz))


def to_text(report: MonthlyReport, lang: Lang = "vi") -> str:
    text = labels.TEXT[lang]
    tz = ZoneInfo(report.timezone)

    def when(moment: object) -> str:
        return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M") \
            if isinstance(moment, datetime) else "-"

    def number(value: float | int | None) -> str:
        return "-" if value is None else f"{value:g}"

    lines = [f"{text['title'].format(month=report.month)} - {report.site_name}",
             text["period"].format(first=report.first_day, last=report.last_day)]
    if not report.complete:
        lines.append(text["running"].format(until=when(report.period_end)))
    lines += ["", text["summary"]]
    for name in labels.SUMMARY_FIELDS:
        value = getattr(report.summary, name)
        lines.append(f"  {text[name]:<32} {value if isinstance(value, str) else number(value)}")
    radio, lighting = report.radio, report.lighting
    lines += ["", f"{text['radio']}: {text['by_outcome'].lower()}"]
    lines += [f"  {labels.outcome(o, lang):<32} {n}" for o, n in radio.by_outcome.items()]
    lines += [f"{text['radio']}: {text['by_level'].lower()}"]
    lines += [f"  {labels.level(lv, lang):<32} {n}" for lv, n in radio.by_level.items()]
    lines += [f"{text['by_zone']} ({text['minutes'].lower()})"]
    lines += [f"  {z.name:<32} {number(z.minutes)} ({z.items})" for z in radio.by_zone]
    for title, items in ((text["missed_failed"], radio.missed_failed),
                         (text["emergencies"], radio.emergencies)):
        lines.append(title)
        lines += [f"  {when(r.due)}  {labels.outcome(r.outcome, lang):<12} {r.title}"
                  + (f" ({r.reason})" if r.reason else "") for r in items] or \
            [f"  {text['none']}"]
    lines += ["", f"{text['lighting']}: {text['on_hours'].lower()} "
                  f"({text['days_recorded'].lower()}: {lighting.days_recorded})"]
    lines += [f"  {c.name:<32} {number(c.on_hours)}" for c in lighting.circuits]
    lines += [f"{text['energy']} (kWh)"]
    lines += [f"  {m.meter:<32} {number(m.energy_kwh)}" + (f" ({m.note})" if m.note else "")
              for m in lighting.meters] or [f"  {text['none']}"]
    lines += [f"{text['alarms']} ({text['alarms_total'].lower()}: {lighting.alarms_total})"]
    lines += [f"  {kind:<32} {n}" for kind, n in lighting.alarms_by_kind.items()]
    lines += [text["devices"]]
    lines += [f"  {d.device:<32} {number(d.online_pct)} % ({d.outages})"
              for d in lighting.devices]
    return "\n".join(lines) + "\n"
