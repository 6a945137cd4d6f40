// The report view (Báo cáo): one month's report (GET /api/v1/reports/monthly?month=YYYY-MM,
// docs/reports.md): the provincial summary of the radio, what aired by outcome, level and
// zone, what was missed or failed, the lighting's hours per circuit, energy per meter, alarms
// by kind and each device's availability; with links to the printable page and the Excel file.
import {
  addWords, el, errorText, formatDateTime, getJson, icon, lang, localDate, registerView, t,
} from "./core.js";
import { kindWords } from "./health.js";

addWords({
  vi: {
    "rp.title": "Báo cáo", "rp.month": "Tháng", "rp.monthN": "Tháng {month}/{year}",
    "rp.heading": "Báo cáo tháng {month}/{year} · {site}",
    "rp.running": "Tháng chưa hết: số liệu tính đến {time}.",
    "rp.generated": "Lập lúc {time}", "rp.print": "Bản in", "rp.excel": "Tải Excel",
    "rp.printLong": "Bản in: báo cáo tháng {month}/{year}",
    "rp.excelLong": "Tải Excel: báo cáo tháng {month}/{year}",
    "rp.summary": "Tổng hợp truyền thanh", "rp.clusters": "Cụm loa",
    "rp.scheduled": "Bản tin theo lịch", "rp.aired": "Bản tin đã phát",
    "rp.successful": "Phát trọn vẹn", "rp.emergency": "Bản tin khẩn cấp",
    "rp.playTime": "Thời lượng phát",
    "rp.radio": "Truyền thanh", "rp.byOutcome": "Theo kết quả", "rp.byLevel": "Theo mức độ",
    "rp.byZone": "Theo khu vực", "rp.zone": "Khu vực", "rp.items": "Số lần phát",
    "rp.minutes": "Số phút", "rp.count": "Số lượng",
    "rp.missedFailed": "Bỏ lỡ hoặc lỗi", "rp.noneMissed": "Không có bản tin nào bị bỏ lỡ hoặc lỗi.",
    "rp.emergencies": "Bản tin khẩn cấp", "rp.noEmergencies": "Không có bản tin khẩn cấp.",
    "rp.due": "Giờ dự kiến", "rp.what": "Nội dung", "rp.outcome": "Kết quả",
    "rp.lighting": "Chiếu sáng", "rp.daysRecorded": "Số ngày có số liệu: {n}",
    "rp.circuit": "Mạch đèn", "rp.onHours": "Số giờ bật", "rp.meters": "Công tơ điện",
    "rp.meter": "Công tơ", "rp.energy": "Điện năng (kWh)", "rp.noMeters": "Không có công tơ điện.",
    "rp.noEnergy": "chưa đủ số liệu",
    "rp.alarms": "Cảnh báo trong tháng: {n}", "rp.kind": "Loại", "rp.noAlarms": "Không có cảnh báo nào.",
    "rp.devices": "Thiết bị hoạt động", "rp.device": "Thiết bị", "rp.onlinePct": "Trực tuyến (%)",
    "rp.offlineMin": "Mất kết nối (phút)", "rp.outages": "Số lần mất",
    "rp.missing": "Bộ điều khiển này chưa lập được báo cáo tháng.",
    "rp.hoursMinutes": "{h} giờ {m} phút", "rp.minutesOnly": "{m} phút", "rp.secondsOnly": "{s} giây",
    "rp.out.completed": "Phát xong", "rp.out.preempted": "Bị ngắt bởi bản tin ưu tiên",
    "rp.out.failed": "Lỗi", "rp.out.missed": "Bỏ lỡ", "rp.out.skipped": "Bỏ qua (giờ yên tĩnh)",
    "rp.out.cancelled": "Đã hủy", "rp.out.in_progress": "Đang phát",
    "rp.lv.normal": "Thông thường", "rp.lv.priority": "Ưu tiên", "rp.lv.emergency": "Khẩn cấp",
    "error.invalid.month": "Tháng không hợp lệ hoặc chưa đến.",
  },
  en: {
    "rp.title": "Report", "rp.month": "Month", "rp.monthN": "{month}/{year}",
    "rp.heading": "Monthly report {month}/{year} · {site}",
    "rp.running": "The month is not over: figures up to {time}.",
    "rp.generated": "Made at {time}", "rp.print": "Printable page", "rp.excel": "Download Excel",
    "rp.printLong": "Printable page: report of {month}/{year}",
    "rp.excelLong": "Download Excel: report of {month}/{year}",
    "rp.summary": "Radio summary", "rp.clusters": "Loudspeaker clusters",
    "rp.scheduled": "Bulletins scheduled", "rp.aired": "Bulletins aired",
    "rp.successful": "Played to the end", "rp.emergency": "Emergency bulletins",
    "rp.playTime": "Time on air",
    "rp.radio": "Radio", "rp.byOutcome": "By outcome", "rp.byLevel": "By level",
    "rp.byZone": "By zone", "rp.zone": "Zone", "rp.items": "Plays", "rp.minutes": "Minutes",
    "rp.count": "Count",
    "rp.missedFailed": "Missed or failed", "rp.noneMissed": "Nothing was missed or failed.",
    "rp.emergencies": "Emergency bulletins", "rp.noEmergencies": "No emergency bulletins.",
    "rp.due": "Due", "rp.what": "What", "rp.outcome": "Outcome",
    "rp.lighting": "Lighting", "rp.daysRecorded": "Days with figures: {n}",
    "rp.circuit": "Circuit", "rp.onHours": "Hours on", "rp.meters": "Energy meters",
    "rp.meter": "Meter", "rp.energy": "Energy (kWh)", "rp.noMeters": "No energy meters.",
    "rp.noEnergy": "not enough readings",
    "rp.alarms": "Alarms this month: {n}", "rp.kind": "Kind", "rp.noAlarms": "No alarms.",
    "rp.devices": "Device availability", "rp.device": "Device", "rp.onlinePct": "Online (%)",
    "rp.offlineMin": "Offline (minutes)", "rp.outages": "Outages",
    "rp.missing": "This controller cannot make the monthly report yet.",
    "rp.hoursMinutes": "{h} h {m} min", "rp.minutesOnly": "{m} min", "rp.secondsOnly": "{s} s",
    "rp.out.completed": "Completed", "rp.out.preempted": "Cut by a higher level",
    "rp.out.failed": "Failed", "rp.out.missed": "Missed", "rp.out.skipped": "Skipped (quiet hours)",
    "rp.out.cancelled": "Cancelled", "rp.out.in_progress": "On air",
    "rp.lv.normal": "Normal", "rp.lv.priority": "Priority", "rp.lv.emergency": "Emergency",
    "error.invalid.month": "Not a valid month, or one still to come.",
  },
});

