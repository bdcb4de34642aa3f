// Apoena's call monitor: polls the JSON API once a second and renders it with DOM nodes only.
// Everything from a call (transcripts, names, errors) goes in as text (textContent), never as HTML.
"use strict";

const LIVE_EVERY_MS = 1000;
const RECENT_EVERY_MS = 5000;
const STATES = { STANDBY: "standby", USER_TURN: "user", WAITING: "waiting", IA_TURN: "ia" };
const STATE_LABELS = { STANDBY: "standby", USER_TURN: "visitor's turn", WAITING: "thinking", IA_TURN: "concierge speaking" };
const ROLES = { visitor: "visitor", concierge: "concierge", resident: "resident", system: "system" };
const DECISIONS = {
  authorized: "authorized", denied: "denied", leave_at_gate: "leave at the gate", resident_coming: "resident coming down",
  no_answer: "no answer", not_asked: "not asked", cancelled: "visitor left",
};
const VISIT_STATUS = { calling: "calling the resident", ringing: "ringing", answered: "resident on the line" };
const OUTCOMES = {
  completed: "completed", caller_hung_up: "hung up", timed_out: "timed out", no_input: "no input",
  error: "error", live: "live", interrupted: "interrupted",
};
const CONDOMINIUM = new URLSearchParams(location.search).get("condominium");  // /?condominium=ID: that condominium's calls only
const nameAudioUrls = new Map();  // "call id/turn" -> blob: URL of the visitor's voice saying their name

// With web.token set, the server swapped ?token= for an HttpOnly session cookie before this page
// loaded: the script never sees the token, and same-origin requests carry the cookie.

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (key === "class") node.className = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

async function api(path) {
  const response = await fetch(path, { cache: "no-store" });
  if (response.status === 401) throw new Error("access token needed: open this page with ?token=…");
  const body = await response.json();
  if (!response.ok) throw Object.assign(new Error(body.error || response.statusText), { status: response.status });
  return body;
}

function showConnection(error) {
  const node = document.getElementById("connection");
  node.textContent = error ? `offline — ${error.message}` : `updated ${new Date().toLocaleTimeString()}`;
  node.classList.toggle("bad", Boolean(error));
}

function time(iso) {
  return iso ? new Date(iso).toLocaleTimeString() : "—";
}

function dateTime(iso) {
  return iso ? new Date(iso).toLocaleString() : "—";
}

function ms(value) {
  return value === null || value === undefined ? "—" : `${Math.round(value)} ms`;
}

function elapsed(iso) {
  const seconds = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000));
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
}

function stateBadge(state, visit) {
  const asking = state === "WAITING" && visit && visit.status !== "decided";  // not thinking: a resident is being asked
  return el("span", { class: `badge state-${STATES[state] || "unknown"}`, dataset: { state: String(state) } },
    asking ? "waiting on the resident" : STATE_LABELS[state] || String(state));
}

function outcomeBadge(outcome) {
  return el("span", { class: `badge outcome-${OUTCOMES[outcome] ? outcome : "unknown"}` }, OUTCOMES[outcome] || String(outcome));
}

function transcriptLines(lines) {
  return lines.map((line) => {
    const role = ROLES[line.role] || "system";
    return el("div", { class: `line ${role}`, dataset: { role } },
      el("span", { class: "who" }, role), el("span", { class: "text" }, line.text));
  });
}

function fillTranscript(box, lines) {
  const atBottom = box.scrollTop + box.clientHeight >= box.scrollHeight - 8;
  box.replaceChildren(...transcriptLines(lines));
  if (atBottom) box.scrollTop = box.scrollHeight;
}

function decisionBadge(decision) {
  if (!decision) return "—";
  return el("span", { class: `badge decision-${DECISIONS[decision] ? decision : "unknown"}`, dataset: { decision: String(decision) } },
    DECISIONS[decision] || String(decision));
}

function visitStatus(visit) {
  if (!visit) return null;
  if (visit.status === "decided") return el("div", { class: "visit", dataset: { visitStatus: "decided" } }, "resident: ", decisionBadge(visit.decision));
  const doing = VISIT_STATUS[visit.status] || String(visit.status);
  return el("div", { class: "visit", dataset: { visitStatus: String(visit.status) } },
    el("span", { class: "badge visit-waiting" }, "waiting on a resident"), " ",
    visit.dialing ? `${doing} ${visit.dialing}` : doing);
}

function visitSummary(dados) {
  if (!dados) return "";
  const parts = [dados.intent_type, dados.visitor_name, dados.apartment_number && `ap ${dados.apartment_number}`, dados.resident_name];
  return parts.filter((part) => part && part !== "desconhecido").join(" · ");
}

// -- overview --------------------------------------------------------------------------------

const rendered = new Map(); // call id -> JSON last rendered, so unchanged cards are left alone

