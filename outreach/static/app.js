// Shared behaviour: CSRF header on htmx and fetch requests, confirmations.
(function () {
  "use strict";
  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }
  window.outreachCsrf = csrfToken;
  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRFToken"] = csrfToken();
  });
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  }, true);
  // A form that waits on other servers (search, contact pages, SMTP) says so while it does, and is
  // not sent twice by an impatient second click.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var label = form.getAttribute("data-busy");
    if (!label || event.defaultPrevented) { return; }
    var button = event.submitter || form.querySelector('button[type="submit"], button:not([type])');
    form.setAttribute("aria-busy", "true");
    window.setTimeout(function () {  // after the browser has read the form
      if (button) { button.disabled = true; button.textContent = label; }
    }, 0);
  });
})();