const MONTHS_BACK = 24;

function number(value, digits = 0) {
  if (value === null || value === undefined) return "–";
  return new Intl.NumberFormat(lang() === "vi" ? "vi-VN" : "en-GB",
    { maximumFractionDigits: digits, minimumFractionDigits: 0 }).format(value);
}

function playTime(minutes) {
  const seconds = Math.round((minutes || 0) * 60);
  if (seconds < 60) return t("rp.secondsOnly", { s: seconds });
  const total = Math.round(seconds / 60);
  const h = Math.floor(total / 60);
  const m = total % 60;
  return h ? t("rp.hoursMinutes", { h, m }) : t("rp.minutesOnly", { m });
}

function wordOr(prefix, key) {
  const words = t(`${prefix}${key}`);
  return words === `${prefix}${key}` ? key : words;
}

function table(caption, headings, rows, numeric = []) {
  return el("table", { className: "rp-table" },
    el("caption", { className: "sr-only" }, caption),
    el("thead", {}, el("tr", {}, headings.map((h, i) =>
      el("th", { scope: "col", className: numeric.includes(i) ? "num" : null }, h)))),
    el("tbody", {}, rows.map((cells) => el("tr", {}, cells.map((c, i) =>
      el("td", { className: numeric.includes(i) ? "num" : null }, c))))));
}

function figure(label, value, key) {
  return el("div", { className: "rp-figure", "data-figure": key },
    el("span", { className: "big" }, value), el("span", {}, label));
}

function airRows(rows) {
  return rows.map((row) => [formatDateTime(row.due), row.title || row.ref,
    wordOr("rp.out.", row.outcome)]);
}

