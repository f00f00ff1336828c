// Guichet kiosk page. Nothing is kept in browser storage: the conversation lives in the
// DOM and in memory only, and is wiped (here and on the server) after inactivity or when
// the visitor asks. What the visitor types leaves the text box at once and is shown only
// as the server kept it (secrets masked), once the answer comes: a password typed by
// mistake is never on screen for the next visitor to read. The document itself never
// scrolls (only the conversation does), links open nothing (a tab would outlive the wipe),
// and every message can be read aloud, by the browser or by a voice the server makes.

import {
  canSpeak,
  ChatClient,
  cleanKioskName,
  DEFAULT_CONFIG,
  limitText,
  NOT_SENT_TEXT,
  pickFrenchVoice,
  renderMessages,
  renderPendingVisitor,
  renderVisitor,
  setVisitorText,
  stopSpeaking,
} from "../chat/chat.js";

const TEXT_SIZES = ["text-1", "text-2", "text-3", "text-4"];
const DEFAULT_SIZE = 1; // text-2: 22px
const ERASE_WAIT_MS = 3000; // the screen is cleared even if the server is slow to confirm
const TOO_LONG = "Votre message était trop long : il a été raccourci.";
const ERASED = "La conversation a été effacée.";
const CANNOT_READ =
  "La lecture à voix haute ne marche pas sur cette borne. Demandez de l'aide à l'accueil.";
const READING = "Lecture à voix haute en cours.";
const OTHER = { title: "Autre démarche", payload: "/help" }; // the full menu of guides
const WORKSHOPS = { title: "Ateliers", payload: "/list_workshops" }; // the coming sessions
const PRIMARY = ["/next_step"]; // the one filled button of a step (DSFR style)
const SPEAK_WAIT_MS = 15000;

const $ = (id) => document.getElementById(id);
const ui = {
  root: document.documentElement,
  app: $("app"),
  org: $("org-name"),
  kioskName: $("kiosk-name"),
  smaller: $("text-smaller"),
  bigger: $("text-bigger"),
  askHuman: $("ask-human"),
  erase: $("erase"),
  scroller: $("scroller"),
  welcome: $("welcome"),
  welcomeTitle: $("welcome-title"),
  commonTitle: $("common-title"),
  common: $("common"),
  log: $("log"),
  typing: $("typing"),
  form: $("composer"),
  notice: $("notice"),
  input: $("message"),
  overlay: $("idle"),
  count: $("idle-count"),
  unit: $("idle-unit"),
  stay: $("idle-stay"),
  reader: $("reader"),
  linkDialog: $("link-dialog"),
  linkAddress: $("link-address"),
  linkQr: $("link-qr"),
  linkClose: $("link-close"),
  eraseDialog: $("erase-dialog"),
  eraseYes: $("erase-yes"),
  eraseNo: $("erase-no"),
};

// ?kiosk=Borne%202 names this kiosk (else the server's KIOSK_NAME): tickets say where to go.
const pageKiosk = cleanKioskName(new URLSearchParams(window.location.search).get("kiosk"));
const client = new ChatClient({
  channel: "kiosk",
  storage: null,
  timeoutMs: 12000,
  kiosk: pageKiosk,
});
window.guichetKiosk = { sender: () => client.sender, kiosk: () => client.kiosk };

const settings = { ...DEFAULT_CONFIG };
const overrides = timingOverrides();
Object.assign(settings, overrides);

const reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");

// ------------------------------------------------------------------ state

let generation = 0; // bumped by each wipe: replies for an erased conversation are dropped
let pending = 0; // messages waiting for a reply
let wiping = false;
let textSize = DEFAULT_SIZE;
let modality = "pointer"; // how the visitor last interacted: "pointer" or "keyboard"
let armed = false; // someone used the kiosk since the last wipe
let ticketMade = false; // a ticket or a booking was made in this conversation: wipe sooner
let idleTimer = 0;
let countdownTimer = 0;
let deadline = 0;
let focusBefore = null;
let reading = null; // {bubble, stop} while a message is read aloud
let readingId = 0;

// ------------------------------------------------------------------ helpers

function timingOverrides() {
  // ?idle=2&countdown=2&wipe=3 (seconds), for tests and demonstrations.
  const params = new URLSearchParams(window.location.search);
  const out = {};
  for (const [param, key] of [
    ["idle", "idle_seconds"],
    ["countdown", "countdown_seconds"],
    ["wipe", "wipe_after_ticket_seconds"],
  ]) {
    const value = Number.parseFloat(params.get(param) ?? "");
    if (Number.isFinite(value) && value > 0) out[key] = value;
  }
  return out;
}

