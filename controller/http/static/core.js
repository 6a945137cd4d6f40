// The page's shell: the API client (cookie session + CSRF header), words in two languages,
// element helpers, the sign-in screen, the header and its account dialog, the view router and
// the /status poll. Every view module imports from here (docs/dashboard.md); nothing is loaded
// from anywhere but the controller, so the page works on a commune network without internet.

const API = "/api/v1";
const ROLES = ["viewer", "operator", "technician", "admin"];
const DEFAULT_ZONE = "Asia/Ho_Chi_Minh";
const POLL_MS = 5000;

// -- words ------------------------------------------------------------------------------------

const WORDS = { vi: {}, en: {} };
let currentLang = localStorage.getItem("communectl.lang") === "en" ? "en" : "vi";

export function addWords(lists) {
  for (const language of ["vi", "en"]) Object.assign(WORDS[language], lists[language] || {});
}

export function lang() { return currentLang; }

export function t(key, vars = {}) {
  const text = WORDS[currentLang][key] ?? WORDS.vi[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}

/** Whether a word exists (a view falls back to a general word when a specific one is absent). */
export function hasWord(key) { return key in WORDS[currentLang]; }

addWords({
  vi: {
    appName: "Điều khiển xã", signIn: "Đăng nhập", signInTitle: "Đăng nhập để tiếp tục",
    userName: "Tên đăng nhập", password: "Mật khẩu", signingIn: "Đang đăng nhập…",
    signOut: "Đăng xuất", signOutEverywhere: "Đăng xuất mọi nơi",
    signOutEverywhereHint: "Kết thúc phiên đăng nhập trên mọi máy, kể cả máy này.",
    account: "Tài khoản", changePassword: "Đổi mật khẩu", currentPassword: "Mật khẩu hiện tại",
    newPassword: "Mật khẩu mới", newPasswordHint: "Từ 10 đến 256 ký tự.",
    repeatPassword: "Nhập lại mật khẩu mới", passwordsDiffer: "Hai mật khẩu mới không giống nhau",
    passwordChanged: "Đã đổi mật khẩu. Các máy khác đã bị đăng xuất.",
    close: "Đóng", cancel: "Hủy", ok: "Đồng ý", yes: "Có", no: "Không", save: "Lưu",
    delete: "Xóa", edit: "Sửa", menu: "Tài khoản và cài đặt", language: "Ngôn ngữ",
    switchLanguage: "English", switchLanguageLabel: "Switch to English",
    navigation: "Các mục", loading: "Đang tải…", signedInAs: "Đăng nhập: {name} ({role})",
    role_viewer: "Người xem", role_operator: "Vận hành", role_technician: "Kỹ thuật",
    role_admin: "Quản trị", nothing: "Không có", retry: "Thử lại",
    // errors by code (docs/api.md, "Errors"); a view may add "error.CODE.FIELD" words
    "error.bad_request": "Yêu cầu không hợp lệ.",
    "error.malformed_json": "Yêu cầu không hợp lệ.",
    "error.unauthorized": "Phiên đăng nhập đã hết, vui lòng đăng nhập lại.",
    "error.forbidden": "Bạn không có quyền làm việc này.",
    "error.not_found": "Không tìm thấy (có thể đã bị xóa).",
    "error.method_not_allowed": "Thao tác này không được hỗ trợ.",
    "error.timeout": "Mạng chậm, yêu cầu bị ngắt. Vui lòng thử lại.",
    "error.conflict": "Không thực hiện được: xung đột với dữ liệu hiện có.",
    "error.too_large": "Tệp hoặc nội dung quá lớn.",
    "error.unsupported_media_type": "Định dạng không được hỗ trợ.",
    "error.invalid": "Giá trị không hợp lệ.",
    "error.invalid.field": "Giá trị không hợp lệ: {field}.",
    "error.unavailable": "Bộ điều khiển đang bận hoặc thiếu một thành phần. Thử lại sau.",
    "error.internal": "Bộ điều khiển gặp lỗi. Báo cho kỹ thuật viên.",
    "error.wrong_password": "Sai tên hoặc mật khẩu",
    "error.account_disabled": "Tài khoản đã bị vô hiệu hóa. Liên hệ quản trị viên.",
    "error.account_locked": "Tài khoản đã bị khóa đến {time}",
    "error.slow_down": "Vui lòng đợi {seconds} giây rồi thử lại",
    "error.csrf_failed": "Phiên làm việc đã cũ. Vui lòng tải lại trang.",
    "error.network": "Không kết nối được bộ điều khiển. Kiểm tra mạng.",
    "error.page": "Trang gặp lỗi. Tải lại trang; nếu vẫn lỗi, báo cho kỹ thuật viên.",
    "error.unknown": "Có lỗi (mã {status}).",
    "error.invalid.current": "Mật khẩu hiện tại không đúng.",
    "error.invalid.new": "Mật khẩu mới phải dài từ 10 đến 256 ký tự.",
    "field.name": "Tên", "field.zones": "Khu vực", "field.at": "Thời gian",
    "field.source": "Nguồn phát", "field.schedule": "Lịch phát", "field.level": "Mức độ",
    "field.file": "Tệp", "field.text": "Nội dung", "field.id": "Mã",
    "field.repeat": "Số lần lặp", "field.repeat_gap_min": "Khoảng cách giữa các lần",
  },
  en: {
    appName: "Commune control", signIn: "Sign in", signInTitle: "Sign in to continue",
    userName: "User name", password: "Password", signingIn: "Signing in…",
    signOut: "Sign out", signOutEverywhere: "Sign out everywhere",
    signOutEverywhereHint: "Ends the sessions on every device, this one included.",
    account: "Account", changePassword: "Change password", currentPassword: "Current password",
    newPassword: "New password", newPasswordHint: "10 to 256 characters.",
    repeatPassword: "New password again", passwordsDiffer: "The two new passwords differ",
    passwordChanged: "Password changed. Other devices were signed out.",
    close: "Close", cancel: "Cancel", ok: "OK", yes: "Yes", no: "No", save: "Save",
    delete: "Delete", edit: "Edit", menu: "Account and settings", language: "Language",
    switchLanguage: "Tiếng Việt", switchLanguageLabel: "Chuyển sang tiếng Việt",
    navigation: "Sections", loading: "Loading…", signedInAs: "Signed in: {name} ({role})",
    role_viewer: "Viewer", role_operator: "Operator", role_technician: "Technician",
    role_admin: "Administrator", nothing: "None", retry: "Try again",
    "error.bad_request": "The request is not valid.",
    "error.malformed_json": "The request is not valid.",
    "error.unauthorized": "Your session has ended; please sign in again.",
    "error.forbidden": "You may not do this.",
    "error.not_found": "Not found (it may have been deleted).",
    "error.method_not_allowed": "This action is not supported.",
    "error.timeout": "The network is slow and the request was cut off. Please try again.",
    "error.conflict": "Not done: it conflicts with what is stored.",
    "error.too_large": "The file or text is too large.",
    "error.unsupported_media_type": "This format is not supported.",
    "error.invalid": "A value is not valid.",
    "error.invalid.field": "Not a valid value: {field}.",
    "error.unavailable": "The controller is busy or a part is missing. Try again later.",
    "error.internal": "The controller failed. Tell a technician.",
    "error.wrong_password": "Wrong name or password",
    "error.account_disabled": "This account is disabled. Ask an administrator.",
    "error.account_locked": "The account is locked until {time}",
    "error.slow_down": "Please wait {seconds} seconds and try again",
    "error.csrf_failed": "This page is out of date. Please reload it.",
    "error.network": "Cannot reach the controller. Check the network.",
    "error.page": "The page failed. Reload it; if it fails again, tell a technician.",
    "error.unknown": "Something went wrong (code {status}).",
    "error.invalid.current": "The current password is wrong.",
    "error.invalid.new": "The new password must be 10 to 256 characters long.",
    "field.name": "Name", "field.zones": "Zones", "field.at": "Time",
    "field.source": "Source", "field.schedule": "Schedule", "field.level": "Level",
    "field.file": "File", "field.text": "Text", "field.id": "Id",
    "field.repeat": "Repeat count", "field.repeat_gap_min": "Gap between repeats",
  },
});

// -- the API ----------------------------------------------------------------------------------

let currentSession = null; // {name, role, csrf, expires_at, kind}

export class ApiError extends Error {
  constructor(status, body) {
    const error = body && typeof body === "object" ? body.error || {} : {};
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || (status === 0 ? "network" : "unknown");
    this.field = error.field || null;
    this.retryAt = error.retry_at || null;
    this.serverMessage = error.message || "";
  }
}

export async function api(path, { method = "GET", json, form } = {}) {
  const headers = {};
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form) {
    body = form;
  }
  if (method !== "GET" && method !== "HEAD" && currentSession?.csrf) {
    headers["X-CSRF-Token"] = currentSession.csrf;
  }
  let response;
  try {
    response = await fetch(API + path, { method, headers, body, credentials: "same-origin" });
  } catch {
    throw new ApiError(0, null);
  }
  if (!response.ok) {
    const answer = await response.json().catch(() => null);
    // A wrong password is a 401 too: only a 401 outside the sign-in itself ends the session.
    if (response.status === 401 && path !== "/session") showSignIn();
    throw new ApiError(response.status, answer);
  }
  return response.status === 204 ? null : response;
}