function liveCard(call) {
  const transcript = el("div", { class: "transcript" });
  const card = el("article", { class: "call", dataset: { callId: call.call_id } },
    el("div", { class: "call-head" },
      el("span", { class: "state" }),
      el("a", { class: "call-id", href: `/calls/${encodeURIComponent(call.call_id)}` }, call.call_id.slice(0, 8)),
      el("span", { class: "clock" })),
    el("dl", { class: "meta compact" },
      el("dt", {}, "condominium"), el("dd", { class: "condominium" }, call.condominium || "default"),
      el("dt", {}, "conversation"), el("dd", { class: "conversation" }, call.conversation_id),
      el("dt", {}, "started"), el("dd", {}, time(call.started_at)),
      el("dt", {}, "turns"), el("dd", { class: "turns" }),
      el("dt", {}, "last response"), el("dd", { class: "response" })),
    el("div", { class: "visit-slot" }),
    transcript);
  return card;
}

function updateCard(card, call) {
  card.querySelector(".state").replaceChildren(stateBadge(call.state, call.visit));
  card.querySelector(".turns").textContent = call.turn_count;
  card.querySelector(".response").textContent = ms(call.last_response_ms);
  const visit = visitStatus(call.visit);
  card.querySelector(".visit-slot").replaceChildren(...(visit ? [visit] : []));
  fillTranscript(card.querySelector(".transcript"), call.lines);
}

async function refreshLive() {
  const calls = (await api("/api/live")).calls.filter((call) => !CONDOMINIUM || call.condominium === CONDOMINIUM);
  const box = document.getElementById("live");
  const ids = new Set(calls.map((call) => call.call_id));
  let ended = false;
  for (const card of [...box.children]) {
    if (!ids.has(card.dataset.callId)) {
      card.remove();
      rendered.delete(card.dataset.callId);
      ended = true;
    }
  }
  for (const call of calls) {
    let card = box.querySelector(`article[data-call-id="${CSS.escape(call.call_id)}"]`);
    if (!card) box.append((card = liveCard(call)));
    const json = JSON.stringify(call);
    if (rendered.get(call.call_id) !== json) {
      updateCard(card, call);
      rendered.set(call.call_id, json);
    }
    card.querySelector(".clock").textContent = elapsed(call.started_at);
  }
  document.getElementById("live-count").textContent = calls.length;
  const waiting = calls.filter((call) => call.visit && call.visit.status !== "decided").length;
  document.getElementById("waiting-count").textContent = waiting;
  document.getElementById("waiting-note").hidden = waiting === 0;
  document.getElementById("live-empty").hidden = calls.length > 0;
  return ended;
}

async function refreshRecent() {
  const only = CONDOMINIUM ? `&condominium=${encodeURIComponent(CONDOMINIUM)}` : "";
  const [{ calls }, stats] = await Promise.all([api(`/api/calls?limit=25${only}`), api("/api/stats")]);
  document.getElementById("stats").replaceChildren(
    ...Object.entries(stats.calls).map(([outcome, count]) =>
      el("div", { class: `stat outcome-${OUTCOMES[outcome] ? outcome : "unknown"}` },
        el("span", { class: "number" }, count), el("span", { class: "label" }, OUTCOMES[outcome] || outcome))));
  document.querySelector("#recent tbody").replaceChildren(...calls.map((call) =>
    el("tr", { dataset: { callId: call.call_id } },
      el("td", {}, dateTime(call.started_at)),
      el("td", {}, el("a", { href: `/calls/${encodeURIComponent(call.call_id)}` }, el("code", {}, call.call_id.slice(0, 8)))),
      el("td", { class: "condominium" }, call.condominium),
      el("td", {}, outcomeBadge(call.outcome), call.reason ? el("span", { class: "reason" }, call.reason) : null),
      el("td", { class: "num" }, call.turn_count),
      el("td", { class: "num" }, ms(call.response_ms_p50)),
      el("td", { class: "num" }, call.duration_s === null ? "—" : `${call.duration_s} s`),
      el("td", {}, visitSummary(call.final && call.final.dados)),
      el("td", {}, call.visit ? decisionBadge(call.visit.decision || null) : "—"))));
  document.getElementById("recent-empty").hidden = calls.length > 0;
}

function overview() {
  document.getElementById("overview").hidden = false;
  if (CONDOMINIUM) {
    document.getElementById("filter").hidden = false;
    document.getElementById("filter-id").textContent = CONDOMINIUM;
  }
  let lastRecent = 0;
  const tick = async () => {
    try {
      const ended = await refreshLive();
      if (ended || Date.now() - lastRecent >= RECENT_EVERY_MS) {
        // a call that just ended may still be on its way to the records: look again on the next tick
        lastRecent = ended ? Date.now() - RECENT_EVERY_MS : Date.now();
        await refreshRecent();
      }
      showConnection(null);
    } catch (error) {
      showConnection(error);
    }
    setTimeout(tick, LIVE_EVERY_MS);
  };
  tick();
}

// -- one call --------------------------------------------------------------------------------

function turnLines(call) {
  return call.turns.flatMap((turn) => [
    { role: "visitor", text: turn.transcript },
    { role: "concierge", text: turn.reply },
  ]);
}

