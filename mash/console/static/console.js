// Live updates for the MASH console: server-sent events move single rows and counts, so an
// open queue stays current without a reload. The server renders every row; this file only
// places it. Clocks move with time, not events, so the list is also refreshed every 30 s.
(function () {
  "use strict";

  var body = document.body;
  var kind = body.dataset.page;
  if (!kind) return; // sign-in and error pages have nothing live

  var version = Number(body.dataset.version || -1);
  var queue = body.dataset.queue || null;
  var limit = Number(body.dataset.limit || 100);
  var contact = body.dataset.contact || null;
  var indicator = document.getElementById("live-indicator");
  var announcer = document.getElementById("live-status");
  var lastAnnounced = 0;
  var REFRESH_MS = 30000;

  function setState(state, text) {
    if (!indicator) return;
    indicator.dataset.state = state;
    indicator.textContent = text;
  }

  function announce(text) {
    // Screen readers hear a summary at most every 10 s, not every row that moves.
    var now = Date.now();
    if (!announcer || now - lastAnnounced < 10000) return;
    lastAnnounced = now;
    announcer.textContent = text;
  }

  function each(selector, fn) {
    Array.prototype.forEach.call(document.querySelectorAll(selector), fn);
  }

  function applyCounts(msg) {
    if (typeof msg.version === "number") version = msg.version;
    Object.keys(msg.counts || {}).forEach(function (q) {
      each('[data-count="' + q + '"]', function (el) { el.textContent = String(msg.counts[q]); });
    });
    if (typeof msg.overdue === "number") {
      each("[data-overdue]", function (el) { el.textContent = String(msg.overdue); });
      each("[data-overdue-banner]", function (el) { el.hidden = msg.overdue === 0; });
    }
    if (msg.overdue_by_rag) {
      Object.keys(msg.overdue_by_rag).forEach(function (rag) {
        each('[data-overdue-rag="' + rag + '"]', function (el) { el.textContent = String(msg.overdue_by_rag[rag]); });
      });
    }
    if (typeof msg.oldest_waiting_seconds === "number") {
      var s = msg.oldest_waiting_seconds;
      each("[data-oldest]", function (el) {
        el.textContent = Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " m";
      });
    }
  }

  function rows() { return document.getElementById("rows"); }

  function queueTotal() {
    var el = document.querySelector('.count-big[data-count="' + queue + '"]');
    return el ? Number(el.textContent) : 0;
  }

  function afterRowsChanged() {
    var shown = rows().children.length;
    each("[data-shown]", function (el) { el.textContent = String(shown); });
    each("[data-empty]", function (el) { el.hidden = shown > 0; });
    each("[data-more]", function (el) { el.hidden = queueTotal() <= shown; });
  }

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (r) {
      if (r.status === 401) { window.location.assign("/login"); return null; }
      return r.ok ? r.json() : null;
    });
  }

  function refreshRows() {
    return getJSON("/queues/" + queue + "/rows?limit=" + limit).then(function (msg) {
      if (!msg) return;
      applyCounts(msg);
      rows().innerHTML = msg.html;
      afterRowsChanged();
    });
  }

  // Controls that do nothing in the chosen mode are disabled: the level and RAG of a decision
  // form while "confirm" is chosen. The server checks the form whatever the browser sends.
  function applyModes() {
    each("form[data-modes]", function (form) {
      var chosen = form.querySelector("input[name=action]:checked");
      Array.prototype.forEach.call(form.querySelectorAll("[data-mode]"), function (part) {
        var on = !!chosen && chosen.value === part.dataset.mode;
        part.classList.toggle("is-off", !on);
        Array.prototype.forEach.call(part.querySelectorAll("select, input, textarea"), function (el) {
          el.disabled = !on;
        });
      });
    });
  }

  document.addEventListener("change", function (ev) {
    if (ev.target && ev.target.name === "action") applyModes();
  });

  // What the page was rendered with, so a refresh puts back only what the person changed since:
  // a value they never touched follows the case (a level another decision changed, say).
  // A page sent back with a refused form shows what the person had chosen: all of it is theirs.
  function markRendered(theirs) {
    each("[data-preserve]", function (el) { el.dataset.rendered = theirs ? "\u0000" : el.value; });
    each("[data-preserve-choice]", function (el) { el.dataset.rendered = theirs ? "false" : String(el.checked); });
  }

  function offers(el, value) {
    return el.tagName !== "SELECT" || Array.prototype.some.call(el.options, function (o) { return o.value === value; });
  }

  function refreshCase() {
    // Keep what the coordinator is typing and choosing: the live part is replaced, their words are not.
    var kept = {};
    each("[data-preserve]", function (el) {
      if (el.value !== el.dataset.rendered) kept[el.dataset.preserve] = el.value;
    });
    var choice = document.querySelector("[data-preserve-choice]:checked");
    var chosen = choice && choice.dataset.rendered !== "true" ? choice.value : null;
    var focused = document.activeElement && document.activeElement.dataset ? document.activeElement.dataset.preserve : null;
    // The page's query goes along: a possible match's "Link with this record" fills the link form.
    return fetch("/cases/" + encodeURIComponent(contact) + "/live" + window.location.search, { credentials: "same-origin" }).then(function (r) {
      if (r.status === 401) { window.location.assign("/login"); return; }
      if (!r.ok) return;
      return r.text().then(function (html) {
        var shown = document.getElementById("error-summary");
        document.getElementById("case-live").innerHTML = html;
        markRendered(false);
        each("[data-preserve]", function (el) {
          var value = kept[el.dataset.preserve];
          if (value !== undefined && !el.disabled && offers(el, value)) el.value = value;
          if (focused && el.dataset.preserve === focused) el.focus();
        });
        each("[data-preserve-choice]", function (el) { if (chosen) el.checked = el.value === chosen; });
        if (shown && !document.getElementById("error-summary")) {
          // Why the last form was refused stays in view until the next one is sent.
          document.getElementById("case-live").insertBefore(shown, document.querySelector("#case-live .case-grid"));
        }
        applyModes();
      });
    });
  }

  function refreshCounts() {
    return getJSON("/counts").then(function (msg) { if (msg) applyCounts(msg); });
  }

  function resync() {
    if (kind === "queue") return refreshRows();
    if (kind === "case") return refreshCase();
    return refreshCounts();
  }

  function placeRows(changes) {
    var tb = rows();
    var mine = changes.filter(function (c) { return c.queue === queue; });
    if (!mine.length) return;
    // Indexes are each row's place after the whole batch: take every changed row out, then
    // insert in ascending order so each lands where the server says.
    mine.forEach(function (c) {
      var old = tb.querySelector('tr[data-id="' + CSS.escape(c.id) + '"]');
      if (old) old.remove();
    });
    mine.filter(function (c) { return c.op === "upsert" && c.index < limit; })
      .sort(function (a, b) { return a.index - b.index; })
      .forEach(function (c) {
        var holder = document.createElement("tbody");
        holder.innerHTML = c.html.trim();
        var tr = holder.firstElementChild;
        if (!tr) return;
        tr.classList.add("just-changed");
        tb.insertBefore(tr, tb.children[c.index] || null);
      });
    while (tb.children.length > limit) tb.lastElementChild.remove();
    afterRowsChanged();
    // A row left a full page: the next one down is not on this page yet, so fetch the list.
    if (tb.children.length < Math.min(limit, queueTotal())) refreshRows();
    announce("Queue updated: " + queueTotal() + " cases");
  }

  function onUpdate(msg) {
    applyCounts(msg);
    if (msg.resync) { resync(); return; }
    if (kind === "queue" && msg.rows) placeRows(msg.rows);
    if (kind === "case" && msg.touched && msg.touched.indexOf(contact) !== -1) refreshCase();
  }

  function connect() {
    var source = new EventSource("/events?since=" + version);
    source.addEventListener("open", function () { setState("live", "Live"); });
    source.addEventListener("update", function (ev) { onUpdate(JSON.parse(ev.data)); });
    source.addEventListener("resync", function (ev) { applyCounts(JSON.parse(ev.data)); resync(); });
    source.addEventListener("error", function () {
      setState("reconnecting", "Reconnecting…");
      if (source.readyState === EventSource.CLOSED) {
        // The browser gave up (signed out, or the console restarted): check, then start again.
        refreshCounts().then(function () { window.setTimeout(connect, 3000); });
      }
    });
  }

  var refused = document.getElementById("error-summary");
  markRendered(!!refused);
  applyModes();
  if (refused) refused.focus();
  connect();
  window.setInterval(function () {
    var busy = document.activeElement && document.activeElement.closest && document.activeElement.closest("form");
    if (kind === "case" && busy) return;
    resync();
  }, REFRESH_MS);
})();