export async function getJson(path) { return (await api(path)).json(); }

export function errorText(error) {
  if (!(error instanceof ApiError)) return t("error.page");
  const code = error.code;
  if (code === "slow_down") {
    const seconds = Math.max(1, Math.ceil((Date.parse(error.retryAt) - Date.now()) / 1000) || 1);
    return t("error.slow_down", { seconds });
  }
  if (code === "account_locked") {
    return t("error.account_locked", { time: error.retryAt ? formatTime(error.retryAt) : "?" });
  }
  const field = error.field || "";
  const head = field.split(".")[0];
  for (const key of [`error.${code}.${field}`, `error.${code}.${head}`]) {
    if (field && hasWord(key)) return t(key, { field: fieldName(field) });
  }
  if (field && hasWord(`error.${code}.field`)) {
    return t(`error.${code}.field`, { field: fieldName(field) });
  }
  if (hasWord(`error.${code}`)) return t(`error.${code}`);
  return t("error.unknown", { status: error.status });
}

function fieldName(field) {
  const head = field.split(".")[0];
  return hasWord(`field.${field}`) ? t(`field.${field}`)
    : hasWord(`field.${head}`) ? t(`field.${head}`) : field;
}

// -- elements ---------------------------------------------------------------------------------

const PROPERTIES = new Set(["value", "checked", "disabled", "selected", "hidden", "multiple",
  "required", "readOnly"]);

