// The notifications view (Thông báo cảnh báo; technicians read it, admins change it): who is
// told of alarms, by SMS, e-mail or webhook, of which severities and kinds, with quiet hours or
// a daily digest; adding, editing and removing recipients, then saving the list
// (GET/PUT /api/v1/notify/recipients); "Gửi thử" sends a test now through the real channel
// (POST /notify/test) and says what happened; the log of what was sent or failed
// (GET /notify/log). A webhook's secret is never shown: typed, it replaces the one kept.
import {
  addWords, api, can, confirmAction, el, errorText, field, formatDateTime, getJson, icon,
  registerView, say, t,
} from "./core.js";
import { kindWords } from "./health.js";

const CHANNELS = ["sms", "email", "webhook"];
const SEVERITIES = ["alarm", "warning", "info"];
// The kinds of incident (docs/notifications.md); a relay board's inputs are named in the
// config, and a recipient's kinds not listed here are kept and shown by their name.
const KINDS = ["device_offline", "device_error", "relay_not_following", "lamp_failure",
  "day_burner", "relay_drift", "clock_implausible", "clock_unsynchronised", "clock_step",
  "broadcast_failed", "broadcast_missed", "zone_switch_failed", "node_offline", "node_no_ack",
  "firmware_rollout_failed"];
const ID_PATTERN = "[a-z0-9][a-z0-9_\\-]{0,63}";
const INPUT_TYPES = { sms: "tel", email: "email", webhook: "url" };
const LOG_LIMIT = 50;

