// "Truyền thanh": the commune radio from a phone. Five parts, each at its own address:
// #/radio/week (what airs this week, day by day, the loudspeakers, stop), #/radio/programmes
// (recurring broadcasts; #/radio/programme/ID edits one), #/radio/announce (an announcement and
// the approval queue), #/radio/library (audio files, recording from the microphone) and
// #/radio/log (what aired, with the CSV/Excel download). docs/dashboard.md says what each does.
import {
  ApiError, addWords, api, can, confirmAction, el, errorText, field, formatDate, formatDateTime,
  formatDuration, formatTime, getJson, icon, lang, localDate, openDialog, refreshStatus,
  registerView, say, status, t,
} from "./core.js";

const WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

addWords({
  vi: {
    radio: "Truyền thanh", tabWeek: "Tuần này", tabProgrammes: "Chương trình",
    tabAnnounce: "Thông báo", tabLibrary: "Thư viện", tabLog: "Nhật ký",
    weekTitle: "Lịch phát 7 ngày tới", today: "Hôm nay", nothingThisDay: "Không phát",
    lunarDay: "{day}/{month} âm lịch", lunarFirst: "Mùng 1", lunarFull: "Rằm",
    onAirNow: "Đang phát: {title}", nothingOnAir: "Không phát gì", stopAir: "Dừng phát",
    confirmStop: "Dừng bản tin đang phát?", stopped: "Đã dừng phát",
    speakers: "Loa các thôn", zoneOn: "Đang bật", zoneOff: "Tắt", testTone: "Thử loa",
    testToneSent: "Đang phát tiếng thử ở {zone}", allZones: "Tất cả các thôn",
    waitingApproval: "Chờ duyệt", level_normal: "Thông thường", level_priority: "Ưu tiên",
    level_emergency: "Khẩn cấp", kind_program: "Chương trình", kind_announcement: "Thông báo",
    // programmes
    programmesTitle: "Chương trình phát định kỳ", newProgramme: "Thêm chương trình",
    noProgrammes: "Chưa có chương trình nào", paused: "Tạm dừng", active: "Đang chạy",
    pause: "Tạm dừng", resume: "Chạy lại", confirmDeleteProgramme: "Xóa chương trình “{name}”?",
    programmeSaved: "Đã lưu chương trình", programmeDeleted: "Đã xóa chương trình",
    editProgramme: "Sửa chương trình", programmeName: "Tên chương trình",
    when: "Khi nào phát", everyDay: "Hằng ngày", someWeekdays: "Các thứ trong tuần",
    lunarDays: "Ngày âm lịch", onceOn: "Một lần", atTimes: "Giờ phát", addTime: "Thêm giờ",
    removeTime: "Bỏ giờ {time}", weekdaysLegend: "Những thứ nào", lunarLegend: "Những ngày nào",
    onDate: "Ngày phát", advancedSchedule: "Lịch lặp riêng (đặt trong tệp cấu hình): giữ nguyên",
    keepSchedule: "Giữ lịch hiện có", chooseWeekday: "Chọn ít nhất một thứ",
    chooseLunar: "Chọn ít nhất một ngày âm lịch", chooseTime: "Nhập ít nhất một giờ phát",
    chooseDate: "Chọn ngày phát", chooseZone: "Chọn ít nhất một thôn",
    enabled: "Đang chạy (bỏ chọn để tạm dừng)", saveAnyway: "Vẫn lưu",
    overlapProgramme: "Trùng giờ với chương trình khác ở cùng thôn.",
    schedDaily: "Hằng ngày lúc {times}", schedDays: "{days} lúc {times}",
    schedLunar: "{days} âm lịch, lúc {times}", schedOnce: "Ngày {date} lúc {times}",
    schedFrom: "từ {date}", schedUntil: "đến {date}", schedRule: "Lịch lặp riêng",
    and: " và ", nextAiring: "Lần tới: {time}",
    wd_mon: "Thứ Hai", wd_tue: "Thứ Ba", wd_wed: "Thứ Tư", wd_thu: "Thứ Năm", wd_fri: "Thứ Sáu",
    wd_sat: "Thứ Bảy", wd_sun: "Chủ nhật",
    // sources
    source: "Nội dung phát", srcTts: "Đọc văn bản", srcAudio: "Tệp trong thư viện",
    srcRecord: "Ghi âm mới", srcStream: "Tiếp sóng đài", srcPlaylist: "Danh sách phát",
    ttsText: "Văn bản máy sẽ đọc", listen: "Nghe thử", spokenAs: "Máy sẽ đọc: {spoken}",
    chooseAudio: "Chọn tệp", noAudio: "Thư viện chưa có tệp nào", streamUrl: "Địa chỉ đài (URL)",
    streamMinutes: "Tiếp sóng trong (phút)", fallbackAudio: "Tệp dự phòng khi mất sóng",
    noFallback: "Không có", needText: "Nhập văn bản cần đọc", needAudio: "Chọn một tệp",
    needRecording: "Hãy ghi âm trước", needUrl: "Nhập địa chỉ đài",
    playlistKept: "Danh sách phát ({n} mục), giữ nguyên",
    zones: "Phát ở thôn nào", level: "Mức độ",
    // announcements
    announceTitle: "Phát thông báo", announceName: "Tiêu đề (không bắt buộc)",
    whenAnnounce: "Phát khi nào", now: "Ngay bây giờ", later: "Hẹn giờ", date: "Ngày", time: "Giờ",
    repeatCount: "Số lần phát", repeatGap: "Cách nhau (phút)", send: "Gửi thông báo",
    sendAnyway: "Vẫn gửi", sent: "Đã gửi thông báo", sentWaiting: "Đã gửi, đang chờ kỹ thuật viên duyệt",
    overlapAnnouncement: "Trùng giờ với một bản tin khác ở cùng thôn. Bấm “Vẫn gửi” để gửi dù trùng.",
    needWhen: "Chọn ngày và giờ phát", approvalQueue: "Chờ duyệt", upcoming: "Sắp phát",
    recent: "Gần đây", noneWaiting: "Không có thông báo chờ duyệt", noneUpcoming: "Không có",
    approve: "Duyệt", cancelIt: "Hủy", confirmCancel: "Hủy thông báo “{title}”?",
    approved: "Đã duyệt", cancelled: "Đã hủy",
    st_waiting_approval: "Chờ duyệt", st_scheduled: "Đã lên lịch", st_done: "Đã phát xong",
    st_cancelled: "Đã hủy", airedOf: "đã phát {aired}/{repeat} lần", by: "người gửi: {name}",
    untitled: "Thông báo",
    // recorder and library
    record: "Ghi âm", stopRecording: "Dừng ghi", recordingFor: "Đang ghi… {time}",
    recorded: "Đã ghi {time}", recordAgain: "Ghi lại", micRefused: "Không dùng được micrô: {reason}",
    libraryTitle: "Thư viện âm thanh", uploadFile: "Tải tệp lên", fileToUpload: "Tệp âm thanh",
    displayName: "Tên hiển thị", upload: "Tải lên", uploaded: "Đã tải lên “{name}”",
    recordNew: "Ghi âm mới vào thư viện", saveRecording: "Lưu bản ghi",
    rename: "Đổi tên", renamed: "Đã đổi tên", newName: "Tên mới",
    confirmDeleteAudio: "Xóa tệp “{name}”?", audioDeleted: "Đã xóa tệp",
    audioInUse: "Tệp đang được dùng nên chưa xóa được. Gỡ nó khỏi các chương trình và thông báo trước.",
    usedBy: "Đang dùng ở: {list}", use_broadcast_program: "chương trình “{name}”",
    use_announcement: "thông báo “{name}”", notUsed: "Chưa dùng ở đâu", uploadedBy: "{name}, {time}",
    emptyLibrary: "Thư viện chưa có tệp nào", chooseFile: "Chọn một tệp",
    recordingName: "Ghi âm {time}",
    // log
    logTitle: "Nhật ký phát", downloadCsv: "Tải CSV", downloadXlsx: "Tải Excel",
    noLog: "Chưa có gì được phát", out_completed: "Phát xong", out_preempted: "Bị ngắt (bản tin khẩn)",
    out_skipped: "Bỏ qua", out_cancelled: "Đã dừng", out_failed: "Lỗi khi phát",
    out_missed: "Lỡ giờ (máy tắt)", out_playing: "Đang phát", startedAt: "phát lúc {time}",
    dueAt: "dự kiến {time}",
    "error.conflict.file": "Tệp đang được dùng nên chưa xóa được.",
    "field.source.text": "Văn bản", "field.source.url": "Địa chỉ đài",
    "field.source.audio_id": "Tệp", "field.schedule.times": "Giờ phát",
    "field.schedule.days": "Các thứ", "field.schedule.lunar_days": "Ngày âm lịch",
  },
  en: {
    radio: "Radio", tabWeek: "This week", tabProgrammes: "Programmes",
    tabAnnounce: "Announce", tabLibrary: "Library", tabLog: "Log",
    weekTitle: "Broadcasts in the next 7 days", today: "Today", nothingThisDay: "Nothing airs",
    lunarDay: "lunar {day}/{month}", lunarFirst: "1st (lunar)", lunarFull: "Full moon (15th)",
    onAirNow: "On air: {title}", nothingOnAir: "Nothing on air", stopAir: "Stop",
    confirmStop: "Stop what is on air?", stopped: "Stopped",
    speakers: "Loudspeakers", zoneOn: "On", zoneOff: "Off", testTone: "Test tone",
    testToneSent: "Playing a test tone in {zone}", allZones: "Every zone",
    waitingApproval: "Waiting for approval", level_normal: "Normal", level_priority: "Priority",
    level_emergency: "Emergency", kind_program: "Programme", kind_announcement: "Announcement",
    programmesTitle: "Recurring broadcasts", newProgramme: "Add a programme",
    noProgrammes: "No programme yet", paused: "Paused", active: "Running",
    pause: "Pause", resume: "Resume", confirmDeleteProgramme: "Delete the programme “{name}”?",
    programmeSaved: "Programme saved", programmeDeleted: "Programme deleted",
    editProgramme: "Edit programme", programmeName: "Programme name",
    when: "When it airs", everyDay: "Every day", someWeekdays: "Some weekdays",
    lunarDays: "Lunar days", onceOn: "Once", atTimes: "Times", addTime: "Add a time",
    removeTime: "Remove {time}", weekdaysLegend: "Which weekdays", lunarLegend: "Which days",
    onDate: "Date", advancedSchedule: "A custom recurrence (set in the configuration): kept as is",
    keepSchedule: "Keep the current schedule", chooseWeekday: "Choose at least one weekday",
    chooseLunar: "Choose at least one lunar day", chooseTime: "Give at least one time",
    chooseDate: "Choose the date", chooseZone: "Choose at least one zone",
    enabled: "Running (untick to pause)", saveAnyway: "Save anyway",
    overlapProgramme: "It overlaps another programme in the same zones.",
    schedDaily: "Every day at {times}", schedDays: "{days} at {times}",
    schedLunar: "Lunar {days}, at {times}", schedOnce: "On {date} at {times}",
    schedFrom: "from {date}", schedUntil: "until {date}", schedRule: "Custom recurrence",
    and: " and ", nextAiring: "Next: {time}",
    wd_mon: "Monday", wd_tue: "Tuesday", wd_wed: "Wednesday", wd_thu: "Thursday",
    wd_fri: "Friday", wd_sat: "Saturday", wd_sun: "Sunday",
    source: "What plays", srcTts: "Read a text", srcAudio: "A library file",
    srcRecord: "A new recording", srcStream: "Relay a station", srcPlaylist: "Playlist",
    ttsText: "Text to read out", listen: "Listen", spokenAs: "It will read: {spoken}",
    chooseAudio: "File", noAudio: "The library is empty", streamUrl: "Station address (URL)",
    streamMinutes: "Relay for (minutes)", fallbackAudio: "Fallback file if the station fails",
    noFallback: "None", needText: "Type the text to read", needAudio: "Choose a file",
    needRecording: "Record first", needUrl: "Give the station's address",
    playlistKept: "Playlist ({n} items), kept as is",
    zones: "Zones", level: "Level",
    announceTitle: "Make an announcement", announceName: "Title (optional)",
    whenAnnounce: "When", now: "Now", later: "Later", date: "Date", time: "Time",
    repeatCount: "Times to play", repeatGap: "Minutes between", send: "Send announcement",
    sendAnyway: "Send anyway", sent: "Announcement sent", sentWaiting: "Sent; waiting for a technician's approval",
    overlapAnnouncement: "It overlaps another broadcast in the same zones. Press “Send anyway” to send it regardless.",
    needWhen: "Choose the date and time", approvalQueue: "Waiting for approval",
    upcoming: "Coming up", recent: "Recent", noneWaiting: "Nothing waits for approval",
    noneUpcoming: "None", approve: "Approve", cancelIt: "Cancel",
    confirmCancel: "Cancel the announcement “{title}”?", approved: "Approved", cancelled: "Cancelled",
    st_waiting_approval: "Waiting for approval", st_scheduled: "Scheduled", st_done: "Done",
    st_cancelled: "Cancelled", airedOf: "aired {aired} of {repeat}", by: "by {name}",
    untitled: "Announcement",
    record: "Record", stopRecording: "Stop recording", recordingFor: "Recording… {time}",
    recorded: "Recorded {time}", recordAgain: "Record again", micRefused: "The microphone cannot be used: {reason}",
    libraryTitle: "Audio library", uploadFile: "Upload a file", fileToUpload: "Audio file",
    displayName: "Display name", upload: "Upload", uploaded: "Uploaded “{name}”",
    recordNew: "Record into the library", saveRecording: "Save the recording",
    rename: "Rename", renamed: "Renamed", newName: "New name",
    confirmDeleteAudio: "Delete the file “{name}”?", audioDeleted: "File deleted",
    audioInUse: "The file is in use and was not deleted. Remove it from the programmes and announcements first.",
    usedBy: "Used by: {list}", use_broadcast_program: "programme “{name}”",
    use_announcement: "announcement “{name}”", notUsed: "Not used anywhere", uploadedBy: "{name}, {time}",
    emptyLibrary: "The library is empty", chooseFile: "Choose a file",
    recordingName: "Recording {time}",
    logTitle: "Broadcast log", downloadCsv: "Download CSV", downloadXlsx: "Download Excel",
    noLog: "Nothing has aired yet", out_completed: "Completed", out_preempted: "Cut off (emergency)",
    out_skipped: "Skipped", out_cancelled: "Stopped", out_failed: "Failed",
    out_missed: "Missed (controller down)", out_playing: "Playing", startedAt: "started {time}",
    dueAt: "due {time}",
    "error.conflict.file": "The file is in use and was not deleted.",
    "field.source.text": "Text", "field.source.url": "Station address",
    "field.source.audio_id": "File", "field.schedule.times": "Times",
    "field.schedule.days": "Weekdays", "field.schedule.lunar_days": "Lunar days",
  },
});