export function el(tag, attrs = {}, ...children) {
  const node = tag === "svg" || tag === "use"
    ? document.createElementNS("http://www.w3.org/2000/svg", tag) : document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "className") node.setAttribute("class", value);
    else if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key.startsWith("data-")) node.setAttribute(key, value);
    else if (PROPERTIES.has(key)) node[key] = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export function icon(name, label) {
  const svg = el("svg", { className: "icon", viewBox: "0 0 24 24", focusable: "false" },
    el("use", { href: `/static/icons.svg#${name}` }));
  if (label) {
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", label);
  } else {
    svg.setAttribute("aria-hidden", "true");
  }
  return svg;
}

let fieldCounter = 0;

/** A labelled form row: <label for=id>, the input, an optional hint tied by aria-describedby. */
export function field(labelKey, input, hintKey) {
  if (!input.id) input.id = `f${++fieldCounter}`;
  const row = el("div", { className: "field" },
    el("label", { for: input.id }, t(labelKey)), input);
  if (hintKey) {
    const hint = el("p", { className: "hint", id: `${input.id}-hint` }, t(hintKey));
    input.setAttribute("aria-describedby", hint.id);
    row.append(hint);
  }
  return row;
}

let sayTimer = null;

export function say(message) {
  const line = document.getElementById("say");
  line.textContent = message;
  clearTimeout(sayTimer);
  sayTimer = setTimeout(() => { line.textContent = ""; }, 6000);
}

