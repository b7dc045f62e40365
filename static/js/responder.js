// Live deadlines: every element with data-deadline (ISO time) shows the time
// left, or how long it is overdue, and turns red once passed. The server's
// clock is the reference (data-server-now), so a wrong clock on a phone does
// not hide a breach. Labels come from data-i18n-* on <body> (translated there).
(function () {
  "use strict";
  var body = document.body;
  var serverNow = Date.parse(body.dataset.serverNow);
  var offset = isNaN(serverNow) ? 0 : serverNow - Date.now();

  function label(name) {
    return body.dataset["i18n" + name.charAt(0).toUpperCase() + name.slice(1)] || name;
  }

  function span(ms) {
    var s = Math.floor(Math.abs(ms) / 1000);
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600);
    var m = Math.floor((s % 3600) / 60), sec = s % 60;
    if (d > 0) return d + " " + label("d") + " " + h + " " + label("h");
    if (h > 0) return h + " " + label("h") + " " + m + " " + label("min");
    if (m >= 10) return m + " " + label("min");
    return m + " " + label("min") + " " + sec + " " + label("s");
  }

  function tick() {
    var now = Date.now() + offset;
    var items = document.querySelectorAll("[data-deadline]");
    for (var i = 0; i < items.length; i++) {
      var el = items[i];
      var due = Date.parse(el.dataset.deadline);
      if (isNaN(due)) continue;
      var left = due - now;
      var text = left >= 0 ? label("left").replace("%(t)s", span(left))
                           : label("overdue").replace("%(t)s", span(left));
      var out = el.querySelector(".countdown") || el;
      if (out.textContent !== text) out.textContent = text;
      el.classList.toggle("overdue", left < 0);
      el.classList.toggle("due-soon", left >= 0 && left < 10 * 60 * 1000);
    }
  }

  // The rows' refresh sends the validator of the rows it shows (If-None-Match);
  // the server answers 304 while nothing on them changed, and 304 swaps nothing.
  if (window.htmx) {
    htmx.config.responseHandling.unshift({code: "304", swap: false});
  }
  var rowsTag = null;
  document.addEventListener("htmx:configRequest", function (event) {
    if (event.detail.elt.id === "dashboard-rows" && rowsTag) {
      event.detail.headers["If-None-Match"] = rowsTag;
    }
  });
  // Read before the swap: the rows replace themselves, and events of the old,
  // detached element no longer reach the document.
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.elt.id !== "dashboard-rows" || !event.detail.xhr) return;
    var tag = event.detail.xhr.getResponseHeader("ETag");
    if (tag) rowsTag = tag;
  });

  // The clock offset comes from the page's own answer. A swapped-in fragment may
  // be a cached copy (the dashboard's rows answer 304 when nothing changed), so
  // its countdowns are simply recomputed against the same offset.
  document.addEventListener("htmx:afterSwap", function () {
    tick();
  });

  // The dashboard refreshes its rows every 30 s; never while the user is filling
  // in a quick form there (an open <details> or a focused field), so no typed
  // text is lost.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var rows = event.detail.elt;
    if (!rows || rows.id !== "dashboard-rows") return;
    var busy = rows.querySelector("details[open]") ||
      (document.activeElement && rows.contains(document.activeElement) &&
       /^(INPUT|SELECT|TEXTAREA)$/.test(document.activeElement.tagName));
    if (busy) event.preventDefault();
  });

  // A dashboard row's grade and assign forms load the first time their <details>
  // opens (toggle does not bubble: listen while it is captured). The row's link
  // names the incident; `next` brings the user back to this page after the post.
  function loadQuick(box) {
    if (!box.open || !box.dataset || !box.dataset.quick || box.dataset.loaded) return;
    box.dataset.loaded = "1";
    var incident = box.closest("tr").querySelector("td a").getAttribute("href");
    var next = encodeURIComponent(window.location.pathname + window.location.search);
    htmx.ajax("GET", incident + "quick/" + box.dataset.quick + "/?next=" + next, {
      source: box, target: box.querySelector(".quick-body"), swap: "innerHTML"
    });
  }
  document.addEventListener("toggle", function (event) { loadQuick(event.target); }, true);

  // A box opened while the page was still loading (a quick click before these
  // scripts ran) fired its toggle before anyone listened: load it once htmx has
  // set the page up. That is the dashboard's quick forms and every <details>
  // that htmx loads on "toggle" (the on-call page's override form).
  document.addEventListener("htmx:load", function (event) {
    if (event.target !== document.body) return;
    document.querySelectorAll("details[data-quick][open]").forEach(loadQuick);
    document.querySelectorAll("details[open][hx-trigger^='toggle']").forEach(function (box) {
      htmx.trigger(box, "toggle");
    });
  });

  // Stacked tables on a phone show each cell's column name (data-label); for
  // columns whose header has data-stack, it is copied from the header here
  // rather than repeated in every row of the page.
  function labelCells(root) {
    var tables = root.querySelectorAll("table.stack");
    for (var t = 0; t < tables.length; t++) {
      var heads = tables[t].querySelectorAll("thead th");
      for (var i = 0; i < heads.length; i++) {
        if (!heads[i].hasAttribute("data-stack")) continue;
        var label = heads[i].textContent.trim();
        var cells = tables[t].querySelectorAll("tbody tr > td:nth-child(" + (i + 1) + ")");
        for (var c = 0; c < cells.length; c++) {
          if (!cells[c].hasAttribute("data-label")) cells[c].setAttribute("data-label", label);
        }
      }
    }
  }
  labelCells(document);
  document.addEventListener("htmx:afterSwap", function (event) {
    labelCells(event.detail.target.parentNode || document);
  });

  // Confirm buttons that close or cancel an incident (data-confirm="question").
  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    var question = (button && button.dataset.confirm) || event.target.dataset.confirm;
    if (question && !window.confirm(question)) event.preventDefault();
  });

  // A table wider than the screen scrolls inside its .table-responsive box: the
  // box then takes the focus, named after the table's caption, so the keyboard
  // can scroll it too. Boxes that fit stay out of the tab order.
  function focusScrollers() {
    var boxes = document.querySelectorAll(".table-responsive");
    for (var i = 0; i < boxes.length; i++) {
      var box = boxes[i];
      var marked = box.hasAttribute("data-scroll-focus");
      if (box.scrollWidth > box.clientWidth + 1) {
        if (marked || box.hasAttribute("tabindex")) continue;
        var caption = box.querySelector("caption");
        var name = caption && caption.firstChild
          ? caption.firstChild.textContent.trim() || caption.textContent.trim() : "";
        box.setAttribute("data-scroll-focus", "");
        box.setAttribute("tabindex", "0");
        box.setAttribute("role", "region");
        if (name) box.setAttribute("aria-label", name);
      } else if (marked) {
        box.removeAttribute("data-scroll-focus");
        box.removeAttribute("tabindex");
        box.removeAttribute("role");
        box.removeAttribute("aria-label");
      }
    }
  }
  // Copy buttons (data-copy="id of a read-only field") show only where the
  // clipboard can be written; without them the field's text stays selectable.
  if (navigator.clipboard && window.isSecureContext) {
    var copyButtons = document.querySelectorAll("button[data-copy]");
    for (var b = 0; b < copyButtons.length; b++) copyButtons[b].hidden = false;
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[data-copy]");
    if (!button) return;
    var field = document.getElementById(button.dataset.copy);
    if (!field) return;
    navigator.clipboard.writeText(field.value).then(function () {
      button.textContent = button.dataset.copied;
    });
  });

  // The language choice applies on select; its button is there for a browser
  // without this script.
  var language = document.getElementById("language-select");
  if (language) {
    language.addEventListener("change", function () { language.form.requestSubmit(); });
    var submit = language.form.querySelector("[type=submit]");
    if (submit) submit.hidden = true;
  }

  focusScrollers();
  window.addEventListener("resize", focusScrollers);
  document.addEventListener("htmx:afterSwap", focusScrollers);
  document.addEventListener("toggle", focusScrollers, true);

  // After a form comes back, the focus goes where the user was: to the first
  // field marked wrong (every error is shown at once), else to what the URL's
  // #fragment names (the dashboard row or workspace section just acted on).
  function focusOnArrival() {
    var wrong = document.querySelector("main form .is-invalid, main form [aria-invalid=true]");
    if (wrong) {
      var box = wrong.closest("details");
      if (box) box.open = true;
      wrong.focus();
      return;
    }
    if (location.hash.length < 2) return;
    var target = document.getElementById(decodeURIComponent(location.hash.slice(1)));
    if (!target || !target.closest("main")) return;
    if (!target.hasAttribute("tabindex") &&
        !/^(A|BUTTON|INPUT|SELECT|TEXTAREA)$/.test(target.tagName)) {
      target.setAttribute("tabindex", "-1");
    }
    target.focus();
  }
  focusOnArrival();

  // Intake: whom and when the tech lead was phoned matters only for an urgent
  // incident. Without JS the fields stay visible; hidden, they keep what was
  // typed, and the server ignores them unless "urgent" is ticked.
  var urgent = document.getElementById("id_urgent");
  var urgentDetails = document.getElementById("urgent-details");
  if (urgent && urgentDetails) {
    var showUrgent = function () {
      urgentDetails.hidden = !urgent.checked && !urgentDetails.querySelector(".is-invalid");
    };
    urgent.setAttribute("aria-controls", "urgent-details");
    urgent.addEventListener("change", showUrgent);
    showUrgent();
  }

  tick();
  setInterval(tick, 1000);
})();
