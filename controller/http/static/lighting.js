// The lighting view (Chiếu sáng): each circuit's state and why in words, overrides for a while
// or back to the schedule, lighting programmes with an editor of their windows (times as a
// clock time or a sun event with an offset, "earliest/latest of" two), and the calendars their
// windows can be limited to, lunar dates included (docs/configuration.md, docs/dashboard.md).
import {
  addWords, api, can, confirmAction, el, errorText, field, formatDate, formatDateTime,
  formatTime, getJson, icon, lang, localDate, onStatus, registerView, say, status, t,
} from "./core.js";

addWords({
  vi: {
    "lt.title": "Chiếu sáng", "lt.circuits": "Mạch đèn", "lt.programs": "Chương trình chiếu sáng",
    "lt.calendars": "Lịch ngày đặc biệt", "lt.overrides": "Đang điều khiển tay",
    "lt.noCircuits": "Chưa có mạch đèn nào.", "lt.noPrograms": "Chưa có chương trình nào.",
    "lt.noCalendars": "Chưa có lịch nào.", "lt.noOverrides": "Không có điều khiển tay nào.",
    "lt.on": "Bật", "lt.off": "Tắt", "lt.stateOn": "Bật {level}%", "lt.stateOff": "Tắt",
    "lt.backToSchedule": "Theo lịch", "lt.backToScheduleLong": "Trả {name} về theo lịch",
    "lt.turnOn": "Bật {name}", "lt.turnOff": "Tắt {name}",
    "lt.forHowLong": "Điều khiển tay trong", "lt.min30": "30 phút", "lt.h1": "1 giờ",
    "lt.h2": "2 giờ", "lt.h4": "4 giờ", "lt.untilMorning": "Đến sáng mai (bình minh)",
    "lt.desired": "Theo quy tắc", "lt.commanded": "Lệnh đã gửi", "lt.actual": "Thực tế",
    "lt.device": "Thiết bị", "lt.online": "trực tuyến", "lt.offline": "mất kết nối",
    "lt.notAsked": "chưa hỏi", "lt.unknown": "chưa biết", "lt.readAt": "{state} (đọc lúc {time})",
    "lt.sentAt": "{state} (lúc {time})", "lt.settling": "đang chờ thiết bị làm theo",
    "lt.why.override": "điều khiển tay đến {until} (bởi {by})",
    "lt.why.overrideReason": "điều khiển tay đến {until} (bởi {by}: “{reason}”)",
    "lt.why.scheduleOn": "theo lịch: bật {on}, tắt {off}",
    "lt.why.scheduleUntil": "theo lịch, đến {until}",
    "lt.why.nextOn": "theo lịch: tắt, bật lại {on}",
    "lt.why.at": "{words} (lúc {time})",
    "lt.why.default": "theo lịch: ngoài giờ chiếu sáng",
    "lt.why.noProgram": "không theo chương trình nào: tắt",
    "lt.why.failsafe": "an toàn: đồng hồ chưa đúng, đèn bật cho đến khi chỉnh giờ",
    "lt.why.level": "{words}, mức {level}%",
    "lt.forced": "{name}: {state} đến {until}", "lt.released": "{name} đã về theo lịch",
    "lt.target.all": "tất cả mạch đèn", "lt.target.group": "nhóm {id}",
    "lt.overrideLine": "{target}: {state} đến {until} (bởi {by})",
    "lt.end": "Kết thúc", "lt.endLong": "Kết thúc điều khiển tay: {target}",
    // time expressions in words
    "lt.ev.sunset": "hoàng hôn", "lt.ev.sunrise": "bình minh", "lt.ev.dusk": "chạng vạng tối",
    "lt.ev.dawn": "rạng đông", "lt.atTime": "lúc {time}", "lt.atEvent": "lúc {event}",
    "lt.after": "{offset} sau {event}", "lt.before": "{offset} trước {event}",
    "lt.earliest": "{a} hoặc {b}, cái nào sớm hơn", "lt.latest": "{a} hoặc {b}, cái nào muộn hơn",
    "lt.minutes": "{n} phút", "lt.hours": "{n} giờ", "lt.hoursMinutes": "{h} giờ {m} phút",
    "lt.window": "Bật {on}, tắt {off}", "lt.everyDay": "mọi ngày",
    "lt.onDays": "vào {days}", "lt.onCalendar": "chỉ vào các ngày của lịch “{name}”",
    "lt.level": "mức {level}%", "lt.alwaysOff": "Không có khung giờ: luôn tắt.",
    "lt.followedBy": "Mạch theo chương trình: {names}", "lt.followedByNone": "Chưa có mạch nào theo.",
    "lt.wd0": "Thứ Hai", "lt.wd1": "Thứ Ba", "lt.wd2": "Thứ Tư", "lt.wd3": "Thứ Năm",
    "lt.wd4": "Thứ Sáu", "lt.wd5": "Thứ Bảy", "lt.wd6": "Chủ Nhật",
    // programme editor
    "lt.newProgram": "Thêm chương trình", "lt.editProgram": "Sửa chương trình “{name}”",
    "lt.editLong": "Sửa {name}", "lt.deleteLong": "Xóa {name}",
    "lt.programId": "Mã chương trình", "lt.programIdHint": "Chữ thường, số, - và _; không đổi được sau khi lưu.",
    "lt.programName": "Tên chương trình", "lt.windowN": "Khung giờ {n}",
    "lt.addWindow": "Thêm khung giờ", "lt.removeWindow": "Bỏ khung giờ {n}",
    "lt.onTime": "Giờ bật", "lt.offTime": "Giờ tắt", "lt.timeKind": "Theo",
    "lt.kind.clock": "Giờ cố định", "lt.kind.sunset": "Hoàng hôn", "lt.kind.sunrise": "Bình minh",
    "lt.kind.dusk": "Chạng vạng tối", "lt.kind.dawn": "Rạng đông", "lt.clockTime": "Giờ",
    "lt.offsetMin": "Lệch (phút)", "lt.direction": "Trước hay sau",
    "lt.dir.after": "sau", "lt.dir.before": "trước",
    "lt.combine": "Kết hợp với giờ thứ hai", "lt.combine.none": "Không, chỉ một giờ",
    "lt.combine.earliest": "Hoặc, cái nào sớm hơn", "lt.combine.latest": "Hoặc, cái nào muộn hơn",
    "lt.secondTime": "Giờ thứ hai", "lt.expression": "Biểu thức thời gian",
    "lt.expressionHint": "Biểu thức lồng nhau: sửa dạng chữ, ví dụ earliest(23:00, sunrise-10m).",
    "lt.levelPct": "Mức sáng (%)", "lt.days": "Các ngày trong tuần (bỏ trống: mọi ngày)",
    "lt.calendar": "Chỉ vào các ngày của lịch", "lt.noCalendar": "Không giới hạn",
    "lt.reads": "Nghĩa là: {words}", "lt.incomplete": "Chưa đủ thông tin giờ.",
    "lt.preview": "Thời gian thực tế", "lt.previewTonight": "Tối nay",
    "lt.previewNone": "Tắt cả đêm", "lt.previewSpan": "bật {on} – tắt {off}",
    "lt.previewSpanLevel": "bật {on} – tắt {off} (mức {level}%)",
    "lt.previewMissing": "Bộ điều khiển này chưa có chức năng xem trước; sau khi lưu, xem giờ trong kế hoạch.",
    "lt.previewFailed": "Chưa xem trước được: {reason}",
    "lt.previewSkipped": "{n} khung giờ bỏ qua vì không có mặt trời mọc hoặc lặn",
    "lt.saved": "Đã lưu chương trình “{name}”", "lt.deleted": "Đã xóa “{name}”",
    "lt.confirmDeleteProgram": "Xóa chương trình “{name}”?",
    "lt.programInUse": "Không xóa được: có mạch đèn đang theo chương trình này.",
    "lt.windowProblem": "Khung giờ {n}: {what} không hợp lệ.",
    "lt.what.on": "giờ bật", "lt.what.off": "giờ tắt", "lt.what.level": "mức sáng",
    "lt.what.days": "các ngày", "lt.what.calendar": "lịch",
    "error.conflict.id": "Mã này đã có, chọn mã khác.",
    "error.invalid.id": "Mã không hợp lệ: chữ thường, số, - và _.",
    // calendars
    "lt.newCalendar": "Thêm lịch", "lt.editCalendar": "Sửa lịch “{name}”",
    "lt.calendarId": "Mã lịch", "lt.calendarName": "Tên lịch",
    "lt.publicHolidays": "Thêm các ngày lễ của Việt Nam (có Tết)",
    "lt.holidaysOf": "ngày lễ ({code})", "lt.holidaysVN": "các ngày lễ của Việt Nam",
    "lt.dates": "Ngày", "lt.ranges": "Khoảng ngày", "lt.noDates": "Chưa có ngày nào.",
    "lt.noRanges": "Chưa có khoảng ngày nào.", "lt.dateKind": "Loại ngày",
    "lt.dk.yearly": "Hằng năm (dương lịch)", "lt.dk.lunar": "Hằng năm (âm lịch)",
    "lt.dk.once": "Một ngày", "lt.day": "Ngày", "lt.month": "Tháng", "lt.date": "Ngày",
    "lt.lunarDay": "Ngày âm lịch", "lt.lunarMonth": "Tháng âm lịch",
    "lt.addDate": "Thêm ngày", "lt.addRange": "Thêm khoảng ngày", "lt.rangeFrom": "Từ ngày",
    "lt.rangeTo": "Đến ngày", "lt.removeEntry": "Bỏ {what}",
    "lt.yearly": "{day}/{month} hằng năm", "lt.lunar": "{words} (âm lịch)",
    "lt.lunarMung": "mùng {day} {month}", "lt.lunarRam": "rằm {month}",
    "lt.lunarDayOf": "ngày {day} {month}", "lt.lunarMonthN": "tháng {n}",
    "lt.lunarMonth1": "tháng Giêng", "lt.lunarMonth12": "tháng Chạp",
    "lt.range": "từ {from} đến {to}", "lt.usedBy": "Chương trình dùng lịch: {names}",
    "lt.confirmDeleteCalendar": "Xóa lịch “{name}”?",
    "lt.calendarInUse": "Không xóa được: có chương trình đang dùng lịch này.",
    "lt.calendarSaved": "Đã lưu lịch “{name}”", "lt.badRange": "Ngày cuối phải sau ngày đầu.",
    "lt.nothingInCalendar": "Lịch trống.",
    "error.invalid.dates": "Có ngày không hợp lệ trong lịch.",
    "error.invalid.ranges": "Có khoảng ngày không hợp lệ trong lịch.",
    "error.invalid.public_holidays": "Mã nước của ngày lễ không hợp lệ.",
  },
  en: {
    "lt.title": "Lighting", "lt.circuits": "Circuits", "lt.programs": "Lighting programmes",
    "lt.calendars": "Calendars", "lt.overrides": "Manual control in force",
    "lt.noCircuits": "No circuits yet.", "lt.noPrograms": "No programmes yet.",
    "lt.noCalendars": "No calendars yet.", "lt.noOverrides": "No manual control in force.",
    "lt.on": "On", "lt.off": "Off", "lt.stateOn": "On {level}%", "lt.stateOff": "Off",
    "lt.backToSchedule": "Schedule", "lt.backToScheduleLong": "Put {name} back on its schedule",
    "lt.turnOn": "Turn {name} on", "lt.turnOff": "Turn {name} off",
    "lt.forHowLong": "Manual control for", "lt.min30": "30 minutes", "lt.h1": "1 hour",
    "lt.h2": "2 hours", "lt.h4": "4 hours", "lt.untilMorning": "Until morning (sunrise)",
    "lt.desired": "By the rules", "lt.commanded": "Last command", "lt.actual": "Actual",
    "lt.device": "Device", "lt.online": "online", "lt.offline": "offline",
    "lt.notAsked": "not asked yet", "lt.unknown": "unknown", "lt.readAt": "{state} (read at {time})",
    "lt.sentAt": "{state} (at {time})", "lt.settling": "waiting for the device to follow",
    "lt.why.override": "manual control until {until} (by {by})",
    "lt.why.overrideReason": "manual control until {until} (by {by}: “{reason}”)",
    "lt.why.scheduleOn": "schedule: on {on}, off {off}",
    "lt.why.scheduleUntil": "schedule, until {until}",
    "lt.why.nextOn": "schedule: off, on again {on}",
    "lt.why.at": "{words} (at {time})",
    "lt.why.default": "schedule: outside the lighting hours",
    "lt.why.noProgram": "follows no programme: off",
    "lt.why.failsafe": "fail-safe: the clock is wrong, lights on until the time is set",
    "lt.why.level": "{words}, level {level}%",
    "lt.forced": "{name}: {state} until {until}", "lt.released": "{name} is back on its schedule",
    "lt.target.all": "every circuit", "lt.target.group": "group {id}",
    "lt.overrideLine": "{target}: {state} until {until} (by {by})",
    "lt.end": "End", "lt.endLong": "End manual control: {target}",
    "lt.ev.sunset": "sunset", "lt.ev.sunrise": "sunrise", "lt.ev.dusk": "dusk",
    "lt.ev.dawn": "dawn", "lt.atTime": "at {time}", "lt.atEvent": "at {event}",
    "lt.after": "{offset} after {event}", "lt.before": "{offset} before {event}",
    "lt.earliest": "{a} or {b}, whichever is earlier",
    "lt.latest": "{a} or {b}, whichever is later",
    "lt.minutes": "{n} min", "lt.hours": "{n} h", "lt.hoursMinutes": "{h} h {m} min",
    "lt.window": "On {on}, off {off}", "lt.everyDay": "every day",
    "lt.onDays": "on {days}", "lt.onCalendar": "only on the days of calendar “{name}”",
    "lt.level": "level {level}%", "lt.alwaysOff": "No windows: always off.",
    "lt.followedBy": "Circuits following it: {names}", "lt.followedByNone": "No circuit follows it.",
    "lt.wd0": "Monday", "lt.wd1": "Tuesday", "lt.wd2": "Wednesday", "lt.wd3": "Thursday",
    "lt.wd4": "Friday", "lt.wd5": "Saturday", "lt.wd6": "Sunday",
    "lt.newProgram": "Add a programme", "lt.editProgram": "Edit programme “{name}”",
    "lt.editLong": "Edit {name}", "lt.deleteLong": "Delete {name}",
    "lt.programId": "Programme id", "lt.programIdHint": "Lower case, digits, - and _; it cannot change once saved.",
    "lt.programName": "Programme name", "lt.windowN": "Window {n}",
    "lt.addWindow": "Add a window", "lt.removeWindow": "Remove window {n}",
    "lt.onTime": "On time", "lt.offTime": "Off time", "lt.timeKind": "By",
    "lt.kind.clock": "Clock time", "lt.kind.sunset": "Sunset", "lt.kind.sunrise": "Sunrise",
    "lt.kind.dusk": "Dusk", "lt.kind.dawn": "Dawn", "lt.clockTime": "Time",
    "lt.offsetMin": "Offset (minutes)", "lt.direction": "Before or after",
    "lt.dir.after": "after", "lt.dir.before": "before",
    "lt.combine": "Combine with a second time", "lt.combine.none": "No, one time only",
    "lt.combine.earliest": "Or, whichever is earlier", "lt.combine.latest": "Or, whichever is later",
    "lt.secondTime": "Second time", "lt.expression": "Time expression",
    "lt.expressionHint": "A nested expression: edit it as text, e.g. earliest(23:00, sunrise-10m).",
    "lt.levelPct": "Level (%)", "lt.days": "Weekdays (none: every day)",
    "lt.calendar": "Only on the days of calendar", "lt.noCalendar": "No limit",
    "lt.reads": "Reads: {words}", "lt.incomplete": "The time is not complete.",
    "lt.preview": "Resulting times", "lt.previewTonight": "Tonight",
    "lt.previewNone": "Off all night", "lt.previewSpan": "on {on} – off {off}",
    "lt.previewSpanLevel": "on {on} – off {off} (level {level}%)",
    "lt.previewMissing": "This controller cannot preview yet; after saving, see the times in the plan.",
    "lt.previewFailed": "No preview: {reason}",
    "lt.previewSkipped": "{n} window(s) left out: no sunrise or sunset that day",
    "lt.saved": "Programme “{name}” saved", "lt.deleted": "“{name}” deleted",
    "lt.confirmDeleteProgram": "Delete programme “{name}”?",
    "lt.programInUse": "Not deleted: a circuit follows this programme.",
    "lt.windowProblem": "Window {n}: the {what} is not valid.",
    "lt.what.on": "on time", "lt.what.off": "off time", "lt.what.level": "level",
    "lt.what.days": "weekdays", "lt.what.calendar": "calendar",
    "error.conflict.id": "This id exists already; choose another.",
    "error.invalid.id": "Not a valid id: lower case, digits, - and _.",
    "lt.newCalendar": "Add a calendar", "lt.editCalendar": "Edit calendar “{name}”",
    "lt.calendarId": "Calendar id", "lt.calendarName": "Calendar name",
    "lt.publicHolidays": "Add Vietnam's public holidays (Tết included)",
    "lt.holidaysOf": "public holidays ({code})", "lt.holidaysVN": "Vietnam's public holidays",
    "lt.dates": "Dates", "lt.ranges": "Date ranges", "lt.noDates": "No dates yet.",
    "lt.noRanges": "No ranges yet.", "lt.dateKind": "Kind of date",
    "lt.dk.yearly": "Every year (solar)", "lt.dk.lunar": "Every year (lunar)",
    "lt.dk.once": "One date", "lt.day": "Day", "lt.month": "Month", "lt.date": "Date",
    "lt.lunarDay": "Lunar day", "lt.lunarMonth": "Lunar month",
    "lt.addDate": "Add the date", "lt.addRange": "Add the range", "lt.rangeFrom": "From",
    "lt.rangeTo": "To", "lt.removeEntry": "Remove {what}",
    "lt.yearly": "{day}/{month} every year", "lt.lunar": "{words} (lunar)",
    "lt.lunarMung": "day {day} of {month}", "lt.lunarRam": "full moon (15th) of {month}",
    "lt.lunarDayOf": "day {day} of {month}", "lt.lunarMonthN": "month {n}",
    "lt.lunarMonth1": "the first month", "lt.lunarMonth12": "the twelfth month",
    "lt.range": "from {from} to {to}", "lt.usedBy": "Programmes using it: {names}",
    "lt.confirmDeleteCalendar": "Delete calendar “{name}”?",
    "lt.calendarInUse": "Not deleted: a programme uses this calendar.",
    "lt.calendarSaved": "Calendar “{name}” saved", "lt.badRange": "The last day must come after the first.",
    "lt.nothingInCalendar": "The calendar is empty.",
    "error.invalid.dates": "A date of the calendar is not valid.",
    "error.invalid.ranges": "A range of the calendar is not valid.",
    "error.invalid.public_holidays": "The holidays' country code is not valid.",
  },
});

