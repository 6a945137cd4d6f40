// The health view (Tình trạng): the controller's clock, the field devices on Modbus (online,
// last answer, latency, last error, a probe for technicians), field nodes on MQTT, and the
// alarms: open ones with their acknowledgement, and the history of alarms and events
// (GET /api/v1/events). Kinds and severities are said in words; the controller's own English
// detail of an alarm is kept behind "Chi tiết kỹ thuật", marked as English.
import {
  addWords, api, can, el, errorText, field, formatDateTime, getJson, icon, lang, onStatus,
  registerView, say, t,
} from "./core.js";

// Every kind the controller raises or notes (grep raise_alarm/note/set in controller/):
// platform/clock_guard.py, lighting/coordinator.py, lighting/service.py, radio/coordinator.py,
// radio/zones.py, nodes/node_zones.py, nodes/mqtt_port.py, nodes/firmware.py. A relay board's
// digital inputs raise alarms named in the config ([[devices]] inputs), shown as "input".
const KINDS = {
  vi: {
    device_offline: "Thiết bị mất kết nối", device_error: "Thiết bị trả lời sai",
    relay_not_following: "Rơ-le không làm theo lệnh", relay_drift: "Rơ-le tự đổi trạng thái",
    lamp_failure: "Đèn hỏng (mạch bật mà không có dòng điện)",
    day_burner: "Đèn sáng ban ngày (mạch tắt mà vẫn có dòng điện)",
    clock_unsynchronised: "Đồng hồ chưa đồng bộ", clock_implausible: "Đồng hồ sai",
    clock_step: "Đồng hồ bị chỉnh", node_offline: "Thiết bị hiện trường mất kết nối",
    node_no_ack: "Thiết bị hiện trường không xác nhận lệnh",
    firmware_rollout: "Cập nhật phần mềm thiết bị",
    firmware_rollout_failed: "Cập nhật phần mềm thiết bị thất bại",
    broadcast_failed: "Phát thanh thất bại", zone_switch_failed: "Không bật được khu vực loa",
    override: "Điều khiển tay",
  },
  en: {
    device_offline: "Device offline", device_error: "Device answers wrongly",
    relay_not_following: "Relay not following its command", relay_drift: "Relay changed by itself",
    lamp_failure: "Lamp failure (circuit on, no current)",
    day_burner: "Day burner (circuit off, current flowing)",
    clock_unsynchronised: "Clock not synchronised", clock_implausible: "Clock is wrong",
    clock_step: "Clock was set", node_offline: "Field node offline",
    node_no_ack: "Field node did not acknowledge", firmware_rollout: "Node firmware rollout",
    firmware_rollout_failed: "Node firmware rollout failed", broadcast_failed: "Broadcast failed",
    zone_switch_failed: "Loudspeaker zone could not be switched", override: "Manual control",
  },
};

