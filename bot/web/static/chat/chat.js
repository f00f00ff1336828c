// Guichet chat client: talks to /api/config, /api/chat and /api/erase, and draws the
// bot's messages. Shared by the kiosk page and the website widget, so it makes no
// assumption about the page: every element is created in the container's own document
// (works inside a shadow root) and every text goes through textContent, never innerHTML.

export const NOT_ANSWERING =
  "Le service ne répond pas. Vous pouvez demander de l'aide à l'accueil.";

// The visitor's own bubble shows only the text the server kept (secrets masked), which
// arrives with the answer: until then, this.
export const PENDING_TEXT = "…";
export const NOT_SENT_TEXT = "(message non envoyé)";

export const SENDER_KEY = "guichet.sender";
export const TRANSCRIPT_KEY = "guichet.transcript";
const TRANSCRIPT_MAX = 200; // entries kept in storage (a visitor turn or a bot reply each)
const SENDER_RE = /^[A-Za-z0-9_-]{8,64}$/;

export const DEFAULT_CONFIG = Object.freeze({
  idle_seconds: 180,
  countdown_seconds: 30,
  wipe_after_ticket_seconds: 60,
  max_chars: 1000,
  org_name: "",
  kiosk_name: "",
  speech: null, // true/false once the server says whether it can read aloud
  common: [],
  public_base_url: "", // where visitors' phones reach the web app ("" = the page's origin)
});

// ---------------------------------------------------------------- small helpers