function scrollBehavior() {
  return reducedMotion.matches ? "auto" : "smooth";
}

function setNotice(text) {
  ui.notice.textContent = text || "";
}

function showTyping(on) {
  if (on && !ui.typing.firstChild) {
    const label = document.createElement("span");
    label.textContent = "Guichet écrit…";
    const dots = document.createElement("span");
    dots.className = "dots";
    dots.setAttribute("aria-hidden", "true");
    dots.append(
      document.createElement("span"),
      document.createElement("span"),
      document.createElement("span")
    );
    ui.typing.append(label, dots);
  } else if (!on) {
    ui.typing.replaceChildren();
  }
}

function showWelcome(on) {
  ui.welcome.classList.toggle("hidden", !on);
}

function focusLost() {
  const active = document.activeElement;
  return !active || active === document.body || active.disabled === true;
}

// ------------------------------------------------------------------ text size

function applyTextSize() {
  ui.root.classList.remove(...TEXT_SIZES);
  ui.root.classList.add(TEXT_SIZES[textSize]);
  ui.smaller.setAttribute("aria-disabled", String(textSize === 0));
  ui.bigger.setAttribute("aria-disabled", String(textSize === TEXT_SIZES.length - 1));
}

ui.smaller.addEventListener("click", () => {
  if (textSize > 0) textSize -= 1;
  applyTextSize();
});
ui.bigger.addEventListener("click", () => {
  if (textSize < TEXT_SIZES.length - 1) textSize += 1;
  applyTextSize();
});

// ------------------------------------------------------------------ conversation

/**
 * Scroll the conversation, never the page: scrollIntoView would also scroll the document
 * (overflow: hidden does not stop it), which pushed the top bar off the screen.
 */
function offsetIn(node) {
  return node.getBoundingClientRect().top - ui.scroller.getBoundingClientRect().top + ui.scroller.scrollTop;
}

/**
 * Show a new reply: its end (where its buttons are) and as much of it above as fits,
 * never cutting the top of its last bubble, never above the visitor's own message.
 */
function scrollToReply(mine, bubbles) {
  const nodes = [mine, ...bubbles].filter((n) => n && n.isConnected);
  if (!nodes.length) return;
  const first = offsetIn(nodes[0]) - 8;
  const last = nodes[nodes.length - 1];
  const lastTop = offsetIn(last) - 8;
  const end = offsetIn(last) + last.offsetHeight + 8 - ui.scroller.clientHeight;
  const top = Math.min(lastTop, Math.max(first, end));
  ui.scroller.scrollTo({ top: Math.max(0, top), behavior: scrollBehavior() });
}

function scrollLogToEnd() {
  ui.scroller.scrollTo({ top: ui.scroller.scrollHeight, behavior: scrollBehavior() });
}

/** Hide the answer buttons already shown (they are spent); returns them to restore on error. */
function hideChoices() {
  const groups = Array.from(ui.log.querySelectorAll(".gc-choices:not([hidden])"));
  for (const group of groups) group.hidden = true;
  return groups;
}

function onButton(title, payload) {
  sendMessage(payload, title, "choice");
}

function render(messages) {
  return renderMessages(ui.log, messages, {
    onButton,
    speak: readAloud,
    speakable: true, // the server's voice stands in when the browser has none
    stop: stopReading,
    primary: PRIMARY,
    onLink: showLink,
    // The kiosk prints nothing: a booking's card has a QR code of the session's page.
    bookingLink: "qr",
    publicBase: settings.public_base_url,
  });
}

function sendMessage(message, shown, origin) {
  if (wiping || !message) return;
  const gen = generation;
  if (origin !== "text") setNotice("");
  showWelcome(false);
  closeDialogs();
  const spent = hideChoices();
  // A button's title is shown at once; typed text only as the server returns it.
  const typed = origin === "text";
  const mine = typed ? renderPendingVisitor(ui.log) : renderVisitor(ui.log, shown);
  pending += 1;
  showTyping(true);
  scrollLogToEnd();
  restartIdle();

  client.send(message, typed ? {} : { shown }).then((messages) => {
    if (gen !== generation) return; // the conversation was wiped meanwhile
    pending = Math.max(0, pending - 1);
    if (pending === 0) showTyping(false);
    if (typed) setVisitorText(mine, messages.visitor ?? NOT_SENT_TEXT);
    if (messages.some((m) => m.custom && (m.custom.handoff === "created" || m.custom.booking === "created"))) {
      ticketMade = true;
    }
    const bubbles = render(messages);
    if (messages.some((m) => m.error)) {
      for (const group of spent) group.hidden = false; // let the visitor try again
    } else {
      for (const group of spent) group.remove();
    }
    setKeyboard(messages);
    scrollToReply(mine, bubbles);
    if (origin !== "text" && focusLost()) {
      const next = bubbles.map((b) => b.querySelector(".gc-primary, .gc-choice")).find(Boolean);
      if (modality === "keyboard") (next || ui.input).focus({ preventScroll: true });
    }
    restartIdle(); // a visitor reading a new answer is not idle
  });
}

