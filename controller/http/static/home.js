// "Tổng quan": the first thing a clerk or a technician sees: what is on air (and Stop for a
// technician), the street lights in short, open alarms, and what happens next tonight.
import {
  addWords, api, can, confirmAction, el, errorText, formatDateTime, formatTime, getJson, icon, onStatus,
  refreshStatus, registerView, say, status, t,
} from "./core.js";

addWords({
  vi: {
    home: "Tổng quan", onAir: "Đang phát", nothingOnAir: "Không phát gì",
    stopAir: "Dừng phát", stopped: "Đã dừng phát", confirmStop: "Dừng bản tin đang phát?",
    lightsShort: "Đèn đường", lightsOn: "{on}/{all} mạch đang bật", devicesOffline: "{n} thiết bị mất kết nối",
    allDevicesOnline: "Mọi thiết bị đang kết nối", alarmsOpen: "Cảnh báo", alarmsCount: "{n} đang mở",
    noAlarms: "Không có cảnh báo", tonight: "Sắp tới", sunsetAt: "Mặt trời lặn",
    sunriseAt: "Mặt trời mọc", lightsOnAt: "Bật đèn: {name}", lightsOffAt: "Tắt đèn: {name}",
    lightsLevelAt: "Đèn {name} còn {level}%", nextBroadcast: "Phát thanh: {name}",
    waitingApproval: "chờ duyệt", nothingNext: "Không có gì trong 24 giờ tới",
    zonesOn: "Loa đang bật: {zones}", overridesActive: "{n} lệnh điều khiển tay",
    kind_program: "Chương trình", kind_announcement: "Thông báo",
    level_normal: "Thông thường", level_priority: "Ưu tiên", level_emergency: "Khẩn cấp",
    since: "từ {time}",
  },
  en: {
    home: "Overview", onAir: "On air", nothingOnAir: "Nothing on air",
    stopAir: "Stop", stopped: "Stopped", confirmStop: "Stop what is on air?",
    lightsShort: "Street lights", lightsOn: "{on} of {all} circuits on", devicesOffline: "{n} device(s) offline",
    allDevicesOnline: "Every device online", alarmsOpen: "Alarms", alarmsCount: "{n} open",
    noAlarms: "No alarms", tonight: "Coming up", sunsetAt: "Sunset", sunriseAt: "Sunrise",
    lightsOnAt: "Lights on: {name}", lightsOffAt: "Lights off: {name}",
    lightsLevelAt: "{name} dims to {level}%", nextBroadcast: "Broadcast: {name}",
    waitingApproval: "waiting for approval", nothingNext: "Nothing in the next 24 hours",
    zonesOn: "Loudspeakers on: {zones}", overridesActive: "{n} manual override(s)",
    kind_program: "Programme", kind_announcement: "Announcement",
    level_normal: "Normal", level_priority: "Priority", level_emergency: "Emergency",
    since: "since {time}",
  },
});

function onAirCard(current) {
  const item = current.broadcast;
  const zoneNames = Object.fromEntries(current.zones.map((z) => [z.id, z.name]));
  const body = el("section", { className: "card", id: "on-air", "aria-labelledby": "on-air-title" },
    el("h2", { id: "on-air-title" }, icon("radio"), " ", item ? t("onAir") : t("nothingOnAir")));
  if (item) {
    body.append(
      el("p", {}, el("strong", {}, item.title || t(`kind_${item.kind}`)), " ",
        el("span", { className: `badge ${item.level === "normal" ? "info" : "bad"}` },
          t(`level_${item.level}`))),
      el("p", { className: "muted" }, t(`kind_${item.kind}`), " · ",
        t("since", { time: formatTime(item.started_at || item.due) }), " · ",
        t("zonesOn", { zones: (item.zones_on || item.zones).map((z) => zoneNames[z] || z).join(", ") })));
    if (can("technician")) {
      body.append(el("button", { type: "button", className: "danger", id: "home-stop",
        onclick: stopAir }, icon("stop"), t("stopAir")));
    }
  }
  return body;
}

export async function stopAir() {
  if (!(await confirmAction(t("confirmStop")))) return;
  try {
    await api("/broadcasts/stop", { method: "POST" });
    say(t("stopped"));
    await refreshStatus();
  } catch (error) { say(errorText(error)); }
}

