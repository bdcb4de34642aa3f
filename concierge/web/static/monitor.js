// Apoena's call monitor, for the central's operators: polls the JSON API once a second and renders it
// with DOM nodes only. Everything from a call (transcripts, names, errors) goes in as text
// (textContent), never as HTML.
//
// Language: Brazilian Portuguese unless the operator chose English. The choice is the operator's, on
// their own browser (two operators of one central may differ), so it is not a server setting:
// `?lang=en` (or `?lang=pt-BR`) chooses and localStorage remembers it; the PT/EN buttons do the same.
//
// Alerts: when a live call starts waiting on the resident's decision, or a call fails (error,
// interrupted) after the page opened — seen live or not: the records are asked for the failures since
// the last look — the page logs it, plays a short tone (Web Audio, nothing to download; the operator
// can mute it, remembered) and shows a browser notification if they allowed them. Each alert once.
"use strict";

const LIVE_EVERY_MS = 1000;
const RECENT_EVERY_MS = 5000;
const PAGE_SIZE = 25;
const ALERTS_KEPT = 30;
const ENDED_LOOKUPS = 30;  // ticks to wait for an ended call's record (a dead node's call turns "interrupted" within ~17 s)
const FAILED = new Set(["error", "interrupted"]);
const STATES = { STANDBY: "standby", USER_TURN: "user", WAITING: "waiting", IA_TURN: "ia" };
const ROLES = ["visitor", "concierge", "resident", "system"];
const OUTCOME_KEYS = ["completed", "caller_hung_up", "timed_out", "no_input", "error", "live", "interrupted"];
const DECISION_KEYS = ["authorized", "denied", "leave_at_gate", "resident_coming", "no_answer", "not_asked", "cancelled"];
const FILTERS = ["condominium", "outcome", "decision", "date", "apartment", "name"];