// ------------------------------------------------------------------ the text box

/**
 * The hand-off or booking form asks for a phone number or an e-mail address: open the
 * matching on-screen keyboard. The marker says which (`detail`); older servers only say it
 * in words.
 */
function contactDetailAsked(messages) {
  const markers = messages.map((m) => m.custom).filter((c) => c && (c.handoff || c.booking));
  const asking = markers.find((c) => (c.handoff || c.booking) === "contact_detail");
  if (!asking) return null;
  if (asking.detail === "phone" || asking.detail === "email") return asking.detail;
  const words = messages.map((m) => m.text || "").join(" ").toLowerCase();
  if (words.includes("numéro de téléphone")) return "phone";
  if (words.includes("adresse e-mail")) return "email";
  return null;
}

function setKeyboard(messages) {
  const detail = Array.isArray(messages) ? contactDetailAsked(messages) : null;
  if (detail === "phone") {
    ui.input.inputMode = "tel";
    ui.input.autocomplete = "tel";
  } else if (detail === "email") {
    ui.input.inputMode = "email";
    ui.input.autocomplete = "email";
  } else {
    ui.input.removeAttribute("inputmode");
    ui.input.autocomplete = "off";
  }
}

function sendTyped() {
  if (wiping) return;
  // A leading "/" would be read by the bot as a button command: keep typed text plain.
  const raw = ui.input.value.trim().replace(/^\/+\s*/, "");
  if (!raw) {
    ui.input.value = "";
    return;
  }
  const { text, cut } = limitText(raw, settings.max_chars);
  setNotice(cut ? TOO_LONG : "");
  ui.input.value = "";
  sendMessage(text, text, "text");
}

ui.form.addEventListener("submit", (event) => {
  event.preventDefault();
  sendTyped();
  ui.input.focus({ preventScroll: true });
});

ui.input.addEventListener("keydown", (event) => {
  if (event.key !== "Enter" || event.shiftKey || event.isComposing || event.keyCode === 229) {
    return;
  }
  event.preventDefault();
  sendTyped();
});

ui.askHuman.addEventListener("click", () => {
  sendMessage("/ask_human", "Parler à un médiateur", "choice");
});

// ------------------------------------------------------------------ home screen

function tile({ title, payload, note }, extra) {
  const item = document.createElement("li");
  const button = document.createElement("button");
  button.type = "button";
  button.className = extra ? `tile ${extra}` : "tile";
  button.textContent = title;
  if (note) {
    const small = document.createElement("span");
    small.className = "tile-note";
    small.textContent = note;
    button.append(" ", small); // the space keeps the two words apart in the button's name
  }
  button.addEventListener("click", () => sendMessage(payload, title, "choice"));
  item.append(button);
  return item;
}

function renderCommon(common) {
  const tiles = common.map(({ id, title }) => tile({ title, payload: `/${id}` }));
  // « Ateliers » last: not a démarche but a way to learn them (the CSS fills the last row).
  const workshops = tile({ ...WORKSHOPS, note: "Apprendre en groupe" }, "tile-workshops");
  ui.common.replaceChildren(...tiles, tile(OTHER, "tile-other"), workshops);
}

// ------------------------------------------------------------------ dialogs

function closeDialogs() {
  for (const dialog of [ui.linkDialog, ui.eraseDialog]) {
    if (dialog.open) dialog.close();
  }
}

/** A link opens nothing on the kiosk: its address, large, and a QR code for one's phone. */
function showLink(href) {
  if (wiping) return;
  closeDialogs();
  ui.linkAddress.textContent = href;
  ui.linkQr.alt = `Code QR de l'adresse ${href}`;
  ui.linkQr.src = `/api/qr?url=${encodeURIComponent(href)}`;
  ui.linkDialog.showModal();
  ui.linkClose.focus({ preventScroll: true });
}

ui.linkClose.addEventListener("click", () => ui.linkDialog.close());
ui.linkDialog.addEventListener("close", () => {
  ui.linkQr.removeAttribute("src");
  ui.linkAddress.textContent = "";
});