async function nameAudioUrl(callId, turn) {
  const key = `${callId}/${turn}`;
  if (!nameAudioUrls.has(key)) {
    const response = await fetch(`/api/calls/${encodeURIComponent(callId)}/name.wav`, { cache: "no-store" });
    if (!response.ok) throw new Error(response.statusText);
    nameAudioUrls.set(key, URL.createObjectURL(await response.blob()));
  }
  return nameAudioUrls.get(key);
}

function nameAudio(call) {
  const audio = call.visitor_name_audio;
  if (!audio) return "—";
  const player = el("audio", { controls: "", preload: "auto", class: "name-audio" });
  nameAudioUrl(call.call_id, audio.turn).then(
    (url) => { player.src = url; },
    (error) => player.replaceWith(`could not load it: ${error.message}`));
  return el("span", {}, player, ` ${audio.seconds} s, turn ${audio.turn}`);
}

function renderDetail(call) {
  document.getElementById("detail-outcome").replaceChildren(outcomeBadge(call.outcome));
  const facts = [
    ["call id", call.call_id], ["condominium", call.condominium || "default"], ["conversation", call.conversation_id],
    ["state", call.live ? stateBadge(call.live.state) : call.state],
    ["started", dateTime(call.started_at)], ["ended", dateTime(call.ended_at)],
    ["duration", call.duration_s === null ? "—" : `${call.duration_s} s`],
    ["brain", call.brain || "—"], ["keypad", call.dtmf || "—"],
    ["reason", call.reason || "—"], ["failed turns", call.failed_turns],
    ["last error", call.last_error || "—"], ["response p50", ms(call.response_ms_p50)],
    ["visit", visitSummary(call.final && call.final.dados) || "—"],
    ["valid for action", call.final ? (call.final.valid_for_action ? "yes" : "no") : "—"],
    ["visitor's name, in their voice", nameAudio(call)],
  ];
  const visit = call.visit;
  const visitFacts = visit ? [
    ["decision", visit.decision ? decisionBadge(visit.decision) : (VISIT_STATUS[visit.status] || visit.status)],
    ["reason", visit.reason || "—"], ["decided by", visit.decided_by || "—"], ["via", visit.via || "—"],
    ["dial strings", (visit.attempts.length ? visit.attempts.map((a) => `${a[0]} ${a[1]}`) : visit.dial_strings).join(", ") || "—"],
    ["resident asked after", ms(visit.asked_ms)], ["decision after", ms(visit.decision_ms)],
    ["visitor told", visit.visitor_message || "—"],
    ["gate", visit.gate.map((g) => `${g.action}: ${g.ok ? "ok" : "failed"} — ${g.detail}`).join("; ") || "—"],
  ] : [["decision", "no visit"]];
  document.getElementById("detail-visit").replaceChildren(...visitFacts.flatMap(([key, value]) => [el("dt", {}, key), el("dd", {}, value)]));
  document.querySelector("#detail-resident tbody").replaceChildren(...(visit ? visit.resident_turns : []).map((turn) =>
    el("tr", {},
      el("td", { class: "num" }, turn.index), el("td", {}, turn.via), el("td", {}, turn.transcript),
      el("td", {}, turn.answer), el("td", {}, turn.reply), el("td", { class: "num" }, ms(turn.stt_ms)))));
  document.getElementById("detail-meta").replaceChildren(...facts.flatMap(([key, value]) => [el("dt", {}, key), el("dd", {}, value)]));
  fillTranscript(document.getElementById("detail-transcript"), call.live ? call.live.lines : turnLines(call));
  document.querySelector("#detail-turns tbody").replaceChildren(...call.turns.map((turn) =>
    el("tr", {},
      el("td", { class: "num" }, turn.index),
      el("td", {}, turn.source + (turn.speculative ? " (early)" : "")),
      el("td", {}, turn.transcript),
      el("td", {}, turn.reply),
      el("td", {}, visitSummary(turn.dados)),
      el("td", { class: "num" }, ms(turn.stt_ms)),
      el("td", { class: "num" }, ms(turn.brain_ms)),
      el("td", { class: "num" }, ms(turn.tts_ms)),
      el("td", { class: "num" }, ms(turn.response_ms)))));
}

function detail(callId) {
  document.getElementById("detail").hidden = false;
  document.getElementById("detail-id").textContent = callId;
  document.getElementById("back").href = "/";
  const tick = async () => {
    let again = true;
    try {
      const call = await api(`/api/calls/${encodeURIComponent(callId)}`);
      renderDetail(call);
      again = call.outcome === "live";
      showConnection(null);
    } catch (error) {
      if (error.status === 404) {
        again = false;
        const missing = document.getElementById("detail-missing");
        missing.hidden = false;
        missing.textContent = `No call ${callId} is recorded.`;
      }
      showConnection(error);
    }
    if (again) setTimeout(tick, LIVE_EVERY_MS);
  };
  tick();
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("home").href = "/";
  const match = location.pathname.match(/^\/calls\/([^/]+)$/);
  if (match) detail(decodeURIComponent(match[1]));
  else overview();
});