// -- dialogs ----------------------------------------------------------------------------------

function dialog(titleText, ...content) {
  const title = el("h2", { id: `d${++fieldCounter}` }, titleText);
  const box = el("dialog", { className: "dialog", "aria-labelledby": title.id }, title, ...content);
  box.addEventListener("close", () => box.remove());
  document.body.append(box);
  box.showModal();
  return box;
}

export function confirmAction(message) {
  return new Promise((resolve) => {
    let answer = false;
    const box = dialog(message,
      el("div", { className: "actions" },
        el("button", { type: "button", className: "secondary", onclick: () => box.close() },
          t("no")),
        el("button", { type: "button", "data-confirm": "yes",
          onclick: () => { answer = true; box.close(); } }, t("yes"))));
    box.addEventListener("close", () => resolve(answer));
  });
}

/** A dialog with content built by the caller; returns the <dialog> (closes on Escape). */
export function openDialog(titleText, ...content) {
  return dialog(titleText, ...content,
    el("div", { className: "actions" },
      el("button", { type: "button", className: "secondary", "data-close": "",
        onclick: (event) => event.target.closest("dialog").close() }, t("close"))));
}

/** The header's menu: who is signed in, the password change, signing out here or everywhere. */
export function openAccount() {
  const current = el("input", { type: "password", autocomplete: "current-password",
    required: true, name: "current" });
  const fresh = el("input", { type: "password", autocomplete: "new-password", required: true,
    minlength: "10", maxlength: "256", name: "new" });
  const again = el("input", { type: "password", autocomplete: "new-password", required: true,
    minlength: "10", maxlength: "256", name: "again" });
  const problem = el("p", { className: "error", role: "alert" });
  const form = el("form", { id: "password-form", onsubmit: async (event) => {
    event.preventDefault();
    problem.textContent = "";
    if (fresh.value !== again.value) { problem.textContent = t("passwordsDiffer"); return; }
    try {
      await api("/session/password", { method: "POST",
        json: { current: current.value, new: fresh.value } });
      form.reset();
      say(t("passwordChanged"));
      box.close();
    } catch (error) { problem.textContent = errorText(error); }
  } },
  el("h3", {}, t("changePassword")),
  field("currentPassword", current), field("newPassword", fresh, "newPasswordHint"),
  field("repeatPassword", again), problem,
  el("button", { type: "submit" }, t("changePassword")));
  const box = openDialog(t("account"),
    el("p", { className: "who" }, icon("user"), " ",
      t("signedInAs", { name: currentSession?.name ?? "", role: roleName(currentSession?.role) })),
    el("div", { className: "actions" },
      el("button", { type: "button", id: "sign-out", onclick: () => signOut(false) },
        icon("sign-out"), t("signOut")),
      el("button", { type: "button", className: "secondary", id: "sign-out-everywhere",
        onclick: () => signOut(true) }, t("signOutEverywhere"))),
    el("p", { className: "hint" }, t("signOutEverywhereHint")),
    form);
  return box;
}

export function roleName(role) { return role ? t(`role_${role}`) : ""; }

// -- time -------------------------------------------------------------------------------------