// -- small helpers ----------------------------------------------------------------------------

function zoneNames() {
  return Object.fromEntries((status()?.zones || []).map((zone) => [zone.id, zone.name]));
}

function zonesText(zones) {
  if (zones === "all") return t("allZones");
  const names = zoneNames();
  return (zones || []).map((id) => names[id] || id).join(", ");
}

function levelBadge(level) {
  if (!level || level === "normal") return null;
  return el("span", { className: level === "emergency" ? "badge bad" : "badge warn" },
    t(`level_${level}`));
}

function lunarName(day) {
  if (day === 1) return t("lunarFirst");
  if (day === 15) return t("lunarFull");
  return lang() === "vi" ? (day <= 10 ? `mùng ${day}` : `ngày ${day}`) : `day ${day}`;
}

function joinWords(words) {
  if (words.length <= 1) return words.join("");
  return `${words.slice(0, -1).join(", ")}${t("and")}${words[words.length - 1]}`;
}

/** A schedule in words: "Thứ Hai và Thứ Năm lúc 06:00", never the stored syntax. */
export function scheduleText(schedule) {
  const times = joinWords(schedule.times || []);
  let text;
  if (schedule.rrule) text = t("schedRule");
  else if (schedule.lunar_days) {
    text = t("schedLunar", { days: joinWords(schedule.lunar_days.map(lunarName)), times });
  } else if (schedule.days) {
    text = t("schedDays", { days: joinWords(schedule.days.map((d) => t(`wd_${d}`))), times });
  } else if (schedule.valid_from && schedule.valid_from === schedule.valid_until) {
    return t("schedOnce", { date: formatDate(schedule.valid_from), times });
  } else text = t("schedDaily", { times });
  const limits = [schedule.valid_from && t("schedFrom", { date: formatDate(schedule.valid_from) }),
    schedule.valid_until && t("schedUntil", { date: formatDate(schedule.valid_until) })];
  return [text, ...limits.filter(Boolean)].join(", ");
}

