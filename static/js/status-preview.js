// The workspace's status page form: as the user types, show what the public will
// see (static/js/live-preview.js posts the form with preview=1 to its own URL).
// The form is drawn with the page (a refused post, ?open=publish) or when its box
// opens (workspace.js announces it with responder:form-loaded). Without
// JavaScript the form's "Preview" button re-renders the page with it.
(function () {
  "use strict";

  function attach() {
    var form = document.getElementById("form-publish");
    if (!form || form.dataset.previewAttached || !window.ResponderPreview) return;
    form.dataset.previewAttached = "1";
    window.ResponderPreview.attach({
      form: form,
      box: document.getElementById(form.dataset.previewBox),
      url: form.getAttribute("action").split("#")[0],
      extra: {preview: "1"}
    });
  }

  attach();
  document.addEventListener("responder:form-loaded", attach);
})();
