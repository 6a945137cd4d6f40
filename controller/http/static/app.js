// The dashboard: every action goes through the same JSON API (/api/v1) and roles as any
// other client; the token is kept in this browser's localStorage. No build step, nothing
// loaded from the internet (a gateway is often offline).

const API = "/api/v1";
const WORDS = {
  vi: {
    signIn: "Đăng nhập", signOut: "Đăng xuất", token: "Mã truy cập (token)",
    circuits: "Chiếu sáng", duration: "Thời gian", radio: "Truyền thanh", stop: "Dừng phát",
    alarms: "Cảnh báo", tonight: "Lịch tối nay", announce: "Phát thông báo",
    text: "Nội dung (máy đọc)", orFile: "Hoặc tệp âm thanh", zones: "Khu vực",
    when: "Thời gian (để trống: phát ngay)", level: "Mức độ", normal: "Thông thường",
    priority: "Ưu tiên", emergency: "Khẩn cấp", send: "Gửi", sendAnyway: "Vẫn gửi",
    log: "Nhật ký phát", csv: "Tải CSV", xlsx: "Tải Excel", on: "Bật", off: "Tắt",
    schedule: "Theo lịch",
    ack: "Đã biết", nothingOnAir: "Không phát", onAir: "Đang phát", noAlarms: "Không có cảnh báo",
    sent: "Đã gửi thông báo", online: "trực tuyến", offline: "mất kết nối",
    source_schedule: "theo lịch", source_override: "điều khiển tay", source_default: "mặc định",
    source_failsafe: "an toàn (đồng hồ sai)", all: "Tất cả", badToken: "Mã không đúng",
    needText: "Nhập nội dung hoặc chọn tệp", nothingPlanned: "Không có lịch",
    sunset: "Mặt trời lặn", sunrise: "Mặt trời mọc",
  },
  en: {
    signIn: "Sign in", signOut: "Sign out", token: "Access token", circuits: "Lighting",
    duration: "Duration", radio: "Radio", stop: "Stop", alarms: "Alarms",
    tonight: "Tonight", announce: "Announce", text: "Text (read out)",
    orFile: "Or an audio file", zones: "Zones", when: "When (empty: now)", level: "Level",
    normal: "Normal", priority: "Priority", emergency: "Emergency", send: "Send",
    sendAnyway: "Send anyway", log: "Broadcast log", csv: "Download CSV", xlsx: "Download Excel",
    on: "On", off: "Off", schedule: "Schedule", ack: "Acknowledge", nothingOnAir: "Nothing on air",
    onAir: "On air", noAlarms: "No alarms", sent: "Announcement sent", online: "online",
    offline: "offline", source_schedule: "schedule", source_override: "override",
    source_default: "default", source_failsafe: "fail-safe (clock)", all: "All",
    badToken: "Wrong token", needText: "Type a text or choose a file",
    nothingPlanned: "Nothing planned", sunset: "Sunset", sunrise: "Sunrise",
  },
};

let lang = localStorage.getItem("communectl.lang") || "vi";
const t = (key) => WORDS[lang][key] ?? key;
const $ = (id) => document.getElementById(id);
let status = null;

function translate() {
  document.documentElement.lang = lang;
  $("lang").textContent = lang === "vi" ? "English" : "Tiếng Việt";
  for (const element of document.querySelectorAll("[data-i18n]")) {
    element.textContent = t(element.dataset.i18n);
  }
}

class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message || `HTTP ${status}`);
    this.status = status;
    this.field = body?.error?.field;
  }
}

async function api(path, { method = "GET", json, form } = {}) {
  const headers = { Authorization: `Bearer ${localStorage.getItem("communectl.token")}` };
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form) {
    body = form;
  }
  const response = await fetch(API + path, { method, headers, body });
  if (response.status === 401) {
    signOut();
    throw new ApiError(401, await response.json().catch(() => null));
  }
  if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => null));
  return response.status === 204 ? null : response;
}

const getJson = async (path) => (await api(path)).json();

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "onclick") node.addEventListener("click", value);
    else if (key === "className") node.className = value;
    else node.setAttribute(key, value);
  }
  node.append(...children.filter((c) => c !== null && c !== undefined));
  return node;
}

function localTime(iso) {
  return new Date(iso).toLocaleString(lang === "vi" ? "vi-VN" : "en-GB",
    { timeZone: status?.site?.timezone, hour: "2-digit", minute: "2-digit", day: "2-digit",
      month: "2-digit" });
}