let radioCounter = 0;

/** Big radio buttons (labels ≥ 44 px); returns {node, value(), set(v)}. */
function choiceGroup(legend, name, options, selected, onchange) {
  const group = `${name}-${++radioCounter}`;
  const inputs = options.map(([value, words]) => el("input", { type: "radio", name: group, value,
    checked: value === selected, onchange: () => onchange && onchange(value) }));
  const node = el("fieldset", { "data-choice": name }, el("legend", {}, legend),
    el("div", { className: "choices" }, inputs.map((input, i) =>
      el("label", { className: "choice" }, input, options[i][1]))));
  return { node, value: () => inputs.find((i) => i.checked)?.value,
    set: (value) => inputs.forEach((i) => { i.checked = i.value === value; }) };
}

/** Big checkboxes; returns {node, values()}. */
function checkGroup(legend, name, options, chosen) {
  const inputs = options.map(([value]) => el("input", { type: "checkbox", name, value,
    checked: chosen.includes(value) }));
  const node = el("fieldset", { "data-checks": name }, el("legend", {}, legend),
    el("div", { className: "choices" }, inputs.map((input, i) =>
      el("label", { className: "choice" }, input, options[i][1]))));
  return { node, values: () => inputs.filter((i) => i.checked).map((i) => i.value) };
}

function zonePicker(zones) {
  const all = (status()?.zones || []).map((zone) => [zone.id, zone.name]);
  const chosen = zones === "all" || !zones ? all.map(([id]) => id) : zones;
  const group = checkGroup(t("zones"), "zone", all, chosen);
  return { node: group.node, value() {
    const values = group.values();
    if (!values.length) throw new Error(t("chooseZone"));
    return values.length === all.length ? "all" : values;
  } };
}

function levelPicker(level) {
  return choiceGroup(t("level"), "level",
    ["normal", "priority", "emergency"].map((l) => [l, t(`level_${l}`)]), level || "normal");
}

/** A refusal of the page's own checks (a plain Error) or the controller's (an ApiError). */
function problemText(error) {
  return error instanceof ApiError ? errorText(error) : error.message;
}

function slug(name) {
  const base = name.normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/[đĐ]/g, "d")
    .toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 40);
  const tail = Math.random().toString(16).slice(2, 6);
  return `${base || "ct"}-${tail}`;
}

async function download(path, filename) {
  try {
    const blob = await (await api(path)).blob();
    const link = el("a", { href: URL.createObjectURL(blob), download: filename });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  } catch (error) { say(errorText(error)); }
}

// -- the recorder (getUserMedia + MediaRecorder) -----------------------------------------------