function isObject(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function newSender() {
  const c = globalThis.crypto;
  // randomUUID needs a secure context (https or localhost): fall back on getRandomValues,
  // which a kiosk reached over plain http on the local network still has.
  if (c && typeof c.randomUUID === "function") {
    try {
      return c.randomUUID();
    } catch {
      /* not a secure context */
    }
  }
  const bytes = new Uint8Array(16);
  if (c && typeof c.getRandomValues === "function") {
    c.getRandomValues(bytes);
  } else {
    for (let i = 0; i < bytes.length; i += 1) bytes[i] = Math.floor(Math.random() * 256);
  }
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function storageGet(storage, key) {
  if (!storage) return null;
  try {
    return storage.getItem(key);
  } catch {
    return null; // storage disabled or blocked by the browser
  }
}

function storageSet(storage, key, value) {
  if (!storage) return;
  try {
    storage.setItem(key, value);
  } catch {
    /* full or blocked: the conversation simply will not survive navigation */
  }
}

function storageRemove(storage, key) {
  if (!storage) return;
  try {
    storage.removeItem(key);
  } catch {
    /* ignore */
  }
}

const KIOSK_NAME_MAX = 40;

/**
 * A kiosk's name as the server keeps it (bot.tickets.clean_kiosk_name): printable, one
 * line, spaces collapsed, at most 40 characters; "" for anything else.
 */
export function cleanKioskName(name) {
  if (typeof name !== "string") return "";
  const printable = name.replace(/[\p{C}\p{Z}]/gu, " ").replace(/\s+/g, " ").trim();
  return Array.from(printable).slice(0, KIOSK_NAME_MAX).join("").trim();
}

/** An http(s) base address without its trailing slash, or "" for anything else. */
export function publicBase(value) {
  if (typeof value !== "string" || !value.trim()) return "";
  try {
    const url = new URL(value.trim());
    if (url.protocol !== "http:" && url.protocol !== "https:") return "";
    return `${url.origin}${url.pathname}`.replace(/\/+$/, "");
  } catch {
    return "";
  }
}

/** Cut `text` to at most `max` characters (code points). Returns {text, cut}. */
export function limitText(text, max) {
  const chars = Array.from(String(text ?? ""));
  if (!(max > 0) || chars.length <= max) return { text: chars.join(""), cut: false };
  return { text: chars.slice(0, max).join(""), cut: true };
}

/** Keep only what the renderer understands from one bot message. */
function cleanMessage(raw) {
  if (!isObject(raw)) return null;
  const out = {};
  if (typeof raw.text === "string") out.text = raw.text;
  if (Array.isArray(raw.buttons)) {
    out.buttons = raw.buttons
      .filter((b) => isObject(b) && typeof b.title === "string" && b.title.trim())
      .map((b) => ({
        title: b.title,
        payload: typeof b.payload === "string" && b.payload ? b.payload : b.title,
      }));
  }
  if (isObject(raw.custom)) out.custom = raw.custom;
  if (raw.error === true) out.error = true;
  return out;
}

function decodeHeader(value) {
  if (!value) return null;
  try {
    return decodeURIComponent(value);
  } catch {
    return null; // damaged on the way: show nothing rather than garbage
  }
}

function errorMessages(data) {
  const list = Array.isArray(data) ? data.map(cleanMessage).filter((m) => m && m.text) : [];
  const shown = list.length ? list : [{ text: NOT_ANSWERING }];
  return shown.map((m) => ({ ...m, error: true }));
}

// ---------------------------------------------------------------- transcript

/** The stored transcript: [{who: "visitor", text} | {who: "bot", messages: [...]}]. */
export function loadTranscript(storage) {
  const raw = storageGet(storage, TRANSCRIPT_KEY);
  if (!raw) return [];
  try {
    const data = JSON.parse(raw);
    if (!Array.isArray(data)) return [];
    return data.filter(
      (e) =>
        isObject(e) &&
        ((e.who === "visitor" && typeof e.text === "string") ||
          (e.who === "bot" && Array.isArray(e.messages)))
    );
  } catch {
    return [];
  }
}

export function saveTranscript(storage, transcript) {
  if (!storage) return;
  const list = Array.isArray(transcript) ? transcript.slice(-TRANSCRIPT_MAX) : [];
  storageSet(storage, TRANSCRIPT_KEY, JSON.stringify(list));
}

export function clearTranscript(storage) {
  storageRemove(storage, TRANSCRIPT_KEY);
}

// ---------------------------------------------------------------- client

export class ChatClient {
  #apiBase;
  #channel;
  #storage;
  #timeoutMs;
  #sender;
  #kiosk = "";
  #queue = Promise.resolve(); // sends and erases reach the server one at a time, in order

  constructor({ apiBase = "", channel, storage = null, timeoutMs = 8000, kiosk = "" } = {}) {
    this.#apiBase = String(apiBase || "").replace(/\/+$/, "");
    this.#channel = channel || "other";
    this.kiosk = kiosk;
    this.#storage = storage || null;
    this.#timeoutMs = timeoutMs > 0 ? timeoutMs : 8000;
    const stored = storageGet(this.#storage, SENDER_KEY);
    if (stored && SENDER_RE.test(stored)) {
      this.#sender = stored;
    } else {
      this.#sender = newSender();
      storageSet(this.#storage, SENDER_KEY, this.#sender);
    }
  }

  get sender() {
    return this.#sender;
  }

  get channel() {
    return this.#channel;
  }

  /** The kiosk's name, sent with every message so that a ticket says where the visitor is. */
  get kiosk() {
    return this.#kiosk;
  }

  set kiosk(name) {
    this.#kiosk = cleanKioskName(name);
  }

  /** The stored transcript ([] without storage). */
  get transcript() {
    return loadTranscript(this.#storage);
  }

  async #request(method, path, body) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.#timeoutMs);
    try {
      const init = {
        method,
        headers: { Accept: "application/json" },
        credentials: "omit",
        cache: "no-store",
        signal: controller.signal,
      };
      if (body !== undefined) {
        init.headers["Content-Type"] = "application/json";
        init.body = JSON.stringify(body);
      }
      const response = await fetch(this.#apiBase + path, init);
      let data = null;
      try {
        data = await response.json();
      } catch {
        data = null; // not JSON (proxy error page, empty body…)
      }
      const visitor = response.headers.get("X-Guichet-Visitor-Text");
      return { ok: response.ok, status: response.status, data, visitor };
    } catch (err) {
      const timeout = err && err.name === "AbortError";
      return { ok: false, status: 0, data: null, timeout };
    } finally {
      clearTimeout(timer);
    }
  }

  #enqueue(task) {
    const run = this.#queue.then(task);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /**
   * The server's configuration, merged over DEFAULT_CONFIG. Never throws: when the server
   * cannot be reached, returns the defaults with `loaded: false`.
   */
  async config() {
    const { ok, data } = await this.#request("GET", "/api/config");
    const config = { ...DEFAULT_CONFIG, common: [], loaded: false };
    if (!ok || !isObject(data)) return config;
    for (const key of ["idle_seconds", "countdown_seconds", "wipe_after_ticket_seconds", "max_chars"]) {
      const value = Number(data[key]);
      if (Number.isFinite(value) && value > 0) config[key] = value;
    }
    if (typeof data.org_name === "string") config.org_name = data.org_name;
    config.kiosk_name = cleanKioskName(data.kiosk_name);
    if (typeof data.speech === "boolean") config.speech = data.speech;
    config.public_base_url = publicBase(data.public_base_url);
    if (Array.isArray(data.common)) {
      config.common = data.common
        .filter((g) => isObject(g) && typeof g.id === "string" && typeof g.title === "string")
        .map((g) => ({ id: g.id, title: g.title }));
    }
    config.loaded = true;
    return config;
  }

  /**
   * Send one message (typed text, or a button payload such as "/next_step").
   * `shown` is what the visitor saw in their own bubble (the button title), kept in the
   * transcript. Resolves to a list of bot messages; never throws: on failure the list holds
   * one message (or the server's) with `error: true`. The list's `visitor` property is the
   * visitor's message as the server kept it (secrets masked; `shown` for a button), or null
   * when the server did not answer: the only form of a typed message a page may show.
   */
  send(text, { shown } = {}) {
    const message = String(text ?? "");
    const sender = this.#sender; // the conversation this message belongs to
    return this.#enqueue(async () => {
      const body = { sender, message, channel: this.#channel };
      if (this.#kiosk) body.kiosk = this.#kiosk;
      const { ok, data, visitor } = await this.#request("POST", "/api/chat", body);
      if (!ok || !Array.isArray(data)) {
        const failed = errorMessages(data);
        failed.visitor = null;
        return failed;
      }
      const messages = data.map(cleanMessage).filter(Boolean);
      messages.visitor = shown ?? decodeHeader(visitor);
      if (this.#storage && sender === this.#sender) {
        // Browser storage only ever gets the masked text the server sends back (a card
        // number typed by mistake must not stay in sessionStorage), or a button's title.
        const kept = messages.visitor ?? "(message envoyé)";
        const transcript = loadTranscript(this.#storage);
        transcript.push({ who: "visitor", text: String(kept) });
        if (messages.length) transcript.push({ who: "bot", messages });
        saveTranscript(this.#storage, transcript);
      }
      return messages;
    });
  }

  /**
   * Forget this conversation: a new sender id at once, the stored transcript removed, and
   * the server asked to delete the old conversation (after any message still on its way).
   * Resolves to the server's answer ({erased: true, …}) or {erased: false, error: true}.
   */
  erase() {
    const old = this.#sender;
    this.#sender = newSender();
    clearTranscript(this.#storage);
    storageSet(this.#storage, SENDER_KEY, this.#sender);
    return this.#enqueue(async () => {
      const { ok, data } = await this.#request("POST", "/api/erase", { sender: old });
      if (ok && isObject(data)) return data;
      return { erased: false, error: true };
    });
  }
}

// ---------------------------------------------------------------- speech

const URL_RE = /https?:\/\/[^\s<>"]+/g;
const TRAILING_RE = /[.,;:!?)\]}»'"’]+$/;

export function pickFrenchVoice(voices) {
  const list = Array.isArray(voices) ? voices : Array.from(voices || []);
  const lang = (v) => String(v.lang || "").toLowerCase().replace("_", "-");
  return (
    list.find((v) => lang(v) === "fr-fr" && v.localService) ||
    list.find((v) => lang(v) === "fr-fr") ||
    list.find((v) => lang(v).startsWith("fr")) ||
    null
  );
}

export function canSpeak() {
  return (
    typeof globalThis.speechSynthesis !== "undefined" &&
    typeof globalThis.SpeechSynthesisUtterance !== "undefined"
  );
}

export function stopSpeaking() {
  if (!canSpeak()) return;
  try {
    globalThis.speechSynthesis.cancel();
  } catch {
    /* ignore */
  }
}

/**
 * What to read aloud for a message: its text, addresses replaced by a word (unreadable
 * aloud), then the buttons it offers (« Vos choix : Étape suivante, Je bloque. »).
 */
export function spokenText(text, buttons = []) {
  let said = String(text ?? "").replace(URL_RE, " (lien affiché à l'écran) ").replace(/[ \t]{2,}/g, " ").trim();
  const titles = (Array.isArray(buttons) ? buttons : []).map((t) => String(t).trim()).filter(Boolean);
  if (titles.length) {
    if (said && !/[.!?…:»]$/.test(said)) said += ".";
    said += `${said ? " " : ""}Vos choix : ${titles.join(", ")}.`;
  }
  return said;
}

/** Read `text` aloud in French, stopping any current speech. Returns false if unsupported. */
export function speak(text) {
  if (!canSpeak()) return false;
  const synth = globalThis.speechSynthesis;
  stopSpeaking();
  // Addresses are unreadable aloud: say that a link is shown instead.
  const said = String(text ?? "").replace(URL_RE, " (lien affiché à l'écran) ");
  if (!said.trim()) return false;
  const utterance = new globalThis.SpeechSynthesisUtterance(said);
  utterance.lang = "fr-FR";
  utterance.rate = 0.9;
  try {
    const voice = pickFrenchVoice(synth.getVoices());
    if (voice) utterance.voice = voice;
    synth.speak(utterance);
    return true;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------- rendering
//
// Class names (style them in the page or the widget's shadow root):
//   .gc-msg (every bubble) .gc-bot .gc-visitor .gc-error   .gc-text (the text)
//   .gc-progress (label + <progress>)   .gc-choices (button group) .gc-choice (a button)
//   .gc-speak ("Lire à voix haute")   .gc-link   .gc-sr-only (for screen readers only)

let uid = 0;

function el(doc, tag, className, text) {
  const node = doc.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A message's paragraph; `dir="auto"` lays out a notice in Arabic or Persian right to left. */
function textParagraph(doc) {
  const p = el(doc, "p", "gc-text");
  p.dir = "auto";
  return p;
}

function safeUrl(candidate) {
  try {
    const url = new URL(candidate);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

/**
 * Append `text` to `parent`: line breaks as <br>, http(s) addresses as links. With `onLink`,
 * an address is a button that calls onLink(href) and opens nothing (the kiosk).
 */
function appendRichText(doc, parent, text, { links, onLink }) {
  String(text).split(/\r\n|\r|\n/).forEach((line, index) => {
    if (index > 0) parent.append(doc.createElement("br"));
    if (!links) {
      parent.append(doc.createTextNode(line));
      return;
    }
    let last = 0;
    for (const match of line.matchAll(URL_RE)) {
      let raw = match[0];
      const trailing = raw.match(TRAILING_RE);
      if (trailing) raw = raw.slice(0, raw.length - trailing[0].length);
      const href = safeUrl(raw);
      if (!href) continue;
      parent.append(doc.createTextNode(line.slice(last, match.index)));
      if (typeof onLink === "function") {
        const button = el(doc, "button", "gc-link", raw);
        button.type = "button";
        button.dataset.href = href;
        button.addEventListener("click", () => onLink(href));
        parent.append(button);
      } else {
        const a = el(doc, "a", "gc-link", raw);
        a.href = href;
        a.target = "_blank";
        a.rel = "noopener noreferrer";
        a.append(el(doc, "span", "gc-sr-only", " (nouvel onglet)"));
        parent.append(a);
      }
      last = match.index + raw.length;
    }
    parent.append(doc.createTextNode(line.slice(last)));
  });
}

function guideMarker(custom) {
  if (!isObject(custom) || custom.guide === undefined) return null;
  const steps = Math.floor(Number(custom.steps));
  const step = Math.floor(Number(custom.step));
  if (!(steps > 0) || !(step > 0)) return null;
  return { step: Math.min(step, steps), steps, completed: custom.completed === true };
}

function progressElement(doc, marker) {
  uid += 1;
  const id = `gc-progress-${uid}`;
  const box = el(doc, "div", "gc-progress");
  const label = el(doc, "label", "gc-progress-label", `Étape ${marker.step} sur ${marker.steps}`);
  label.htmlFor = id;
  const bar = doc.createElement("progress");
  bar.id = id;
  bar.max = marker.steps;
  bar.value = marker.step;
  box.append(label, bar);
  return box;
}

function annotate(bubble, custom) {
  if (!isObject(custom)) return;
  if (custom.guide !== undefined) bubble.dataset.guide = String(custom.guide);
  if (custom.completed === true) bubble.dataset.completed = "true";
  if (custom.handoff !== undefined) bubble.dataset.handoff = String(custom.handoff);
  if (custom.ticket !== undefined) bubble.dataset.ticket = String(custom.ticket);
  if (custom.fallback !== undefined) bubble.dataset.fallback = String(custom.fallback);
  if (custom.menu !== undefined) bubble.dataset.menu = "true";
  if (Array.isArray(custom.workshops)) bubble.dataset.workshops = "true";
  if (typeof custom.booking === "string") bubble.dataset.booking = custom.booking;
}

// ---------------------------------------------------------------- workshops

const PARIS = "Europe/Paris";
const NUMBER_RE = /^[A-Z0-9]{3,12}$/;

function parisParts(date, options) {
  try {
    return new Intl.DateTimeFormat("fr-FR", { timeZone: PARIS, ...options }).formatToParts(date);
  } catch {
    return new Intl.DateTimeFormat("fr-FR", options).formatToParts(date); // no time zone data
  }
}

/**
 * A session's start as a visitor says it, in Paris time: « Mardi 8 décembre à 14 h »,
 * « … à 9 h 30 », with the year when it is not this year's. "" for anything unreadable.
 */
export function formatSessionDate(iso, now = new Date()) {
  const date = new Date(typeof iso === "string" ? iso : Number.NaN);
  if (Number.isNaN(date.getTime())) return "";
  const pick = (parts, type) => (parts.find((p) => p.type === type) || {}).value || "";
  const day = parisParts(date, { weekday: "long", day: "numeric", month: "long", year: "numeric" });
  const time = parisParts(date, { hour: "numeric", minute: "2-digit", hourCycle: "h23" });
  const year = pick(day, "year");
  const thisYear = pick(parisParts(now, { year: "numeric" }), "year");
  const hour = String(Number(pick(time, "hour")));
  const minute = pick(time, "minute");
  let said = `${pick(day, "weekday")} ${pick(day, "day")} ${pick(day, "month")}`;
  if (year !== thisYear) said += ` ${year}`;
  said += ` à ${hour} h${minute && minute !== "00" ? ` ${minute}` : ""}`;
  return said.charAt(0).toUpperCase() + said.slice(1);
}

/** The booking marker of a reply, checked: {number, workshop, startsAt, waiting} or null. */
export function bookingMarker(custom) {
  if (!isObject(custom) || custom.booking !== "created") return null;
  const number = typeof custom.number === "string" ? custom.number.trim().toUpperCase() : "";
  if (!NUMBER_RE.test(number)) return null;
  const workshop = Number(custom.workshop);
  return {
    number,
    workshop: Number.isInteger(workshop) && workshop > 0 ? workshop : null,
    startsAt: typeof custom.starts_at === "string" ? custom.starts_at : "",
    waiting: custom.waiting === true,
  };
}

/** The address of a session's public page, on `base` (else this page's origin). */
export function workshopPage(workshop, base = "") {
  const root = publicBase(base) || globalThis.location?.origin || "";
  return `${root}/ateliers/${workshop}`;
}

/**
 * The booking card: the number and the date in large type, for a visitor who cannot print.
 * `bookingLink` "qr" adds a QR code of the session's page (the kiosk), "link" a link to it
 * (a phone); `publicBase` is where phones reach the web app ("" = this page's origin).
 */
function bookingCard(doc, marker, { bookingLink, publicBase: base, apiBase = "" }) {
  const card = el(doc, "div", "gc-booking");
  card.dataset.number = marker.number;
  if (marker.waiting) {
    card.classList.add("gc-booking-waiting");
    card.append(
      el(doc, "p", "gc-booking-status",
        "Vous êtes sur la liste d'attente : vous n'avez pas encore de place.")
    );
  }
  const number = el(doc, "p", "gc-booking-line");
  number.append(
    el(doc, "span", "gc-booking-label", "Notez ce numéro : "),
    el(doc, "strong", "gc-booking-number", marker.number)
  );
  number.lastChild.translate = false;
  card.append(number);
  const when = formatSessionDate(marker.startsAt);
  if (when) card.append(el(doc, "p", "gc-booking-when", when));
  if (marker.workshop !== null && bookingLink === "qr") {
    const page = workshopPage(marker.workshop, base);
    const img = el(doc, "img", "gc-booking-qr");
    img.alt = `Code QR de la page de l'atelier : ${page}`;
    img.width = 240;
    img.height = 240;
    img.src = `${apiBase}/api/qr?url=${encodeURIComponent(page)}`;
    img.dataset.href = page;
    card.append(img, el(doc, "p", "gc-booking-scan", "Scannez pour l'avoir sur votre téléphone."));
  } else if (marker.workshop !== null && bookingLink === "link") {
    const page = workshopPage(marker.workshop, base);
    const a = el(doc, "a", "gc-link gc-booking-page", "Voir la page de l'atelier");
    a.href = page;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    a.append(el(doc, "span", "gc-sr-only", " (nouvel onglet)"));
    const p = el(doc, "p", "gc-booking-more");
    p.append(a);
    card.append(p);
  }
  return card;
}

/** Append the visitor's own bubble (their text shown as text). Returns the element. */
export function renderVisitor(container, text) {
  const doc = container.ownerDocument || document;
  const bubble = el(doc, "div", "gc-msg gc-visitor");
  bubble.append(el(doc, "span", "gc-sr-only", "Vous : "));
  const p = textParagraph(doc);
  appendRichText(doc, p, text, { links: false });
  bubble.append(p);
  container.append(bubble);
  return bubble;
}

/** Replace the text of a visitor bubble made by renderVisitor (the masked text arrived). */
export function setVisitorText(bubble, text) {
  const p = bubble && bubble.querySelector(".gc-text");
  if (!p) return;
  p.replaceChildren();
  appendRichText(p.ownerDocument || document, p, text, { links: false });
  bubble.removeAttribute("data-pending");
}

/** A visitor bubble waiting for the server's masked copy of what was typed. */
export function renderPendingVisitor(container) {
  const bubble = renderVisitor(container, PENDING_TEXT);
  bubble.dataset.pending = "true";
  return bubble;
}

/** Rasa sends `custom` apart from its text: attach marker-only messages to the one before. */
function groupMessages(messages) {
  const groups = [];
  const list = Array.isArray(messages) ? messages.map(cleanMessage).filter(Boolean) : [];
  for (const message of list) {
    const hasText = Boolean(message.text && message.text.trim());
    const hasButtons = Boolean(message.buttons && message.buttons.length);
    if (!hasText && !hasButtons) {
      if (groups.length) {
        if (message.custom) groups[groups.length - 1].customs.push(message.custom);
        continue;
      }
      // A marker with nothing to show, unless it draws something itself.
      if (!guideMarker(message.custom) && !bookingMarker(message.custom)) continue;
    }
    groups.push({ message, customs: message.custom ? [message.custom] : [] });
  }
  return groups;
}

/**
 * Append the bot's messages to `container`. Buttons call onButton(title, payload); a
 * "Lire à voix haute" button is added when `speak` is a function and `speakable` (by default:
 * the browser can speak); it calls speak(spokenText, bubble). With `stop`, a hidden
 * "Arrêter" button beside it calls stop() (the page shows it while reading). Buttons whose
 * payload is in `primary` get the class gc-primary; with `onLink`, addresses open nothing
 * (see appendRichText). A booking marker adds the booking card: `bookingLink` ("qr" or
 * "link"), `publicBase` and `apiBase` say how it points to the session's page (see
 * bookingCard). Returns the bubbles created.
 */
export function renderMessages(
  container,
  messages,
  { onButton, speak: speakFn, speakable, stop, primary = [], onLink, ...cards } = {}
) {
  const doc = container.ownerDocument || document;
  const created = [];
  for (const { message, customs } of groupMessages(messages)) {
    const text = message.text && message.text.trim() ? message.text : "";
    const buttons = message.buttons || [];
    const marker = customs.map(guideMarker).find(Boolean) || null;
    const bubble = el(doc, "div", message.error ? "gc-msg gc-bot gc-error" : "gc-msg gc-bot");
    bubble.append(el(doc, "span", "gc-sr-only", "Guichet : "));
    let shown = text;
    if (marker) {
      bubble.append(progressElement(doc, marker));
      // The step text starts with "Étape k sur n": the progress label already says it.
      const lines = shown.split(/\r\n|\r|\n/);
      const head = `Étape ${marker.step} sur ${marker.steps}`;
      if (lines.length > 1 && lines[0].trim().replace(/\s+/g, " ") === head) {
        shown = lines.slice(1).join("\n");
      }
    }
    for (const custom of customs) annotate(bubble, custom);
    if (shown.trim()) {
      const p = textParagraph(doc);
      appendRichText(doc, p, shown, { links: true, onLink });
      bubble.append(p);
    }
    const booked = customs.map(bookingMarker).find(Boolean);
    if (booked) bubble.append(bookingCard(doc, booked, cards));
    const canRead = speakable === undefined ? canSpeak() : Boolean(speakable);
    if (text && typeof speakFn === "function" && canRead) {
      const said = spokenText(text, buttons.map((b) => b.title));
      const row = el(doc, "div", "gc-speak-row");
      const say = el(doc, "button", "gc-speak", "Lire à voix haute");
      say.type = "button";
      say.addEventListener("click", () => speakFn(said, bubble));
      row.append(say);
      if (typeof stop === "function") {
        const halt = el(doc, "button", "gc-stop", "Arrêter la lecture");
        halt.type = "button";
        halt.hidden = true;
        halt.addEventListener("click", () => stop());
        row.append(halt);
      }
      bubble.append(row);
    }
    if (buttons.length) {
      const group = el(doc, "div", "gc-choices");
      group.setAttribute("role", "group");
      group.setAttribute("aria-label", "Vos choix");
      for (const { title, payload } of buttons) {
        const button = el(doc, "button", "gc-choice", title);
        button.type = "button";
        if (primary.includes(payload)) button.classList.add("gc-primary");
        button.addEventListener("click", () => {
          if (!button.disabled && typeof onButton === "function") onButton(title, payload);
        });
        group.append(button);
      }
      bubble.append(group);
    }
    container.append(bubble);
    created.push(bubble);
  }
  return created;
}

/** Disable the answer buttons already shown; returns those that were enabled. */
export function retireChoices(container) {
  const live = Array.from(container.querySelectorAll(".gc-choice:not([disabled])"));
  for (const button of live) button.disabled = true;
  return live;
}

/** Draw a stored transcript (see loadTranscript); only the last reply's buttons stay usable. */
export function renderTranscript(container, transcript, options = {}) {
  for (const entry of Array.isArray(transcript) ? transcript : []) {
    if (!isObject(entry)) continue;
    retireChoices(container);
    if (entry.who === "visitor") renderVisitor(container, entry.text);
    else if (entry.who === "bot") renderMessages(container, entry.messages, options);
  }
}