addWords({
  vi: {
    "nf.nav": "Cảnh báo", "nf.title": "Thông báo cảnh báo", "nf.recipients": "Người nhận",
    "nf.none": "Chưa có người nhận nào: cảnh báo chưa được gửi cho ai.",
    "nf.fromConfig": "Danh sách lấy từ tệp cấu hình. Lưu ở đây thì danh sách này được dùng thay.",
    "nf.fromStorage": "Danh sách đã lưu trong trang (thay cho danh sách trong tệp cấu hình).",
    "nf.readOnly": "Chỉ quản trị viên được sửa danh sách và gửi thử.",
    "nf.ch.sms": "Tin nhắn SMS", "nf.ch.email": "Thư điện tử", "nf.ch.webhook": "Webhook",
    "nf.id": "Mã người nhận", "nf.idHint": "Chữ thường, số, - và _; không đổi được sau khi lưu.",
    "nf.name": "Tên", "nf.nameHint": "Ví dụ: Anh Tuấn (kỹ thuật).", "nf.channel": "Kênh gửi",
    "nf.address": "Địa chỉ",
    "nf.address.sms": "Số điện thoại, ví dụ +84912345678 hoặc 0912345678.",
    "nf.address.email": "Địa chỉ thư, ví dụ chutich@xa-thieulong.vn.",
    "nf.address.webhook": "Địa chỉ http:// hoặc https:// nhận tin.",
    "nf.secret": "Khóa ký (không bắt buộc)",
    "nf.secretHint": "Để trống thì giữ khóa đang có. Khóa không bao giờ được hiển thị.",
    "nf.hasSecret": "Có khóa ký", "nf.removeSecret": "Bỏ khóa ký",
    "nf.severities": "Mức độ được báo", "nf.kinds": "Loại sự việc", "nf.allKinds": "Tất cả các loại",
    "nf.kindsN": "{n} loại", "nf.kind.broadcast_missed": "Bản tin bị lỡ, không phát",
    "nf.quiet": "Giờ yên lặng", "nf.quietFrom": "Yên lặng từ", "nf.quietTo": "đến",
    "nf.quietHint": "Để trống: không có. Trong giờ này chỉ cảnh báo nghiêm trọng được gửi ngay, việc khác chờ đến hết giờ.",
    "nf.quietHalf": "Giờ yên lặng cần cả giờ bắt đầu và giờ kết thúc.",
    "nf.quietN": "Yên lặng {from}–{to}", "nf.digest": "Chỉ gửi bản tóm tắt mỗi ngày",
    "nf.digestOn": "Tóm tắt hằng ngày", "nf.noSeverity": "Chọn ít nhất một mức độ.",
    "nf.noKind": "Chọn ít nhất một loại, hoặc tất cả.", "nf.sameId": "Mã {id} đã có.",
    "nf.add": "Thêm người nhận", "nf.editLong": "Sửa {name}", "nf.deleteLong": "Xóa {name}",
    "nf.confirmDelete": "Xóa {name} khỏi danh sách? Việc xóa có hiệu lực khi lưu danh sách.",
    "nf.apply": "Xong", "nf.editing": "Sửa người nhận", "nf.adding": "Người nhận mới",
    "nf.unsaved": "Có thay đổi chưa lưu.", "nf.save": "Lưu danh sách", "nf.undo": "Bỏ thay đổi",
    "nf.saved": "Đã lưu danh sách người nhận", "nf.test": "Gửi thử",
    "nf.testLong": "Gửi thử đến {name}", "nf.testing": "Đang gửi thử đến {name}…",
    "nf.testFirst": "Lưu danh sách trước khi gửi thử.",
    "nf.testOk": "Đã gửi thử đến {name} qua {channel}.",
    "nf.testFail": "Không gửi được đến {name} qua {channel}.",
    "nf.later": "Có thể gửi được khi thử lại sau (mạng, modem hoặc máy nhận đang trục trặc).",
    "nf.never": "Gửi lại cũng không được: kiểm tra địa chỉ và cài đặt của kênh.",
    "nf.log": "Nhật ký gửi", "nf.noLog": "Chưa gửi tin nào.", "nf.sent": "Đã gửi",
    "nf.failed": "Không gửi được", "nf.gaveUp": "Đã bỏ, không gửi nữa", "nf.isTest": "Tin thử",
    "nf.attempt": "lần thứ {n}", "nf.retryAt": "Sẽ thử lại lúc {time}",
    "nf.details": "Chi tiết kỹ thuật", "nf.badField": "{who}: {what} không hợp lệ.",
    "nf.field.id": "mã", "nf.field.name": "tên", "nf.field.channel": "kênh gửi",
    "nf.field.address": "địa chỉ", "nf.field.secret": "khóa ký",
    "nf.field.severities": "mức độ", "nf.field.kinds": "loại sự việc",
    "nf.field.quiet_hours": "giờ yên lặng", "nf.field.digest": "tóm tắt",
    "nf.channelMissing": "{who}: kênh {channel} chưa được cài đặt trên bộ điều khiển.",
  },
  en: {
    "nf.nav": "Alerts", "nf.title": "Alarm notifications", "nf.recipients": "Recipients",
    "nf.none": "No recipients: alarms are sent to nobody.",
    "nf.fromConfig": "The list comes from the configuration file. Saved here, this list is used instead.",
    "nf.fromStorage": "The list saved in the page (used instead of the configuration file's).",
    "nf.readOnly": "Only an administrator can change the list and send tests.",
    "nf.ch.sms": "SMS", "nf.ch.email": "E-mail", "nf.ch.webhook": "Webhook",
    "nf.id": "Recipient id", "nf.idHint": "Lower case, digits, - and _; cannot change once saved.",
    "nf.name": "Name", "nf.nameHint": "For example: Tuan (technician).", "nf.channel": "Channel",
    "nf.address": "Address",
    "nf.address.sms": "A phone number, e.g. +84912345678 or 0912345678.",
    "nf.address.email": "An e-mail address, e.g. chairman@example.vn.",
    "nf.address.webhook": "The http:// or https:// address that receives it.",
    "nf.secret": "Signing key (optional)",
    "nf.secretHint": "Empty: keep the key it has. A key is never shown.",
    "nf.hasSecret": "Signed", "nf.removeSecret": "Remove the signing key",
    "nf.severities": "Severities", "nf.kinds": "Kinds of incident", "nf.allKinds": "Every kind",
    "nf.kindsN": "{n} kinds", "nf.kind.broadcast_missed": "Broadcast missed, not played",
    "nf.quiet": "Quiet hours", "nf.quietFrom": "Quiet from", "nf.quietTo": "to",
    "nf.quietHint": "Empty: none. In them only alarms go at once; the rest waits until they end.",
    "nf.quietHalf": "Quiet hours need both a start and an end.",
    "nf.quietN": "Quiet {from}–{to}", "nf.digest": "Only a daily summary",
    "nf.digestOn": "Daily summary", "nf.noSeverity": "Choose at least one severity.",
    "nf.noKind": "Choose at least one kind, or every kind.", "nf.sameId": "The id {id} exists already.",
    "nf.add": "Add a recipient", "nf.editLong": "Edit {name}", "nf.deleteLong": "Delete {name}",
    "nf.confirmDelete": "Remove {name} from the list? It takes effect when the list is saved.",
    "nf.apply": "Done", "nf.editing": "Edit recipient", "nf.adding": "New recipient",
    "nf.unsaved": "There are unsaved changes.", "nf.save": "Save the list", "nf.undo": "Discard changes",
    "nf.saved": "Recipients saved", "nf.test": "Send a test",
    "nf.testLong": "Send a test to {name}", "nf.testing": "Sending a test to {name}…",
    "nf.testFirst": "Save the list before sending a test.",
    "nf.testOk": "Test sent to {name} by {channel}.",
    "nf.testFail": "Could not send to {name} by {channel}.",
    "nf.later": "It may work when tried later (network, modem or receiver trouble).",
    "nf.never": "Trying again will not help: check the address and the channel's settings.",
    "nf.log": "Sending log", "nf.noLog": "Nothing sent yet.", "nf.sent": "Sent",
    "nf.failed": "Not sent", "nf.gaveUp": "Given up", "nf.isTest": "Test",
    "nf.attempt": "attempt {n}", "nf.retryAt": "Tried again at {time}",
    "nf.details": "Technical detail", "nf.badField": "{who}: the {what} is not valid.",
    "nf.field.id": "id", "nf.field.name": "name", "nf.field.channel": "channel",
    "nf.field.address": "address", "nf.field.secret": "signing key",
    "nf.field.severities": "severities", "nf.field.kinds": "kinds",
    "nf.field.quiet_hours": "quiet hours", "nf.field.digest": "daily summary",
    "nf.channelMissing": "{who}: the {channel} channel is not set up on the controller.",
  },
});