addWords({
  vi: {
    "hl.title": "Tình trạng", "hl.clock": "Đồng hồ", "hl.devices": "Thiết bị",
    "hl.nodes": "Thiết bị hiện trường (MQTT)", "hl.openAlarms": "Cảnh báo đang mở",
    "hl.history": "Lịch sử cảnh báo và sự kiện", "hl.noDevices": "Không có thiết bị nào.",
    "hl.noNodes": "Không có thiết bị hiện trường nào.", "hl.noOpen": "Không có cảnh báo nào đang mở.",
    "hl.noHistory": "Chưa có sự kiện nào.",
    "hl.synced": "Đã đồng bộ giờ", "hl.notSynced": "Chưa đồng bộ giờ",
    "hl.clockNow": "Giờ của bộ điều khiển: {time}", "hl.startedAt": "Chạy từ {time}",
    "hl.version": "Phiên bản {version}", "hl.clockAlarm": "{kind} (từ {time})",
    "hl.online": "Trực tuyến", "hl.offline": "Mất kết nối", "hl.notAsked": "Chưa hỏi",
    "hl.where": "Đường truyền {bus}, địa chỉ {unit}", "hl.lastOk": "Trả lời lần cuối",
    "hl.latency": "Thời gian trả lời", "hl.ms": "{n} ms", "hl.downSince": "Mất kết nối từ",
    "hl.lastError": "Lỗi gần nhất", "hl.counts": "Số lần hỏi / lỗi",
    "hl.never": "chưa bao giờ", "hl.none": "không có",
    "hl.probe": "Kiểm tra ngay", "hl.probeLong": "Kiểm tra ngay {id}",
    "hl.probing": "Đang hỏi {id}…",
    "hl.probeOk": "{id} trả lời sau {ms} ms", "hl.probeFail": "{id} không trả lời",
    "hl.channels": "Rơ-le", "hl.inputs": "Tín hiệu vào", "hl.levels": "Mức",
    "hl.chOn": "{n}: bật", "hl.chOff": "{n}: tắt",
    "hl.voltage_v": "Điện áp (V)", "hl.current_a": "Dòng điện (A)", "hl.power_w": "Công suất (W)",
    "hl.energy_kwh": "Điện năng (kWh)",
    "hl.profile.relay": "Bảng rơ-le {n} kênh", "hl.profile.sdm120": "Công tơ điện SDM120",
    "hl.profile.dimmer": "Bộ điều chỉnh độ sáng",
    "hl.lastSeen": "Liên lạc lần cuối", "hl.telemetry": "Số liệu",
    "hl.nodeOnline": "Trực tuyến", "hl.nodeOffline": "Mất kết nối",
    "hl.sev.info": "Thông tin", "hl.sev.warning": "Cần chú ý", "hl.sev.alarm": "Nghiêm trọng",
    "hl.typeAlarm": "Cảnh báo", "hl.typeEvent": "Sự kiện",
    "hl.input": "Tín hiệu vào “{name}” đang bật",
"hl.since": "Từ {time}", "hl.clearedAt": "Đã hết lúc {time}",
    "hl.stillOpen": "Vẫn đang mở", "hl.ackedBy": "Đã xác nhận bởi {by} lúc {time}",
    "hl.ack": "Xác nhận", "hl.ackLong": "Xác nhận: {kind} trên {target}",
    "hl.acked": "Đã xác nhận cảnh báo", "hl.details": "Chi tiết kỹ thuật (tiếng Anh)",
    "hl.show": "Hiện", "hl.show.all": "Tất cả", "hl.show.warning": "Cần chú ý trở lên",
    "hl.show.alarm": "Chỉ nghiêm trọng",
  },
  en: {
    "hl.title": "Health", "hl.clock": "Clock", "hl.devices": "Devices",
    "hl.nodes": "Field nodes (MQTT)", "hl.openAlarms": "Open alarms",
    "hl.history": "Alarm and event history", "hl.noDevices": "No devices.",
    "hl.noNodes": "No field nodes.", "hl.noOpen": "No open alarms.",
    "hl.noHistory": "No events yet.",
    "hl.synced": "Time synchronised", "hl.notSynced": "Time not synchronised",
    "hl.clockNow": "Controller time: {time}", "hl.startedAt": "Running since {time}",
    "hl.version": "Version {version}", "hl.clockAlarm": "{kind} (since {time})",
    "hl.online": "Online", "hl.offline": "Offline", "hl.notAsked": "Not asked yet",
    "hl.where": "Bus {bus}, unit {unit}", "hl.lastOk": "Last answer",
    "hl.latency": "Answer time", "hl.ms": "{n} ms", "hl.downSince": "Offline since",
    "hl.lastError": "Last error", "hl.counts": "Requests / failures",
    "hl.never": "never", "hl.none": "none",
    "hl.probe": "Probe now", "hl.probeLong": "Probe now: {id}",
    "hl.probing": "Asking {id}…",
    "hl.probeOk": "{id} answered in {ms} ms", "hl.probeFail": "{id} does not answer",
    "hl.channels": "Relays", "hl.inputs": "Inputs", "hl.levels": "Levels",
    "hl.chOn": "{n}: on", "hl.chOff": "{n}: off",
    "hl.voltage_v": "Voltage (V)", "hl.current_a": "Current (A)", "hl.power_w": "Power (W)",
    "hl.energy_kwh": "Energy (kWh)",
    "hl.profile.relay": "{n}-channel relay board", "hl.profile.sdm120": "SDM120 energy meter",
    "hl.profile.dimmer": "Dimmer",
    "hl.lastSeen": "Last seen", "hl.telemetry": "Telemetry",
    "hl.nodeOnline": "Online", "hl.nodeOffline": "Offline",
    "hl.sev.info": "Info", "hl.sev.warning": "Warning", "hl.sev.alarm": "Alarm",
    "hl.typeAlarm": "Alarm", "hl.typeEvent": "Event",
    "hl.input": "Input “{name}” is active",
"hl.since": "Since {time}", "hl.clearedAt": "Cleared at {time}",
    "hl.stillOpen": "Still open", "hl.ackedBy": "Acknowledged by {by} at {time}",
    "hl.ack": "Acknowledge", "hl.ackLong": "Acknowledge: {kind} on {target}",
    "hl.acked": "Alarm acknowledged", "hl.details": "Technical detail",
    "hl.show": "Show", "hl.show.all": "Everything", "hl.show.warning": "Warnings and alarms",
    "hl.show.alarm": "Alarms only",
  },
});

