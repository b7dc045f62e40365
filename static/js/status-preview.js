// The workspace's status page form: as the user types, show what the public will
// see. Posts the form (debounced) with preview=1&format=html to the form's own
// URL and shows the answer, an HTML fragment translated by the server. Without
// JavaScript the form's "Preview" button re-renders the page with the same preview.
(function () {
  "use strict";
  var form = document.getElementById("form-publish");
  if (!form || !window.fetch) return;
  var box = document.getElementById(form.dataset.previewBox);
  if (!box) return;
  var url = form.getAttribute("action").split("#")[0];
  var timer = null;
  var sent = 0;

  function refresh() {
    var data = new FormData(form);
    data.set("preview", "1");
    data.set("format", "html");
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

  function later() {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 400);
  }

  form.addEventListener("input", later);
  form.addEventListener("change", later);
})();