const STRINGS = {
  "pt-BR": {
    title: "Apoena — monitor de chamadas", subtitle: "portaria virtual · monitor de chamadas", preferences: "Preferências",
    language: "Idioma", soundOn: "Som ligado", soundOff: "Som desligado", notifyAsk: "Ativar notificações",
    notifyOn: "Notificações ativas", notifyDenied: "Notificações bloqueadas", connecting: "conectando…",
    updated: (at) => `atualizado às ${at}`, offline: (why) => `sem conexão — ${why}`,
    tokenNeeded: "é preciso o token de acesso: abra esta página com ?token=…",
    onlyCondominium: "Somente o condomínio", allCondominiums: "todos os condomínios", statsLabel: "Chamadas por resultado",
    alerts: "Alertas", noAlerts: "Nenhum alerta: avisamos com um som quando uma visita aguarda o morador ou uma chamada falha.",
    liveCalls: "Chamadas ao vivo", waitingOnResident: "aguardando o morador", noLiveCalls: "Nenhuma chamada em andamento.",
    recentCalls: "Chamadas recentes", condominium: "Condomínio", outcome: "Resultado", decision: "Decisão", date: "Data",
    apartment: "Apartamento", name: "Nome", all: "todos", searchButton: "Buscar", clearButton: "Limpar",
    colStarted: "Início", colCall: "Chamada", colNode: "Nó", colTurns: "Turnos", colResponse: "Resposta p50", colTurnResponse: "Resposta",
    colDuration: "Duração", colVisit: "Visita", noCalls: "Nenhuma chamada registrada.", noMatch: "Nenhuma chamada com esses filtros.",
    pages: "Páginas", previous: "← Anterior", next: "Próxima →", pageStatus: (from, to, total) => `${from}–${to} de ${total}`,
    backToAll: "← todas as chamadas", callTitle: "Chamada", transcript: "Transcrição", resident: "Morador", turns: "Turnos",
    colVia: "Via", colResidentSaid: "O morador disse", colReadAs: "Entendido como", colReplied: "A portaria respondeu",
    colSource: "Origem", colVisitorSaid: "O visitante disse", colSlots: "Dados depois", colBrain: "Cérebro",
    node: "nó", conversation: "conversa", started: "início", lastResponse: "última resposta", intent: "motivo",
    visitor: "visitante", residentName: "morador", apartmentShort: "ap", valid: "dados conferidos", invalid: "dados incompletos",
    roles: { visitor: "visitante", concierge: "portaria", resident: "morador", system: "sistema" },
    states: { STANDBY: "em espera", USER_TURN: "vez do visitante", WAITING: "pensando", IA_TURN: "portaria falando" },
    waitingOnTheResident: "aguardando o morador",
    intents: { visita: "visita", entrega: "entrega", desconhecido: "—" },
    outcomes: {
      completed: "concluída", caller_hung_up: "desligou", timed_out: "tempo esgotado", no_input: "sem resposta",
      error: "erro", live: "ao vivo", interrupted: "interrompida",
    },
    decisions: {
      authorized: "autorizada", denied: "recusada", leave_at_gate: "deixar na portaria", resident_coming: "morador descendo",
      no_answer: "morador não atendeu", not_asked: "não consultado", cancelled: "visitante saiu",
    },
    visitStatus: { calling: "chamando o morador", ringing: "tocando", answered: "morador na linha" },
    residentDecided: "morador: ", waitingBadge: "aguardando o morador", cardTurns: "turnos", cardApartment: "apartamento",
    systemLines: {
      keypad: (v) => `teclado: ${v.digit}`, error: (v) => `erro: ${v.error}`, calling: (v) => `chamando o morador ${v.resident}`,
      ringing: (v) => `tocando ${v.dial}`, answered: () => "o morador atendeu",
      decided: (v) => `decisão: ${STRINGS["pt-BR"].decisions[v.decision] || v.decision} (${reasonPt(v.reason)})`,
    },
    alertWaiting: "Visita aguardando a decisão do morador", alertFailed: "Chamada falhou",
    facts: {
      callId: "chamada", condominium: "condomínio", node: "nó", conversation: "conversa", state: "estado", started: "início",
      ended: "fim", duration: "duração", brain: "cérebro", keypad: "teclado", reason: "motivo", failedTurns: "turnos com falha",
      lastError: "último erro", response: "resposta p50", visit: "visita", valid: "dados válidos para ação",
      nameAudio: "nome do visitante, na voz dele", decision: "decisão", decidedBy: "decidido por", via: "via",
      dialStrings: "números chamados", askedAfter: "morador perguntado após", decisionAfter: "decisão após",
      visitorTold: "o visitante ouviu", gate: "portão",
    },
    yes: "sim", no: "não", noVisit: "sem visita", early: "(antecipado)", seconds: "s", turn: "turno",
    couldNotLoad: (why) => `não foi possível carregar: ${why}`, notRecorded: (id) => `Nenhuma chamada ${id} registrada.`,
    gateOk: "ok", gateFailed: "falhou",
  },
  en: {
    title: "Apoena — call monitor", subtitle: "gate concierge · call monitor", preferences: "Preferences",
    language: "Language", soundOn: "Sound on", soundOff: "Sound off", notifyAsk: "Turn on notifications",
    notifyOn: "Notifications on", notifyDenied: "Notifications blocked", connecting: "connecting…",
    updated: (at) => `updated ${at}`, offline: (why) => `offline — ${why}`,
    tokenNeeded: "access token needed: open this page with ?token=…",
    onlyCondominium: "Condominium", allCondominiums: "all condominiums", statsLabel: "Calls by outcome",
    alerts: "Alerts", noAlerts: "No alerts: a tone sounds when a visit waits on the resident or a call fails.",
    liveCalls: "Live calls", waitingOnResident: "waiting on a resident", noLiveCalls: "No calls in progress.",
    recentCalls: "Recent calls", condominium: "Condominium", outcome: "Outcome", decision: "Decision", date: "Date",
    apartment: "Apartment", name: "Name", all: "all", searchButton: "Search", clearButton: "Clear",
    colStarted: "Started", colCall: "Call", colNode: "Node", colTurns: "Turns", colResponse: "Response p50", colTurnResponse: "Response",
    colDuration: "Duration", colVisit: "Visit", noCalls: "No calls recorded yet.", noMatch: "No calls match these filters.",
    pages: "Pages", previous: "← Previous", next: "Next →", pageStatus: (from, to, total) => `${from}–${to} of ${total}`,
    backToAll: "← all calls", callTitle: "Call", transcript: "Transcript", resident: "Resident", turns: "Turns",
    colVia: "Via", colResidentSaid: "Resident said", colReadAs: "Read as", colReplied: "Concierge replied",
    colSource: "Source", colVisitorSaid: "Visitor said", colSlots: "Slots after", colBrain: "Brain",
    node: "node", conversation: "conversation", started: "started", lastResponse: "last response", intent: "intent",
    visitor: "visitor", residentName: "resident", apartmentShort: "ap", valid: "facts check out", invalid: "facts incomplete",
    roles: { visitor: "visitor", concierge: "concierge", resident: "resident", system: "system" },
    states: { STANDBY: "standby", USER_TURN: "visitor's turn", WAITING: "thinking", IA_TURN: "concierge speaking" },
    waitingOnTheResident: "waiting on the resident",
    intents: { visita: "visit", entrega: "delivery", desconhecido: "—" },
    outcomes: {
      completed: "completed", caller_hung_up: "hung up", timed_out: "timed out", no_input: "no input",
      error: "error", live: "live", interrupted: "interrupted",
    },
    decisions: {
      authorized: "authorized", denied: "denied", leave_at_gate: "leave at the gate", resident_coming: "resident coming down",
      no_answer: "no answer", not_asked: "not asked", cancelled: "visitor left",
    },
    visitStatus: { calling: "calling the resident", ringing: "ringing", answered: "resident on the line" },
    residentDecided: "resident: ", waitingBadge: "waiting on a resident", cardTurns: "turns", cardApartment: "apartment",
    systemLines: {
      keypad: (v) => `keypad: ${v.digit}`, error: (v) => `error: ${v.error}`, calling: (v) => `calling the resident ${v.resident}`,
      ringing: (v) => `ringing ${v.dial}`, answered: () => "the resident answered",
      decided: (v) => `decision: ${STRINGS.en.decisions[v.decision] || v.decision} (${v.reason})`,
    },
    alertWaiting: "Visit waiting on the resident's decision", alertFailed: "Call failed",
    facts: {
      callId: "call id", condominium: "condominium", node: "node", conversation: "conversation", state: "state", started: "started",
      ended: "ended", duration: "duration", brain: "brain", keypad: "keypad", reason: "reason", failedTurns: "failed turns",
      lastError: "last error", response: "response p50", visit: "visit", valid: "valid for action",
      nameAudio: "visitor's name, in their voice", decision: "decision", decidedBy: "decided by", via: "via",
      dialStrings: "dial strings", askedAfter: "resident asked after", decisionAfter: "decision after",
      visitorTold: "visitor told", gate: "gate",
    },
    yes: "yes", no: "no", noVisit: "no visit", early: "(early)", seconds: "s", turn: "turn",
    couldNotLoad: (why) => `could not load it: ${why}`, notRecorded: (id) => `No call ${id} is recorded.`,
    gateOk: "ok", gateFailed: "failed",
  },
};