export function kindWords(record) {
  const words = KINDS[lang() === "en" ? "en" : "vi"][record.kind];
  // A kind not in the list is a relay board's input, named in the config.
  return words || t("hl.input", { name: record.kind });
}

/** What an alarm is about: a device, circuit, zone or node by its id; the clock in words. */
function targetWords(target) {
  return target === "clock" ? t("hl.clock") : target;
}

function severityBadge(severity) {
  const known = ["info", "warning", "alarm"].includes(severity) ? severity : "info";
  const tone = { info: "info", warning: "warn", alarm: "bad" }[known];
  return el("span", { className: `badge ${tone}`, "data-severity": known }, t(`hl.sev.${known}`));
}

function details(text) {
  if (!text) return null;
  return el("details", { className: "hl-details" }, el("summary", {}, t("hl.details")),
    el("p", { lang: "en" }, text));
}

function profileWords(profile) {
  const relay = /^relay(\d+)$/.exec(profile);
  if (relay) return t("hl.profile.relay", { n: relay[1] });
  if (profile === "sdm120" || profile === "dimmer") return t(`hl.profile.${profile}`);
  return profile;
}

function facts(rows) {
  return el("dl", { className: "hl-facts" }, rows.filter(Boolean).map(([term, value, key]) => [
    el("dt", {}, term), el("dd", key ? { "data-field": key } : {}, value)]));
}

function onlineBadge(online) {
  if (online === null || online === undefined) return el("span", { className: "badge" }, t("hl.notAsked"));
  return el("span", { className: `badge ${online ? "ok" : "bad"}`, "data-online": String(online) },
    online ? t("hl.online") : t("hl.offline"));
}

function probeResult(answer) {
  if (!answer.reachable) {
    return el("div", { className: "hl-probe", role: "status" },
      el("p", {}, el("span", { className: "badge bad" }, t("hl.probeFail", { id: answer.id }))),
      details(answer.error));
  }
  const read = answer.read || {};
  const rows = [];
  for (const [key, values] of Object.entries(read)) {
    if (Array.isArray(values)) {
      const label = t(`hl.${key}`);
      const text = values.map((v, n) => (typeof v === "boolean"
        ? t(v ? "hl.chOn" : "hl.chOff", { n }) : `${n}: ${v}`)).join(", ");
      rows.push([label, text]);
    } else {
      rows.push([t(`hl.${key}`), String(values)]);
    }
  }
  return el("div", { className: "hl-probe", role: "status" },
    el("p", {}, el("span", { className: "badge ok" }, t("hl.probeOk", { id: answer.id, ms: answer.latency_ms }))),
    facts(rows));
}