const EVENTS = ["sunset", "sunrise", "dusk", "dawn"];
const DURATIONS = [["30", "lt.min30"], ["60", "lt.h1"], ["120", "lt.h2"], ["240", "lt.h4"],
  ["morning", "lt.untilMorning"]];
const ID_PATTERN = "[a-z0-9][a-z0-9_\\-]{0,63}";
const DAY_MS = 24 * 3600 * 1000;
// The reason an override made here carries (the API wants one); not shown back as a reason.
const PAGE_REASON = "dashboard";
const NEW_WINDOW = { on: "sunset+5m", off: "earliest(23:00, sunrise-10m)", level: 100 };

let idCounter = 0;
const uid = (prefix) => `${prefix}-${++idCounter}`;

// -- time expressions: text <-> terms <-> words -------------------------------------------------
// Terms have the shape of GET /circuits' desired.explained (schedules/explain.py):
// {kind: "clock", time}, {kind: "sun", event, offset_min}, {kind: "earliest"|"latest", of}.

/** A time expression (schedules/expressions.py grammar) as terms; null if it does not parse. */
export function parseExpression(text) {
  const tokens = [];
  const pattern = /\s*(?:(\d{1,2}:\d{2})|([A-Za-z]+)|([+-]\s*\d+\s*[hHmM](?:\s*\d+\s*[hHmM])?)|([(),]))/y;
  const source = String(text ?? "").trim();
  let position = 0;
  while (position < source.length) {
    pattern.lastIndex = position;
    const match = pattern.exec(source);
    if (!match) return null;
    position = pattern.lastIndex;
    if (match[1]) tokens.push(["clock", match[1]]);
    else if (match[2]) tokens.push(["word", match[2].toLowerCase()]);
    else if (match[3]) tokens.push(["offset", match[3].replace(/\s+/g, "").toLowerCase()]);
    else tokens.push(["punct", match[4]]);
  }
  let next = 0;
  const expression = () => {
    const token = tokens[next++];
    if (!token) return null;
    if (token[0] === "clock") {
      const [h, m] = token[1].split(":").map(Number);
      if (h > 23 || m > 59) return null;
      return { kind: "clock", time: `${String(h).padStart(2, "0")}:${String(m).padStart(2, "0")}` };
    }
    if (token[0] !== "word") return null;
    if (token[1] === "earliest" || token[1] === "latest") {
      if (tokens[next++]?.[1] !== "(") return null;
      const a = expression();
      if (!a || tokens[next++]?.[1] !== ",") return null;
      const b = expression();
      if (!b || tokens[next++]?.[1] !== ")") return null;
      return { kind: token[1], of: [a, b] };
    }
    if (!EVENTS.includes(token[1])) return null;
    let offset = 0;
    if (tokens[next]?.[0] === "offset") {
      const found = /^([+-])(?:(\d+)h)?(?:(\d+)m)?$/.exec(tokens[next++][1]);
      if (!found || (!found[2] && !found[3])) return null;
      offset = (Number(found[2] || 0) * 60 + Number(found[3] || 0)) * (found[1] === "-" ? -1 : 1);
    }
    return { kind: "sun", event: token[1], offset_min: offset };
  };
  const parsed = expression();
  return parsed && next === tokens.length ? parsed : null;
}