let uidCounter = 0;
const uid = (prefix) => `nf-${prefix}-${++uidCounter}`;

function kindName(kind) {
  return kind === "broadcast_missed" ? t("nf.kind.broadcast_missed") : kindWords({ kind });
}

function who(recipient) { return recipient.name || recipient.id; }

function channelName(channel) { return t(`nf.ch.${channel}`); }

function details(text) {
  if (!text) return null;
  return el("details", { className: "hl-details" }, el("summary", {}, t("nf.details")),
    el("p", { lang: "en" }, text));
}

/** A group of checkboxes or radios as big labelled choices. */
function choices(legend, type, name, options, chosen) {
  const inputs = options.map(([value, words]) => {
    const input = el("input", { type, name, value, id: uid(name) });
    input.checked = chosen.includes(value);
    return { input, label: el("label", { className: "choice", for: input.id }, input, words) };
  });
  const box = el("fieldset", {}, el("legend", {}, legend),
    el("div", { className: "choices" }, inputs.map((i) => i.label)));
  return { box, inputs: inputs.map((i) => i.input),
    values: () => inputs.filter((i) => i.input.checked).map((i) => i.input.value) };
}

/** The editor of one recipient: calls done(recipient) with the new values, or cancel(). */
function editor(recipient, taken, done, cancel) {
  const fresh = !recipient;
  const r = recipient || { id: "", name: "", channel: "sms", address: "", has_secret: false,
    severities: ["alarm"], kinds: "all", quiet_hours: null, digest: false };
  const problem = el("p", { className: "error", role: "alert" });
  const id = el("input", { type: "text", value: r.id, required: true, pattern: ID_PATTERN,
    maxlength: "64", autocomplete: "off", autocapitalize: "none", spellcheck: "false",
    name: "recipient-id", readOnly: !fresh });
  const name = el("input", { type: "text", value: r.name, maxlength: "100", name: "recipient-name" });
  const channel = choices(t("nf.channel"), "radio", uid("channel"),
    CHANNELS.map((c) => [c, channelName(c)]), [r.channel]);
  const address = el("input", { type: INPUT_TYPES[r.channel], value: r.address, required: true,
    maxlength: "300", autocomplete: "off", autocapitalize: "none", spellcheck: "false",
    name: "recipient-address" });
  const addressRow = field("nf.address", address, `nf.address.${r.channel}`);
  const secret = el("input", { type: "password", autocomplete: "new-password", maxlength: "200",
    name: "recipient-secret" });
  const removeSecret = el("input", { type: "checkbox", id: uid("nosecret") });
  const secretRow = el("div", {}, field("nf.secret", secret, "nf.secretHint"),
    r.has_secret ? el("label", { className: "choice", for: removeSecret.id }, removeSecret,
      t("nf.removeSecret")) : null);
  const severities = choices(t("nf.severities"), "checkbox", uid("sev"),
    SEVERITIES.map((s) => [s, t(`hl.sev.${s}`)]), r.severities);
  const kindsChosen = r.kinds === "all" ? [] : r.kinds;
  const extra = kindsChosen.filter((k) => !KINDS.includes(k));
  const kinds = choices(t("nf.kinds"), "checkbox", uid("kind"),
    [...KINDS, ...extra].map((k) => [k, kindName(k)]), kindsChosen);
  const all = el("input", { type: "checkbox", id: uid("all"), "data-field": "all-kinds" });
  all.checked = r.kinds === "all";
  kinds.box.querySelector(".choices").before(
    el("label", { className: "choice", for: all.id }, all, t("nf.allKinds")));
  const [from, to] = (r.quiet_hours || "-").split("-");
  const quietFrom = el("input", { type: "time", value: from, name: "quiet-from" });
  const quietTo = el("input", { type: "time", value: to, name: "quiet-to" });
  const digest = el("input", { type: "checkbox", id: uid("digest") });
  digest.checked = r.digest;

  const sync = () => {
    const chosen = channel.values()[0] || "sms";
    address.type = INPUT_TYPES[chosen];
    addressRow.querySelector(".hint").textContent = t(`nf.address.${chosen}`);
    secretRow.hidden = chosen !== "webhook";
    for (const input of kinds.inputs) input.closest("label").hidden = all.checked;
  };
  for (const input of channel.inputs) input.addEventListener("change", sync);
  all.addEventListener("change", sync);
  sync();

  const form = el("form", { className: "nf-editor", "data-editor": fresh ? "new" : r.id,
    onsubmit: (event) => {
      event.preventDefault();
      problem.textContent = "";
      const chosen = channel.values()[0];
      const picked = kinds.values();
      if (!severities.values().length) { problem.textContent = t("nf.noSeverity"); return; }
      if (!all.checked && !picked.length) { problem.textContent = t("nf.noKind"); return; }
      if (Boolean(quietFrom.value) !== Boolean(quietTo.value)) {
        problem.textContent = t("nf.quietHalf"); return;
      }
      if (fresh && taken.includes(id.value.trim())) {
        problem.textContent = t("nf.sameId", { id: id.value.trim() }); return;
      }
      const next = { id: id.value.trim(), name: name.value.trim(), channel: chosen,
        address: address.value.trim(), severities: severities.values(),
        kinds: all.checked ? "all" : picked,
        quiet_hours: quietFrom.value ? `${quietFrom.value}-${quietTo.value}` : null,
        digest: digest.checked, has_secret: chosen === "webhook" && r.has_secret };
      if (chosen === "webhook" && secret.value) { next.secret = secret.value; next.has_secret = true; }
      if (chosen === "webhook" && removeSecret.checked && !secret.value) {
        next.secret = ""; next.has_secret = false;
      }
      done(next);
    } },
  el("h3", {}, t(fresh ? "nf.adding" : "nf.editing")),
  field("nf.id", id, "nf.idHint"), field("nf.name", name, "nf.nameHint"), channel.box,
  addressRow, secretRow, severities.box, kinds.box,
  el("fieldset", {}, el("legend", {}, t("nf.quiet")),
    el("div", { className: "us-row" }, field("nf.quietFrom", quietFrom), field("nf.quietTo", quietTo)),
    el("p", { className: "hint" }, t("nf.quietHint"))),
  el("label", { className: "choice", for: digest.id }, digest, t("nf.digest")),
  problem,
  el("div", { className: "actions" },
    el("button", { type: "submit", "data-action": "apply" }, icon("check"), t("nf.apply")),
    el("button", { type: "button", className: "secondary", "data-action": "cancel-edit",
      onclick: cancel }, t("cancel"))));
  return form;
}

