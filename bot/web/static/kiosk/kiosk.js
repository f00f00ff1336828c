// Guichet kiosk page. Nothing is kept in browser storage: the conversation lives in the
// DOM and in memory only, and is wiped (here and on the server) after inactivity or when
// the visitor asks. What the visitor types leaves the text box at once and is shown only
// as the server kept it (secrets masked), once the answer comes: a password typed by
// mistake is never on screen for the next visitor to read.

import {
  ChatClient,
  DEFAULT_CONFIG,
  limitText,
  NOT_SENT_TEXT,
  renderMessages,
  renderPendingVisitor,
  renderVisitor,
  setVisitorText,
  retireChoices,
  speak,
  stopSpeaking,
} from "../chat/chat.js";

const TEXT_SIZES = ["text-1", "text-2", "text-3", "text-4"];
const DEFAULT_SIZE = 1; // text-2: 22px
const ERASE_WAIT_MS = 3000; // the screen is cleared even if the server is slow to confirm
const TOO_LONG = "Votre message était trop long : il a été raccourci.";
const ERASED = "La conversation a été effacée.";

const $ = (id) => document.getElementById(id);
const ui = {
  root: document.documentElement,
  app: $("app"),
  org: $("org-name"),
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
};

const client = new ChatClient({ channel: "kiosk", storage: null, timeoutMs: 12000 });
window.guichetKiosk = { sender: () => client.sender };

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
let ticketMade = false; // a ticket was created in this conversation: wipe sooner
let idleTimer = 0;
let countdownTimer = 0;
let deadline = 0;
let focusBefore = null;

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

function onButton(title, payload) {
  sendMessage(payload, title, "choice");
}

function sendMessage(message, shown, origin) {
  if (wiping || !message) return;
  const gen = generation;
  if (origin !== "text") setNotice("");
  showWelcome(false);
  const retired = retireChoices(ui.log);
  // A button's title is shown at once; typed text only as the server returns it.
  const typed = origin === "text";
  const mine = typed ? renderPendingVisitor(ui.log) : renderVisitor(ui.log, shown);
  pending += 1;
  showTyping(true);
  ui.scroller.scrollTo({ top: ui.scroller.scrollHeight, behavior: scrollBehavior() });
  restartIdle();

  client.send(message, typed ? {} : { shown }).then((messages) => {
    if (gen !== generation) return; // the conversation was wiped meanwhile
    pending = Math.max(0, pending - 1);
    if (pending === 0) showTyping(false);
    if (typed) setVisitorText(mine, messages.visitor ?? NOT_SENT_TEXT);
    if (messages.some((m) => m.custom && m.custom.handoff === "created")) ticketMade = true;
    const bubbles = renderMessages(ui.log, messages, { onButton, speak });
    if (messages.some((m) => m.error)) {
      for (const button of retired) button.disabled = false; // let the visitor try again
    }
    if (mine.isConnected) mine.scrollIntoView({ block: "start", behavior: scrollBehavior() });
    if (origin !== "text" && focusLost()) {
      const next = bubbles.map((b) => b.querySelector(".gc-choice:not([disabled])")).find(Boolean);
      if (modality === "keyboard") (next || ui.input).focus();
    }
    restartIdle(); // a visitor reading a new answer is not idle
  });
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
  ui.input.focus();
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

ui.erase.addEventListener("click", () => {
  wipe({ byVisitor: true });
});

function renderCommon(common) {
  ui.common.replaceChildren();
  for (const { id, title } of common) {
    const item = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = title;
    button.addEventListener("click", () => sendMessage(`/${id}`, title, "choice"));
    item.append(button);
    ui.common.append(item);
  }
  ui.commonTitle.classList.toggle("hidden", common.length === 0);
}

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
  stopIdle();
  stopSpeaking();
  ui.input.value = "";
  setNotice("");
  // Ask the server first (bounded wait), so that an empty screen means a deleted conversation.
  await Promise.race([client.erase(), delay(ERASE_WAIT_MS)]);
  stopSpeaking();
  ui.log.replaceChildren();
  ui.input.value = "";
  pending = 0;
  ticketMade = false;
  showTyping(false);
  textSize = DEFAULT_SIZE;
  applyTextSize();
  showWelcome(true);
  ui.scroller.scrollTop = 0;
  window.scrollTo(0, 0);
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
    renderCommon(config.common);
    if (armed) restartIdle(); // the idle delay may have changed
  } else if (attempt < 20) {
    setTimeout(() => loadConfig(attempt + 1), Math.min(30000, 3000 * (attempt + 1)));
  }
}

applyTextSize();
showWelcome(true);
loadConfig();