/** Terms back to the text the API takes: "23:00", "sunset+5m", "earliest(23:00, sunrise-10m)". */
export function formatExpression(term) {
  if (term.kind === "clock") return term.time;
  if (term.kind === "sun") {
    const offset = term.offset_min || 0;
    return offset ? `${term.event}${offset > 0 ? "+" : "-"}${Math.abs(offset)}m` : term.event;
  }
  return `${term.kind}(${term.of.map(formatExpression).join(", ")})`;
}

function offsetWords(minutes) {
  const total = Math.abs(minutes);
  const h = Math.floor(total / 60);
  const m = total % 60;
  if (!h) return t("lt.minutes", { n: m });
  return m ? t("lt.hoursMinutes", { h, m }) : t("lt.hours", { n: h });
}

/** Terms in words: "5 phút sau hoàng hôn", "23:00 hoặc 10 phút trước bình minh, cái nào sớm hơn". */
export function describeTerm(term, nested = false) {
  if (!term) return "?";
  if (term.kind === "clock") return nested ? term.time : t("lt.atTime", { time: term.time });
  if (term.kind === "sun") {
    const event = t(`lt.ev.${term.event}`);
    const offset = term.offset_min || 0;
    if (!offset) return nested ? event : t("lt.atEvent", { event });
    return t(offset > 0 ? "lt.after" : "lt.before", { offset: offsetWords(offset), event });
  }
  const [a, b] = (term.of || []).map((part) => describeTerm(part, true));
  const words = t(term.kind === "latest" ? "lt.latest" : "lt.earliest", { a, b });
  return nested ? `(${words})` : words;
}

