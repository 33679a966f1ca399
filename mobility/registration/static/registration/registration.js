/* Registration form: add member blocks without a round trip, and suggest p-codes from the gazetteer. */
(function () {
  "use strict";

  function addMember(event) {
    var template = document.getElementById("member-template");
    var total = document.getElementById("id_member-TOTAL_FORMS");
    var list = document.getElementById("member-list");
    if (!template || !total || !list) { return; }
    event.preventDefault();
    var index = parseInt(total.value, 10) || 0;
    var html = template.innerHTML.replace(/__prefix__/g, String(index));
    var holder = document.createElement("div");
    holder.innerHTML = html;
    var block = holder.firstElementChild;
    list.appendChild(block);
    total.value = String(index + 1);
    var first = block.querySelector("input:not([type=hidden]), select");
    if (first) { first.focus(); }
  }

  function suggest(input) {
    var list = document.getElementById(input.getAttribute("list"));
    var timer = null;
    var last = "";
    input.addEventListener("input", function () {
      var q = input.value.trim();
      if (q.length < 2 || q === last) { return; }
      window.clearTimeout(timer);
      timer = window.setTimeout(function () {
        last = q;
        fetch(input.getAttribute("data-suggest") + "&q=" + encodeURIComponent(q), { credentials: "same-origin" })
          .then(function (response) { return response.ok ? response.text() : ""; })
          .then(function (html) { if (list && input.value.trim() === q) { list.innerHTML = html; } })
          .catch(function () { /* offline: the field still takes a typed p-code */ });
      }, 250);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var add = document.getElementById("add-member");
    if (add) { add.addEventListener("click", addMember); }
    document.querySelectorAll("input[data-suggest]").forEach(suggest);
  });
})();