function deviceCard(device) {
  const result = el("div", { className: "hl-probe-result" });
  const probe = async (event) => {
    const button = event.currentTarget;
    button.disabled = true;
    result.replaceChildren(el("p", { className: "muted" }, t("hl.probing", { id: device.id })));
    try {
      const answer = await (await api(`/devices/${encodeURIComponent(device.id)}/probe`,
        { method: "POST" })).json();
      result.replaceChildren(probeResult(answer));
    } catch (error) {
      result.replaceChildren(el("p", { className: "error", role: "alert" }, errorText(error)));
    } finally {
      button.disabled = false;
    }
  };
  return el("li", { "data-device": device.id },
    el("div", { className: "hl-head" }, el("h3", {}, device.id), onlineBadge(device.online)),
    el("p", { className: "muted" }, profileWords(device.profile), " · ",
      t("hl.where", { bus: device.bus, unit: device.unit })),
    facts([
      [t("hl.lastOk"), device.last_ok_at ? formatDateTime(device.last_ok_at) : t("hl.never"), "last_ok_at"],
      [t("hl.latency"), device.latency_ms === null ? "–" : t("hl.ms", { n: device.latency_ms }), "latency"],
      device.down_since ? [t("hl.downSince"), formatDateTime(device.down_since), "down_since"] : null,
      [t("hl.counts"), `${device.transactions} / ${device.failures}`],
      [t("hl.lastError"), device.last_error ? details(device.last_error) : t("hl.none"), "last_error"],
    ]),
    can("technician") ? el("div", { className: "actions" },
      el("button", { type: "button", className: "secondary", "data-action": "probe",
        "aria-label": t("hl.probeLong", { id: device.id }), onclick: probe }, icon("refresh"), t("hl.probe")))
      : null,
    result);
}

function nodeCard(node) {
  const telemetry = Object.entries(node.telemetry || {});
  const online = node.status === "online";
  return el("li", { "data-node": node.id },
    el("div", { className: "hl-head" }, el("h3", {}, node.id),
      el("span", { className: `badge ${online ? "ok" : "bad"}` },
        online ? t("hl.nodeOnline") : t("hl.nodeOffline"))),
    facts([
      [t("hl.lastSeen"), node.last_seen ? formatDateTime(node.last_seen) : t("hl.never")],
      telemetry.length ? [t("hl.telemetry"), telemetry.map(([k, v]) =>
        `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`).join(", ")] : null,
    ]));
}

function eventItem(record, refresh) {
  const isAlarm = record.type === "alarm";
  const open = isAlarm && !record.cleared_at;
  const kind = kindWords(record);
  const ack = async () => {
    try {
      await api(`/events/${encodeURIComponent(record.id)}/ack`, { method: "POST" });
      say(t("hl.acked"));
    } catch (error) { say(errorText(error)); }
    await refresh();
  };
  return el("li", { className: `hl-event${open ? " open" : ""}`, "data-event": record.id,
    "data-kind": record.kind },
  el("div", { className: "hl-head" },
    el("h3", {}, kind), severityBadge(record.severity)),
  el("p", {}, isAlarm ? t("hl.typeAlarm") : t("hl.typeEvent"), " · ", targetWords(record.target),
    " · ", formatDateTime(record.time)),
  isAlarm ? el("p", { "data-field": "state" },
    record.cleared_at ? t("hl.clearedAt", { time: formatDateTime(record.cleared_at) }) : t("hl.stillOpen"))
    : null,
  record.acked_by ? el("p", { className: "muted", "data-field": "acked" },
    t("hl.ackedBy", { by: record.acked_by, time: formatDateTime(record.acked_at) })) : null,
  details(record.message),
  isAlarm && !record.acked_by && can("technician") ? el("div", { className: "actions" },
    el("button", { type: "button", "data-action": "ack",
      "aria-label": t("hl.ackLong", { kind, target: targetWords(record.target) }), onclick: ack },
    icon("check"), t("hl.ack"))) : null);
}