// -- reasons -----------------------------------------------------------------------------------
// Why a call ended (`reason`) and why a visit was decided so (`visit.reason`) are recorded by the
// server as stable English text, for the logs, `apoena calls` and the API: concierge/call/session.py,
// visit.py, records.py, and the AudioSocket connection's end (concierge/audiosocket/server.py), which
// is a call's reason when the caller hangs up. The Portuguese page says them in Portuguese: a whole
// reason from REASONS_PT, or one with parts made at run time (a number, a dial string, an error's
// text, a nested reason) from REASON_PATTERNS_PT, those parts carried over. Anything else is shown as
// recorded, never blank. tests/web/test_reasons.py reads every reason the server can record from its
// source and fails when one is not said in Portuguese here.

const REASONS_PT = new Map([
  // a call's end
  ["caller hung up", "o visitante desligou"],
  ["caller went away", "o visitante saiu da linha"],
  ["caller went away during the reply", "o visitante saiu da linha durante a resposta"],
  ["caller went away during the apology", "o visitante saiu da linha durante o pedido de desculpas"],
  ["connection ended", "conexão encerrada"],
  ["server shutting down", "o servidor estava sendo desligado"],
  ["server stopped mid-call", "o servidor parou no meio da chamada"],
  ["visit complete: resident to be notified", "visita completa: morador a avisar"],
  ["max_transaction_time_seconds reached", "tempo máximo da chamada atingido (max_transaction_time_seconds)"],
  // the AudioSocket connection's end
  ["peer hung up", "a linha foi desligada pelo Asterisk"],
  ["we hung up", "a portaria desligou"],
  ["closed by handler", "conexão fechada pela portaria"],
  ["peer went away while we were sending", "a linha caiu enquanto a portaria falava"],
  ["cancelled at shutdown", "cancelada ao desligar o servidor"],
  ["handler returned", "atendimento encerrado"],
  // a visit's decision
  ["the visitor hung up before the resident decided", "o visitante desligou antes de o morador decidir"],
  ["the resident hung up before deciding", "o morador desligou antes de decidir"],
  ["the Asterisk Manager is not configured (asterisk.ami.secret)", "o Asterisk Manager não está configurado (asterisk.ami.secret)"],
]);

const REASON_PATTERNS_PT = [
  [/^resident decision: (\S+) \(([\s\S]*)\)$/,
    (decision, why) => `decisão do morador: ${STRINGS["pt-BR"].decisions[decision] || decision} (${reasonPt(why)})`],
  [/^no answer to (\d+) prompts$/, (count) => `sem resposta após ${count} ${count === "1" ? "aviso" : "avisos"}`],
  [/^max_transaction_time_seconds reached: more than (\S+) s of the caller's audio received$/,
    (limit) => `tempo máximo da chamada atingido (max_transaction_time_seconds): mais de ${decimalPt(limit)} s de áudio do visitante recebidos`],
  [/^protocol error: ([\s\S]*)$/, (error) => `erro de protocolo: ${error}`],
  [/^handler failed: ([\s\S]*)$/, (error) => `o atendimento falhou: ${error}`],
  [/^no decision within (\S+) s$/, (limit) => `sem decisão em ${decimalPt(limit)} s`],
  [/^the visit failed: ([\s\S]*)$/, (error) => `a visita falhou: ${error}`],
  [/^no dial string for apartment ([\s\S]*) in the directory$/, (apartment) => `nenhum número a discar para o apartamento ${apartment} no cadastro`],
  [/^the resident answered but their leg never reached the AudioSocket server \(([\s\S]*)\) within (\S+) s: check the ([\s\S]*) context$/,
    (server, limit, context) =>
      `o morador atendeu, mas a ligação dele não chegou ao servidor AudioSocket (${server}) em ${decimalPt(limit)} s: verifique o contexto ${context}`],
  [/^the resident hung up before deciding \((\d+) turns\)$/,
    (count) => `o morador desligou antes de decidir (${count} ${count === "1" ? "turno" : "turnos"})`],
  [/^no clear answer in (\d+) turns$/, (count) => `sem resposta clara em ${count} ${count === "1" ? "turno" : "turnos"}`],
  [/^the resident decided by (\S+)$/, (by) => `o morador decidiu ${{ voice: "por voz", keypad: "pelo teclado" }[by] || `por ${by}`}`],
  [/^the Asterisk Manager refused the login: ([\s\S]*)$/, (error) => `o Asterisk Manager recusou o login: ${error}`],
  [/^the Asterisk Manager failed: ([\s\S]*)$/, (error) => `falha no Asterisk Manager: ${error}`],
  [/^nobody answered \(([\s\S]*)\)$/, (tried) => `ninguém atendeu (${tried.split(", ").map(attemptPt).join(", ")})`],
];

