// The maintenance window form's live preview: as the team, matchers or services
// change, ask /maintenance/preview/ (debounced) which open alerts and services the
// window would match, and show its answer (an HTML fragment, translated by the
// server). Without JavaScript the form's "Preview matches" button does the same.
(function () {
  "use strict";
  var form = document.getElementById("window-form");
  var box = document.getElementById("mw-preview");
  if (!form || !box || !window.fetch) return;
  var url = form.dataset.previewUrl;
  var watched = ["team", "matchers", "services"];
  var timer = null;
  var sent = 0;

  function refresh() {
    var data = new FormData(form);
    data.set("format", "html");
    if (form.dataset.window) data.set("window", form.dataset.window);
    var mine = ++sent;
    box.setAttribute("aria-busy", "true");
    fetch(url, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: {"X-Requested-With": "fetch"}
    }).then(function (response) {
      if (!response.ok) throw new Error(String(response.status));
      return response.text();
    }).then(function (html) {
      if (mine !== sent) return; // a later answer is on its way
      box.innerHTML = html;
    }).catch(function () {
      if (mine !== sent) return;
      var p = document.createElement("p");
      p.className = "small text-danger";
      p.textContent = box.dataset.i18nFailed || "Preview failed.";
      box.replaceChildren(p);
    }).finally(function () {
      if (mine === sent) box.removeAttribute("aria-busy");
    });
  }

  function later() {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 400);
  }

  function concerns(target) {
    return target && watched.indexOf(target.name) !== -1;
  }
  form.addEventListener("input", function (event) { if (concerns(event.target)) later(); });
  form.addEventListener("change", function (event) { if (concerns(event.target)) later(); });
  refresh();
})();
