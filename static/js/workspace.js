// The workspace's action forms are drawn when the user opens them: the first time
// an action's <details> box opens, its form is fetched (data-form, which carries
// the version the page shows) into the box. Boxes drawn with their form
// (data-loaded: a refused post, ?open=) are left alone. Without this script each
// box holds a link that asks for the page with that form drawn (?open=key).
(function () {
  "use strict";

  function firstField(box) {
    return box.querySelector(
      ".action-body input:not([type=hidden]):not([disabled]), .action-body select, " +
      ".action-body textarea, .action-body button"
    );
  }

  function focusForm(box) {
    var field = firstField(box);
    if (field) field.focus();
  }

  function load(box, focus) {
    var body = box.querySelector(".action-body");
    if (box.dataset.loaded) {
      if (focus) focusForm(box);
      return;
    }
    if (box.dataset.loading || !body || !window.fetch) return;
    box.dataset.loading = "1";
    body.setAttribute("aria-busy", "true");
    fetch(box.dataset.form, {credentials: "same-origin", headers: {"X-Requested-With": "fetch"}})
      .then(function (response) {
        // A refusal (the state moved on, 409) comes as a short message to show.
        if (!response.ok && response.status !== 409) throw new Error(String(response.status));
        return response.text();
      })
      .then(function (html) {
        body.innerHTML = html;
        box.dataset.loaded = "1";
        box.dispatchEvent(new CustomEvent("responder:form-loaded", {bubbles: true}));
        if (focus) focusForm(box);
      })
      .catch(function () {
        // The box keeps its link to the page with the form drawn; the next opening
        // tries again.
      })
      .finally(function () {
        delete box.dataset.loading;
        body.removeAttribute("aria-busy");
      });
  }

  function boxFor(key) {
    return document.querySelector('details.action-box[data-action="' + key + '"]');
  }

  // toggle does not bubble: listen while it is captured.
  document.addEventListener("toggle", function (event) {
    var box = event.target;
    if (box.open && box.classList && box.classList.contains("action-box")) {
      load(box, box.dataset.focusOnLoad === "1");
      delete box.dataset.focusOnLoad;
    }
  }, true);

  // "What you can do now": open the action's box where it is, and put the focus
  // in its first field, instead of reloading the page with the form drawn.
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[data-opens]");
    if (!link) return;
    var box = boxFor(link.dataset.opens);
    if (!box) return; // drawn with the page: the link's #form-… goes there
    event.preventDefault();
    box.scrollIntoView({block: "start"});
    if (box.open) {
      load(box, true);
    } else {
      box.dataset.focusOnLoad = "1";
      box.open = true;
    }
  });

  // A box opened before this script ran (a quick click while the page was still
  // loading) had its toggle event go unheard: draw its form now.
  Array.prototype.forEach.call(
    document.querySelectorAll("details.action-box[open]"),
    function (box) { load(box, false); }
  );

  // Arriving at #form-<key> (a link from elsewhere): open that box.
  var match = /^#form-([a-z]+)$/.exec(window.location.hash);
  var arrived = match && boxFor(match[1]);
  if (arrived && !arrived.open) {
    arrived.dataset.focusOnLoad = "1";
    arrived.open = true;
  }
})();