function tiles(current) {
  const counts = current.counts;
  return el("div", { className: "tiles" },
    el("a", { className: "tile", href: "#/lighting", id: "home-lights" },
      el("span", { className: "row" }, icon("bulb"), el("strong", {}, t("lightsShort"))),
      el("span", { className: "big" }, `${counts.circuits_on}/${counts.circuits}`),
      el("span", { className: "muted" }, t("lightsOn", { on: counts.circuits_on, all: counts.circuits })),
      counts.overrides_active ? el("span", { className: "badge warn" },
        t("overridesActive", { n: counts.overrides_active })) : null),
    el("a", { className: "tile", href: "#/health", id: "home-alarms" },
      el("span", { className: "row" }, icon("bell"), el("strong", {}, t("alarmsOpen"))),
      el("span", { className: "big" }, String(counts.alarms_open)),
      el("span", { className: counts.alarms_open ? "badge bad" : "badge ok" },
        counts.alarms_open ? t("alarmsCount", { n: counts.alarms_open }) : t("noAlarms"))),
    el("div", { className: "tile wide", id: "home-devices" },
      el("span", { className: "row" }, icon(counts.devices_offline ? "offline" : "device"),
        counts.devices_offline
          ? el("span", { className: "badge bad" }, t("devicesOffline", { n: counts.devices_offline }))
          : el("span", { className: "badge ok" }, t("allDevicesOnline")))));
}

function lightingWords(entry) {
  if (entry.state === "off") return t("lightsOffAt", { name: entry.name || entry.target });
  if (entry.level < 100) return t("lightsLevelAt", { name: entry.name || entry.target, level: entry.level });
  return t("lightsOnAt", { name: entry.name || entry.target });
}

async function nextList(current) {
  const now = Date.now();
  const horizon = now + 24 * 3600 * 1000;
  const plan = await getJson("/plan?days=2");
  const items = [];
  for (const [key, iconName, words] of [["sunset", "sunset", "sunsetAt"], ["sunrise", "sunrise", "sunriseAt"]]) {
    const time = current.site[key];
    if (time && Date.parse(time) >= now && Date.parse(time) < horizon) {
      items.push({ time, iconName, text: t(words) });
    }
  }
  // Lights: one line per moment and change, naming the circuits together.
  const lighting = new Map();
  for (const entry of plan.entries) {
    const at = Date.parse(entry.time);
    if (at < now || at >= horizon) continue;
    if (entry.kind === "lighting") {
      const key = `${entry.time}|${entry.state}|${entry.level}`;
      const group = lighting.get(key) || { ...entry, names: [] };
      group.names.push(entry.name || entry.target);
      lighting.set(key, group);
    } else if (entry.kind === "broadcast") {
      items.push({ time: entry.time, iconName: "radio",
        text: t("nextBroadcast", { name: entry.name || entry.target }),
        extra: entry.status === "waiting_approval" ? t("waitingApproval") : null });
    }
  }
  for (const group of lighting.values()) {
    items.push({ time: group.time, iconName: group.state === "off" ? "moon" : "bulb",
      text: lightingWords({ ...group, name: group.names.join(", ") }) });
  }
  items.sort((a, b) => Date.parse(a.time) - Date.parse(b.time));
  return el("section", { className: "card", "aria-labelledby": "next-title" },
    el("h2", { id: "next-title" }, icon("clock"), " ", t("tonight")),
    items.length
      ? el("ol", { className: "timeline", id: "home-next" }, items.slice(0, 12).map((item) =>
        el("li", {}, el("time", { datetime: item.time }, formatTime(item.time)), icon(item.iconName),
          el("span", {}, item.text, item.extra ? el("span", { className: "badge warn" }, item.extra) : null))))
      : el("p", { className: "empty" }, t("nothingNext")));
}

registerView({
  id: "home", icon: "home", title: "home", minRole: "viewer",
  async render(container) {
    const current = status() || (await refreshStatus());
    const top = el("div", {});
    const draw = (fresh) => top.replaceChildren(onAirCard(fresh), tiles(fresh));
    draw(current);
    container.append(el("h2", { className: "sr-only" }, t("home")), top, await nextList(current),
      el("p", { className: "muted" }, formatDateTime(current.time)));
    onStatus(draw);
  },
});
