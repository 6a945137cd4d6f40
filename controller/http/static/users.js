// The users view (Người dùng, admin only): people's accounts with their role, whether they are
// disabled or locked after wrong passwords; creating an account, changing its role, disabling
// and enabling it, and setting a new password (GET/POST /api/v1/users, PATCH /users/{name}).
// Everyone's own password change and "sign out everywhere" are in the header's account dialog.
import {
  addWords, api, confirmAction, el, errorText, field, formatDateTime, getJson, icon,
  registerView, roleName, say, session, t,
} from "./core.js";

const ROLES = ["viewer", "operator", "technician", "admin"];
const NAME_PATTERN = "[a-z0-9][a-z0-9._\\-]{0,31}";

addWords({
  vi: {
    "us.title": "Người dùng", "us.list": "Tài khoản", "us.create": "Thêm người dùng",
    "us.none": "Chưa có tài khoản nào.", "us.name": "Tên đăng nhập",
    "us.nameHint": "Chữ thường, số, dấu chấm, - và _; tối đa 32 ký tự.",
    "us.role": "Vai trò", "us.password": "Mật khẩu ban đầu", "us.passwordHint": "Từ 10 đến 256 ký tự.",
    "us.repeat": "Nhập lại mật khẩu", "us.differ": "Hai mật khẩu không giống nhau",
    "us.created": "Đã tạo tài khoản {name}", "us.you": "bạn",
    "us.active": "Đang dùng", "us.disabled": "Đã vô hiệu hóa", "us.locked": "Bị khóa đến {time}",
    "us.failures": "Sai mật khẩu {n} lần liên tiếp", "us.createdAt": "Tạo lúc {time}",
    "us.passwordChangedAt": "Đổi mật khẩu lúc {time}",
    "us.changeRole": "Đổi vai trò", "us.roleOf": "Vai trò của {name}",
    "us.roleChanged": "{name} giờ là {role}",
    "us.disable": "Vô hiệu hóa", "us.disableLong": "Vô hiệu hóa {name}",
    "us.enable": "Cho dùng lại", "us.enableLong": "Cho dùng lại: {name}",
    "us.confirmDisable": "Vô hiệu hóa tài khoản {name}? Người này sẽ không đăng nhập được nữa.",
    "us.disabledNow": "Đã vô hiệu hóa {name}", "us.enabledNow": "{name} đã được dùng lại",
    "us.newPassword": "Mật khẩu mới cho {name}", "us.setPassword": "Đặt mật khẩu mới",
    "us.setPasswordLong": "Đặt mật khẩu mới cho {name}",
    "us.passwordSet": "Đã đặt mật khẩu mới cho {name}",
    "error.conflict.name": "Tên đăng nhập này đã có.",
    "error.conflict.disabled": "Đây là quản trị viên duy nhất còn đăng nhập được; hãy tạo thêm một quản trị viên trước.",
    "error.conflict.role": "Đây là quản trị viên duy nhất còn đăng nhập được; hãy tạo thêm một quản trị viên trước.",
    "error.invalid.name": "Tên đăng nhập không hợp lệ: chữ thường, số, dấu chấm, - và _.",
    "error.invalid.password": "Mật khẩu phải dài từ 10 đến 256 ký tự.",
    "error.invalid.role": "Vai trò không hợp lệ.",
  },
  en: {
    "us.title": "Users", "us.list": "Accounts", "us.create": "Add a user",
    "us.none": "No accounts yet.", "us.name": "User name",
    "us.nameHint": "Lower case, digits, dot, - and _; at most 32 characters.",
    "us.role": "Role", "us.password": "Initial password", "us.passwordHint": "10 to 256 characters.",
    "us.repeat": "Password again", "us.differ": "The two passwords differ",
    "us.created": "Account {name} created", "us.you": "you",
    "us.active": "Active", "us.disabled": "Disabled", "us.locked": "Locked until {time}",
    "us.failures": "{n} wrong passwords in a row", "us.createdAt": "Created {time}",
    "us.passwordChangedAt": "Password changed {time}",
    "us.changeRole": "Change role", "us.roleOf": "Role of {name}",
    "us.roleChanged": "{name} is now {role}",
    "us.disable": "Disable", "us.disableLong": "Disable {name}",
    "us.enable": "Enable", "us.enableLong": "Enable {name}",
    "us.confirmDisable": "Disable the account {name}? They will not be able to sign in.",
    "us.disabledNow": "{name} disabled", "us.enabledNow": "{name} enabled",
    "us.newPassword": "New password for {name}", "us.setPassword": "Set a new password",
    "us.setPasswordLong": "Set a new password for {name}",
    "us.passwordSet": "New password set for {name}",
    "error.conflict.name": "This user name exists already.",
    "error.conflict.disabled": "This is the only administrator who can sign in; make another administrator first.",
    "error.conflict.role": "This is the only administrator who can sign in; make another administrator first.",
    "error.invalid.name": "Not a valid user name: lower case, digits, dot, - and _.",
    "error.invalid.password": "A password must be 10 to 256 characters long.",
    "error.invalid.role": "Not a valid role.",
  },
});

function roleSelect(current) {
  const select = el("select", {}, ROLES.map((r) => el("option", { value: r }, roleName(r))));
  select.value = current;
  return select;
}