function weekdayNumber(day) {
  if (typeof day === "number") return day;
  return ["mon", "tue", "wed", "thu", "fri", "sat", "sun"].indexOf(String(day).toLowerCase());
}

/** A window (as stored, or as explained terms) in words. */
function describeWindow(window, calendars = []) {
  const on = typeof window.on === "string" ? parseExpression(window.on) : window.on;
  const off = typeof window.off === "string" ? parseExpression(window.off) : window.off;
  const parts = [t("lt.window", { on: on ? describeTerm(on) : window.on,
    off: off ? describeTerm(off) : window.off })];
  if (window.level !== undefined && window.level !== 100) {
    parts.push(t("lt.level", { level: window.level }));
  }
  if (window.days && window.days.length && window.days.length < 7) {
    const names = [...new Set(window.days.map(weekdayNumber))].sort()
      .map((d) => t(`lt.wd${d}`));
    parts.push(t("lt.onDays", { days: names.join(", ") }));
  }
  if (window.calendar) {
    const calendar = calendars.find((c) => c.id === window.calendar);
    parts.push(t("lt.onCalendar", { name: calendar?.name || window.calendar }));
  }
  return parts.join("; ");
}

// -- circuits -------------------------------------------------------------------------------------

function stateWords(state, level) {
  return state === "on" ? t("lt.stateOn", { level }) : t("lt.stateOff");
}

function targets(override, circuit) {
  if (override.target === "all") return true;
  if (override.target === `circuit:${circuit.id}`) return true;
  return override.target.startsWith("group:")
    && circuit.groups.includes(override.target.slice("group:".length));
}

function targetWords(target, circuits) {
  if (target === "all") return t("lt.target.all");
  const [kind, id] = target.split(":");
  if (kind === "group") return t("lt.target.group", { id });
  return circuits.find((c) => c.id === id)?.name || id;
}

/** Why a circuit is in its state, in words: from desired.explained when the controller gives
 * it, else from the source and the override that decides (GET /overrides). */
function reasonWords(circuit, overrides, calendars) {
  const desired = circuit.desired;
  const explained = desired.explained;
  const source = explained?.source || desired.source;
  if (source === "override") {
    const override = explained?.override || overrides.find((o) => targets(o, circuit));
    const until = formatDateOrTime(override?.until || desired.until);
    const by = override?.created_by || "?";
    const reason = override?.reason;
    return reason && reason !== PAGE_REASON
      ? t("lt.why.overrideReason", { until, by, reason }) : t("lt.why.override", { until, by });
  }
  if (source === "failsafe") return t("lt.why.failsafe");
  const until = explained?.until || desired.until;
  const window = explained?.window;
  let words;
  if (source === "schedule" && window) {
    words = t("lt.why.scheduleOn", { on: describeTerm(window.on), off: describeTerm(window.off) });
    if (window.level !== 100) words = t("lt.why.level", { words, level: window.level });
    // The switch time in brackets, unless the words already say it (a clock time).
    if (until && window.off.kind !== "clock") {
      words = t("lt.why.at", { words, time: formatDateOrTime(until) });
    }
  } else if (window) {
    words = t("lt.why.nextOn", { on: describeTerm(window.on) });
    if (until && window.on.kind !== "clock") {
      words = t("lt.why.at", { words, time: formatDateOrTime(until) });
    }
  } else if (source === "schedule") {
    words = until ? t("lt.why.scheduleUntil", { until: formatDateOrTime(until) }) : t("lt.why.default");
  } else {
    words = circuit.program ? (until ? t("lt.why.scheduleUntil", { until: formatDateOrTime(until) })
      : t("lt.why.default")) : t("lt.why.noProgram");
  }
  if (window?.calendar) {
    const calendar = calendars.find((c) => c.id === window.calendar);
    words += `; ${t("lt.onCalendar", { name: calendar?.name || window.calendar })}`;
  }
  return words;
}

/** A time today as "21:30", a later one with its date. */
function formatDateOrTime(iso) {
  if (!iso) return "?";
  return localDate(iso) === localDate(new Date()) ? formatTime(iso) : formatDateTime(iso);
}

/** The next sunrise: /status gives tomorrow's; before today's sunrise, today's is about a day
 * earlier (sunrise moves by a minute or two a day in Vietnam). */
function nextSunrise() {
  const sunrise = status()?.site?.sunrise;
  if (!sunrise) return null;
  let at = Date.parse(sunrise);
  if (at - DAY_MS > Date.now()) at -= DAY_MS;
  return new Date(at).toISOString();
}