function recorder() {
  let media = null;
  let chunks = [];
  let blob = null;
  let started = 0;
  let timer = null;
  const button = el("button", { type: "button", className: "secondary", "data-action": "record" },
    icon("mic"), t("record"));
  const state = el("span", { className: "muted", role: "status" });
  const preview = el("audio", { controls: true, hidden: true, preload: "metadata" });
  const problem = el("p", { className: "error", role: "alert" });
  const clock = () => formatDuration((Date.now() - started) / 1000);

  async function startRecording() {
    problem.textContent = "";
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (error) {
      problem.textContent = t("micRefused", { reason: error.name || String(error) });
      return;
    }
    const type = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/mp4"]
      .find((candidate) => window.MediaRecorder?.isTypeSupported?.(candidate));
    media = new MediaRecorder(stream, type ? { mimeType: type } : {});
    chunks = [];
    media.addEventListener("dataavailable", (event) => { if (event.data.size) chunks.push(event.data); });
    media.addEventListener("stop", () => {
      stream.getTracks().forEach((track) => track.stop());
      blob = new Blob(chunks, { type: media.mimeType || "audio/webm" });
      preview.src = URL.createObjectURL(blob);
      preview.hidden = false;
      state.textContent = t("recorded", { time: clock() });
      button.replaceChildren(icon("mic"), t("recordAgain"));
      button.classList.remove("danger");
      clearInterval(timer);
    });
    media.start(250);
    started = Date.now();
    blob = null;
    preview.hidden = true;
    button.replaceChildren(icon("stop"), t("stopRecording"));
    button.classList.add("danger");
    state.textContent = t("recordingFor", { time: clock() });
    timer = setInterval(() => { state.textContent = t("recordingFor", { time: clock() }); }, 500);
  }

  button.addEventListener("click", () => {
    if (media && media.state === "recording") media.stop();
    else startRecording();
  });
  const node = el("div", { className: "recorder-box" },
    el("div", { className: "recorder" }, button, state), preview, problem);
  return {
    node,
    blob: () => blob,
    /** Upload the recording to the library; its new audio file. */
    async upload(name) {
      if (!blob) throw new Error(t("needRecording"));
      const extension = blob.type.includes("ogg") ? "ogg" : blob.type.includes("mp4") ? "m4a" : "webm";
      const form = new FormData();
      form.append("file", blob, `${name || "recording"}.${extension}`);
      form.append("name", name || t("recordingName", { time: formatDateTime(new Date()) }));
      return (await api("/audio", { method: "POST", form })).json();
    },
  };
}

// -- source editor (programmes and announcements) ----------------------------------------------

function speechPreview(textarea) {
  const player = el("audio", { controls: true, hidden: true, preload: "auto", "data-preview": "" });
  const spoken = el("p", { className: "hint", "aria-live": "polite" });
  const button = el("button", { type: "button", className: "secondary", "data-action": "listen",
    onclick: async () => {
      if (!textarea.value.trim()) { spoken.textContent = t("needText"); return; }
      button.disabled = true;
      try {
        const answer = await (await api("/speech/preview", { method: "POST",
          json: { text: textarea.value } })).json();
        spoken.textContent = t("spokenAs", { spoken: answer.spoken });
        player.src = answer.audio_url;
        player.hidden = false;
        player.play().catch(() => {});
      } catch (error) {
        spoken.textContent = errorText(error);
      } finally { button.disabled = false; }
    } }, icon("play"), t("listen"));
  return el("div", {}, el("div", { className: "actions" }, button), spoken, player);
}

function audioSelect(library, selected, { optional = false } = {}) {
  const select = el("select", {},
    optional ? el("option", { value: "" }, t("noFallback")) : null,
    library.map((audio) => el("option", { value: audio.id, selected: audio.id === selected },
      `${audio.name} (${formatDuration(audio.duration_s)})`)));
  return select;
}

/** {node, value() → source (async: a recording is uploaded first)}. */
function sourceEditor(initial, library, { allowRecord = false, allowStream = false } = {}) {
  const kind = initial?.type || "tts";
  const text = el("textarea", { rows: "4", maxlength: "4000", name: "text" });
  text.value = initial?.type === "tts" ? initial.text : "";
  const audio = audioSelect(library, initial?.type === "audio" ? initial.audio_id : null);
  const url = el("input", { type: "url", inputmode: "url", name: "url", placeholder: "https://",
    value: initial?.type === "stream" ? initial.url : "" });
  const minutes = el("input", { type: "number", min: "1", max: "240", name: "minutes",
    value: String(initial?.type === "stream" ? Math.round(initial.duration_s / 60) : 30) });
  const fallback = audioSelect(library, initial?.fallback_audio_id, { optional: true });
  const recording = allowRecord ? recorder() : null;
  const panes = {
    tts: el("div", { "data-pane": "tts" }, field("ttsText", text), speechPreview(text)),
    audio: el("div", { "data-pane": "audio" },
      library.length ? field("chooseAudio", audio) : el("p", { className: "empty" }, t("noAudio"))),
    record: recording ? el("div", { "data-pane": "record" }, recording.node) : null,
    stream: allowStream ? el("div", { "data-pane": "stream" }, field("streamUrl", url),
      field("streamMinutes", minutes), field("fallbackAudio", fallback)) : null,
    playlist: initial?.type === "playlist" ? el("div", { "data-pane": "playlist" },
      el("p", {}, t("playlistKept", { n: initial.items.length }))) : null,
  };
  const options = [["tts", t("srcTts")], ["audio", t("srcAudio")]];
  if (allowRecord) options.push(["record", t("srcRecord")]);
  if (allowStream) options.push(["stream", t("srcStream")]);
  if (panes.playlist) options.push(["playlist", t("srcPlaylist")]);
  const show = (chosen) => {
    for (const [name, pane] of Object.entries(panes)) if (pane) pane.hidden = name !== chosen;
  };
  const picker = choiceGroup(t("source"), "source", options, kind, show);
  show(kind);
  return {
    node: el("div", {}, picker.node, ...Object.values(panes).filter(Boolean)),
    async value(name) {
      const chosen = picker.value();
      if (chosen === "tts") {
        if (!text.value.trim()) throw new Error(t("needText"));
        return { type: "tts", text: text.value.trim() };
      }
      if (chosen === "audio") {
        if (!audio.value) throw new Error(t("needAudio"));
        return { type: "audio", audio_id: audio.value };
      }
      if (chosen === "record") {
        const stored = await recording.upload(name);
        return { type: "audio", audio_id: stored.id };
      }
      if (chosen === "stream") {
        if (!url.value.trim()) throw new Error(t("needUrl"));
        const source = { type: "stream", url: url.value.trim(),
          duration_s: Math.max(1, Number(minutes.value) || 30) * 60 };
        if (fallback.value) source.fallback_audio_id = fallback.value;
        return source;
      }
      return initial;
    },
  };
}

// -- tabs ---------------------------------------------------------------------------------------