function say(message) {
  $("message").textContent = message;
  setTimeout(() => { if ($("message").textContent === message) $("message").textContent = ""; },
    5000);
}

// -- rendering ---------------------------------------------------------------------------------

function renderCircuits(overrides) {
  $("circuits").replaceChildren(...status.circuits.map((circuit) => {
    const desired = circuit.desired;
    const actual = circuit.actual ? `${circuit.actual.state} ${circuit.actual.level}%` : "?";
    const own = overrides.filter((o) => o.target === `circuit:${circuit.id}`);
    return element("li", { "data-circuit": circuit.id },
      element("strong", {}, circuit.name), " ",
      element("span", { className: `badge ${desired.state}` },
        `${desired.state === "on" ? t("on") : t("off")} ${desired.level}%`), " ",
      element("span", { className: "muted" },
        `${t(`source_${desired.source}`)} · ${actual} · ${circuit.device_online === false ? t("offline") : t("online")}`),
      element("div", {},
        element("button", { type: "button", "data-action": "on", onclick: () => force(circuit, "on") }, t("on")),
        element("button", { type: "button", className: "secondary", "data-action": "off", onclick: () => force(circuit, "off") }, t("off")),
        own.length ? element("button", { type: "button", className: "secondary", "data-action": "schedule", onclick: () => release(own) }, t("schedule")) : null));
  }));
}

function renderRadio() {
  const item = status.broadcast;
  $("on-air").textContent = item ? `${t("onAir")}: ${item.title} (${item.level})` : t("nothingOnAir");
  $("stop").hidden = !item;
  $("zones").replaceChildren(...status.zones.map((zone) =>
    element("li", { className: zone.on ? "on" : "" }, zone.name)));
  const choice = $("zone-choice");
  if (choice.querySelectorAll("input").length !== status.zones.length) {
    choice.replaceChildren(element("legend", { "data-i18n": "zones" }, t("zones")),
      ...status.zones.map((zone) => element("label", {},
        element("input", { type: "checkbox", name: "zone", value: zone.id, checked: "" }),
        zone.name)));
  }
}

function renderAlarms() {
  if (!status.alarms.length) {
    $("alarms").replaceChildren(element("li", { className: "muted" }, t("noAlarms")));
    return;
  }
  $("alarms").replaceChildren(...status.alarms.map((alarm) => element("li", {},
    element("span", { className: `badge ${alarm.severity}` }, alarm.severity), " ",
    `${alarm.target}: ${alarm.message} `,
    element("span", { className: "muted" }, localTime(alarm.time)), " ",
    alarm.acknowledged_by ? null : element("button", { type: "button", className: "small secondary",
      onclick: () => acknowledge(alarm.id) }, t("ack")))));
}

async function renderPlan() {
  const [plan, programs] = await Promise.all([getJson("/plan?days=1"),
    getJson("/broadcast-programs")]);
  const now = Date.now();
  // The plan lists broadcasts too; they are shown below from the programmes' next airings.
  const entries = plan.entries.filter((e) => e.kind === "lighting" && Date.parse(e.time) >= now).map((e) => ({
    time: e.time, text: `💡 ${e.name || e.target}: ${e.state === "on" ? t("on") : t("off")}${e.level && e.level < 100 ? ` ${e.level}%` : ""} (${e.rule || e.program})` }));
  for (const program of programs) {
    for (const time of program.next_airings) {
      if (Date.parse(time) - now < 24 * 3600 * 1000) entries.push({ time, text: `📢 ${program.name || program.id}` });
    }
  }
  for (const [key, icon] of [["sunset", "🌇"], ["sunrise", "🌅"]]) {
    const time = status.site[key];
    if (time && Date.parse(time) >= now) entries.push({ time, text: `${icon} ${t(key)}` });
  }
  entries.sort((a, b) => Date.parse(a.time) - Date.parse(b.time));
  $("plan").replaceChildren(...(entries.length ? entries.slice(0, 20).map((e) =>
    element("li", {}, element("strong", {}, localTime(e.time)), " ", e.text))
    : [element("li", { className: "muted" }, t("nothingPlanned"))]));
}

