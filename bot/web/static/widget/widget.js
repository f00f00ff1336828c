/* Guichet website widget: a chat panel that any page embeds with one <script> tag.
 *
 * A classic script (not a module) so that host sites need nothing but the tag. It lives in
 * a Shadow DOM with its own stylesheet in px, so the host page's CSS cannot break it and its
 * CSS cannot leak out. Talking to the server and rendering bot messages are done by the
 * shared chat module (/static/chat/chat.js), imported from the widget's own origin.
 */
(function () {
  "use strict";

  // currentScript only exists while this script runs for the first time: read it now.
  const script = document.currentScript || document.querySelector("script[src$='/widget.js']");
  if (window.GuichetWidget || document.getElementById("guichet-widget")) return; // loaded twice

  const API_BASE = originOf(script && script.src);
  const DEFAULT_COLOUR = "#1f4e79";
  const DEFAULT_TITLE = "Aide aux démarches";
  const DEFAULT_LABEL = "Besoin d'aide ?";
  const MAX_LABEL_CHARS = 32; // the launcher stays one short line on a phone
  const MAX_TITLE_CHARS = 60;
  const DEFAULT_MAX_CHARS = 500;
  const NOT_ANSWERING = "Le service ne répond pas. Vous pouvez demander de l'aide à l'accueil.";
  const HUMAN_PAYLOAD = "/ask_human";
  const HUMAN_TITLE = "Parler à un médiateur";
  const TEXT_SIZES = [16, 18, 20, 22, 24];
  // Keys of this prefix are the widget's; the chat module keeps the sender and the transcript.
  const WIDGET_PREFIX = "guichet.widget.";
  const OPEN_KEY = "guichet.widget.open";
  const SIZE_KEY = "guichet.widget.textsize";
  // On a phone (and on a short window, a phone on its side or a page zoomed in) the open
  // panel covers the whole screen. Kept in step with widget.css.
  const PHONE_QUERY = "(max-width: 599.98px), (max-height: 499.98px)";
  // What the hand-off form asks for, as the text box's keyboard (`inputmode`, `autocomplete`).
  // The box's label says what is asked too: the question may have scrolled out of view.
  const KEYBOARDS = {
    phone: { inputmode: "tel", autocomplete: "tel", spellcheck: "false", autocapitalize: "off" },
    email: { inputmode: "email", autocomplete: "email", spellcheck: "false", autocapitalize: "off" },
    text: { inputmode: "text", autocomplete: "off", spellcheck: "true", autocapitalize: "sentences" },
  };
  const BOX_LABELS = {
    phone: "Votre numéro de téléphone",
    email: "Votre adresse e-mail",
    text: "Votre message",
  };

  const data = (script && script.dataset) || {};
  const settings = {
    title: plainText(data.title, MAX_TITLE_CHARS) || DEFAULT_TITLE,
    label: plainText(data.label, MAX_LABEL_CHARS) || DEFAULT_LABEL,
    colour: usableColour(data.colour || data.color),
    left: data.position === "left",
    openByDefault: data.open === "true",
  };
  const storage = sessionStore();

  function originOf(src) {
    try {
      return new URL(src, window.location.href).origin;
    } catch (_) {
      return window.location.origin;
    }
  }

  /* The host's words as one short line of plain text: no control or invisible formatting
     characters (bidi overrides), spaces collapsed, at most `max` characters. It is only
     ever set with textContent, so markup stays visible text. */
  function plainText(value, max) {
    const text = String(value || "")
      .replace(/[\p{C}\p{Zl}\p{Zp}]/gu, " ")
      .replace(/\s+/g, " ")
      .trim();
    const chars = Array.from(text);
    if (chars.length <= max) return text;
    return `${chars.slice(0, max - 1).join("").trimEnd()}…`;
  }

  /* « de » before the organisation's name, elided and contracted as bot/french.py does:
     de l'Espace…, du Centre…, des Ateliers…, de la Maison…, de Médiathèque… */
  const ASPIRATED_H = new Set(["hall", "halle", "halles", "hameau", "handicap", "hangar", "harpe",
    "hasard", "haut", "haute", "hauts", "havre", "hibou", "hockey", "hollande", "homard", "honte",
    "hors", "hublot", "huit", "hutte"]);

  function ofName(name) {
    const plain = (word) => word.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
    const text = String(name).trim();
    const article = text.match(/^(?:(les|le|la)\s+|(l['’])\s*)/i);
    if (article) {
      const rest = text.slice(article[0].length);
      const word = (article[1] || "l'").toLowerCase();
      if (word === "le") return `du ${rest}`;
      if (word === "les") return `des ${rest}`;
      return word === "la" ? `de la ${rest}` : `de l'${rest}`;
    }
    const first = plain((text.match(/^[\p{L}]+/u) || [""])[0]);
    const vowel = (c) => "aeiouy".includes(c);
    const elides = first[0] === "h"
      ? !ASPIRATED_H.has(first) && first.length > 1 && vowel(first[1])
      : Boolean(first) && vowel(first[0]);
    return elides ? `de l'${text}` : `de ${text}`;
  }

  /* The host's colour, only if it is #rrggbb and white text on it stays readable (4.5:1). */
  function usableColour(value) {
    const colour = String(value || "").trim();
    if (!/^#[0-9a-fA-F]{6}$/.test(colour)) return DEFAULT_COLOUR;
    const channel = (i) => {
      const c = parseInt(colour.slice(i, i + 2), 16) / 255;
      return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    };
    const luminance = 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
    return 1.05 / (luminance + 0.05) >= 4.5 ? colour : DEFAULT_COLOUR;
  }

  /* sessionStorage, or a memory stand-in when the browser refuses it (privacy modes). */
  function sessionStore() {
    try {
      const store = window.sessionStorage;
      store.setItem("guichet.widget.test", "1");
      store.removeItem("guichet.widget.test");
      return store;
    } catch (_) {
      const items = new Map();
      return {
        get length() { return items.size; },
        key: (i) => Array.from(items.keys())[i] ?? null,
        getItem: (k) => (items.has(k) ? items.get(k) : null),
        setItem: (k, v) => { items.set(k, String(v)); },
        removeItem: (k) => { items.delete(k); },
        clear: () => { items.clear(); },
      };
    }
  }

  /* A tiny element builder: attributes and text only, never HTML strings. */
  function el(tag, attributes, children) {
    const node = document.createElement(tag);
    Object.entries(attributes || {}).forEach(([name, value]) => {
      if (value === true) node.setAttribute(name, "");
      else if (value !== false && value != null) node.setAttribute(name, String(value));
    });
    (children || []).forEach((child) => {
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function chatIcon() {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "30");
    svg.setAttribute("height", "30");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    const path = document.createElementNS(ns, "path");
    path.setAttribute("fill", "currentColor");
    path.setAttribute(
      "d",
      "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm3 6.5a1.5 " +
        "1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zm5 0a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zm5 0a1.5 1.5 0 1 0 " +
        "0 3 1.5 1.5 0 0 0 0-3z"
    );
    svg.append(path);
    return svg;
  }

  function build() {
    const host = el("div", { id: "guichet-widget", lang: "fr" });
    const shadow = host.attachShadow({ mode: "open" });
    const stylesheet = el("link", { rel: "stylesheet", href: `${API_BASE}/static/widget/widget.css` });

    // The visible label starts the button's name (WCAG 2.5.3, label in name).
    const launcher = el(
      "button",
      {
        type: "button",
        class: "launcher",
        "aria-expanded": "false",
        "aria-controls": "guichet-panel",
      },
      [
        chatIcon(),
        el("span", { class: "launcher-label" }, [settings.label]),
        el("span", { class: "visually-hidden launcher-action" }, [" Ouvrir l'aide Guichet"]),
      ]
    );
    const close = el("button", { type: "button", class: "close", "aria-label": "Fermer" }, [
      el("span", { "aria-hidden": "true" }, ["×"]),
    ]);
    const human = el("button", { type: "button", class: "action" }, [HUMAN_TITLE]);
    const erase = el("button", { type: "button", class: "action" }, ["Effacer la conversation"]);
    const log = el("div", {
      class: "log",
      role: "log",
      "aria-live": "polite",
      "aria-label": "Conversation",
      tabindex: "0",
    });
    const typing = el("p", { class: "typing", role: "status", hidden: true }, ["Guichet écrit…"]);
    const notice = el("p", { class: "notice", role: "status", hidden: true });
    const input = el("input", {
      id: "guichet-input",
      type: "text",
      autocomplete: "off",
      enterkeyhint: "send",
      spellcheck: "true",
      inputmode: "text",
      autocapitalize: "sentences",
    });
    const send = el("button", { type: "submit", class: "send" }, ["Envoyer"]);
    const inputLabel = el("label", { for: "guichet-input" }, [BOX_LABELS.text]);
    const form = el("form", { class: "form", novalidate: true }, [
      inputLabel,
      el("div", { class: "row" }, [input, send]),
    ]);
    const smaller = el("button", { type: "button", class: "size-button" }, [
      el("span", { "aria-hidden": "true" }, ["A-"]),
      el("span", { class: "visually-hidden" }, ["Réduire le texte"]),
    ]);
    const bigger = el("button", { type: "button", class: "size-button" }, [
      el("span", { "aria-hidden": "true" }, ["A+"]),
      el("span", { class: "visually-hidden" }, ["Agrandir le texte"]),
    ]);
    const sizeLabel = el("span", { id: "guichet-size-label" }, ["Taille du texte"]);
    const sizes = el(
      "div",
      { class: "sizes", role: "group", "aria-labelledby": "guichet-size-label" },
      [sizeLabel, smaller, bigger]
    );
    const panel = el(
      "div",
      { class: "panel", id: "guichet-panel", role: "dialog", "aria-label": settings.title, hidden: true },
      [
        el("div", { class: "header" }, [
          el("div", { class: "header-top" }, [el("h2", { class: "title" }, [settings.title]), sizes, close]),
          el("div", { class: "actions" }, [human, erase]),
        ]),
        log,
        typing,
        notice,
        form,
      ]
    );
    const root = el("div", { class: settings.left ? "root left" : "root", lang: "fr", hidden: true }, [
      launcher,
      panel,
    ]);
    // A custom property set through the CSSOM, which a strict CSP on the host page allows.
    root.style.setProperty("--guichet-colour", settings.colour);
    shadow.append(stylesheet, root);
    const launcherAction = launcher.querySelector(".launcher-action");
    return { host, shadow, stylesheet, root, launcher, launcherAction, panel, close, human, erase,
      log, typing, notice, form, input, inputLabel, send, smaller, bigger };
  }

  function start() {
    const ui = build();
    const state = {
      chat: null, // {module, client} once the shared chat module is in
      settings: { max_chars: DEFAULT_MAX_CHARS, org_name: "", common: [] },
      generation: 0, // bumped by each erase: replies for an erased conversation are dropped
      pending: 0, // messages waiting for a reply
      erasing: false,
      scrollOnOpen: false,
    };

    // The shared chat module, from the widget's own origin (the server sends it with CORS).
    const ready = import(`${API_BASE}/static/chat/chat.js`).then((module) => {
      const client = new module.ChatClient({ apiBase: API_BASE, channel: "widget", storage });
      state.chat = { module, client };
      return state.chat;
    });
    const configured = ready
      .then(({ module, client }) =>
        client.config().then((config) => {
          state.settings = { ...module.DEFAULT_CONFIG, ...config };
        })
      )
      .catch(() => {});
    // The conversation of the previous pages of this tab, drawn again by the chat module
    // before anything new is shown.
    const restored = Promise.all([ready, configured])
      .then(([{ module }]) => {
        const transcript = module.loadTranscript(storage);
        if (transcript.length) {
          module.renderTranscript(ui.log, transcript, drawing(module));
          const last = transcript[transcript.length - 1];
          setKeyboard(last && last.who === "bot" ? askedDetail(last.messages) : null);
          ui.log.scrollTop = ui.log.scrollHeight;
          state.scrollOnOpen = !isOpen(); // a hidden panel cannot scroll yet
        } else {
          showWelcome();
        }
      })
      .catch(() => {
        renderNote(NOT_ANSWERING); // the chat module did not load
      });

    /* ---- conversation ---- */

    /* "phone" or "email" when the latest reply asks for that contact detail, else null.
       The marker's `detail` says which; without it, the question's own words do. */
    function askedDetail(messages) {
      let asked = null;
      let words = "";
      for (const message of Array.isArray(messages) ? messages : []) {
        if (!message || typeof message !== "object") continue;
        if (typeof message.text === "string") words += ` ${message.text}`;
        const custom = message.custom;
        if (!custom || typeof custom !== "object") continue;
        const form = custom.handoff !== undefined ? custom.handoff : custom.booking;
        if (form === undefined) continue; // the hand-off and the booking ask alike
        asked = null;
        if (form !== "contact_detail") continue;
        if (custom.detail === "phone" || custom.detail === "email") asked = custom.detail;
        else if (/num[ée]ro de t[ée]l[ée]phone/i.test(words)) asked = "phone";
        else if (/adresse (e-?mail|électronique|electronique)/i.test(words)) asked = "email";
      }
      return asked;
    }

    /* The number pad for a phone number, the e-mail keyboard for an address. */
    function setKeyboard(detail) {
      const wanted = KEYBOARDS[detail] ? detail : "text";
      if (ui.input.getAttribute("data-keyboard") === wanted) return;
      Object.entries(KEYBOARDS[wanted]).forEach(([name, value]) => ui.input.setAttribute(name, value));
      ui.inputLabel.textContent = BOX_LABELS[wanted];
      ui.input.setAttribute("data-keyboard", wanted);
      // A phone keeps the open keyboard's layout until the box is focused again.
      if (ui.shadow.activeElement === ui.input) {
        ui.input.blur();
        ui.input.focus();
      }
    }

    function scrollTo(node) {
      if (node && node.isConnected) ui.log.scrollTop = Math.max(0, node.offsetTop - 8);
    }

    function showNotice(text) {
      ui.notice.textContent = text || "";
      ui.notice.hidden = !text;
    }

    function setTyping(on) {
      ui.typing.hidden = !on;
    }

    function renderNote(text) {
      const note = el("p", { class: "note" }, [text]);
      ui.log.append(note);
      return note;
    }

    function onButton(title, payload) {
      sendMessage(payload, title);
    }

    /* How the chat module draws replies here: a booking's card links to the session's page
       on the Guichet server (the host page's origin knows nothing of it). */
    function drawing(module) {
      const publicBase = state.settings.public_base_url || API_BASE;
      return { onButton, speak: module.speak, bookingLink: "link", publicBase };
    }

    /* A greeting and the common démarches while the conversation is empty (never stored). */
    function showWelcome() {
      const { module } = state.chat;
      const where = state.settings.org_name ? ` ${ofName(state.settings.org_name)}` : "";
      const common = Array.isArray(state.settings.common) ? state.settings.common : [];
      module.renderMessages(
        ui.log,
        [
          {
            text:
              `Bonjour. Je suis Guichet, l'assistant${where}. Je vous guide pas à pas dans ` +
              "vos démarches en ligne. Écrivez votre question ou choisissez un sujet. " +
              "N'écrivez jamais de mot de passe.",
            buttons: common.map((guide) => ({ title: guide.title, payload: `/${guide.id}` })),
          },
        ],
        { onButton, speak: module.speak }
      );
    }

    /* The chat module could not load: say so with plain text nodes. */
    function renderUnavailable(shown, typed) {
      // Typed text is shown only as the server masks it: here there is no server copy.
      const words = typed ? "(message non envoyé)" : shown;
      ui.log.append(el("div", { class: "gc-msg gc-visitor" }, [el("p", { class: "gc-text" }, [words])]));
      ui.log.append(
        el("div", { class: "gc-msg gc-bot gc-error" }, [el("p", { class: "gc-text" }, [NOT_ANSWERING])])
      );
      ui.log.scrollTop = ui.log.scrollHeight;
    }

    function focusLost() {
      const active = ui.shadow.activeElement;
      return !active || !active.isConnected || active.disabled === true;
    }

    /* Sends `message` (typed text or a button payload), showing `shown` as the visitor's words
       (for typed text, the server's masked copy once it arrives: a secret typed by mistake is
       never on screen). The chat module stores both sides in sessionStorage (saveTranscript). */
    async function sendMessage(message, shown, typed = false) {
      if (state.erasing || !message) return;
      let chat;
      try {
        await restored;
        chat = await ready;
      } catch (_) {
        renderUnavailable(shown, typed);
        return;
      }
      const { module, client } = chat;
      const generation = state.generation;
      const retired = module.retireChoices(ui.log);
      const mine = typed ? module.renderPendingVisitor(ui.log) : module.renderVisitor(ui.log, shown);
      state.pending += 1;
      setTyping(true); // first: the indicator makes the list shorter
      scrollTo(mine);
      const messages = await client.send(message, typed ? {} : { shown }); // typed: the masked copy is kept
      if (generation !== state.generation) return; // erased meanwhile
      if (typed) module.setVisitorText(mine, messages.visitor ?? module.NOT_SENT_TEXT);
      state.pending = Math.max(0, state.pending - 1);
      if (state.pending === 0) setTyping(false);
      const bubbles = module.renderMessages(ui.log, messages, drawing(module));
      if (messages.some((m) => m.error)) {
        retired.forEach((button) => { button.disabled = false; }); // let the visitor retry
      } else {
        setKeyboard(askedDetail(messages)); // a failed send leaves the question as it was
      }
      scrollTo(mine);
      // The pressed button is disabled now: keep the keyboard in the panel.
      if (isOpen() && focusLost()) {
        const next = bubbles.map((b) => b.querySelector(".gc-choice:not([disabled])")).find(Boolean);
        (next || ui.log).focus();
      }
    }

    async function sendTyped() {
      // A leading "/" would be read by the bot as a button command: keep typed text plain.
      const raw = ui.input.value.trim().replace(/^\/+\s*/, "");
      ui.input.value = "";
      if (!raw) return;
      await configured;
      let text = raw;
      let cut = false;
      if (state.chat) ({ text, cut } = state.chat.module.limitText(raw, state.settings.max_chars));
      showNotice(
        cut
          ? `Votre message était trop long. Seuls les ${state.settings.max_chars} premiers ` +
              "caractères ont été envoyés."
          : ""
      );
      sendMessage(text, text, true);
    }

    function forgetWidgetKeys() {
      const ours = [];
      for (let i = 0; i < storage.length; i += 1) {
        const key = storage.key(i);
        if (key && key.startsWith(WIDGET_PREFIX)) ours.push(key);
      }
      ours.forEach((key) => storage.removeItem(key));
    }

    async function eraseConversation() {
      if (state.erasing) return;
      state.erasing = true;
      state.generation += 1;
      showNotice("");
      let result = { erased: true };
      try {
        const { module, client } = await ready;
        module.stopSpeaking();
        // A new sender id and no stored transcript at once; the server deletes the old one.
        result = (await client.erase()) || {};
      } catch (_) {
        result = { erased: true }; // nothing was ever sent without the chat module
      }
      forgetWidgetKeys();
      if (state.chat) state.chat.module.clearTranscript(storage);
      storage.setItem(OPEN_KEY, isOpen() ? "1" : "0");
      ui.log.replaceChildren();
      setKeyboard(null);
      state.pending = 0;
      setTyping(false);
      renderNote("La conversation est effacée.");
      if (result.error) {
        showNotice(
          "Le service n'a pas confirmé l'effacement. Vous pouvez demander de l'aide à l'accueil."
        );
      }
      if (state.chat) showWelcome();
      state.erasing = false;
    }

    /* ---- opening, closing, text size ---- */

    function isOpen() {
      return !ui.panel.hidden;
    }

    /* ---- phones: the open panel covers the screen, the page stays still behind it ---- */

    const phone = window.matchMedia ? window.matchMedia(PHONE_QUERY) : null;
    let locked = null; // the host page's scroll position and inline styles while locked

    function isFullScreen() {
      return isOpen() && Boolean(phone && phone.matches);
    }

    /* The page behind a full-screen panel must not move: a swipe or the wheel anywhere but
       on the conversation itself is stopped (two fingers still zoom). The page's overflow is
       left alone: hiding it would shrink a wide page's viewport and lose where the visitor
       was. Closing puts the page back where it was, should the browser have moved it. */
    function stopsPage(event) {
      if (!isFullScreen()) return;
      if (event.touches && event.touches.length > 1) return;
      if (event.ctrlKey) return; // zoom with the wheel
      const path = event.composedPath ? event.composedPath() : [];
      const canScroll = ui.log.scrollHeight > ui.log.clientHeight + 1;
      if (canScroll && path.includes(ui.log)) return; // overscroll-behavior keeps it in the log
      if (event.cancelable) event.preventDefault();
    }

    function lockPage() {
      if (locked) return;
      locked = { x: window.scrollX, y: window.scrollY };
      window.addEventListener("touchmove", stopsPage, { capture: true, passive: false });
      window.addEventListener("wheel", stopsPage, { capture: true, passive: false });
    }

    function unlockPage() {
      if (!locked) return;
      const { x, y } = locked;
      locked = null;
      window.removeEventListener("touchmove", stopsPage, { capture: true });
      window.removeEventListener("wheel", stopsPage, { capture: true });
      if (window.scrollX !== x || window.scrollY !== y) window.scrollTo(x, y);
    }

    /* Full screen or not, after opening, closing or turning the phone. */
    function applyLayout() {
      const full = isFullScreen();
      ui.root.classList.toggle("full", full);
      if (full) {
        ui.panel.setAttribute("aria-modal", "true");
        lockPage();
      } else {
        ui.panel.removeAttribute("aria-modal");
        unlockPage();
      }
      followViewport();
    }

    /* The widget's frame is the visual viewport: what the visitor sees, not the page. On a
       host page wider than the screen a phone stretches the layout viewport (which
       `position: fixed` follows) to the page's width, and an on-screen keyboard only shrinks
       the visual viewport: both would put the launcher or the text box off screen. */
    function followViewport() {
      const viewport = window.visualViewport;
      if (!viewport) return; // the CSS fallback: the layout viewport
      const style = ui.root.style;
      style.setProperty("--guichet-left", `${viewport.offsetLeft}px`);
      style.setProperty("--guichet-top", `${viewport.offsetTop}px`);
      style.setProperty("--guichet-width", `${viewport.width}px`);
      style.setProperty("--guichet-height", `${viewport.height}px`);
      ui.root.classList.add("framed");
    }

    /* In full screen, Tab stays in the panel as in any modal dialog. */
    function keepFocusInside(event) {
      if (event.key !== "Tab" || !isFullScreen()) return;
      const focusable = Array.from(
        ui.panel.querySelectorAll("button:not([disabled]), input, a[href], [tabindex='0']")
      ).filter((node) => node.getClientRects().length > 0);
      if (!focusable.length) return;
      const first = focusable[0];
      const last = focusable[focusable.length - 1];
      const active = ui.shadow.activeElement;
      if (event.shiftKey && (active === first || !ui.panel.contains(active))) {
        event.preventDefault();
        last.focus();
      } else if (!event.shiftKey && (active === last || !ui.panel.contains(active))) {
        event.preventDefault();
        first.focus();
      }
    }

    function open(focus) {
      ui.panel.hidden = false;
      ui.launcher.setAttribute("aria-expanded", "true");
      ui.launcherAction.textContent = " Fermer l'aide Guichet";
      ui.root.classList.add("is-open");
      applyLayout();
      storage.setItem(OPEN_KEY, "1");
      // Animate only when the visitor opens it, not when a new page restores it open.
      ui.panel.classList.toggle("rise", focus !== false);
      if (state.scrollOnOpen) {
        state.scrollOnOpen = false;
        ui.log.scrollTop = ui.log.scrollHeight;
      }
      // In full screen, the text box would open the on-screen keyboard over the choices:
      // the focus goes to the conversation, one tap from the text box.
      if (focus !== false) (isFullScreen() ? ui.log : ui.input).focus();
    }

    function close(focus) {
      ui.panel.hidden = true;
      ui.launcher.setAttribute("aria-expanded", "false");
      ui.launcherAction.textContent = " Ouvrir l'aide Guichet";
      ui.root.classList.remove("is-open");
      applyLayout();
      storage.setItem(OPEN_KEY, "0");
      if (state.chat) state.chat.module.stopSpeaking();
      if (focus !== false) ui.launcher.focus();
    }

    function applySize(size) {
      const index = Math.max(0, TEXT_SIZES.indexOf(size));
      ui.panel.setAttribute("data-size", String(TEXT_SIZES[index]));
      // aria-disabled rather than disabled: the focus stays on the button at either end.
      ui.smaller.setAttribute("aria-disabled", String(index === 0));
      ui.bigger.setAttribute("aria-disabled", String(index === TEXT_SIZES.length - 1));
      return TEXT_SIZES[index];
    }

    function stepSize(delta) {
      const current = Number(ui.panel.getAttribute("data-size")) || TEXT_SIZES[0];
      const index = TEXT_SIZES.indexOf(current) + delta;
      if (index < 0 || index >= TEXT_SIZES.length) return;
      storage.setItem(SIZE_KEY, String(applySize(TEXT_SIZES[index])));
    }

    /* ---- events ---- */

    ui.launcher.addEventListener("click", () => (isOpen() ? close() : open()));
    ui.close.addEventListener("click", () => close());
    ui.human.addEventListener("click", () => sendMessage(HUMAN_PAYLOAD, HUMAN_TITLE));
    ui.erase.addEventListener("click", () => eraseConversation());
    ui.smaller.addEventListener("click", () => stepSize(-1));
    ui.bigger.addEventListener("click", () => stepSize(1));
    ui.form.addEventListener("submit", (event) => {
      event.preventDefault();
      sendTyped();
    });
    ui.root.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && isOpen()) {
        event.stopPropagation();
        close();
      }
      keepFocusInside(event);
    });
    if (phone) {
      if (phone.addEventListener) phone.addEventListener("change", applyLayout);
      else if (phone.addListener) phone.addListener(applyLayout); // Safari before 14
    }
    if (window.visualViewport) {
      window.visualViewport.addEventListener("resize", followViewport);
      window.visualViewport.addEventListener("scroll", followViewport);
    }
    window.addEventListener("resize", followViewport);
    followViewport();

    /* ---- start ---- */

    applySize(Number(storage.getItem(SIZE_KEY)) || TEXT_SIZES[0]);
    const stored = storage.getItem(OPEN_KEY);
    if (stored === "1" || (stored === null && settings.openByDefault)) open(false);

    // Show the widget once its stylesheet is in, so the host never sees it unstyled.
    let shown = false;
    const reveal = () => {
      if (shown) return;
      shown = true;
      ui.root.hidden = false;
      window.GuichetWidget = {
        open: () => open(),
        close: () => close(),
        sender: () => (state.chat ? state.chat.client.sender : storage.getItem("guichet.sender")),
      };
    };
    ui.stylesheet.addEventListener("load", reveal);
    ui.stylesheet.addEventListener("error", reveal);
    window.setTimeout(reveal, 5000);
    document.body.append(ui.host);

  }

  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start, { once: true });
})();