ui.erase.addEventListener("click", () => {
  if (wiping) return;
  closeDialogs();
  ui.eraseDialog.showModal();
  ui.eraseNo.focus({ preventScroll: true }); // the safe answer first
});
ui.eraseNo.addEventListener("click", () => ui.eraseDialog.close());
ui.eraseYes.addEventListener("click", () => {
  ui.eraseDialog.close();
  wipe({ byVisitor: true });
});

// A tap on the dimmed backdrop (the dialog element itself, outside its box) closes it.
for (const dialog of [ui.linkDialog, ui.eraseDialog]) {
  dialog.addEventListener("click", (event) => {
    if (event.target !== dialog) return;
    const box = dialog.getBoundingClientRect();
    const inside =
      event.clientX >= box.left && event.clientX <= box.right &&
      event.clientY >= box.top && event.clientY <= box.bottom;
    if (!inside) dialog.close();
  });
}

// ------------------------------------------------------------------ reading aloud

function frenchVoice() {
  if (!canSpeak()) return null;
  try {
    return pickFrenchVoice(window.speechSynthesis.getVoices());
  } catch {
    return null;
  }
}

function showStop(bubble, on) {
  const stop = bubble && bubble.querySelector(".gc-stop");
  if (stop) stop.hidden = !on;
}

function doneReading(id) {
  if (!reading || reading.id !== id) return;
  showStop(reading.bubble, false);
  reading = null;
  if (ui.notice.textContent === READING) setNotice("");
}

function stopReading() {
  readingId += 1;
  stopSpeaking();
  ui.reader.pause();
  const src = ui.reader.src;
  ui.reader.removeAttribute("src");
  ui.reader.load();
  if (src.startsWith("blob:")) URL.revokeObjectURL(src);
  if (reading) {
    showStop(reading.bubble, false);
    reading = null;
  }
  if (ui.notice.textContent === READING) setNotice("");
}

/** Read with the browser's French voice when it has one, else with the server's voice. */
function readAloud(text, bubble) {
  stopReading();
  if (!text || wiping) return;
  const id = readingId;
  reading = { id, bubble };
  showStop(bubble, true);
  setNotice(READING);
  const voice = frenchVoice();
  if (voice) {
    const utterance = new window.SpeechSynthesisUtterance(text);
    utterance.lang = "fr-FR";
    utterance.rate = 0.9;
    utterance.voice = voice;
    utterance.addEventListener("end", () => doneReading(id));
    utterance.addEventListener("error", () => doneReading(id));
    window.speechSynthesis.speak(utterance);
    return;
  }
  if (settings.speech === false) {
    cannotRead(id);
    return;
  }
  readOnServer(text, id);
}

function cannotRead(id) {
  if (reading && reading.id === id) showStop(reading.bubble, false);
  if (id === readingId) reading = null;
  setNotice(CANNOT_READ);
}

async function readOnServer(text, id) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), SPEAK_WAIT_MS);
  try {
    const response = await fetch("/api/speak", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "audio/wav" },
      body: JSON.stringify({ text }),
      credentials: "omit",
      cache: "no-store",
      signal: controller.signal,
    });
    const type = response.headers.get("Content-Type") || "";
    if (!response.ok || !type.startsWith("audio/")) throw new Error(`speak ${response.status}`);
    const sound = await response.blob();
    if (id !== readingId) return; // stopped, or another message asked meanwhile
    ui.reader.src = URL.createObjectURL(sound);
    await ui.reader.play();
  } catch {
    if (id === readingId) cannotRead(id);
  } finally {
    clearTimeout(timer);
  }
}

ui.reader.addEventListener("ended", () => {
  if (reading) doneReading(reading.id);
});

// ------------------------------------------------------------------ wipe

function delay(ms) {
  return new Promise((resolve) => {
    setTimeout(resolve, ms);
  });
}

async function wipe({ byVisitor = false } = {}) {
  if (wiping) return;
  wiping = true;
  generation += 1;
  closeOverlay({ restoreFocus: false });
  closeDialogs();
  stopIdle();
  stopReading();
  ui.input.value = "";
  setNotice("");
  // Ask the server first (bounded wait), so that an empty screen means a deleted conversation.
  await Promise.race([client.erase(), delay(ERASE_WAIT_MS)]);
  stopReading();
  closeDialogs();
  ui.log.replaceChildren();
  ui.input.value = "";
  setKeyboard(null);
  pending = 0;
  ticketMade = false;
  showTyping(false);
  textSize = DEFAULT_SIZE;
  applyTextSize();
  showWelcome(true);
  ui.scroller.scrollTop = 0;
  wiping = false;
  armed = false;
  if (byVisitor) {
    setNotice(ERASED);
    ui.welcomeTitle.focus({ preventScroll: true });
  } else if (document.activeElement && document.activeElement !== document.body) {
    document.activeElement.blur();
  }
}