async function renderLog() {
  const records = (await getJson("/broadcasts/log")).reverse().slice(0, 30);
  $("log").replaceChildren(...records.map((record) => element("li", { "data-ref": record.ref },
    element("span", { className: `badge ${record.outcome || "on"}` }, record.outcome || t("onAir")), " ",
    element("strong", {}, record.title), " ",
    element("span", { className: "muted" },
      `${localTime(record.started_at || record.due)} · ${record.zones.join(", ")}${record.reason ? ` · ${record.reason}` : ""}`))));
}

async function refresh() {
  try {
    status = await getJson("/status");
    const overrides = await getJson("/overrides");
    $("site-name").textContent = status.site.name;
    $("clock").textContent = localTime(status.time);
    renderCircuits(overrides);
    renderRadio();
    renderAlarms();
    await Promise.all([renderPlan(), renderLog()]);
  } catch (error) {
    if (error.status !== 401) say(error.message);
  }
}

// -- actions -----------------------------------------------------------------------------------

async function force(circuit, state) {
  try {
    await api("/overrides", { method: "POST", json: { target: `circuit:${circuit.id}`, state,
      duration_min: Number($("duration").value), reason: "dashboard" } });
    await refresh();
  } catch (error) { say(error.message); }
}

async function release(overrides) {
  try {
    for (const override of overrides) await api(`/overrides/${override.id}`, { method: "DELETE" });
    await refresh();
  } catch (error) { say(error.message); }
}

async function acknowledge(id) {
  try { await api(`/events/${id}/ack`, { method: "POST" }); await refresh(); }
  catch (error) { say(error.message); }
}

async function announce(force = false) {
  $("announce-error").textContent = "";
  $("force").hidden = true;
  try {
    let source;
    const file = $("file").files[0];
    if (file) {
      const form = new FormData();
      form.append("file", file);
      const audio = await (await api("/audio", { method: "POST", form })).json();
      source = { type: "audio", audio_id: audio.id };
    } else if ($("text").value.trim()) {
      source = { type: "tts", text: $("text").value.trim() };
    } else {
      $("announce-error").textContent = t("needText");
      return;
    }
    const zones = [...document.querySelectorAll("input[name=zone]:checked")].map((z) => z.value);
    const body = { source, zones: zones.length === status.zones.length ? "all" : zones,
      level: $("level").value, force };
    // datetime-local is the site's local time; the API reads a time without offset as such.
    if ($("when").value) body.at = $("when").value;
    await api("/announcements", { method: "POST", json: body });
    $("text").value = "";
    $("file").value = "";
    say(t("sent"));
    await refresh();
  } catch (error) {
    $("announce-error").textContent = error.message;
    $("force").hidden = error.status !== 409;
  }
}

// The log as a file for the office (docs/exports.md): "csv" or "xlsx".
async function downloadLog(format) {
  try {
    const blob = await (await api(`/broadcasts/log?format=${format}`)).blob();
    const link = element("a", { href: URL.createObjectURL(blob),
                                download: `broadcasts.${format}` });
    link.click();
    URL.revokeObjectURL(link.href);
  } catch (error) { say(error.message); }
}

// -- signing in --------------------------------------------------------------------------------

function signedIn(yes) {
  $("sign-in").hidden = yes;
  $("app").hidden = !yes;
  $("sign-out").hidden = !yes;
}

function signOut() {
  localStorage.removeItem("communectl.token");
  signedIn(false);
}

async function signIn(event) {
  event.preventDefault();
  localStorage.setItem("communectl.token", $("token").value.trim());
  try {
    await getJson("/status");
    $("sign-in-error").textContent = "";
    signedIn(true);
    await refresh();
  } catch {
    $("sign-in-error").textContent = t("badToken");
  }
}

$("sign-in-form").addEventListener("submit", signIn);
$("sign-out").addEventListener("click", signOut);
$("lang").addEventListener("click", () => {
  lang = lang === "vi" ? "en" : "vi";
  localStorage.setItem("communectl.lang", lang);
  translate();
  if (status) refresh();
});
$("announce-form").addEventListener("submit", (event) => { event.preventDefault(); announce(); });
$("force").addEventListener("click", () => announce(true));
$("stop").addEventListener("click", async () => {
  try { await api("/broadcasts/stop", { method: "POST" }); await refresh(); }
  catch (error) { say(error.message); }
});
$("csv").addEventListener("click", () => downloadLog("csv"));
$("xlsx").addEventListener("click", () => downloadLog("xlsx"));

translate();
if (localStorage.getItem("communectl.token")) {
  signedIn(true);
  refresh();
}
setInterval(() => { if (!$("app").hidden) refresh(); }, 5000);