async function render(container) {
  const clockBox = el("div", { id: "hl-clock" });
  const deviceList = el("ul", { className: "cards", id: "hl-devices" });
  const nodeList = el("ul", { className: "cards", id: "hl-nodes" });
  const openList = el("ul", { className: "cards", id: "hl-open" });
  const historyList = el("ul", { className: "cards", id: "hl-history" });
  const severity = el("select", { "data-role": "severity", onchange: () => drawEvents() },
    ["all", "warning", "alarm"].map((s) => el("option", { value: s }, t(`hl.show.${s}`))));
  let shown = "";

  const drawClock = (health, current) => {
    const clockAlarms = (current?.alarms || []).filter((a) => a.target === "clock");
    clockBox.replaceChildren(
      el("p", {}, el("span", { className: `badge ${health.clock_synced ? "ok" : "bad"}`,
        "data-field": "clock-synced" }, health.clock_synced ? t("hl.synced") : t("hl.notSynced"))),
      current ? el("p", {}, t("hl.clockNow", { time: formatDateTime(current.time) })) : null,
      current ? el("p", { className: "muted" }, t("hl.startedAt", { time: formatDateTime(current.started_at) }),
        " · ", t("hl.version", { version: health.version })) : null,
      ...clockAlarms.map((a) => el("p", { className: "error" },
        t("hl.clockAlarm", { kind: kindWords(a), time: formatDateTime(a.time) }))));
  };
  const drawDevices = (devices) => {
    deviceList.replaceChildren(...(devices.length ? devices.map(deviceCard)
      : [el("li", { className: "muted" }, t("hl.noDevices"))]));
  };
  const drawNodes = (nodes) => {
    nodeList.replaceChildren(...(nodes.length ? nodes.map(nodeCard)
      : [el("li", { className: "muted" }, t("hl.noNodes"))]));
  };
  const drawEvents = async () => {
    const least = severity.value === "all" ? "" : `&severity=${severity.value}`;
    const [open, history] = await Promise.all([getJson("/events?open=true&limit=100"),
      getJson(`/events?limit=50${least}`)]);
    openList.replaceChildren(...(open.length ? open.map((r) => eventItem(r, refreshAll))
      : [el("li", { className: "muted" }, t("hl.noOpen"))]));
    historyList.replaceChildren(...(history.length ? history.map((r) => eventItem(r, refreshAll))
      : [el("li", { className: "muted" }, t("hl.noHistory"))]));
  };
  const refreshAll = async () => {
    const [health, current, devices, nodes] = await Promise.all([getJson("/health"),
      getJson("/status"), getJson("/devices"), getJson("/nodes")]);
    drawClock(health, current);
    // Devices and alarms are drawn again only when they changed, so that an open probe result
    // or a focused button stays put while the page polls.
    const key = JSON.stringify([devices.map((d) => [d.id, d.online, d.last_error, d.down_since]),
      current.alarms.map((a) => [a.id, a.acked_by]), nodes]);
    if (key !== shown) {
      shown = key;
      drawDevices(devices);
      drawNodes(nodes);
      await drawEvents();
    }
  };
  await refreshAll();
  onStatus(() => { refreshAll().catch(() => {}); });

  container.append(
    el("h2", { className: "view-title" }, t("hl.title")),
    el("section", { className: "card hl-section", "aria-labelledby": "hl-h-open" },
      el("h2", { id: "hl-h-open" }, t("hl.openAlarms")), openList),
    el("section", { className: "card hl-section", "aria-labelledby": "hl-h-clock" },
      el("h2", { id: "hl-h-clock" }, t("hl.clock")), clockBox),
    el("section", { className: "card hl-section", "aria-labelledby": "hl-h-devices" },
      el("h2", { id: "hl-h-devices" }, t("hl.devices")), deviceList),
    el("section", { className: "card hl-section", "aria-labelledby": "hl-h-nodes" },
      el("h2", { id: "hl-h-nodes" }, t("hl.nodes")), nodeList),
    el("section", { className: "card hl-section", "aria-labelledby": "hl-h-history" },
      el("h2", { id: "hl-h-history" }, t("hl.history")), field("hl.show", severity), historyList));
}

registerView({ id: "health", icon: "heart", title: "hl.title", minRole: "viewer", render });