const TABS = [["week", "calendar", "tabWeek"], ["programmes", "list", "tabProgrammes"],
  ["announce", "bell", "tabAnnounce"], ["library", "file", "tabLibrary"], ["log", "clock", "tabLog"]];

function tabs(current) {
  return el("nav", { className: "tabs", "aria-label": t("radio") }, TABS.map(([id, iconName, word]) =>
    el("a", { href: `#/radio/${id}`, "aria-current": id === current ? "page" : null, "data-tab": id },
      icon(iconName), t(word))));
}

// -- the week ----------------------------------------------------------------------------------

function onAir(current, redraw) {
  const item = current?.broadcast;
  const box = el("section", { className: "card", id: "radio-on-air", "aria-live": "polite" },
    el("h2", {}, icon("radio"), " ", item ? t("onAirNow", { title: item.title || t(`kind_${item.kind}`) })
      : t("nothingOnAir")));
  if (item) {
    box.append(el("p", { className: "muted" }, zonesText(item.zones_on || item.zones), " · ",
      formatTime(item.started_at || item.due)), levelBadge(item.level));
    if (can("technician")) {
      box.append(el("div", { className: "actions" }, el("button", { type: "button",
        className: "danger", "data-action": "stop", onclick: async () => {
          if (!(await confirmAction(t("confirmStop")))) return;
          try {
            await api("/broadcasts/stop", { method: "POST" });
            say(t("stopped"));
            redraw(await refreshStatus());
          } catch (error) { say(errorText(error)); }
        } }, icon("stop"), t("stopAir"))));
    }
  }
  return box;
}

function speakers(current) {
  return el("section", { className: "card", id: "speakers" }, el("h2", {}, icon("speaker"), " ", t("speakers")),
    el("ul", { className: "cards" }, (current?.zones || []).map((zone) => el("li", { className: "row",
      "data-zone": zone.id },
      el("span", { className: "grow" }, zone.name), el("span", { className: zone.on ? "badge ok" : "badge" },
        zone.on ? t("zoneOn") : t("zoneOff")),
      can("technician") ? el("button", { type: "button", className: "secondary", "data-action": "test-tone",
        onclick: async () => {
          try {
            await api(`/zones/${encodeURIComponent(zone.id)}/test-tone`, { method: "POST" });
            say(t("testToneSent", { zone: zone.name }));
            await refreshStatus();
          } catch (error) { say(errorText(error)); }
        } }, icon("tone"), t("testTone")) : null))));
}

function lunarOf(plan, date) {
  // GET /plan may give each day's lunar date (asked for); the Gregorian date is shown meanwhile.
  const day = (Array.isArray(plan.dates) ? plan.dates : []).find((d) => d.date === date);
  const lunar = day?.lunar;
  if (!lunar) return null;
  const words = lunar.day === 1 || lunar.day === 15 ? lunarName(lunar.day)
    : t("lunarDay", { day: lunar.day, month: lunar.month });
  return el("span", { className: lunar.day === 1 || lunar.day === 15 ? "badge info" : "muted",
    "data-lunar": `${lunar.day}/${lunar.month}` }, words);
}

async function renderWeek(container) {
  const current = status() || (await refreshStatus());
  const today = localDate(new Date());
  // The plan counts broadcasts by calendar day (docs/plan.md): today and the six days after.
  const plan = await getJson(`/plan?from=${today}&days=7`);
  const days = [];
  for (let i = 0; i < 7; i += 1) days.push(localDate(new Date(Date.parse(`${today}T12:00:00Z`) + i * 86400000)));
  const byDay = new Map(days.map((d) => [d, []]));
  for (const entry of plan.entries) {
    if (entry.kind !== "broadcast") continue;
    const day = localDate(entry.time);
    if (byDay.has(day)) byDay.get(day).push(entry);
  }
  const top = el("div", {});
  const draw = (fresh) => top.replaceChildren(onAir(fresh, draw));
  draw(current);
  container.append(top, el("section", { className: "card", id: "week" },
    el("h2", {}, icon("calendar"), " ", t("weekTitle")),
    days.map((day) => el("div", { className: day === today ? "day today" : "day", "data-day": day },
      el("h3", {}, day === today ? `${t("today")}, ${formatDate(day)}` : formatDate(day), lunarOf(plan, day)),
      byDay.get(day).length ? byDay.get(day).map((entry) => el("div", { className: "airing",
        "data-key": entry.key, "data-program": entry.program || "" },
        el("time", { datetime: entry.time }, formatTime(entry.time)),
        el("div", { className: "grow" }, el("strong", {}, entry.name || entry.target || t(`kind_${entry.item}`)), " ",
          levelBadge(entry.broadcast_level),
          entry.status === "waiting_approval" ? el("span", { className: "badge warn" }, t("waitingApproval")) : null,
          el("div", { className: "muted" }, `${(entry.zone_names || []).join(", ")} · ${formatDuration(entry.duration_s)}`))))
        : el("p", { className: "empty" }, t("nothingThisDay"))))),
  speakers(current));
}

// -- programmes --------------------------------------------------------------------------------

function programmeBody(programme, changes = {}) {
  const { id, effective_from, next_airings, ...rest } = programme;
  return { ...rest, ...changes };
}

async function renderProgrammes(container) {
  const programmes = await getJson("/broadcast-programs");
  const list = el("ul", { className: "cards", id: "programmes" });
  const draw = () => list.replaceChildren(...(programmes.length ? programmes.map((programme) => el("li", {
    "data-program": programme.id },
    el("div", { className: "row" }, el("strong", { className: "grow" }, programme.name || programme.id),
      el("span", { className: programme.enabled ? "badge ok" : "badge warn" },
        programme.enabled ? t("active") : t("paused")), levelBadge(programme.level)),
    el("p", { className: "schedule" }, icon("clock"), " ", scheduleText(programme.schedule)),
    el("p", { className: "muted" }, zonesText(programme.zones), " · ", sourceWords(programme.source),
      programme.enabled && programme.next_airings?.length
        ? ` · ${t("nextAiring", { time: formatDateTime(programme.next_airings[0]) })}` : ""),
    can("operator") ? el("div", { className: "actions" },
      el("a", { className: "button secondary", href: `#/radio/programme/${programme.id}`, "data-action": "edit" },
        icon("edit"), t("edit")),
      el("button", { type: "button", className: "secondary", "data-action": "pause", onclick: async () => {
        try {
          const saved = await (await api(`/broadcast-programs/${programme.id}`, { method: "PUT",
            json: programmeBody(programme, { enabled: !programme.enabled, force: programme.enabled }) })).json();
          Object.assign(programme, saved);
          say(t("programmeSaved"));
          draw();
        } catch (error) { say(error.status === 409 ? t("overlapProgramme") : errorText(error)); }
      } }, icon(programme.enabled ? "pause" : "play"), programme.enabled ? t("pause") : t("resume")),
      el("button", { type: "button", className: "secondary", "data-action": "delete", onclick: async () => {
        if (!(await confirmAction(t("confirmDeleteProgramme", { name: programme.name || programme.id })))) return;
        try {
          await api(`/broadcast-programs/${programme.id}`, { method: "DELETE" });
          programmes.splice(programmes.indexOf(programme), 1);
          say(t("programmeDeleted"));
          draw();
        } catch (error) { say(errorText(error)); }
      } }, icon("trash"), t("delete"))) : null))
    : [el("li", { className: "empty" }, t("noProgrammes"))]));
  draw();
  container.append(el("section", { className: "card" }, el("h2", {}, t("programmesTitle")),
    can("operator") ? el("div", { className: "actions" }, el("a", { className: "button", href: "#/radio/programme/new",
      id: "new-programme" }, icon("plus"), t("newProgramme"))) : null, list));
}