function summary(r) {
  const parts = [r.severities.map((s) => t(`hl.sev.${s}`)).join(", "),
    r.kinds === "all" ? t("nf.allKinds")
      : r.kinds.length <= 2 ? r.kinds.map(kindName).join(", ") : t("nf.kindsN", { n: r.kinds.length })];
  if (r.quiet_hours) {
    const [from, to] = r.quiet_hours.split("-");
    parts.push(t("nf.quietN", { from, to }));
  }
  if (r.digest) parts.push(t("nf.digestOn"));
  return parts.join(" · ");
}

/** What the API said of a PUT, in words: which recipient and which of its fields. */
function saveError(error, draft) {
  const match = /^recipients\.(\d+)\.(\w+)/.exec(error.field || "");
  if (!match) return errorText(error);
  const recipient = draft[Number(match[1])];
  const name = recipient ? who(recipient) : match[1];
  if (match[2] === "channel" && recipient && CHANNELS.includes(recipient.channel)) {
    return t("nf.channelMissing", { who: name, channel: channelName(recipient.channel) });
  }
  const what = `nf.field.${match[2]}`;
  return t("nf.badField", { who: name, what: t(what) === what ? match[2] : t(what) });
}

function outcomeBadge(record) {
  if (record.outcome === "sent") return el("span", { className: "badge ok", "data-field": "outcome" }, t("nf.sent"));
  return el("span", { className: `badge ${record.gave_up ? "bad" : "warn"}`, "data-field": "outcome" },
    record.gave_up ? t("nf.gaveUp") : t("nf.failed"));
}

