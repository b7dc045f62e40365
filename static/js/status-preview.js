// The workspace's status page form: as the user types, show what the public will
// see (static/js/live-preview.js posts the form with preview=1 to its own URL).
// Without JavaScript the form's "Preview" button re-renders the page with it.
(function () {
  "use strict";
  var form = document.getElementById("form-publish");
  if (!form || !window.ResponderPreview) return;
  window.ResponderPreview.attach({
    form: form,
    box: document.getElementById(form.dataset.previewBox),
    url: form.getAttribute("action").split("#")[0],
    extra: {preview: "1"}
  });
})();