function zone() { return lastStatus?.site?.timezone || DEFAULT_ZONE; }
function locale() { return currentLang === "vi" ? "vi-VN" : "en-GB"; }

function format(iso, options) {
  if (!iso) return "";
  const date = iso instanceof Date ? iso : new Date(iso);
  return new Intl.DateTimeFormat(locale(), { timeZone: zone(), ...options }).format(date);
}

export function formatTime(iso) { return format(iso, { hour: "2-digit", minute: "2-digit" }); }
export function formatDateTime(iso) {
  return format(iso, { hour: "2-digit", minute: "2-digit", day: "2-digit", month: "2-digit" });
}
export function formatDate(isoOrDate) {
  // A bare YYYY-MM-DD is a site-local date: read it at local noon so no zone moves its day.
  const value = typeof isoOrDate === "string" && /^\d{4}-\d{2}-\d{2}$/.test(isoOrDate)
    ? new Date(`${isoOrDate}T12:00:00Z`) : isoOrDate;
  const options = { weekday: "long", day: "2-digit", month: "2-digit" };
  return typeof isoOrDate === "string" && /^\d{4}-\d{2}-\d{2}$/.test(isoOrDate)
    ? new Intl.DateTimeFormat(locale(), { timeZone: "UTC", ...options }).format(value)
    : format(value, options);
}
export function formatDuration(seconds) {
  const total = Math.max(0, Math.round(Number(seconds) || 0));
  const minutes = Math.floor(total / 60);
  const rest = total % 60;
  if (currentLang === "vi") return minutes ? `${minutes} phút ${rest} giây` : `${rest} giây`;
  return minutes ? `${minutes} min ${rest} s` : `${rest} s`;
}
/** The site-local calendar date (YYYY-MM-DD) of an instant. */
export function localDate(iso) {
  return new Intl.DateTimeFormat("en-CA", { timeZone: zone(), year: "numeric", month: "2-digit",
    day: "2-digit" }).format(iso instanceof Date ? iso : new Date(iso));
}

// -- status -----------------------------------------------------------------------------------

let lastStatus = null;
const globalListeners = [];
let viewListeners = [];
let pollTimer = null;

export function status() { return lastStatus; }
export function session() { return currentSession; }
export function can(role) {
  return currentSession ? ROLES.indexOf(currentSession.role) >= ROLES.indexOf(role) : false;
}

/** fn(status) after each refresh; added while a view is open, it stops when another opens. */
export function onStatus(fn) {
  (openView ? viewListeners : globalListeners).push(fn);
}

export async function refreshStatus() {
  try {
    lastStatus = await getJson("/status");
  } catch (error) {
    if (error.status !== 401) document.getElementById("offline").hidden = false;
    return lastStatus;
  }
  document.getElementById("offline").hidden = true;
  document.getElementById("site-name").textContent = lastStatus.site.name;
  for (const fn of [...globalListeners, ...viewListeners]) {
    try { fn(lastStatus); } catch (error) { console.error(error); }
  }
  return lastStatus;
}

function schedulePoll() {
  clearTimeout(pollTimer);
  pollTimer = setTimeout(async () => {
    if (currentSession && document.visibilityState === "visible") await refreshStatus();
    schedulePoll();
  }, POLL_MS);
}

// -- views and the router ---------------------------------------------------------------------

const views = [];
let openView = null;

export function registerView(view) {
  views.push({ minRole: "viewer", ...view });
}

function allowed() { return views.filter((view) => can(view.minRole)); }

function renderNav() {
  const nav = document.getElementById("nav");
  const current = openView?.id;
  nav.replaceChildren(...allowed().map((view) => el("a", {
    href: `#/${view.id}`, className: view.id === current ? "current" : "",
    "aria-current": view.id === current ? "page" : null, "data-view": view.id,
  }, icon(view.icon), el("span", {}, t(view.title)))));
}

