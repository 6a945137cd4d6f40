// The live talk view (Phát trực tiếp): pick zones and a level, press the big button and speak.
// The microphone (getUserMedia) goes through an AudioWorklet (live-worklet.js) at the house
// rate as 16-bit PCM over the WebSocket /api/v1/live (the front process relays it to the
// controller); the first message says the zones, the level and the session's CSRF token. The
// panel shows the level meter, the time on air and what happened: refused and why, cut off by
// an emergency, ended. A technician may talk through the gateway's own microphone instead
// (when it has one): POST /live with source "gateway", then GET /live/{id} twice a second for
// the state, the meter and the time, and POST /live/{id}/stop.
import {
  addWords, api, can, el, errorText, formatDuration, getJson, icon, registerView, say, session,
  status, t,
} from "./core.js";

const RATE = 22050;
const GATEWAY_POLL_MS = 500;

addWords({
  vi: {
    "lv.title": "Phát trực tiếp", "lv.zones": "Phát ở thôn nào", "lv.level": "Mức độ",
    "lv.level.normal": "Bình thường", "lv.level.priority": "Ưu tiên",
    "lv.level.emergency": "Khẩn cấp",
    "lv.emergencyHint": "Khẩn cấp: cắt ngang mọi thứ đang phát.",
    "lv.start": "Bắt đầu nói", "lv.stop": "Dừng phát",
    "lv.idle": "Chọn thôn rồi bấm nút để nói.",
    "lv.connecting": "Đang kết nối…", "lv.warming": "Đang bật loa, chờ một chút…",
    "lv.onAir": "Đang phát — hãy nói", "lv.meter": "Mức âm thanh micro",
    "lv.elapsed": "Thời gian phát", "lv.noZone": "Hãy chọn ít nhất một thôn.",
    "lv.noMic": "Không dùng được micro: {why}",
    "lv.refused": "Không phát được: {why}",
    "lv.preempted": "Bị ngắt: {why}",
    "lv.ended": "Đã phát xong ({time}). Bản ghi đã lưu vào thư viện.",
    "lv.endedNoRecording": "Đã phát xong ({time}).",
    "lv.lost": "Mất kết nối với bộ điều khiển.",
    "lv.gaps": "{n} lần tiếng bị ngắt quãng",
    "lv.source": "Nói vào micro nào", "lv.source.page": "Micro của máy này",
    "lv.source.gateway": "Micro ở tủ điều khiển",
    "lv.onAirGateway": "Đang phát — hãy nói vào micro ở tủ điều khiển",
    "lv.lostGateway": "Mất kết nối — micro ở tủ vẫn đang phát. Bấm Dừng phát để tắt.",
  },
  en: {
    "lv.title": "Live", "lv.zones": "Zones", "lv.level": "Level",
    "lv.level.normal": "Normal", "lv.level.priority": "Priority",
    "lv.level.emergency": "Emergency",
    "lv.emergencyHint": "Emergency: cuts into whatever is playing.",
    "lv.start": "Start talking", "lv.stop": "Stop",
    "lv.idle": "Choose the zones, then press the button and speak.",
    "lv.connecting": "Connecting…", "lv.warming": "Switching the loudspeakers on, a moment…",
    "lv.onAir": "On air — speak now", "lv.meter": "Microphone level",
    "lv.elapsed": "Time on air", "lv.noZone": "Choose at least one zone.",
    "lv.noMic": "The microphone cannot be used: {why}",
    "lv.refused": "Refused: {why}",
    "lv.preempted": "Cut off: {why}",
    "lv.ended": "Done ({time}). The recording is in the library.",
    "lv.endedNoRecording": "Done ({time}).",
    "lv.lost": "The connection to the controller was lost.",
    "lv.gaps": "{n} gaps in the sound",
    "lv.source": "Microphone", "lv.source.page": "This device's microphone",
    "lv.source.gateway": "The gateway's microphone",
    "lv.onAirGateway": "On air — speak into the gateway's microphone",
    "lv.lostGateway": "Connection lost — the gateway's microphone is still on air. Press Stop.",
  },
});

let talk = null; // the talk in progress: {socket, context, stream, timer} or {gateway: id}

const wait = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

/** Ask the controller to end a gateway talk, again on a network error (a stop that is lost
 * would leave the microphone on air); an answer, even a refusal, ends the tries. */
async function stopGatewayTalk(id) {
  for (let attempt = 0; attempt < 5; attempt += 1) {
    try {
      await api(`/live/${encodeURIComponent(id)}/stop`, { method: "POST" });
      return;
    } catch (error) {
      if (error.status) return;
      await wait(1000);
    }
  }
}