function sourceWords(source) {
  if (!source) return "";
  if (source.type === "tts") return `${t("srcTts")}: “${source.text.slice(0, 60)}${source.text.length > 60 ? "…" : ""}”`;
  if (source.type === "audio") return t("srcAudio");
  if (source.type === "stream") return `${t("srcStream")} (${formatDuration(source.duration_s)})`;
  return t("playlistKept", { n: source.items?.length || 0 });
}

function scheduleKind(schedule) {
  if (!schedule) return "daily";
  if (schedule.rrule) return "keep";
  if (schedule.lunar_days) return "lunar";
  if (schedule.days) return "weekdays";
  if (schedule.valid_from && schedule.valid_from === schedule.valid_until) return "once";
  return "daily";
}

function scheduleEditor(schedule) {
  const kind = scheduleKind(schedule);
  const timesBox = el("div", { className: "times" });
  const addTime = (value) => {
    const input = el("input", { type: "time", required: true, value: value || "06:00", name: "time" });
    const row = el("div", { className: "row" }, el("div", { className: "grow" }, field("atTimes", input)),
      el("button", { type: "button", className: "ghost", "aria-label": t("removeTime", { time: value || "" }),
        onclick: () => { if (timesBox.children.length > 1) row.remove(); } }, icon("close")));
    timesBox.append(row);
  };
  for (const time of schedule?.times?.length ? schedule.times : ["06:00"]) addTime(time);
  const weekdays = checkGroup(t("weekdaysLegend"), "weekday", WEEKDAYS.map((d) => [d, t(`wd_${d}`)]),
    schedule?.days || []);
  const lunar = checkGroup(t("lunarLegend"), "lunar", [["1", t("lunarFirst")], ["15", t("lunarFull")]],
    (schedule?.lunar_days || [1, 15]).map(String));
  const date = el("input", { type: "date", name: "date", value: schedule?.valid_from || localDate(new Date()) });
  const panes = { weekdays: weekdays.node, lunar: lunar.node, once: field("onDate", date) };
  const options = [["daily", t("everyDay")], ["weekdays", t("someWeekdays")], ["lunar", t("lunarDays")],
    ["once", t("onceOn")]];
  if (kind === "keep") options.unshift(["keep", t("keepSchedule")]);
  const timesPart = el("div", {}, timesBox, el("button", { type: "button", className: "secondary",
    onclick: () => addTime("18:00") }, icon("plus"), t("addTime")));
  const keepNote = el("p", { className: "hint" }, t("advancedSchedule"));
  const show = (chosen) => {
    for (const [name, pane] of Object.entries(panes)) pane.hidden = name !== chosen;
    timesPart.hidden = chosen === "keep";
    keepNote.hidden = chosen !== "keep";
  };
  const picker = choiceGroup(t("when"), "schedule", options, kind, show);
  show(kind);
  return {
    node: el("div", {}, picker.node, keepNote, panes.weekdays, panes.lunar, panes.once, timesPart),
    value() {
      const chosen = picker.value();
      if (chosen === "keep") return schedule;
      const times = [...new Set([...timesBox.querySelectorAll("input")].map((i) => i.value).filter(Boolean))].sort();
      if (!times.length) throw new Error(t("chooseTime"));
      if (chosen === "weekdays") {
        const days = weekdays.values();
        if (!days.length) throw new Error(t("chooseWeekday"));
        return { times, days };
      }
      if (chosen === "lunar") {
        const days = lunar.values().map(Number);
        if (!days.length) throw new Error(t("chooseLunar"));
        return { times, lunar_days: days };
      }
      if (chosen === "once") {
        if (!date.value) throw new Error(t("chooseDate"));
        return { times, valid_from: date.value, valid_until: date.value };
      }
      return { times };
    },
  };
}

async function renderProgrammeEditor(container, programmeId) {
  const creating = programmeId === "new";
  const [programme, library] = await Promise.all([
    creating ? null : getJson(`/broadcast-programs/${encodeURIComponent(programmeId)}`),
    getJson("/audio")]);
  const name = el("input", { name: "name", required: true, maxlength: "120", value: programme?.name || "" });
  const schedule = scheduleEditor(programme?.schedule);
  const source = sourceEditor(programme?.source, library, { allowStream: true });
  const zones = zonePicker(programme?.zones || "all");
  const level = levelPicker(programme?.level);
  const enabled = el("input", { type: "checkbox", name: "enabled", checked: programme ? programme.enabled : true });
  const problem = el("p", { className: "error", role: "alert", id: "programme-error" });
  const anyway = el("button", { type: "button", className: "danger", hidden: true, id: "programme-force" },
    t("saveAnyway"));
  const save = async (force) => {
    problem.textContent = "";
    anyway.hidden = true;
    let body;
    try {
      body = { name: name.value.trim(), schedule: schedule.value(), zones: zones.value(),
        level: level.value(), source: await source.value(name.value.trim()), enabled: enabled.checked, force };
    } catch (error) { problem.textContent = problemText(error); return; }
    if (programme?.grace_min !== undefined && programme?.grace_min !== null) body.grace_min = programme.grace_min;
    try {
      if (creating) await api("/broadcast-programs", { method: "POST", json: { id: slug(body.name), ...body } });
      else await api(`/broadcast-programs/${programme.id}`, { method: "PUT", json: body });
      say(t("programmeSaved"));
      location.hash = "#/radio/programmes";
    } catch (error) {
      if (error.status === 409) { problem.textContent = t("overlapProgramme"); anyway.hidden = false; }
      else problem.textContent = errorText(error);
    }
  };
  anyway.addEventListener("click", () => save(true));
  container.append(el("section", { className: "card" },
    el("h2", {}, creating ? t("newProgramme") : t("editProgramme")),
    el("form", { id: "programme-form", onsubmit: (event) => { event.preventDefault(); save(false); } },
      field("programmeName", name), schedule.node, source.node, zones.node, level.node,
      el("label", { className: "choice" }, enabled, t("enabled")),
      problem,
      el("div", { className: "actions" },
        el("button", { type: "submit" }, icon("check"), t("save")), anyway,
        el("a", { className: "button secondary", href: "#/radio/programmes" }, t("cancel"))))));
}