async function route() {
  if (!currentSession) return;
  const wanted = location.hash.replace(/^#\/?/, "").split("/")[0] || "home";
  const view = allowed().find((v) => v.id === wanted) || allowed()[0];
  if (!view) return;
  openView = view;
  viewListeners = [];
  renderNav();
  document.title = `${t(view.title)} · ${lastStatus?.site?.name || t("appName")}`;
  const container = document.getElementById("view");
  container.replaceChildren(el("p", { className: "muted" }, t("loading")));
  container.dataset.view = view.id;
  try {
    const fresh = el("div", { className: "view" });
    await view.render(fresh);
    if (openView === view) container.replaceChildren(fresh);
  } catch (error) {
    console.error(error);
    container.replaceChildren(el("p", { className: "error", role: "alert" }, errorText(error)),
      el("button", { type: "button", onclick: route }, t("retry")));
  }
}

/** Draw the open view again (after a change that touches more than one of its parts). */
export function rerender() { return route(); }

// -- signing in -------------------------------------------------------------------------------

function applyLanguage() {
  document.documentElement.lang = currentLang;
  const button = document.getElementById("lang");
  button.replaceChildren(icon("globe"), el("span", {}, t("switchLanguage")));
  button.setAttribute("aria-label", t("switchLanguageLabel"));
  const account = document.getElementById("account");
  account.setAttribute("aria-label", t("menu"));
  account.replaceChildren(icon("user"), el("span", { className: "who-name" },
    currentSession?.name || ""));
  document.getElementById("nav").setAttribute("aria-label", t("navigation"));
  for (const node of document.querySelectorAll("[data-word]")) {
    node.textContent = t(node.dataset.word);
  }
}

function showSignIn() {
  currentSession = null;
  openView = null;
  clearTimeout(pollTimer);
  document.getElementById("shell").hidden = true;
  document.getElementById("account").hidden = true;
  document.getElementById("sign-in").hidden = false;
  document.getElementById("view").replaceChildren();
  document.getElementById("sign-in-name").focus();
}

async function enter(answer) {
  currentSession = answer;
  document.getElementById("sign-in").hidden = true;
  document.getElementById("shell").hidden = false;
  document.getElementById("account").hidden = false;
  applyLanguage();
  await refreshStatus();
  schedulePoll();
  await route();
}

async function submitSignIn(event) {
  event.preventDefault();
  const problem = document.getElementById("sign-in-error");
  const button = event.target.querySelector("button[type=submit]");
  problem.textContent = "";
  button.disabled = true;
  try {
    const answer = await (await api("/session", { method: "POST", json: {
      name: document.getElementById("sign-in-name").value.trim(),
      password: document.getElementById("sign-in-password").value } })).json();
    document.getElementById("sign-in-password").value = "";
    await enter(answer);
  } catch (error) {
    problem.textContent = errorText(error);
  } finally {
    button.disabled = false;
  }
}

async function signOut(everywhere) {
  try {
    await api(everywhere ? "/session/sign-out-everywhere" : "/session",
      { method: everywhere ? "POST" : "DELETE" });
  } catch (error) {
    if (error.status !== 401) { say(errorText(error)); return; }
  }
  document.querySelector("dialog[open]")?.close();
  showSignIn();
}

/** Called once by app.js after every view module registered itself. */
export async function start() {
  document.getElementById("sign-in-form").addEventListener("submit", submitSignIn);
  document.getElementById("account").addEventListener("click", openAccount);
  document.getElementById("lang").addEventListener("click", () => {
    currentLang = currentLang === "vi" ? "en" : "vi";
    localStorage.setItem("communectl.lang", currentLang);
    applyLanguage();
    if (currentSession) route();
  });
  window.addEventListener("hashchange", route);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && currentSession) refreshStatus();
  });
  applyLanguage();
  try {
    const answer = await getJson("/session");
    await enter(answer);
  } catch {
    showSignIn();
  }
}