// How one call to the resident ended, as a visit's attempts list it ("PJSIP/ap104 no_answer").
const ATTEMPTS_PT = {
  answered: "atendeu", no_answer: "não atendeu", busy: "ocupado", congestion: "rede congestionada", hung_up: "desligou",
  failed: "falhou", never_arrived: "não chegou ao servidor", voicemail: "caixa postal", timed_out: "tempo esgotado",
  cancelled: "cancelada", error: "erro",
};

function reasonPt(text) {
  if (typeof text !== "string") return text;
  if (REASONS_PT.has(text)) return REASONS_PT.get(text);
  for (const [pattern, say] of REASON_PATTERNS_PT) {
    const match = pattern.exec(text);
    if (match) return say(...match.slice(1));
  }
  return text;
}

function attemptPt(attempt) {
  const match = /^([\s\S]*) (\S+)$/.exec(attempt);
  return match && Object.hasOwn(ATTEMPTS_PT, match[2]) ? `${match[1]} ${ATTEMPTS_PT[match[2]]}` : attempt;
}

function decimalPt(number) {
  return /^\d+\.\d+$/.test(number) ? number.replace(".", ",") : number;
}

// A recorded reason in the page's language (as recorded in English, and when not known).
function reasonText(text) {
  return LANG === "en" || !text ? text : reasonPt(text);
}

function attemptText(dial, how) {
  return LANG === "en" ? `${dial} ${how}` : attemptPt(`${dial} ${how}`);
}

const params = new URLSearchParams(location.search);
const LANG = chooseLanguage();
const T = STRINGS[LANG];
const LOCALE = LANG === "en" ? "en-GB" : "pt-BR";
const CONDOMINIUM = params.get("condominium");  // also filters the live cards and the counts
const nameAudioUrls = new Map();  // "call id/turn" -> blob: URL of the visitor's voice saying their name

// With web.token set, the server swapped ?token= for an HttpOnly session cookie before this page
// loaded: the script never sees the token, and same-origin requests carry the cookie.

function chooseLanguage() {
  const asked = params.get("lang");
  if (asked && STRINGS[asked]) {
    remember("apoena.lang", asked);
    return asked;
  }
  const kept = recall("apoena.lang");
  return kept && STRINGS[kept] ? kept : "pt-BR";
}

function remember(key, value) {
  try { localStorage.setItem(key, value); } catch { /* storage off: the choice lasts this page */ }
}

function recall(key) {
  try { return localStorage.getItem(key); } catch { return null; }
}

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

function translateStatic() {
  document.documentElement.lang = LANG;
  document.title = T.title;
  for (const node of document.querySelectorAll("[data-i18n]")) {
    if (typeof T[node.dataset.i18n] === "string") node.textContent = T[node.dataset.i18n];
  }
  for (const node of document.querySelectorAll("[data-i18n-label]")) node.setAttribute("aria-label", T[node.dataset.i18nLabel]);
  for (const button of document.querySelectorAll(".lang-choice")) {
    button.setAttribute("aria-pressed", String(button.dataset.lang === LANG));
    button.addEventListener("click", () => {
      const next = new URL(location.href);
      next.searchParams.set("lang", button.dataset.lang);
      location.assign(next.pathname + next.search);
    });
  }
}

async function api(path) {
  const response = await fetch(path, { cache: "no-store" });
  if (response.status === 401) throw new Error(T.tokenNeeded);
  const body = await response.json();
  if (!response.ok) throw Object.assign(new Error(body.error || response.statusText), { status: response.status });
  return body;
}

function showConnection(error) {
  const node = document.getElementById("connection");
  node.textContent = error ? T.offline(error.message) : T.updated(new Date().toLocaleTimeString(LOCALE));
  node.classList.toggle("bad", Boolean(error));
}

function time(iso) {
  return iso ? new Date(iso).toLocaleTimeString(LOCALE) : "—";
}

function dateTime(iso) {
  return iso ? new Date(iso).toLocaleString(LOCALE) : "—";
}

function ms(value) {
  return value === null || value === undefined ? "—" : `${Math.round(value)} ms`;
}

function seconds(value) {
  return value === null || value === undefined ? "—" : `${value.toLocaleString(LOCALE)} ${T.seconds}`;
}

function elapsed(iso) {
  const total = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000));
  return `${Math.floor(total / 60)}:${String(total % 60).padStart(2, "0")}`;
}

function isWaiting(visit) {
  return Boolean(visit && visit.status !== "decided");
}

function stateBadge(state, visit) {
  const asking = state === "WAITING" && isWaiting(visit);  // not thinking: a resident is being asked
  return el("span", { class: `badge state-${STATES[state] || "unknown"}`, dataset: { state: String(state) } },
    asking ? T.waitingOnTheResident : T.states[state] || String(state));
}

function outcomeBadge(outcome) {
  const known = OUTCOME_KEYS.includes(outcome);
  return el("span", { class: `badge outcome-${known ? outcome : "unknown"}`, dataset: { outcome: String(outcome) } },
    known ? T.outcomes[outcome] : String(outcome));
}

function decisionBadge(decision) {
  if (!decision) return "—";
  const known = DECISION_KEYS.includes(decision);
  return el("span", { class: `badge decision-${known ? decision : "unknown"}`, dataset: { decision: String(decision) } },
    known ? T.decisions[decision] : String(decision));
}