function circuitCard(circuit, overrides, calendars, durationSelect, refresh) {
  const desired = circuit.desired;
  const commanded = circuit.commanded;
  const actual = circuit.actual;
  const online = circuit.device_online;
  const direct = overrides.filter((o) => o.target === `circuit:${circuit.id}`);
  const settling = commanded && actual && commanded.level !== actual.level;
  const facts = el("dl", { className: "lt-facts" },
    el("dt", {}, t("lt.commanded")),
    el("dd", { "data-field": "commanded" }, commanded
      ? t("lt.sentAt", { state: stateWords(commanded.state, commanded.level), time: formatTime(commanded.at) })
      : t("lt.unknown")),
    el("dt", {}, t("lt.actual")),
    el("dd", { "data-field": "actual" }, actual
      ? t("lt.readAt", { state: stateWords(actual.state, actual.level), time: formatTime(actual.read_at) })
      : t("lt.unknown"), settling ? ` · ${t("lt.settling")}` : ""),
    el("dt", {}, t("lt.device")),
    el("dd", { "data-field": "device" }, online === null ? t("lt.notAsked")
      : el("span", { className: `badge ${online ? "ok" : "bad"}` },
        online ? t("lt.online") : t("lt.offline"))));
  const force = async (state) => {
    const choice = durationSelect.value;
    const body = { target: `circuit:${circuit.id}`, state, reason: PAGE_REASON };
    if (choice === "morning") body.until = nextSunrise();
    else body.duration_min = Number(choice);
    try {
      const made = await (await api("/overrides", { method: "POST", json: body })).json();
      say(t("lt.forced", { name: circuit.name || circuit.id, state: stateWords(state, made.level),
        until: formatDateOrTime(made.until) }));
    } catch (error) { say(errorText(error)); }
    await refresh();
  };
  const release = async () => {
    try {
      for (const override of direct) await api(`/overrides/${override.id}`, { method: "DELETE" });
      say(t("lt.released", { name: circuit.name || circuit.id }));
    } catch (error) { say(errorText(error)); }
    await refresh();
  };
  const name = circuit.name || circuit.id;
  return el("li", { className: "lt-circuit", "data-circuit": circuit.id },
    el("div", { className: "lt-head" },
      el("h3", {}, icon("bulb"), " ", name),
      el("span", { className: `badge ${desired.state === "on" ? "ok" : ""}`, "data-field": "desired" },
        stateWords(desired.state, desired.level))),
    el("p", { className: "lt-reason", "data-field": "reason" },
      reasonWords(circuit, overrides, calendars)),
    facts,
    can("technician") ? el("div", { className: "actions" },
      el("button", { type: "button", "data-action": "on", "aria-label": t("lt.turnOn", { name }),
        onclick: () => force("on") }, t("lt.on")),
      el("button", { type: "button", className: "secondary", "data-action": "off",
        "aria-label": t("lt.turnOff", { name }), onclick: () => force("off") }, t("lt.off")),
      direct.length ? el("button", { type: "button", className: "secondary",
        "data-action": "schedule", "aria-label": t("lt.backToScheduleLong", { name }),
        onclick: release }, t("lt.backToSchedule")) : null) : null);
}

function overridesList(overrides, circuits, refresh) {
  if (!overrides.length) return el("p", { className: "muted" }, t("lt.noOverrides"));
  return el("ul", { className: "lt-list" }, overrides.map((override) => {
    const target = targetWords(override.target, circuits);
    return el("li", { "data-override": override.id },
      el("span", {}, t("lt.overrideLine", { target, state: stateWords(override.state, override.level),
        until: formatDateOrTime(override.until), by: override.created_by })),
      can("technician") ? el("button", { type: "button", className: "secondary",
        "data-action": "end-override", "aria-label": t("lt.endLong", { target }),
        onclick: async () => {
          try { await api(`/overrides/${override.id}`, { method: "DELETE" }); }
          catch (error) { say(errorText(error)); }
          await refresh();
        } }, t("lt.end")) : null);
  }));
}

// -- programme editor -------------------------------------------------------------------------------

/** One time (on or off): a clock time or a sun event with minutes before/after. */
function leafEditor(term, onChange) {
  const kind = el("select", { onchange: () => { sync(); onChange(); } },
    ["clock", ...EVENTS].map((k) => el("option", { value: k }, t(`lt.kind.${k}`))));
  const clock = el("input", { type: "time", oninput: onChange, onchange: onChange });
  const offset = el("input", { type: "number", min: "0", max: "720", step: "1", inputmode: "numeric",
    oninput: onChange });
  const direction = el("select", { onchange: onChange },
    el("option", { value: "after" }, t("lt.dir.after")),
    el("option", { value: "before" }, t("lt.dir.before")));
  kind.value = term?.kind === "sun" ? term.event : "clock";
  clock.value = term?.kind === "clock" ? term.time : "";
  offset.value = String(Math.abs(term?.kind === "sun" ? term.offset_min || 0 : 0));
  direction.value = term?.kind === "sun" && term.offset_min < 0 ? "before" : "after";
  const clockRow = field("lt.clockTime", clock);
  const sunRow = el("div", { className: "lt-pair" }, field("lt.offsetMin", offset),
    field("lt.direction", direction));
  const sync = () => {
    clockRow.hidden = kind.value !== "clock";
    sunRow.hidden = kind.value === "clock";
  };
  sync();
  return {
    node: el("div", { className: "lt-leaf" }, field("lt.timeKind", kind), clockRow, sunRow),
    term() {
      if (kind.value === "clock") {
        return /^\d{2}:\d{2}$/.test(clock.value) ? { kind: "clock", time: clock.value } : null;
      }
      const minutes = Math.round(Number(offset.value || 0));
      if (!Number.isFinite(minutes) || minutes < 0 || minutes > 720) return null;
      return { kind: "sun", event: kind.value, offset_min: direction.value === "before" ? -minutes : minutes };
    },
  };
}

/** On or off: one leaf, or two leaves joined by earliest/latest; anything deeper as text. */
function timeEditor(legendKey, text, onChange, name) {
  const parsed = parseExpression(text);
  const simple = !parsed || parsed.kind === "clock" || parsed.kind === "sun"
    || parsed.of.every((p) => p.kind === "clock" || p.kind === "sun");
  const reads = el("p", { className: "hint lt-reads", "aria-live": "polite" });
  const box = el("fieldset", { className: "lt-time", "data-time": name }, el("legend", {}, t(legendKey)));
  let value;
  if (!simple || (text && !parsed)) {
    const input = el("input", { type: "text", value: text, spellcheck: "false", autocapitalize: "none",
      oninput: () => { update(); onChange(); } });
    box.append(field("lt.expression", input, "lt.expressionHint"));
    value = () => input.value.trim() || null;
  } else {
    const combined = parsed && (parsed.kind === "earliest" || parsed.kind === "latest");
    const first = leafEditor(combined ? parsed.of[0] : parsed, () => { update(); onChange(); });
    const second = leafEditor(combined ? parsed.of[1] : null, () => { update(); onChange(); });
    const combine = el("select", { "data-role": "combine", onchange: () => { sync(); update(); onChange(); } },
      ["none", "earliest", "latest"].map((k) => el("option", { value: k }, t(`lt.combine.${k}`))));
    combine.value = combined ? parsed.kind : "none";
    const secondBox = el("div", { className: "lt-second" }, el("p", { className: "lt-sub" }, t("lt.secondTime")),
      second.node);
    const sync = () => { secondBox.hidden = combine.value === "none"; };
    sync();
    box.append(first.node, field("lt.combine", combine), secondBox);
    value = () => {
      const a = first.term();
      if (!a) return null;
      if (combine.value === "none") return formatExpression(a);
      const b = second.term();
      return b ? formatExpression({ kind: combine.value, of: [a, b] }) : null;
    };
  }
  const update = () => {
    const current = value();
    const terms = current && parseExpression(current);
    reads.textContent = terms ? t("lt.reads", { words: describeTerm(terms) }) : t("lt.incomplete");
  };
  box.append(reads);
  update();
  return { node: box, value };
}