function reportBody(report) {
  const [year, month] = report.month.split("-").map(Number);
  const summary = report.summary;
  const radio = report.radio;
  const lighting = report.lighting;
  const query = `/api/v1/reports/monthly?month=${report.month}`;
  return [
    el("h3", { "data-field": "heading" }, t("rp.heading", { month, year, site: report.site_name })),
    report.complete ? null : el("p", { className: "muted" },
      t("rp.running", { time: formatDateTime(report.period_end) })),
    el("p", { className: "muted" }, t("rp.generated", { time: formatDateTime(report.generated_at) })),
    el("div", { className: "actions" },
      el("a", { className: "button secondary", href: `${query}&format=html&lang=${lang()}`, target: "_blank",
        rel: "noopener", "data-link": "html", "aria-label": t("rp.printLong", { month, year }) },
      icon("file"), t("rp.print")),
      el("a", { className: "button secondary", href: `${query}&format=xlsx`,
        download: `bao-cao-${report.month}.xlsx`, "data-link": "xlsx",
        "aria-label": t("rp.excelLong", { month, year }) }, icon("download"), t("rp.excel"))),
    el("h3", {}, t("rp.summary")),
    el("div", { className: "rp-figures" },
      figure(t("rp.scheduled"), number(summary.bulletins_scheduled), "scheduled"),
      figure(t("rp.aired"), number(summary.bulletins_aired), "aired"),
      figure(t("rp.successful"), number(summary.successful_plays), "successful"),
      figure(t("rp.emergency"), number(summary.emergency_bulletins), "emergency"),
      figure(t("rp.playTime"), playTime(summary.play_time_min), "play_time"),
      figure(t("rp.clusters"), number(summary.clusters), "clusters")),
    el("h3", {}, t("rp.radio")),
    el("h4", {}, t("rp.byOutcome")),
    table(t("rp.byOutcome"), [t("rp.outcome"), t("rp.count")],
      Object.entries(radio.by_outcome).map(([k, n]) => [wordOr("rp.out.", k), number(n)]), [1]),
    el("h4", {}, t("rp.byLevel")),
    table(t("rp.byLevel"), [t("rp.outcome"), t("rp.count")].map((h, i) => (i ? h : t("rp.byLevel"))),
      Object.entries(radio.by_level).map(([k, n]) => [wordOr("rp.lv.", k), number(n)]), [1]),
    el("h4", {}, t("rp.byZone")),
    table(t("rp.byZone"), [t("rp.zone"), t("rp.items"), t("rp.minutes")],
      radio.by_zone.map((z) => [z.name || z.zone, number(z.items), number(z.minutes, 1)]), [1, 2]),
    el("h4", {}, t("rp.missedFailed")),
    radio.missed_failed.length ? table(t("rp.missedFailed"), [t("rp.due"), t("rp.what"), t("rp.outcome")],
      airRows(radio.missed_failed)) : el("p", { className: "muted" }, t("rp.noneMissed")),
    el("h4", {}, t("rp.emergencies")),
    radio.emergencies.length ? table(t("rp.emergencies"), [t("rp.due"), t("rp.what"), t("rp.outcome")],
      airRows(radio.emergencies)) : el("p", { className: "muted" }, t("rp.noEmergencies")),
    el("h3", {}, t("rp.lighting")),
    el("p", { className: "muted" }, t("rp.daysRecorded", { n: lighting.days_recorded })),
    table(t("rp.lighting"), [t("rp.circuit"), t("rp.onHours")],
      lighting.circuits.map((c) => [c.name || c.circuit, number(c.on_hours, 1)]), [1]),
    el("h4", {}, t("rp.meters")),
    lighting.meters.length ? table(t("rp.meters"), [t("rp.meter"), t("rp.energy")],
      lighting.meters.map((m) => [m.meter, m.energy_kwh === null ? t("rp.noEnergy") : number(m.energy_kwh, 2)]), [1])
      : el("p", { className: "muted" }, t("rp.noMeters")),
    el("h4", {}, t("rp.alarms", { n: lighting.alarms_total })),
    Object.keys(lighting.alarms_by_kind).length ? table(t("rp.alarms", { n: lighting.alarms_total }),
      [t("rp.kind"), t("rp.count")],
      Object.entries(lighting.alarms_by_kind).map(([kind, n]) => [kindWords({ kind }), number(n)]), [1])
      : el("p", { className: "muted" }, t("rp.noAlarms")),
    el("h4", {}, t("rp.devices")),
    table(t("rp.devices"), [t("rp.device"), t("rp.onlinePct"), t("rp.offlineMin"), t("rp.outages")],
      lighting.devices.map((d) => [d.device, number(d.online_pct, 2), number(d.offline_min, 1),
        number(d.outages)]), [1, 2, 3]),
  ];
}

async function render(container) {
  const today = localDate(new Date());
  const [thisYear, thisMonth] = today.split("-").map(Number);
  const months = [];
  for (let back = 0; back < MONTHS_BACK; back += 1) {
    const index = thisYear * 12 + (thisMonth - 1) - back;
    const year = Math.floor(index / 12);
    const month = (index % 12) + 1;
    months.push({ value: `${year}-${String(month).padStart(2, "0")}`, year, month });
  }
  const picker = el("select", { id: "rp-month", onchange: () => load() },
    months.map((m) => el("option", { value: m.value }, t("rp.monthN", { month: m.month, year: m.year }))));
  const body = el("div", { id: "rp-body", "aria-live": "polite" });
  const load = async () => {
    body.replaceChildren(el("p", { className: "muted" }, t("loading")));
    try {
      const report = await getJson(`/reports/monthly?month=${picker.value}`);
      body.replaceChildren(...reportBody(report).filter(Boolean));
    } catch (error) {
      body.replaceChildren(el("p", { className: "error", role: "alert" },
        error.status === 404 && !error.field ? t("rp.missing") : errorText(error)));
    }
  };
  container.append(el("h2", { className: "view-title" }, t("rp.title")),
    el("section", { className: "card", "aria-label": t("rp.title") },
      el("div", { className: "field" }, el("label", { for: picker.id }, t("rp.month")), picker),
      body));
  await load();
}

registerView({ id: "report", icon: "chart", title: "rp.title", minRole: "viewer", render });