// -- announcements -----------------------------------------------------------------------------

function announcementItem(item, redraw) {
  const title = item.title || (item.source?.type === "tts" ? item.source.text.slice(0, 60) : t("untitled"));
  const live = item.status === "waiting_approval" || item.status === "scheduled";
  return el("li", { "data-announcement": item.id, "data-status": item.status },
    el("div", { className: "row" }, el("strong", { className: "grow" }, title),
      el("span", { className: { waiting_approval: "badge warn", scheduled: "badge info", done: "badge ok" }[item.status] || "badge" },
        t(`st_${item.status}`)), levelBadge(item.level)),
    el("p", { className: "muted" }, formatDateTime(item.next_at || item.at), " · ", zonesText(item.zones),
      item.repeat > 1 ? ` · ${t("airedOf", { aired: item.aired, repeat: item.repeat })}` : "",
      " · ", t("by", { name: item.created_by })),
    live ? el("div", { className: "actions" },
      item.status === "waiting_approval" && can("technician") ? el("button", { type: "button",
        "data-action": "approve", onclick: async () => {
          try {
            await api(`/announcements/${item.id}/approve`, { method: "POST" });
            say(t("approved"));
            redraw();
          } catch (error) { say(errorText(error)); }
        } }, icon("check"), t("approve")) : null,
      can("operator") ? el("button", { type: "button", className: "secondary", "data-action": "cancel",
        onclick: async () => {
          if (!(await confirmAction(t("confirmCancel", { title })))) return;
          try {
            await api(`/announcements/${item.id}`, { method: "DELETE" });
            say(t("cancelled"));
            redraw();
          } catch (error) { say(errorText(error)); }
        } }, icon("close"), t("cancelIt")) : null) : null);
}

async function announcementLists() {
  const box = el("div", { id: "announcement-lists" });
  const redraw = async () => {
    const all = await getJson("/announcements");
    const waiting = all.filter((a) => a.status === "waiting_approval");
    const upcoming = all.filter((a) => a.status === "scheduled")
      .sort((a, b) => Date.parse(a.next_at || a.at) - Date.parse(b.next_at || b.at));
    const recent = all.filter((a) => a.status === "done" || a.status === "cancelled").slice(0, 10);
    const list = (id, title, items, empty) => el("section", { className: "card", id },
      el("h2", {}, title), items.length ? el("ul", { className: "cards" }, items.map((i) => announcementItem(i, redraw)))
        : el("p", { className: "empty" }, empty));
    box.replaceChildren(list("approval-queue", t("approvalQueue"), waiting, t("noneWaiting")),
      list("upcoming", t("upcoming"), upcoming, t("noneUpcoming")),
      list("recent", t("recent"), recent, t("noneUpcoming")));
  };
  await redraw();
  return { node: box, redraw };
}

async function renderAnnounce(container) {
  const [library, lists] = await Promise.all([getJson("/audio"), announcementLists()]);
  if (!can("operator")) { container.append(lists.node); return; }
  const title = el("input", { name: "title", maxlength: "120" });
  const source = sourceEditor(null, library, { allowRecord: true });
  const zones = zonePicker("all");
  const date = el("input", { type: "date", name: "date", value: localDate(new Date()) });
  const time = el("input", { type: "time", name: "time" });
  const laterBox = el("div", { className: "row", hidden: true },
    el("div", { className: "grow" }, field("date", date)), el("div", { className: "grow" }, field("time", time)));
  const when = choiceGroup(t("whenAnnounce"), "when", [["now", t("now")], ["later", t("later")]], "now",
    (value) => { laterBox.hidden = value !== "later"; });
  const level = levelPicker("normal");
  const repeat = el("input", { type: "number", min: "1", max: "20", value: "1", name: "repeat", inputmode: "numeric" });
  const gap = el("input", { type: "number", min: "1", max: "1440", value: "5", name: "gap", inputmode: "numeric" });
  const problem = el("p", { className: "error", role: "alert", id: "announce-error" });
  const anyway = el("button", { type: "button", className: "danger", hidden: true, id: "announce-force" },
    t("sendAnyway"));
  const submit = el("button", { type: "submit" }, icon("radio"), t("send"));
  let prepared = null; // the body once built (a recording is uploaded only once)
  const send = async (force) => {
    problem.textContent = "";
    anyway.hidden = true;
    submit.disabled = true;
    try {
      if (!force || !prepared) {
        const body = { title: title.value.trim(), zones: zones.value(), level: level.value(),
          repeat: Math.max(1, Number(repeat.value) || 1), repeat_gap_min: Math.max(1, Number(gap.value) || 5) };
        if (when.value() === "later") {
          if (!date.value || !time.value) throw new Error(t("needWhen"));
          body.at = `${date.value}T${time.value}:00`; // site-local: the API reads it so
        }
        body.source = await source.value(body.title);
        prepared = body;
      }
      const made = await (await api("/announcements", { method: "POST", json: { ...prepared, force } })).json();
      prepared = null;
      say(made.status === "waiting_approval" ? t("sentWaiting") : t("sent"));
      form.reset();
      laterBox.hidden = true;
      await lists.redraw();
    } catch (error) {
      if (error.status === 409) { problem.textContent = t("overlapAnnouncement"); anyway.hidden = false; }
      else problem.textContent = problemText(error);
    } finally { submit.disabled = false; }
  };
  anyway.addEventListener("click", () => send(true));
  const form = el("form", { id: "announce-form", onsubmit: (event) => { event.preventDefault(); prepared = null; send(false); } },
    field("announceName", title), source.node, zones.node, when.node, laterBox, level.node,
    el("div", { className: "row" }, el("div", { className: "grow" }, field("repeatCount", repeat)),
      el("div", { className: "grow" }, field("repeatGap", gap))),
    problem, el("div", { className: "actions" }, submit, anyway));
  container.append(el("section", { className: "card" }, el("h2", {}, t("announceTitle")), form), lists.node);
}

// -- the audio library -------------------------------------------------------------------------

function usedByText(audio) {
  if (!Array.isArray(audio.used_by)) return null;
  if (!audio.used_by.length) return t("notUsed");
  return t("usedBy", { list: audio.used_by.map((use) => t(`use_${use.kind}`, { name: use.name || use.id }))
    .join(", ") });
}

