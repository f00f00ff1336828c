// Mediators' console: live waiting times on every page; on the queue page, new tickets
// arrive without reloading (server-sent events from /mediation/events), with a count in
// the tab title, an optional beep and a spoken announcement. Text only via textContent.
(function () {
  "use strict";

  var TITLE = "File des demandes — Guichet";
  var SOUND_KEY = "guichet.console.sound";

  function waited(iso) {
    var minutes = Math.max(0, Math.floor((Date.now() - Date.parse(iso)) / 60000));
    if (minutes < 1) return "moins d'une minute";
    if (minutes < 60) return minutes + " min";
    if (minutes < 1440) {
      var rest = minutes % 60;
      return Math.floor(minutes / 60) + " h" + (rest ? " " + (rest < 10 ? "0" : "") + rest : "");
    }
    return Math.floor(minutes / 1440) + " j";
  }

  function refreshWaits() {
    var spans = document.querySelectorAll("[data-since]");
    for (var i = 0; i < spans.length; i++) {
      spans[i].textContent = waited(spans[i].getAttribute("data-since"));
    }
  }

  function el(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  function beep() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return;
    try {
      var ctx = new Context();
      var tone = ctx.createOscillator();
      var gain = ctx.createGain();
      tone.type = "sine";
      tone.frequency.value = 880;
      gain.gain.setValueAtTime(0.0001, ctx.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.3, ctx.currentTime + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, ctx.currentTime + 0.35);
      tone.connect(gain).connect(ctx.destination);
      tone.start();
      tone.stop(ctx.currentTime + 0.4);
      tone.onended = function () { ctx.close(); };
      window.guichetBeeps = (window.guichetBeeps || 0) + 1;
    } catch (e) { /* no sound is no harm */ }
  }

  function deskItem(t) {
    var li = el("li");
    var link = el("a", "Ticket n° " + t.id);
    link.href = t.url;
    li.appendChild(link);
    li.appendChild(document.createTextNode(" — "));
    li.appendChild(el("strong", t.kiosk || "Borne"));
    li.appendChild(document.createTextNode(" — attend depuis "));
    var since = el("span", waited(t.created_at));
    since.setAttribute("data-since", t.created_at);
    li.appendChild(since);
    if (t.guide && t.guide !== "—") li.appendChild(document.createTextNode(" — " + t.guide));
    return li;
  }

  function row(t) {
    var tr = el("tr", null, "unseen fresh" + (t.desk ? " at-desk" : ""));
    tr.setAttribute("data-id", String(t.id));
    var first = el("td");
    var link = el("a", String(t.id));
    link.href = t.url;
    first.appendChild(link);
    first.appendChild(document.createTextNode(" "));
    first.appendChild(el("span", "non lu", "badge"));
    tr.appendChild(first);
    tr.appendChild(el("td", t.created));
    var wait = el("td", "depuis ");
    var since = el("span", waited(t.created_at));
    since.setAttribute("data-since", t.created_at);
    wait.appendChild(since);
    tr.appendChild(wait);
    tr.appendChild(el("td", t.status));
    tr.appendChild(el("td", t.reason));
    tr.appendChild(el("td", t.guide + (t.step ? " (" + t.step + ")" : "")));
    var channel = el("td", t.channel);
    if (t.kiosk) { channel.appendChild(el("br")); channel.appendChild(el("small", t.kiosk)); }
    tr.appendChild(channel);
    tr.appendChild(el("td", t.preference));
    tr.appendChild(el("td", t.assigned || "—"));
    return tr;
  }

  function liveQueue(root) {
    var latest = parseInt(root.getAttribute("data-latest"), 10) || 0;
    var live = root.getAttribute("data-live") === "oui";
    var announce = document.getElementById("announce");
    var state = document.getElementById("live-state");
    var sound = document.getElementById("sound");
    var desk = document.getElementById("desk");
    var deskList = document.getElementById("desk-list");
    var body = document.querySelector("#tickets tbody");

    try { sound.checked = window.localStorage.getItem(SOUND_KEY) === "oui"; } catch (e) { /* private mode */ }
    sound.addEventListener("change", function () {
      try { window.localStorage.setItem(SOUND_KEY, sound.checked ? "oui" : "non"); } catch (e) { /* private mode */ }
      if (sound.checked) beep();
    });

    function update(data) {
      document.title = (data.count ? "(" + data.count + ") " : "") + TITLE;
      var desks = data.tickets.filter(function (t) { return t.desk; });
      deskList.replaceChildren.apply(deskList, desks.map(deskItem));
      desk.hidden = desks.length === 0;
      var fresh = data.tickets.filter(function (t) { return t.id > latest; });
      if (fresh.length && live && body) {
        fresh.slice().reverse().forEach(function (t) {
          if (!body.querySelector('tr[data-id="' + t.id + '"]')) body.insertBefore(row(t), body.firstChild);
        });
        var empty = document.getElementById("empty");
        if (empty) empty.hidden = true;
      }
      if (data.latest > latest) {
        if (fresh.length) {
          var t = fresh[0];
          var what = t.desk ? "à l'accueil, maintenant" + (t.kiosk ? ", " + t.kiosk : "") : t.preference.toLowerCase();
          var words = fresh.length === 1
            ? "Nouvelle demande, ticket n° " + t.id + " : " + what + "."
            : fresh.length + " nouvelles demandes. La plus récente : ticket n° " + t.id + ", " + what + ".";
          announce.textContent = words;
          if (!live) state.textContent = words + " Rechargez la page pour les voir dans la liste.";
          if (sound.checked) beep();
        }
        latest = data.latest;
        root.setAttribute("data-latest", String(latest));
      }
    }

    if (!window.EventSource) {
      setInterval(function () {
        fetch("/mediation/alerts", { credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.json() : null; })
          .then(function (data) { if (data) update(data); });
      }, 15000);
      return;
    }
    var source = new EventSource("/mediation/events");
    source.addEventListener("tickets", function (event) {
      state.textContent = "Les nouvelles demandes s'affichent sans recharger la page.";
      update(JSON.parse(event.data));
    });
    source.addEventListener("error", function () {
      if (source.readyState === EventSource.CLOSED) {
        state.textContent = "Les alertes sont interrompues. Rechargez la page.";
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    refreshWaits();
    setInterval(refreshWaits, 20000);
    var root = document.getElementById("queue");
    if (root) liveQueue(root);
  });
})();