// A system line names its event (ringing, decided, …): said in the page's language; others as heard.
function lineText(line) {
  const say = line.event && Object.hasOwn(T.systemLines, line.event) ? T.systemLines[line.event] : null;
  return say ? say(line.values || {}) : line.text;
}

function transcriptLines(lines) {
  return lines.map((line) => {
    const role = ROLES.includes(line.role) ? line.role : "system";
    return el("div", { class: `line ${role}`, dataset: { role } },
      el("span", { class: "who" }, T.roles[role]), el("span", { class: "text" }, lineText(line)));
  });
}

function fillTranscript(box, lines) {
  const atBottom = box.scrollTop + box.clientHeight >= box.scrollHeight - 8;
  box.replaceChildren(...transcriptLines(lines));
  if (atBottom) box.scrollTop = box.scrollHeight;
}

function visitStatus(visit) {
  if (!visit) return null;
  if (visit.status === "decided") {
    return el("div", { class: "visit", dataset: { visitStatus: "decided" } }, T.residentDecided, decisionBadge(visit.decision));
  }
  const doing = T.visitStatus[visit.status] || String(visit.status);
  return el("div", { class: "visit", dataset: { visitStatus: String(visit.status) } },
    el("span", { class: "badge visit-waiting" }, T.waitingBadge), " ",
    visit.dialing ? `${doing} ${visit.dialing}` : doing);
}

function visitSummary(dados) {
  if (!dados) return "";
  const intent = dados.intent_type && dados.intent_type !== "desconhecido" ? T.intents[dados.intent_type] || dados.intent_type : null;
  const parts = [intent, dados.visitor_name, dados.apartment_number && `${T.apartmentShort} ${dados.apartment_number}`, dados.resident_name];
  return parts.filter(Boolean).join(" · ");
}

function validityBadge(valid) {
  return el("span", { class: `badge ${valid ? "valid" : "invalid"}`, dataset: { valid: String(Boolean(valid)) } }, valid ? T.valid : T.invalid);
}

// -- sound and notifications ------------------------------------------------------------------

const sound = {
  context: null,
  muted: recall("apoena.sound") === "off",

  setUp() {
    const button = document.getElementById("sound");
    const show = () => {
      button.setAttribute("aria-pressed", String(!this.muted));
      button.textContent = this.muted ? T.soundOff : T.soundOn;
    };
    show();
    button.addEventListener("click", () => {
      this.muted = !this.muted;
      remember("apoena.sound", this.muted ? "off" : "on");
      show();
      if (!this.muted) this.unlock();
    });
    // Browsers start audio only after a gesture on the page: the first click or key unlocks it.
    for (const kind of ["pointerdown", "keydown"]) document.addEventListener(kind, () => this.unlock(), { once: true });
  },

  unlock() {
    if (!window.AudioContext) return null;
    this.context = this.context || new AudioContext();
    if (this.context.state === "suspended") this.context.resume().catch(() => {});
    return this.context;
  },

  // Two short notes, each with a soft attack and release (no clicks): rising when a visit waits on
  // the resident, falling when a call failed.
  play(kind) {
    if (this.muted) return;
    const context = this.unlock();
    if (!context) return;
    const notes = kind === "failed" ? [523.25, 349.23] : [659.25, 880];
    const start = context.currentTime + 0.02;
    notes.forEach((frequency, index) => {
      const at = start + index * 0.2;
      const oscillator = context.createOscillator();
      const gain = context.createGain();
      oscillator.type = "sine";
      oscillator.frequency.setValueAtTime(frequency, at);
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.25, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.18);
      oscillator.connect(gain).connect(context.destination);
      oscillator.start(at);
      oscillator.stop(at + 0.2);
    });
  },
};

const notices = {
  setUp() {
    const button = document.getElementById("notify");
    if (!("Notification" in window)) return;
    const show = () => {
      const permission = Notification.permission;
      button.hidden = false;
      button.disabled = permission !== "default";
      button.textContent = permission === "granted" ? T.notifyOn : permission === "denied" ? T.notifyDenied : T.notifyAsk;
    };
    show();
    button.addEventListener("click", async () => {
      sound.unlock();
      await Notification.requestPermission();
      show();
    });
  },

  show(title, body, tag) {
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    try {
      new Notification(title, { body, tag, lang: LANG });
    } catch { /* some browsers allow notifications from a service worker only: the log and the tone remain */ }
  },
};

const alerted = new Set();  // "kind/call id": each alert once

function alertOperator(kind, callId, details) {
  const key = `${kind}/${callId}`;
  if (alerted.has(key)) return;
  alerted.add(key);
  const title = kind === "failed" ? T.alertFailed : T.alertWaiting;
  const body = details.filter(Boolean).join(" · ");
  const log = document.getElementById("alerts");
  log.prepend(el("li", { class: `alert alert-${kind}`, dataset: { alert: kind, callId } },
    el("time", { datetime: new Date().toISOString() }, new Date().toLocaleTimeString(LOCALE)), " ",
    el("strong", {}, title), " — ",
    el("a", { href: `/calls/${encodeURIComponent(callId)}` }, body || callId.slice(0, 8))));
  while (log.children.length > ALERTS_KEPT) log.lastElementChild.remove();
  document.getElementById("alerts-empty").hidden = true;
  sound.play(kind);
  notices.show(title, body, key);
}

// -- overview --------------------------------------------------------------------------------

