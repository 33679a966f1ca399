/* Page behaviour shared by every page. No inline scripts: a strict Content-Security-Policy can forbid them. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // htmx sends the CSRF token of the page with every request that changes something.
  document.addEventListener("htmx:configRequest", function (event) {
    var meta = document.querySelector('meta[name="csrf-token"]');
    if (meta && event.detail.verb !== "get") {
      event.detail.headers["X-CSRFToken"] = meta.getAttribute("content");
    }
  });

  document.addEventListener("DOMContentLoaded", function () {
    // A select marked js-autosubmit (the language switcher) submits its form when changed.
    document.querySelectorAll("select.js-autosubmit").forEach(function (select) {
      select.addEventListener("change", function () { select.form.submit(); });
    });
    // Buttons that ask before acting (data-confirm="...").
    document.querySelectorAll("[data-confirm]").forEach(function (el) {
      el.addEventListener("click", function (event) {
        if (!window.confirm(el.getAttribute("data-confirm"))) { event.preventDefault(); }
      });
    });
  });
})();