function stopTalk() {
  if (!talk) return;
  if (talk.gateway) {
    // The gateway's microphone: the view keeps following the talk until it says how it
    // ended, and keeps the Stop button until then (pressing it again asks again).
    stopGatewayTalk(talk.gateway);
    return;
  }
  const { socket, context, stream, timer } = talk;
  talk = null;
  clearInterval(timer);
  if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "stop" }));
  stream?.getTracks().forEach((track) => track.stop());
  context?.close();
}

async function render(container) {
  const zones = (status()?.zones || []).map((zone) => [zone.id, zone.name]);
  const zoneInputs = zones.map(([id]) => el("input", { type: "checkbox", name: "live-zone",
    value: id, checked: true }));
  const levelInputs = ["normal", "priority", "emergency"].map((level) => el("input", {
    type: "radio", name: "live-level", value: level, checked: level === "normal" }));
  const sourceInputs = status()?.site?.microphone && can("technician")
    ? ["page", "gateway"].map((source) => el("input", { type: "radio", name: "live-source",
      value: source, checked: source === "page" }))
    : [];
  const state = el("p", { id: "live-state", role: "status", "aria-live": "polite" },
    t("lv.idle"));
  const meter = el("meter", { id: "live-meter", min: 0, max: 1, value: 0, low: 0.6,
    high: 0.9, optimum: 0.3, "aria-label": t("lv.meter") });
  const elapsed = el("output", { id: "live-elapsed", "aria-label": t("lv.elapsed") }, "0:00");
  const label = el("span", {}, t("lv.start"));
  const button = el("button", { type: "button", id: "live-button", className: "primary big",
    "aria-pressed": "false" }, icon("mic"), label);

  const show = (text, kind = "") => {
    state.textContent = text;
    state.className = kind;
  };
  const setTalking = (on) => {
    button.setAttribute("aria-pressed", on ? "true" : "false");
    button.replaceChildren(icon(on ? "stop" : "mic"), el("span", {}, t(on ? "lv.stop" : "lv.start")));
    for (const input of [...zoneInputs, ...levelInputs, ...sourceInputs]) input.disabled = on;
  };
  const showEnded = (ended) => {
    const time = formatDuration(ended.aired_s || 0);
    if (ended.outcome === "preempted") show(t("lv.preempted", { why: ended.reason }), "bad");
    else if (ended.outcome === "completed") {
      show(t(ended.recording ? "lv.ended" : "lv.endedNoRecording", { time })
        + (ended.gaps ? ` · ${t("lv.gaps", { n: ended.gaps })}` : ""), "ok");
    } else show(t("lv.refused", { why: ended.reason || ended.outcome }), "bad");
    say(state.textContent);
  };

  async function startGateway(zonesChosen, level) {
    setTalking(true);
    show(t("lv.connecting"));
    let started;
    try {
      started = await (await api("/live", { method: "POST", json: {
        zones: zonesChosen, level, source: "gateway" } })).json();
    } catch (error) {
      setTalking(false);
      show(t("lv.refused", { why: errorText(error) }), "bad");
      return;
    }
    const current = { gateway: started.id };
    talk = current;
    let failures = 0;
    let waitsForRecording = 4; // the recording is kept a moment after the talk ends
    const follow = async () => {
      let now;
      try {
        now = await getJson(`/live/${encodeURIComponent(started.id)}`);
        failures = 0;
      } catch (error) {
        if (error.status === 404) now = null; // forgotten (a restart): nothing is on air
        else {
          // The talk goes on at the gateway whatever the phone's link does: say so, keep
          // the Stop button, and keep asking, less often.
          failures += 1;
          if (failures >= 3) show(t("lv.lostGateway"), "bad");
          setTimeout(follow, GATEWAY_POLL_MS * Math.min(failures, 10));
          return;
        }
      }
      if (now) {
        meter.value = now.peak || 0;
        elapsed.textContent = formatDuration(now.aired_s || 0);
        if (now.state === "waiting") show(t("lv.warming"));
        else if (now.state === "on_air") show(t("lv.onAirGateway"), "ok");
      }
      if (now && now.state !== "ended") {
        setTimeout(follow, GATEWAY_POLL_MS);
        return;
      }
      if (now && now.outcome === "completed" && !now.recording && waitsForRecording-- > 0) {
        setTimeout(follow, GATEWAY_POLL_MS);
        return;
      }
      if (talk === current) talk = null;
      setTalking(false);
      meter.value = 0;
      if (now) showEnded(now);
      else show(t("lv.lost"), "bad");
    };
    follow();
  }

  async function start() {
    const chosen = zoneInputs.filter((i) => i.checked).map((i) => i.value);
    if (!chosen.length) { show(t("lv.noZone"), "bad"); return; }
    const level = levelInputs.find((i) => i.checked).value;
    if (sourceInputs.find((i) => i.checked)?.value === "gateway") {
      await startGateway(chosen.length === zones.length ? "all" : chosen, level);
      return;
    }
    let stream;
    let context;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: {
        // Raw, as a PA microphone: the phone's voice-call processing pumps and gates.
        channelCount: 1, echoCancellation: false, noiseSuppression: false,
        autoGainControl: false } });
      context = new AudioContext({ sampleRate: RATE });
      await context.audioWorklet.addModule("/static/live-worklet.js");
    } catch (error) {
      stream?.getTracks().forEach((track) => track.stop());
      context?.close();
      show(t("lv.noMic", { why: error.message || String(error) }), "bad");
      return;
    }
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${scheme}//${location.host}/api/v1/live`);
    socket.binaryType = "arraybuffer";
    talk = { socket, context, stream, timer: null };
    const current = talk;
    setTalking(true);
    show(t("lv.connecting"));
    let onAirSince = null;
    let ended = false;
    socket.onopen = () => socket.send(JSON.stringify({ zones: chosen.length === zones.length
      ? "all" : chosen, level, csrf: session()?.csrf || "" }));
    socket.onmessage = (message) => {
      const event = JSON.parse(message.data);
      if (event.event === "accepted") {
        show(t("lv.warming"));
      } else if (event.event === "on_air") {
        onAirSince = Date.now();
        show(t("lv.onAir"), "ok");
        const source = context.createMediaStreamSource(stream);
        const node = new AudioWorkletNode(context, "live-pcm");
        node.port.onmessage = ({ data }) => {
          meter.value = data.peak;
          if (socket.readyState === WebSocket.OPEN) socket.send(data.pcm);
        };
        source.connect(node);
        current.timer = setInterval(() => {
          elapsed.textContent = formatDuration((Date.now() - onAirSince) / 1000);
        }, 500);
      } else if (event.event === "ended") {
        ended = true;
        showEnded(event);
      }
    };
    socket.onclose = (close) => {
      if (talk === current) stopTalk();
      setTalking(false);
      meter.value = 0;
      if (close.code >= 4000) show(t("lv.refused", { why: close.reason }), "bad");
      else if (!ended) show(t("lv.lost"), "bad");
    };
  }

  button.addEventListener("click", () => {
    if (talk) stopTalk();
    // Not while a talk that was stopped is still ending (the gateway's says so shortly).
    else if (button.getAttribute("aria-pressed") !== "true") start();
  });

  container.replaceChildren(el("section", { className: "view", id: "live" },
    el("h1", {}, icon("mic"), t("lv.title")),
    el("fieldset", { "data-checks": "live-zone" }, el("legend", {}, t("lv.zones")),
      el("div", { className: "choices" }, zoneInputs.map((input, i) =>
        el("label", { className: "choice" }, input, zones[i][1])))),
    el("fieldset", { "data-checks": "live-level" }, el("legend", {}, t("lv.level")),
      el("div", { className: "choices" }, levelInputs.map((input) =>
        el("label", { className: "choice" }, input, t(`lv.level.${input.value}`)))),
      el("p", { className: "hint" }, t("lv.emergencyHint"))),
    sourceInputs.length ? el("fieldset", { "data-checks": "live-source" },
      el("legend", {}, t("lv.source")),
      el("div", { className: "choices" }, sourceInputs.map((input) =>
        el("label", { className: "choice" }, input, t(`lv.source.${input.value}`))))) : null,
    button,
    el("div", { className: "live-figures" }, meter, elapsed),
    state));
}

// Leaving the view ends the talk (the microphone is not left open behind another view).
window.addEventListener("hashchange", () => {
  if (!location.hash.startsWith("#/live")) stopTalk();
});
// So does closing the page: a gateway talk is asked to stop by a request that outlives the
// page (fetch's keepalive; the controller also ends such a talk after
// broadcast.microphone_max_min).
window.addEventListener("pagehide", () => {
  if (!talk?.gateway) return;
  fetch(`/api/v1/live/${encodeURIComponent(talk.gateway)}/stop`, {
    method: "POST", keepalive: true, credentials: "same-origin",
    headers: { "X-CSRF-Token": session()?.csrf || "" } }).catch(() => {});
});

registerView({ id: "live", icon: "mic", title: "lv.title", minRole: "operator", render });
