// The maintenance window form's live preview: as the team, matchers or services
// change, ask /maintenance/preview/ (debounced) which open alerts and services the
// window would match, and show its answer (an HTML fragment, translated by the
// server). Without JavaScript the form's "Preview matches" button does the same.
(function () {
  "use strict";
  var form = document.getElementById("window-form");
  if (!form || !window.ResponderPreview) return;
  var refresh = window.ResponderPreview.attach({
    form: form,
    box: document.getElementById("mw-preview"),
    url: form.dataset.previewUrl,
    extra: {window: form.dataset.window},
    watch: ["team", "matchers", "services"]
  });
  if (refresh) refresh();
})();