function windowEditor(window, calendars, onChange, onRemove) {
  const on = timeEditor("lt.onTime", window.on, onChange, "on");
  const off = timeEditor("lt.offTime", window.off, onChange, "off");
  const level = el("input", { type: "number", min: "0", max: "100", step: "1", inputmode: "numeric",
    value: String(window.level ?? 100), oninput: onChange });
  const chosen = new Set((window.days || []).map(weekdayNumber));
  const dayBoxes = [0, 1, 2, 3, 4, 5, 6].map((d) => {
    const box = el("input", { type: "checkbox", value: String(d), id: uid("wd"), onchange: onChange });
    box.checked = chosen.has(d);
    return { d, box };
  });
  const days = el("fieldset", { className: "lt-days" }, el("legend", {}, t("lt.days")),
    el("div", { className: "choices" }, dayBoxes.map(({ d, box }) =>
      el("label", { className: "choice", for: box.id }, box, t(`lt.wd${d}`)))));
  const calendar = el("select", { onchange: onChange },
    el("option", { value: "" }, t("lt.noCalendar")),
    calendars.map((c) => el("option", { value: c.id }, c.name || c.id)));
  if (window.calendar && !calendars.some((c) => c.id === window.calendar)) {
    calendar.append(el("option", { value: window.calendar }, window.calendar));
  }
  calendar.value = window.calendar || "";
  const legend = el("legend", {});
  const removeLabel = el("span", {});
  const node = el("fieldset", { className: "lt-window" }, legend,
    on.node, off.node, field("lt.levelPct", level), days, field("lt.calendar", calendar),
    el("div", { className: "actions" }, el("button", { type: "button", className: "secondary",
      "data-action": "remove-window", onclick: () => onRemove(editor) }, icon("trash"), removeLabel)));
  const editor = {
    node,
    number(index) {
      node.dataset.window = String(index);
      legend.textContent = t("lt.windowN", { n: index + 1 });
      removeLabel.textContent = t("lt.removeWindow", { n: index + 1 });
    },
    value() {
      const onText = on.value();
      const offText = off.value();
      if (!onText || !offText) return null;
      const result = { on: onText, off: offText, level: Math.round(Number(level.value || 0)) };
      const picked = dayBoxes.filter(({ box }) => box.checked).map(({ d }) => d);
      if (picked.length && picked.length < 7) result.days = picked;
      if (calendar.value) result.calendar = calendar.value;
      return result;
    },
  };
  return editor;
}

/** POST /lighting-programs/preview's nights: "Tối nay (thứ Tư, 02/12): bật 17:25 – tắt 23:00". */
function previewList(answer) {
  const today = localDate(new Date());
  return el("ul", { className: "lt-preview-days" }, (answer.nights || []).map((night) => {
    const spans = night.spans.map((span) => t(span.level !== 100 ? "lt.previewSpanLevel" : "lt.previewSpan",
      { on: formatTime(span.on), off: span.off ? formatTime(span.off) : "?", level: span.level }));
    const words = spans.length ? spans.join("; ") : t("lt.previewNone");
    const label = night.day === today ? `${t("lt.previewTonight")} (${formatDate(night.day)})`
      : formatDate(night.day);
    return el("li", { "data-day": night.day, "data-tonight": night.day === today ? "true" : null },
      el("strong", {}, label), ": ", el("span", { "data-field": "spans" }, words),
      night.skipped.length ? el("span", { className: "muted" }, ` (${t("lt.previewSkipped",
        { n: night.skipped.length })})`) : null);
  }));
}

function programEditor(program, calendars, done) {
  const isNew = !program;
  const name = el("input", { type: "text", maxlength: "200", value: program?.name || "" });
  const id = isNew ? el("input", { type: "text", required: true, pattern: ID_PATTERN,
    maxlength: "64", autocapitalize: "none", spellcheck: "false" }) : null;
  const problem = el("p", { className: "error", role: "alert" });
  const preview = el("div", { className: "lt-preview", "aria-live": "polite" });
  const windowsBox = el("div", { className: "lt-windows" });
  let editors = [];
  let previewTimer = null;
  let previewRun = 0;
  const collect = () => editors.map((e) => e.value());
  const schedulePreview = () => {
    clearTimeout(previewTimer);
    previewTimer = setTimeout(runPreview, 350);
  };
  const runPreview = async () => {
    const windows = collect();
    const run = ++previewRun;
    if (windows.some((w) => !w)) {
      preview.replaceChildren(el("p", { className: "muted" }, t("lt.incomplete")));
      return;
    }
    try {
      const answer = await (await api("/lighting-programs/preview",
        { method: "POST", json: { windows, days: 7 } })).json();
      if (run !== previewRun) return;
      preview.replaceChildren(el("h4", {}, t("lt.preview")), previewList(answer));
    } catch (error) {
      if (run !== previewRun) return;
      preview.replaceChildren(el("p", { className: "muted", "data-preview": "missing" },
        error.status === 404 || error.status === 405 ? t("lt.previewMissing")
          : t("lt.previewFailed", { reason: windowError(error) })));
    }
  };
  const empty = el("p", { className: "muted" }, t("lt.alwaysOff"));
  const renumber = () => {
    editors.forEach((editor, index) => editor.number(index));
    empty.hidden = editors.length > 0;
  };
  const remove = (editor) => {
    editors = editors.filter((e) => e !== editor);
    editor.node.remove();
    renumber();
    schedulePreview();
  };
  const addWindow = (window) => {
    const editor = windowEditor(window, calendars, schedulePreview, remove);
    editors.push(editor);
    windowsBox.append(editor.node);
    renumber();
  };
  windowsBox.append(empty);
  for (const window of program ? program.windows : [NEW_WINDOW]) addWindow(window);
  const save = async (event) => {
    event.preventDefault();
    problem.textContent = "";
    const windows = collect();
    if (windows.some((w) => !w)) { problem.textContent = t("lt.incomplete"); return; }
    const body = { name: name.value.trim(), windows };
    try {
      if (isNew) {
        await api("/lighting-programs", { method: "POST", json: { id: id.value.trim(), ...body } });
      } else {
        await api(`/lighting-programs/${encodeURIComponent(program.id)}`, { method: "PUT", json: body });
      }
      say(t("lt.saved", { name: body.name || (isNew ? id.value.trim() : program.id) }));
      await done();
    } catch (error) { problem.textContent = windowError(error); }
  };
  const title = isNew ? t("lt.newProgram") : t("lt.editProgram", { name: program.name || program.id });
  const form = el("form", { className: "card lt-editor", "data-editor": "program", onsubmit: save },
    el("h3", {}, title),
    id ? field("lt.programId", id, "lt.programIdHint") : null,
    field("lt.programName", name),
    windowsBox,
    el("div", { className: "actions" }, el("button", { type: "button", className: "secondary",
      "data-action": "add-window", onclick: () => { addWindow(NEW_WINDOW); schedulePreview(); } },
    icon("plus"), t("lt.addWindow"))),
    preview, problem,
    el("div", { className: "actions" },
      el("button", { type: "submit", "data-action": "save" }, t("save")),
      el("button", { type: "button", className: "secondary", onclick: () => done() }, t("cancel"))));
  runPreview();
  return form;
}

/** A refusal of a programme in words: "Khung giờ 1: giờ tắt không hợp lệ." */
function windowError(error) {
  const match = /^windows\.(\d+)\.(on|off|level|days|calendar)/.exec(error?.field || "");
  if (match && error.status === 422) {
    return t("lt.windowProblem", { n: Number(match[1]) + 1, what: t(`lt.what.${match[2]}`) });
  }
  return errorText(error);
}

function programCard(program, circuits, calendars, edit, remove) {
  const label = program.name || program.id;
  const names = program.circuits.map((id) => circuits.find((c) => c.id === id)?.name || id);
  return el("li", { "data-program": program.id },
    el("h3", {}, label, program.name ? el("span", { className: "muted" }, ` (${program.id})`) : null),
    program.windows.length
      ? el("ul", { className: "lt-windows-words" }, program.windows.map((w, index) =>
        el("li", {}, describeWindow(program.windows_explained?.[index] || w, calendars))))
      : el("p", {}, t("lt.alwaysOff")),
    el("p", { className: "muted" }, names.length ? t("lt.followedBy", { names: names.join(", ") })
      : t("lt.followedByNone")),
    can("technician") ? el("div", { className: "actions" },
      el("button", { type: "button", className: "secondary", "data-action": "edit",
        "aria-label": t("lt.editLong", { name: label }), onclick: edit }, icon("edit"), t("edit")),
      el("button", { type: "button", className: "danger", "data-action": "delete",
        "aria-label": t("lt.deleteLong", { name: label }), onclick: remove }, icon("trash"), t("delete")))
      : null);
}