// ------------------------------------------------------------------ idle

function overlayOpen() {
  return !ui.overlay.classList.contains("hidden");
}

function stopIdle() {
  clearTimeout(idleTimer);
  clearInterval(countdownTimer);
  idleTimer = 0;
  countdownTimer = 0;
}

// Once a ticket is made, the visitor has what they came for and often walks away with the
// number on screen: the whole wait, countdown included, is then wipe_after_ticket_seconds.
function countdownSeconds() {
  if (!ticketMade) return settings.countdown_seconds;
  return Math.min(settings.countdown_seconds, settings.wipe_after_ticket_seconds);
}

function idleSeconds() {
  if (!ticketMade) return settings.idle_seconds;
  const before = settings.wipe_after_ticket_seconds - countdownSeconds();
  return Math.min(settings.idle_seconds, Math.max(0, before));
}

function restartIdle() {
  clearTimeout(idleTimer);
  if (!armed || wiping || overlayOpen()) return;
  idleTimer = setTimeout(openOverlay, idleSeconds() * 1000);
}

function onActivity() {
  if (wiping || overlayOpen()) return;
  armed = true;
  restartIdle();
}

for (const type of ["pointerdown", "keydown", "input"]) {
  document.addEventListener(type, onActivity, { capture: true, passive: true });
}
document.addEventListener("pointerdown", () => { modality = "pointer"; }, { capture: true });
document.addEventListener("keydown", () => { modality = "keyboard"; }, { capture: true });

function showCount(seconds) {
  ui.count.textContent = String(seconds);
  ui.unit.textContent = seconds > 1 ? "secondes" : "seconde";
}

function tick() {
  const left = Math.max(0, Math.ceil((deadline - Date.now()) / 1000));
  showCount(left);
  if (left <= 0) wipe();
}

function openOverlay() {
  if (wiping || overlayOpen()) return;
  // The idle screen must cover everything: a modal dialog would sit above it.
  closeDialogs();
  focusBefore = document.activeElement;
  deadline = Date.now() + countdownSeconds() * 1000;
  showCount(Math.ceil(countdownSeconds()));
  ui.app.inert = true;
  ui.overlay.classList.remove("hidden");
  ui.stay.focus();
  clearInterval(countdownTimer);
  countdownTimer = setInterval(tick, 250);
}

function closeOverlay({ restoreFocus = true } = {}) {
  clearInterval(countdownTimer);
  countdownTimer = 0;
  if (!overlayOpen()) return;
  ui.overlay.classList.add("hidden");
  ui.app.inert = false;
  if (restoreFocus) {
    const back = focusBefore && focusBefore.isConnected && !focusBefore.disabled ? focusBefore : ui.input;
    if (back && back !== document.body) back.focus({ preventScroll: true });
  }
  focusBefore = null;
}

function stillHere() {
  closeOverlay();
  restartIdle();
}

ui.stay.addEventListener("click", stillHere);

// The dialog has one control: keep the focus on it.
ui.overlay.addEventListener("keydown", (event) => {
  if (event.key === "Tab") {
    event.preventDefault();
    ui.stay.focus();
  } else if (event.key === "Escape") {
    event.preventDefault();
    stillHere();
  }
});
document.addEventListener("focusin", (event) => {
  if (overlayOpen() && !ui.overlay.contains(event.target)) ui.stay.focus();
});

// ------------------------------------------------------------------ start

async function loadConfig(attempt = 0) {
  const config = await client.config();
  if (config.loaded) {
    Object.assign(settings, config, overrides);
    ui.org.textContent = config.org_name;
    if (!pageKiosk) client.kiosk = config.kiosk_name;
    showKioskName();
    renderCommon(config.common);
    if (armed) restartIdle(); // the idle delay may have changed
  } else if (attempt < 20) {
    setTimeout(() => loadConfig(attempt + 1), Math.min(30000, 3000 * (attempt + 1)));
  }
}

function showKioskName() {
  ui.kioskName.textContent = client.kiosk;
  ui.kioskName.classList.toggle("hidden", !client.kiosk);
}

// Chromium lists its voices only after a first request: ask now, not at the first tap.
if (canSpeak()) frenchVoice();

applyTextSize();
showWelcome(true);
showKioskName();
renderCommon([]);
loadConfig();