const rendered = new Map();  // call id -> JSON last rendered, so unchanged cards are left alone
const endedCalls = new Map();  // call id -> lookups left, for calls that left the live list
const failures = { next: null, opened: null };  // /api/failed's cursor, and when this page first asked (server time, ms)
const search = { page: Number(params.get("page")) > 1 ? Number(params.get("page")) : 1, total: 0 };

function liveCard(call) {
  const card = el("article", { class: "call", dataset: { callId: call.call_id }, "aria-label": `${T.callTitle} ${call.call_id.slice(0, 8)}` },
    el("div", { class: "call-head" },
      el("a", { class: "call-id", href: `/calls/${encodeURIComponent(call.call_id)}` }, call.call_id.slice(0, 8)),
      el("span", { class: "state" }),
      el("span", { class: "clock" })),
    el("dl", { class: "meta compact" },
      el("dt", {}, T.facts.condominium), el("dd", { class: "condominium" }, call.condominium || "default"),
      el("dt", {}, T.node), el("dd", { class: "node" }, call.node || "—"),
      el("dt", {}, T.conversation), el("dd", { class: "conversation" }, call.conversation_id),
      el("dt", {}, T.started), el("dd", {}, time(call.started_at)),
      el("dt", {}, T.cardTurns), el("dd", { class: "turns" }),
      el("dt", {}, T.lastResponse), el("dd", { class: "response" })),
    el("dl", { class: "meta compact slots" },
      el("dt", {}, T.intent), el("dd", { class: "slot-intent" }),
      el("dt", {}, T.visitor), el("dd", { class: "slot-visitor" }),
      el("dt", {}, T.cardApartment), el("dd", { class: "slot-apartment" }),
      el("dt", {}, T.residentName), el("dd", { class: "slot-resident" })),
    el("div", { class: "validity" }),
    el("div", { class: "visit-slot" }),
    el("div", { class: "transcript" }));
  return card;
}

function updateCard(card, call) {
  const slots = call.slots || {};
  card.querySelector(".state").replaceChildren(stateBadge(call.state, call.visit));
  card.querySelector(".turns").textContent = call.turn_count;
  card.querySelector(".response").textContent = ms(call.last_response_ms);
  card.querySelector(".slot-intent").textContent = slots.intent_type ? T.intents[slots.intent_type] || slots.intent_type : "—";
  card.querySelector(".slot-visitor").textContent = slots.visitor_name || "—";
  card.querySelector(".slot-apartment").textContent = slots.apartment_number || "—";
  card.querySelector(".slot-resident").textContent = slots.resident_name || "—";
  card.querySelector(".validity").replaceChildren(...(call.slots ? [validityBadge(call.valid_for_action)] : []));
  const visit = visitStatus(call.visit);
  card.querySelector(".visit-slot").replaceChildren(...(visit ? [visit] : []));
  card.classList.toggle("needs-decision", isWaiting(call.visit));
  fillTranscript(card.querySelector(".transcript"), call.lines);
}

function callDetails(call) {
  const slots = call.slots || (call.final && call.final.dados) || {};
  return [call.condominium, slots.apartment_number && `${T.apartmentShort} ${slots.apartment_number}`, slots.resident_name, slots.visitor_name];
}