function logItem(record, names) {
  return el("li", { "data-log": record.id, "data-recipient": record.recipient },
    el("div", { className: "us-head" },
      el("h3", {}, icon(record.channel === "email" ? "file" : record.channel === "sms" ? "device" : "tower"),
        " ", names[record.recipient] || record.recipient),
      outcomeBadge(record)),
    el("p", { className: "muted" }, formatDateTime(record.time),
      record.channel ? ` · ${channelName(record.channel)}` : "",
      record.test ? ` · ${t("nf.isTest")}` : "",
      record.attempt && record.attempt > 1 ? ` · ${t("nf.attempt", { n: record.attempt })}` : "",
      record.retry_at ? ` · ${t("nf.retryAt", { time: formatDateTime(record.retry_at) })}` : ""),
    details(record.error || ""));
}

async function render(container) {
  const admin = can("admin");
  const answer = await getJson("/notify/recipients");
  let saved = answer.recipients;
  let source = answer.source;
  let draft = saved.map((r) => ({ ...r }));
  let dirty = false;
  let editing = null; // a recipient's id, "" for a new one, null for none

  const list = el("ul", { className: "cards", id: "nf-list" });
  const sourceLine = el("p", { className: "muted", id: "nf-source" });
  const bar = el("div", { id: "nf-unsaved" });
  const saveProblem = el("p", { className: "error", role: "alert", id: "nf-save-error" });
  const logList = el("ul", { className: "cards", id: "nf-log" });
  const names = () => Object.fromEntries([...saved, ...draft].map((r) => [r.id, who(r)]));

  const refreshLog = async () => {
    const records = await getJson(`/notify/log?limit=${LOG_LIMIT}`);
    const known = names();
    logList.replaceChildren(...(records.length ? records.map((r) => logItem(r, known))
      : [el("li", { className: "muted" }, t("nf.noLog"))]));
  };

  const test = async (recipient, line) => {
    line.textContent = t("nf.testing", { name: who(recipient) });
    line.className = "muted";
    try {
      const result = (await (await api("/notify/test", { method: "POST",
        json: { recipient: recipient.id } })).json()).results[0];
      const words = { name: who(recipient), channel: channelName(result.channel) };
      line.replaceChildren(result.ok ? t("nf.testOk", words)
        : `${t("nf.testFail", words)} ${t(result.retryable ? "nf.later" : "nf.never")}`);
      line.className = result.ok ? "nf-result ok" : "nf-result error";
      if (!result.ok) line.append(details(result.error));
      say(result.ok ? t("nf.testOk", words) : t("nf.testFail", words));
    } catch (error) {
      line.className = "nf-result error";
      line.textContent = errorText(error);
    }
    await refreshLog();
  };

  const card = (r, index) => {
    const result = el("div", { className: "nf-result", role: "status", "data-field": "test-result" });
    const isSaved = !dirty && saved.some((s) => s.id === r.id);
    return el("li", { "data-recipient": r.id },
      el("div", { className: "us-head" },
        el("h3", {}, icon(r.channel === "email" ? "file" : r.channel === "sms" ? "device" : "tower"),
          " ", who(r)),
        el("span", { className: "badge", "data-field": "channel" }, channelName(r.channel))),
      el("p", { className: "nf-address", "data-field": "address" }, r.address,
        r.has_secret ? el("span", { className: "badge info" }, " ", t("nf.hasSecret")) : null),
      el("p", { className: "muted", "data-field": "summary" }, summary(r)),
      admin ? el("div", { className: "actions" },
        el("button", { type: "button", "data-action": "test", disabled: !isSaved,
          "aria-label": t("nf.testLong", { name: who(r) }),
          "aria-describedby": isSaved ? null : "nf-test-first",
          onclick: () => test(r, result) }, icon("bell"), t("nf.test")),
        el("button", { type: "button", className: "secondary", "data-action": "edit",
          "aria-label": t("nf.editLong", { name: who(r) }),
          onclick: () => { editing = r.id; draw(); } }, icon("edit"), t("edit")),
        el("button", { type: "button", className: "danger", "data-action": "delete",
          "aria-label": t("nf.deleteLong", { name: who(r) }),
          onclick: async () => {
            if (await confirmAction(t("nf.confirmDelete", { name: who(r) }))) {
              draft.splice(index, 1); dirty = true; draw();
            }
          } }, icon("trash"), t("delete"))) : null,
      result);
  };

  const draw = () => {
    sourceLine.textContent = t(source === "storage" ? "nf.fromStorage" : "nf.fromConfig");
    const items = draft.map((r, index) => (editing === r.id
      ? el("li", { "data-recipient": r.id }, editor(r, [], (next) => {
        draft[index] = next; dirty = true; editing = null; draw();
      }, () => { editing = null; draw(); }))
      : card(r, index)));
    if (editing === "") {
      items.push(el("li", {}, editor(null, draft.map((r) => r.id), (next) => {
        draft.push(next); dirty = true; editing = null; draw();
      }, () => { editing = null; draw(); })));
    }
    list.replaceChildren(...(items.length ? items : [el("li", { className: "muted" }, t("nf.none"))]));
    bar.replaceChildren();
    if (!admin) return;
    if (dirty) {
      bar.append(el("p", { className: "badge warn" }, t("nf.unsaved")),
        el("p", { className: "hint", id: "nf-test-first" }, t("nf.testFirst")),
        el("div", { className: "actions" },
          el("button", { type: "button", "data-action": "save", onclick: save }, icon("check"), t("nf.save")),
          el("button", { type: "button", className: "secondary", "data-action": "undo", onclick: () => {
            draft = saved.map((r) => ({ ...r })); dirty = false; editing = null;
            saveProblem.textContent = ""; draw();
          } }, t("nf.undo"))));
    }
    if (editing === null) {
      bar.append(el("div", { className: "actions" },
        el("button", { type: "button", className: "secondary", "data-action": "add-recipient",
          onclick: () => { editing = ""; draw(); } }, icon("plus"), t("nf.add"))));
    }
  };

  const save = async () => {
    saveProblem.textContent = "";
    const body = draft.map(({ has_secret: _, quiet_hours: quiet, ...r }) => (
      quiet ? { ...r, quiet_hours: quiet } : r));
    try {
      const stored = await (await api("/notify/recipients", { method: "PUT",
        json: { recipients: body } })).json();
      saved = stored.recipients;
      source = stored.source;
      draft = saved.map((r) => ({ ...r }));
      dirty = false;
      say(t("nf.saved"));
      draw();
    } catch (error) { saveProblem.textContent = saveError(error, draft); }
  };

  draw();
  await refreshLog();
  container.append(
    el("h2", { className: "view-title" }, t("nf.title")),
    el("section", { className: "card", "aria-labelledby": "nf-h-list" },
      el("h2", { id: "nf-h-list" }, t("nf.recipients")), sourceLine,
      admin ? null : el("p", { className: "muted" }, t("nf.readOnly")),
      list, bar, saveProblem),
    el("section", { className: "card", "aria-labelledby": "nf-h-log" },
      el("h2", { id: "nf-h-log" }, t("nf.log")), logList));
}

registerView({ id: "notify", icon: "bell", title: "nf.nav", minRole: "technician", render });