function passwordInput(autocomplete) {
  return el("input", { type: "password", autocomplete, minlength: "10", maxlength: "256",
    required: true });
}

function userCard(user, refresh) {
  const me = session()?.name === user.name;
  const problem = el("p", { className: "error", role: "alert" });
  const locked = user.locked_until && Date.parse(user.locked_until) > Date.now();
  const patch = async (body, done) => {
    problem.textContent = "";
    try {
      await api(`/users/${encodeURIComponent(user.name)}`, { method: "PATCH", json: body });
      say(done);
      await refresh();
    } catch (error) { problem.textContent = errorText(error); }
  };
  const role = roleSelect(user.role);
  const password = passwordInput("new-password");
  const state = [];
  state.push(el("span", { className: `badge ${user.disabled ? "bad" : "ok"}`, "data-field": "disabled" },
    user.disabled ? t("us.disabled") : t("us.active")));
  if (locked) {
    state.push(" ", el("span", { className: "badge warn", "data-field": "locked" },
      t("us.locked", { time: formatDateTime(user.locked_until) })));
  }
  return el("li", { "data-user": user.name },
    el("div", { className: "us-head" },
      el("h3", {}, icon("user"), " ", user.name, me ? el("span", { className: "muted" }, ` (${t("us.you")})`) : null),
      el("span", { className: "badge", "data-field": "role" }, roleName(user.role))),
    el("p", {}, state),
    el("p", { className: "muted" }, t("us.createdAt", { time: formatDateTime(user.created_at) }),
      user.password_changed_at ? ` · ${t("us.passwordChangedAt", { time: formatDateTime(user.password_changed_at) })}` : "",
      user.failures ? ` · ${t("us.failures", { n: user.failures })}` : ""),
    me ? null : el("form", { className: "us-row", onsubmit: (event) => {
      event.preventDefault();
      patch({ role: role.value }, t("us.roleChanged", { name: user.name, role: roleName(role.value) }));
    } }, field("us.role", role),
    el("button", { type: "submit", className: "secondary", "data-action": "role" }, t("us.changeRole"))),
    el("form", { className: "us-row", onsubmit: (event) => {
      event.preventDefault();
      patch({ password: password.value }, t("us.passwordSet", { name: user.name }));
    } }, field("newPassword", password, "us.passwordHint"),
    el("button", { type: "submit", className: "secondary", "data-action": "password",
      "aria-label": t("us.setPasswordLong", { name: user.name }) }, t("us.setPassword"))),
    me ? null : el("div", { className: "actions" }, user.disabled
      ? el("button", { type: "button", className: "secondary", "data-action": "enable",
        "aria-label": t("us.enableLong", { name: user.name }),
        onclick: () => patch({ disabled: false }, t("us.enabledNow", { name: user.name })) }, t("us.enable"))
      : el("button", { type: "button", className: "danger", "data-action": "disable",
        "aria-label": t("us.disableLong", { name: user.name }),
        onclick: async () => {
          if (await confirmAction(t("us.confirmDisable", { name: user.name }))) {
            await patch({ disabled: true }, t("us.disabledNow", { name: user.name }));
          }
        } }, t("us.disable"))),
    problem);
}

function createForm(refresh) {
  const name = el("input", { type: "text", required: true, pattern: NAME_PATTERN, maxlength: "32",
    autocomplete: "off", autocapitalize: "none", spellcheck: "false", name: "new-user-name" });
  const role = roleSelect("viewer");
  const password = passwordInput("new-password");
  const again = passwordInput("new-password");
  const problem = el("p", { className: "error", role: "alert" });
  const form = el("form", { id: "us-create", onsubmit: async (event) => {
    event.preventDefault();
    problem.textContent = "";
    if (password.value !== again.value) { problem.textContent = t("us.differ"); return; }
    try {
      await api("/users", { method: "POST", json: { name: name.value.trim(), role: role.value,
        password: password.value } });
      say(t("us.created", { name: name.value.trim() }));
      form.reset();
      role.value = "viewer";
      await refresh();
    } catch (error) { problem.textContent = errorText(error); }
  } },
  field("us.name", name, "us.nameHint"), field("us.role", role),
  field("us.password", password, "us.passwordHint"), field("us.repeat", again), problem,
  el("button", { type: "submit", "data-action": "create" }, icon("plus"), t("us.create")));
  return form;
}

async function render(container) {
  const list = el("ul", { className: "cards", id: "us-list" });
  const refresh = async () => {
    const users = await getJson("/users");
    list.replaceChildren(...(users.length ? users.map((u) => userCard(u, refresh))
      : [el("li", { className: "muted" }, t("us.none"))]));
  };
  await refresh();
  container.append(
    el("h2", { className: "view-title" }, t("us.title")),
    el("section", { className: "card", "aria-labelledby": "us-h-list" }, el("h2", { id: "us-h-list" }, t("us.list")), list),
    el("section", { className: "card", "aria-labelledby": "us-h-create" }, el("h2", { id: "us-h-create" }, t("us.create")),
      createForm(refresh)));
}

registerView({ id: "users", icon: "users", title: "us.title", minRole: "admin", render });