async function refreshLive() {
  const only = CONDOMINIUM ? `?condominium=${encodeURIComponent(CONDOMINIUM)}` : "";
  const { calls } = await api(`/api/live${only}`);
  const box = document.getElementById("live");
  const ids = new Set(calls.map((call) => call.call_id));
  let ended = false;
  for (const card of [...box.children]) {
    if (!ids.has(card.dataset.callId)) {
      card.remove();
      rendered.delete(card.dataset.callId);
      endedCalls.set(card.dataset.callId, ENDED_LOOKUPS);
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
    if (isWaiting(call.visit)) alertOperator("waiting", call.call_id, callDetails(call));
  }
  document.getElementById("live-count").textContent = calls.length;
  const waiting = calls.filter((call) => isWaiting(call.visit)).length;
  document.getElementById("waiting-count").textContent = waiting;
  document.getElementById("waiting-note").hidden = waiting === 0;
  document.getElementById("live-empty").hidden = calls.length > 0;
  return ended;
}

// A call that left the live list is looked up until its record says how it ended (the record may
// lag the live state by a moment; a dead node's call turns "interrupted" after its heartbeats stop).
async function checkEndedCalls() {
  for (const [callId, left] of [...endedCalls]) {
    try {
      const call = await api(`/api/calls/${encodeURIComponent(callId)}`);
      if (call.outcome !== "live" || left <= 1) endedCalls.delete(callId);
      else endedCalls.set(callId, left - 1);
      if (FAILED.has(call.outcome)) alertFailed(call);
    } catch (error) {
      if (error.status === 404 || left <= 1) endedCalls.delete(callId);
      else endedCalls.set(callId, left - 1);
    }
  }
}

// Calls that failed since the last look, from the records (/api/failed): also those this page never
// saw live — one that failed between two polls, or on another node whose live calls it is not shown.
// The first look only takes the cursor (the server's "now"): nothing that failed before the page
// opened is alerted. The cursor lags a little behind, so a call may come more than once: alerted once.
async function checkFailures() {
  const query = new URLSearchParams();
  if (failures.next) query.set("since", failures.next);
  if (CONDOMINIUM) query.set("condominium", CONDOMINIUM);
  const found = await api(`/api/failed?${query}`);
  if (failures.opened === null) failures.opened = Date.parse(found.next);
  for (const call of found.calls) {
    // an interrupted call (its node stopped) has no end: one that started before the page opened may
    // have failed before too; if it was live here, its record is looked up once it leaves the list
    if (call.outcome === "interrupted" && Date.parse(call.started_at) < failures.opened) continue;
    if (FAILED.has(call.outcome)) alertFailed(call);
  }
  failures.next = found.next;
}

function alertFailed(call) {
  alertOperator("failed", call.call_id, [...callDetails(call), T.outcomes[call.outcome], reasonText(call.reason)]);
}

function filterValues() {
  const values = {};
  for (const key of FILTERS) {
    const value = (params.get(key) || "").trim();
    if (value) values[key] = value;
  }
  return values;
}

function searchQuery() {
  const values = filterValues();
  const query = new URLSearchParams({ limit: String(PAGE_SIZE), offset: String((search.page - 1) * PAGE_SIZE) });
  for (const key of ["condominium", "outcome", "decision", "apartment", "name"]) if (values[key]) query.set(key, values[key]);
  if (values.date && /^\d{4}-\d{2}-\d{2}$/.test(values.date)) {
    // the operator's day, in their browser's time zone
    const [year, month, day] = values.date.split("-").map(Number);
    query.set("since", new Date(year, month - 1, day).toISOString());
    query.set("until", new Date(year, month - 1, day + 1).toISOString());
  }
  return query;
}

function setUpSearch() {
  const form = document.getElementById("search");
  const fill = (select, keys, labels) => select.append(...keys.map((key) => el("option", { value: key }, labels[key])));
  fill(document.getElementById("f-outcome"), OUTCOME_KEYS, T.outcomes);
  fill(document.getElementById("f-decision"), DECISION_KEYS, T.decisions);
  document.querySelector('#f-decision option[value=""]').textContent = T.all;
  const values = filterValues();
  const condominium = document.getElementById("f-condominium");
  if (values.condominium) condominium.append(el("option", { value: values.condominium }, values.condominium));
  for (const key of FILTERS) form.elements[key].value = values[key] || "";
  const go = (next) => {
    const url = new URL(location.href);
    for (const key of [...FILTERS, "page"]) url.searchParams.delete(key);
    for (const [key, value] of Object.entries(next)) if (value) url.searchParams.set(key, value);
    location.assign(url.pathname + url.search);  // a new address: Back returns to the previous search
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    go(Object.fromEntries(FILTERS.map((key) => [key, form.elements[key].value.trim()])));
  });
  form.addEventListener("reset", (event) => {
    event.preventDefault();
    go({});
  });
  const page = (delta) => {
    search.page = Math.max(1, search.page + delta);
    const url = new URL(location.href);
    if (search.page > 1) url.searchParams.set("page", String(search.page));
    else url.searchParams.delete("page");
    history.replaceState(null, "", url.pathname + url.search);
    refreshRecent().catch(showConnection);
  };
  document.getElementById("prev").addEventListener("click", () => page(-1));
  document.getElementById("next").addEventListener("click", () => page(1));
}

async function refreshCondominiums() {
  const select = document.getElementById("f-condominium");
  const known = new Set([...select.options].map((option) => option.value));
  for (const id of (await api("/api/condominiums")).condominiums) {
    if (!known.has(id)) select.append(el("option", { value: id }, id));
  }
  if (CONDOMINIUM) select.value = CONDOMINIUM;
}

async function refreshRecent() {
  const only = CONDOMINIUM ? `?condominium=${encodeURIComponent(CONDOMINIUM)}` : "";
  const [found, stats] = await Promise.all([api(`/api/calls?${searchQuery()}`), api(`/api/stats${only}`)]);
  document.getElementById("stats").replaceChildren(
    ...Object.entries(stats.calls).map(([outcome, count]) =>
      el("div", { class: `stat outcome-${OUTCOME_KEYS.includes(outcome) ? outcome : "unknown"}`, dataset: { outcome } },
        el("span", { class: "number" }, count), el("span", { class: "label" }, T.outcomes[outcome] || outcome))));
  const { calls, total, offset } = found;
  if (!calls.length && total > 0 && search.page > 1) {  // fewer calls than the page asked for (a purge, a narrower search)
    search.page = Math.ceil(total / PAGE_SIZE);
    return refreshRecent();
  }
  search.total = total;
  document.querySelector("#recent tbody").replaceChildren(...calls.map((call) =>
    el("tr", { dataset: { callId: call.call_id } },
      el("td", {}, dateTime(call.started_at)),
      el("td", {}, el("a", { href: `/calls/${encodeURIComponent(call.call_id)}` }, el("code", {}, call.call_id.slice(0, 8)))),
      el("td", { class: "condominium" }, call.condominium),
      el("td", { class: "node" }, call.node || "—"),
      el("td", {}, outcomeBadge(call.outcome),
        call.reason ? el("span", { class: "reason", dataset: { reason: call.reason } }, reasonText(call.reason)) : null),
      el("td", { class: "num" }, call.turn_count),
      el("td", { class: "num" }, ms(call.response_ms_p50)),
      el("td", { class: "num" }, seconds(call.duration_s)),
      el("td", {}, visitSummary(call.final && call.final.dados)),
      el("td", {}, call.visit ? decisionBadge(call.visit.decision || null) : "—"))));
  const empty = document.getElementById("recent-empty");
  empty.hidden = calls.length > 0;
  empty.textContent = Object.keys(filterValues()).length ? T.noMatch : T.noCalls;
  document.getElementById("page-status").textContent = total ? T.pageStatus(offset + 1, offset + calls.length, total) : "";
  document.getElementById("prev").disabled = search.page <= 1;
  document.getElementById("next").disabled = offset + calls.length >= total;
}