// -- calendars ----------------------------------------------------------------------------------------

function lunarMonthWords(month) {
  if (month === 1) return t("lt.lunarMonth1");
  if (month === 12) return t("lt.lunarMonth12");
  return t("lt.lunarMonthN", { n: month });
}

/** "09-02" → "2/9 hằng năm"; "lunar:01-15" → "rằm tháng Giêng (âm lịch)"; "2027-02-06" → its date. */
export function describeDate(entry) {
  const lunar = /^lunar:(\d{2})-(\d{2})$/.exec(entry);
  if (lunar) {
    const month = Number(lunar[1]);
    const day = Number(lunar[2]);
    const monthWords = lunarMonthWords(month);
    const words = day === 15 ? t("lt.lunarRam", { month: monthWords })
      : day <= 10 ? t("lt.lunarMung", { day, month: monthWords })
        : t("lt.lunarDayOf", { day, month: monthWords });
    return t("lt.lunar", { words });
  }
  const yearly = /^(\d{2})-(\d{2})$/.exec(entry);
  if (yearly) return t("lt.yearly", { day: Number(yearly[2]), month: Number(yearly[1]) });
  if (/^\d{4}-\d{2}-\d{2}$/.test(entry)) return formatFullDate(entry);
  return entry;
}

function formatFullDate(isoDate) {
  const [y, m, d] = isoDate.split("-").map(Number);
  return lang() === "vi" ? `${d}/${m}/${y}` : `${d}/${m}/${y}`;
}

function numberSelect(from, to, words = (n) => String(n)) {
  const options = [];
  for (let n = from; n <= to; n += 1) options.push(el("option", { value: String(n) }, words(n)));
  return el("select", {}, options);
}

function calendarEditor(calendar, done) {
  const isNew = !calendar;
  const dates = [...(calendar?.dates || [])];
  const ranges = (calendar?.ranges || []).map((r) => [...r]);
  const name = el("input", { type: "text", maxlength: "200", value: calendar?.name || "" });
  const id = isNew ? el("input", { type: "text", required: true, pattern: ID_PATTERN, maxlength: "64",
    autocapitalize: "none", spellcheck: "false" }) : null;
  const holidays = el("input", { type: "checkbox", id: uid("hol") });
  holidays.checked = calendar?.public_holidays === "VN";
  const otherCountry = calendar?.public_holidays && calendar.public_holidays !== "VN"
    ? calendar.public_holidays : null;
  const problem = el("p", { className: "error", role: "alert" });
  const dateList = el("ul", { className: "lt-list", "data-list": "dates" });
  const rangeList = el("ul", { className: "lt-list", "data-list": "ranges" });
  const draw = () => {
    dateList.replaceChildren(...(dates.length ? dates.map((entry, index) => el("li", { "data-date": entry },
      el("span", {}, describeDate(entry)),
      el("button", { type: "button", className: "secondary icon-only",
        "aria-label": t("lt.removeEntry", { what: describeDate(entry) }),
        onclick: () => { dates.splice(index, 1); draw(); } }, icon("trash"))))
      : [el("li", { className: "muted" }, t("lt.noDates"))]));
    rangeList.replaceChildren(...(ranges.length ? ranges.map(([from, to], index) => {
      const words = t("lt.range", { from: formatFullDate(from), to: formatFullDate(to) });
      return el("li", {}, el("span", {}, words),
        el("button", { type: "button", className: "secondary icon-only",
          "aria-label": t("lt.removeEntry", { what: words }),
          onclick: () => { ranges.splice(index, 1); draw(); } }, icon("trash")));
    }) : [el("li", { className: "muted" }, t("lt.noRanges"))]));
  };
  draw();
  // adding a date: yearly (day, month), lunar (lunar day, lunar month) or one date
  const kind = el("select", { "data-role": "date-kind", onchange: () => syncKind() },
    ["yearly", "lunar", "once"].map((k) => el("option", { value: k }, t(`lt.dk.${k}`))));
  const day = numberSelect(1, 31);
  const month = numberSelect(1, 12);
  const lunarDay = numberSelect(1, 30);
  lunarDay.dataset.role = "lunar-day";
  const lunarMonth = numberSelect(1, 12, (n) => `${n} (${lunarMonthWords(n)})`);
  lunarMonth.dataset.role = "lunar-month";
  const once = el("input", { type: "date" });
  const yearlyRow = el("div", { className: "lt-pair" }, field("lt.day", day), field("lt.month", month));
  const lunarRow = el("div", { className: "lt-pair" }, field("lt.lunarDay", lunarDay),
    field("lt.lunarMonth", lunarMonth));
  const onceRow = field("lt.date", once);
  const syncKind = () => {
    yearlyRow.hidden = kind.value !== "yearly";
    lunarRow.hidden = kind.value !== "lunar";
    onceRow.hidden = kind.value !== "once";
  };
  syncKind();
  const two = (n) => String(n).padStart(2, "0");
  const addDate = () => {
    let entry = null;
    if (kind.value === "yearly") entry = `${two(month.value)}-${two(day.value)}`;
    else if (kind.value === "lunar") entry = `lunar:${two(lunarMonth.value)}-${two(lunarDay.value)}`;
    else if (once.value) entry = once.value;
    if (entry && !dates.includes(entry)) dates.push(entry);
    draw();
  };
  const from = el("input", { type: "date" });
  const to = el("input", { type: "date" });
  const addRange = () => {
    problem.textContent = "";
    if (!from.value || !to.value) return;
    if (to.value < from.value) { problem.textContent = t("lt.badRange"); return; }
    ranges.push([from.value, to.value]);
    from.value = "";
    to.value = "";
    draw();
  };
  const save = async (event) => {
    event.preventDefault();
    problem.textContent = "";
    const body = { name: name.value.trim(), dates, ranges,
      public_holidays: holidays.checked ? "VN" : otherCountry };
    try {
      if (isNew) await api("/calendars", { method: "POST", json: { id: id.value.trim(), ...body } });
      else await api(`/calendars/${encodeURIComponent(calendar.id)}`, { method: "PUT", json: body });
      say(t("lt.calendarSaved", { name: body.name || (isNew ? id.value.trim() : calendar.id) }));
      await done();
    } catch (error) { problem.textContent = errorText(error); }
  };
  return el("form", { className: "card lt-editor", "data-editor": "calendar", onsubmit: save },
    el("h3", {}, isNew ? t("lt.newCalendar") : t("lt.editCalendar", { name: calendar.name || calendar.id })),
    id ? field("lt.calendarId", id, "lt.programIdHint") : null,
    field("lt.calendarName", name),
    el("label", { className: "choice", for: holidays.id }, holidays, t("lt.publicHolidays")),
    otherCountry ? el("p", { className: "muted" }, t("lt.holidaysOf", { code: otherCountry })) : null,
    el("h4", {}, t("lt.dates")), dateList,
    el("fieldset", { className: "lt-add" }, el("legend", {}, t("lt.addDate")),
      field("lt.dateKind", kind), yearlyRow, lunarRow, onceRow,
      el("button", { type: "button", className: "secondary", "data-action": "add-date", onclick: addDate },
        icon("plus"), t("lt.addDate"))),
    el("h4", {}, t("lt.ranges")), rangeList,
    el("fieldset", { className: "lt-add" }, el("legend", {}, t("lt.addRange")),
      el("div", { className: "lt-pair" }, field("lt.rangeFrom", from), field("lt.rangeTo", to)),
      el("button", { type: "button", className: "secondary", "data-action": "add-range", onclick: addRange },
        icon("plus"), t("lt.addRange"))),
    problem,
    el("div", { className: "actions" },
      el("button", { type: "submit", "data-action": "save" }, t("save")),
      el("button", { type: "button", className: "secondary", onclick: () => done() }, t("cancel"))));
}