async function renderLibrary(container) {
  let library = await getJson("/audio");
  const list = el("ul", { className: "cards", id: "library" });
  const draw = () => list.replaceChildren(...(library.length ? [...library].reverse().map((audio) => el("li", {
    "data-audio": audio.id },
    el("div", { className: "row" }, icon("file"), el("strong", { className: "grow audio-name" }, audio.name),
      el("span", { className: "muted" }, formatDuration(audio.duration_s))),
    el("audio", { controls: true, preload: "none", src: `/api/v1/audio/${encodeURIComponent(audio.id)}/file`,
      "aria-label": audio.name }),
    el("p", { className: "muted" }, t("uploadedBy", { name: audio.uploaded_by, time: formatDateTime(audio.uploaded_at) }),
      usedByText(audio) ? el("span", { className: "used-by" }, " · ", usedByText(audio)) : null),
    can("operator") ? el("div", { className: "actions" },
      el("button", { type: "button", className: "secondary", "data-action": "rename", onclick: () => rename(audio) },
        icon("edit"), t("rename")),
      el("button", { type: "button", className: "secondary", "data-action": "delete", onclick: () => remove(audio) },
        icon("trash"), t("delete"))) : null))
    : [el("li", { className: "empty" }, t("emptyLibrary"))]));
  const reload = async () => { library = await getJson("/audio"); draw(); };

  function rename(audio) {
    const input = el("input", { name: "name", required: true, maxlength: "120", value: audio.name });
    const problem = el("p", { className: "error", role: "alert" });
    const box = openDialog(t("rename"), el("form", { onsubmit: async (event) => {
      event.preventDefault();
      try {
        await api(`/audio/${encodeURIComponent(audio.id)}`, { method: "PATCH", json: { name: input.value.trim() } });
        say(t("renamed"));
        box.close();
        await reload();
      } catch (error) { problem.textContent = errorText(error); }
    } }, field("newName", input), problem, el("button", { type: "submit" }, t("save"))));
  }

  async function remove(audio) {
    if (!(await confirmAction(t("confirmDeleteAudio", { name: audio.name })))) return;
    try {
      await api(`/audio/${encodeURIComponent(audio.id)}`, { method: "DELETE" });
      say(t("audioDeleted"));
      await reload();
    } catch (error) { say(error.status === 409 ? t("audioInUse") : errorText(error)); }
  }

  draw();
  const parts = [];
  if (can("operator")) {
    const file = el("input", { type: "file", accept: "audio/*", name: "file", required: true });
    const name = el("input", { name: "name", maxlength: "120" });
    const problem = el("p", { className: "error", role: "alert" });
    parts.push(el("section", { className: "card", id: "upload" }, el("h2", {}, icon("upload"), " ", t("uploadFile")),
      el("form", { onsubmit: async (event) => {
        event.preventDefault();
        problem.textContent = "";
        if (!file.files[0]) { problem.textContent = t("chooseFile"); return; }
        const form = new FormData();
        form.append("file", file.files[0]);
        if (name.value.trim()) form.append("name", name.value.trim());
        try {
          const stored = await (await api("/audio", { method: "POST", form })).json();
          say(t("uploaded", { name: stored.name }));
          event.target.reset();
          await reload();
        } catch (error) { problem.textContent = errorText(error); }
      } }, field("fileToUpload", file), field("displayName", name), problem,
      el("button", { type: "submit" }, icon("upload"), t("upload")))));
    const recording = recorder();
    const recName = el("input", { name: "recording-name", maxlength: "120" });
    const recProblem = el("p", { className: "error", role: "alert" });
    parts.push(el("section", { className: "card", id: "record" }, el("h2", {}, icon("mic"), " ", t("recordNew")),
      recording.node, field("displayName", recName), recProblem,
      el("button", { type: "button", "data-action": "save-recording", onclick: async () => {
        recProblem.textContent = "";
        try {
          const stored = await recording.upload(recName.value.trim());
          say(t("uploaded", { name: stored.name }));
          await reload();
        } catch (error) { recProblem.textContent = problemText(error); }
      } }, icon("check"), t("saveRecording"))));
  }
  container.append(...parts, el("section", { className: "card" }, el("h2", {}, t("libraryTitle")), list));
}

// -- the log -----------------------------------------------------------------------------------

async function renderLog(container) {
  const records = (await getJson("/broadcasts/log")).slice(-50).reverse();
  const names = zoneNames();
  const badge = { completed: "badge ok", preempted: "badge warn", skipped: "badge warn", cancelled: "badge warn",
    failed: "badge bad", missed: "badge bad" };
  container.append(el("section", { className: "card" }, el("h2", {}, t("logTitle")),
    el("div", { className: "actions" },
      el("button", { type: "button", className: "secondary", "data-action": "csv",
        onclick: () => download("/broadcasts/log?format=csv", "nhat-ky-phat.csv") }, icon("download"), t("downloadCsv")),
      el("button", { type: "button", className: "secondary", "data-action": "xlsx",
        onclick: () => download("/broadcasts/log?format=xlsx", "nhat-ky-phat.xlsx") }, icon("download"), t("downloadXlsx"))),
    records.length ? el("ul", { className: "cards", id: "log" }, records.map((record) => el("li", {
      "data-key": record.key, "data-outcome": record.outcome || "playing" },
      el("div", { className: "row" }, el("strong", { className: "grow" }, record.title || t(`kind_${record.kind}`)),
        el("span", { className: badge[record.outcome] || "badge info" }, t(`out_${record.outcome || "playing"}`)),
        levelBadge(record.level)),
      el("p", { className: "muted" }, record.started_at ? t("startedAt", { time: formatDateTime(record.started_at) })
        : t("dueAt", { time: formatDateTime(record.due) }), " · ", (record.zones || []).map((z) => names[z] || z).join(", "),
      lang() === "en" && record.reason ? ` · ${record.reason}` : ""))))
      : el("p", { className: "empty" }, t("noLog"))));
}

// -- the view ----------------------------------------------------------------------------------

registerView({
  id: "radio", icon: "radio", title: "radio", minRole: "viewer",
  async render(container) {
    const [, first = "week", second] = location.hash.replace(/^#\/?/, "").split("/");
    const part = first === "programme" ? "programmes" : first;
    container.append(el("h2", { className: "sr-only" }, t("radio")), tabs(part));
    if (first === "programme" && second && can("operator")) await renderProgrammeEditor(container, second);
    else if (part === "programmes") await renderProgrammes(container);
    else if (part === "announce") await renderAnnounce(container);
    else if (part === "library") await renderLibrary(container);
    else if (part === "log") await renderLog(container);
    else await renderWeek(container);
  },
});