function overview() {
  document.getElementById("overview").hidden = false;
  if (CONDOMINIUM) {
    document.getElementById("filter").hidden = false;
    document.getElementById("filter-id").textContent = CONDOMINIUM;
  }
  setUpSearch();
  refreshCondominiums().catch(showConnection);
  let lastRecent = 0;
  const tick = async () => {
    try {
      const ended = await refreshLive();
      await checkFailures();
      if (endedCalls.size) await checkEndedCalls();
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
    if (!response.ok) throw new Error(response.statusText || String(response.status));
    nameAudioUrls.set(key, URL.createObjectURL(await response.blob()));
  }
  return nameAudioUrls.get(key);
}

const players = new Map();  // "call id/turn" -> the <audio> shown, kept across refreshes so playback is not cut

function nameAudio(call) {
  const audio = call.visitor_name_audio;
  if (!audio) return "—";
  const key = `${call.call_id}/${audio.turn}`;
  if (!players.has(key)) {
    const player = el("audio", { controls: "", preload: "auto", class: "name-audio", "aria-label": T.facts.nameAudio });
    const box = el("span", {}, player, ` ${seconds(audio.seconds)}, ${T.turn} ${audio.turn}`);
    nameAudioUrl(call.call_id, audio.turn).then(
      (url) => { player.src = url; },
      (error) => player.replaceWith(T.couldNotLoad(error.message)));
    players.set(key, box);
  }
  return players.get(key);
}

function facts(list) {
  return list.flatMap(([key, value]) => [el("dt", {}, T.facts[key]), el("dd", { dataset: { fact: key } }, value)]);
}

function renderDetail(call) {
  document.getElementById("detail-outcome").replaceChildren(outcomeBadge(call.outcome));
  const final = call.final;
  document.getElementById("detail-meta").replaceChildren(...facts([
    ["callId", call.call_id], ["condominium", call.condominium || "default"], ["node", call.node || "—"],
    ["conversation", call.conversation_id],
    ["state", call.live ? stateBadge(call.live.state, call.live.visit) : T.states[call.state] || call.state],
    ["started", dateTime(call.started_at)], ["ended", dateTime(call.ended_at)], ["duration", seconds(call.duration_s)],
    ["brain", call.brain || "—"], ["keypad", call.dtmf || "—"], ["reason", reasonText(call.reason) || "—"],
    ["failedTurns", call.failed_turns], ["lastError", call.last_error || "—"], ["response", ms(call.response_ms_p50)],
    ["visit", visitSummary(final && final.dados) || "—"],
    ["valid", final ? validityBadge(final.valid_for_action) : "—"],
    ["nameAudio", nameAudio(call)],
  ]));
  const visit = call.visit;
  document.getElementById("detail-visit").replaceChildren(...facts(visit ? [
    ["decision", visit.decision ? decisionBadge(visit.decision) : (T.visitStatus[visit.status] || visit.status)],
    ["reason", reasonText(visit.reason) || "—"], ["decidedBy", visit.decided_by || "—"], ["via", visit.via || "—"],
    ["dialStrings", (visit.attempts.length ? visit.attempts.map((a) => attemptText(a[0], a[1])) : visit.dial_strings).join(", ") || "—"],
    ["askedAfter", ms(visit.asked_ms)], ["decisionAfter", ms(visit.decision_ms)],
    ["visitorTold", visit.visitor_message || "—"],
    ["gate", visit.gate.map((g) => `${g.action}: ${g.ok ? T.gateOk : T.gateFailed} — ${g.detail}`).join("; ") || "—"],
  ] : [["decision", T.noVisit]]));
  document.querySelector("#detail-resident tbody").replaceChildren(...(visit ? visit.resident_turns : []).map((turn) =>
    el("tr", {},
      el("td", { class: "num" }, turn.index), el("td", {}, turn.via), el("td", {}, turn.transcript),
      el("td", {}, turn.answer), el("td", {}, turn.reply), el("td", { class: "num" }, ms(turn.stt_ms)))));
  fillTranscript(document.getElementById("detail-transcript"), call.live ? call.live.lines : turnLines(call));
  document.querySelector("#detail-turns tbody").replaceChildren(...call.turns.map((turn) =>
    el("tr", {},
      el("td", { class: "num" }, turn.index),
      el("td", {}, turn.source + (turn.speculative ? ` ${T.early}` : "")),
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
        missing.textContent = T.notRecorded(callId);
      }
      showConnection(error);
    }
    if (again) setTimeout(tick, LIVE_EVERY_MS);
  };
  tick();
}

document.addEventListener("DOMContentLoaded", () => {
  translateStatic();
  sound.setUp();
  notices.setUp();
  document.getElementById("home").href = "/";
  const match = location.pathname.match(/^\/calls\/([^/]+)$/);
  if (match) detail(decodeURIComponent(match[1]));
  else overview();
});
