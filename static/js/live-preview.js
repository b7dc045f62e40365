// A form's live preview, shared by the maintenance window form and the workspace's
// status page form: as the user types, post the form (debounced, with
// format=html and the `extra` fields) to `url` and show the answer, an HTML
// fragment translated by the server, in `box`. Each form keeps a button that does
// the same without JavaScript.
(function () {
  "use strict";

  function attach(options) {
    var form = options.form, box = options.box, url = options.url;
    if (!form || !box || !url || !window.fetch) return null;
    var extra = options.extra || {};
    var timer = null;
    var sent = 0;

    function refresh() {
      var data = new FormData(form);
      data.set("format", "html");
      Object.keys(extra).forEach(function (name) {
        if (extra[name]) data.set(name, extra[name]);
      });
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
        p.className = "small text-danger mb-0";
        p.textContent = box.dataset.i18nFailed || "Preview failed.";
        box.replaceChildren(p);
      }).finally(function () {
        if (mine === sent) box.removeAttribute("aria-busy");
      });
    }

    function later(event) {
      if (options.watch && !(event.target && options.watch.indexOf(event.target.name) !== -1)) return;
      window.clearTimeout(timer);
      timer = window.setTimeout(refresh, 400);
    }

    form.addEventListener("input", later);
    form.addEventListener("change", later);
    return refresh;
  }

  window.ResponderPreview = {attach: attach};
})();