function calendarCard(calendar, programs, edit, remove) {
  const label = calendar.name || calendar.id;
  const parts = [...calendar.dates.map(describeDate),
    ...calendar.ranges.map(([from, to]) => t("lt.range", { from: formatFullDate(from), to: formatFullDate(to) }))];
  if (calendar.public_holidays) {
    parts.unshift(calendar.public_holidays === "VN" ? t("lt.holidaysVN")
      : t("lt.holidaysOf", { code: calendar.public_holidays }));
  }
  const users = calendar.programs.map((id) => programs.find((p) => p.id === id)?.name || id);
  return el("li", { "data-calendar": calendar.id },
    el("h3", {}, label, calendar.name ? el("span", { className: "muted" }, ` (${calendar.id})`) : null),
    parts.length ? el("ul", { className: "lt-windows-words" }, parts.map((p) => el("li", {}, p)))
      : el("p", { className: "muted" }, t("lt.nothingInCalendar")),
    users.length ? el("p", { className: "muted" }, t("lt.usedBy", { names: users.join(", ") })) : null,
    can("technician") ? el("div", { className: "actions" },
      el("button", { type: "button", className: "secondary", "data-action": "edit",
        "aria-label": t("lt.editLong", { name: label }), onclick: edit }, icon("edit"), t("edit")),
      el("button", { type: "button", className: "danger", "data-action": "delete",
        "aria-label": t("lt.deleteLong", { name: label }), onclick: remove }, icon("trash"), t("delete")))
      : null);
}

// -- the view -------------------------------------------------------------------------------------------

async function render(container) {
  const duration = el("select", { id: "lt-duration", "data-role": "duration" },
    DURATIONS.map(([value, key]) => el("option", { value }, t(key))));
  duration.value = "60";
  const circuitList = el("ul", { className: "cards", id: "lt-circuits" });
  const overrideBox = el("div", { id: "lt-overrides" });
  const programBox = el("div", { id: "lt-programs" });
  const calendarBox = el("div", { id: "lt-calendars" });
  let data = { circuits: [], overrides: [], programs: [], calendars: [] };
  let shown = "";

  const drawCircuits = () => {
    // Drawn again only when something changed, so a poll does not move the focus.
    const key = JSON.stringify([data.circuits, data.overrides, lang()]);
    if (key === shown) return;
    shown = key;
    circuitList.replaceChildren(...(data.circuits.length
      ? data.circuits.map((c) => circuitCard(c, data.overrides, data.calendars, duration, refreshCircuits))
      : [el("li", { className: "muted" }, t("lt.noCircuits"))]));
    overrideBox.replaceChildren(overridesList(data.overrides, data.circuits, refreshCircuits));
  };
  const refreshCircuits = async () => {
    const [circuits, overrides] = await Promise.all([getJson("/circuits"), getJson("/overrides")]);
    data = { ...data, circuits, overrides };
    drawCircuits();
  };
  const drawPrograms = () => {
    programBox.replaceChildren(
      data.programs.length ? el("ul", { className: "cards" }, data.programs.map((program) =>
        programCard(program, data.circuits, data.calendars,
          () => programBox.replaceChildren(programEditor(program, data.calendars, reloadSchedules)),
          () => deleteProgram(program)))) : el("p", { className: "muted" }, t("lt.noPrograms")),
      can("technician") ? el("button", { type: "button", "data-action": "new-program",
        onclick: () => programBox.replaceChildren(programEditor(null, data.calendars, reloadSchedules)) },
      icon("plus"), t("lt.newProgram")) : null);
  };
  const drawCalendars = () => {
    calendarBox.replaceChildren(
      data.calendars.length ? el("ul", { className: "cards" }, data.calendars.map((calendar) =>
        calendarCard(calendar, data.programs,
          () => calendarBox.replaceChildren(calendarEditor(calendar, reloadSchedules)),
          () => deleteCalendar(calendar)))) : el("p", { className: "muted" }, t("lt.noCalendars")),
      can("technician") ? el("button", { type: "button", "data-action": "new-calendar",
        onclick: () => calendarBox.replaceChildren(calendarEditor(null, reloadSchedules)) },
      icon("plus"), t("lt.newCalendar")) : null);
  };
  const reloadSchedules = async () => {
    const [programs, calendars] = await Promise.all([getJson("/lighting-programs"), getJson("/calendars")]);
    data = { ...data, programs, calendars };
    shown = "";
    drawCircuits();
    drawPrograms();
    drawCalendars();
  };
  const deleteProgram = async (program) => {
    const name = program.name || program.id;
    if (!(await confirmAction(t("lt.confirmDeleteProgram", { name })))) return;
    try {
      await api(`/lighting-programs/${encodeURIComponent(program.id)}`, { method: "DELETE" });
      say(t("lt.deleted", { name }));
    } catch (error) {
      say(error.status === 409 ? t("lt.programInUse") : errorText(error));
    }
    await reloadSchedules();
  };
  const deleteCalendar = async (calendar) => {
    const name = calendar.name || calendar.id;
    if (!(await confirmAction(t("lt.confirmDeleteCalendar", { name })))) return;
    try {
      await api(`/calendars/${encodeURIComponent(calendar.id)}`, { method: "DELETE" });
      say(t("lt.deleted", { name }));
    } catch (error) {
      say(error.status === 409 ? t("lt.calendarInUse") : errorText(error));
    }
    await reloadSchedules();
  };

  const [circuits, overrides, programs, calendars] = await Promise.all([getJson("/circuits"),
    getJson("/overrides"), getJson("/lighting-programs"), getJson("/calendars")]);
  data = { circuits, overrides, programs, calendars };
  drawCircuits();
  drawPrograms();
  drawCalendars();
  onStatus(() => { refreshCircuits().catch(() => {}); });

  container.append(
    el("h2", { className: "view-title" }, t("lt.title")),
    el("section", { className: "card lt-section", "aria-labelledby": "lt-h-circuits" },
      el("h2", { id: "lt-h-circuits" }, t("lt.circuits")),
      can("technician") ? field("lt.forHowLong", duration) : null,
      circuitList),
    el("section", { className: "card lt-section", "aria-labelledby": "lt-h-overrides" },
      el("h2", { id: "lt-h-overrides" }, t("lt.overrides")), overrideBox),
    el("section", { className: "card lt-section", "aria-labelledby": "lt-h-programs" },
      el("h2", { id: "lt-h-programs" }, t("lt.programs")), programBox),
    el("section", { className: "card lt-section", "aria-labelledby": "lt-h-calendars" },
      el("h2", { id: "lt-h-calendars" }, t("lt.calendars")), calendarBox));
}

registerView({ id: "lighting", icon: "bulb", title: "lt.title", minRole: "viewer", render });
