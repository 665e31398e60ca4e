// Prospect lists: select-all and a live count of the selected rows for the bulk bar.
(function () {
  "use strict";
  var form = document.getElementById("bulk-form");
  if (!form) { return; }
  var all = form.querySelector(".select-all");
  var label = form.querySelector(".selected-count");
  function boxes() { return Array.prototype.slice.call(form.querySelectorAll('input[name="ids"]')); }
  function refresh() {
    var n = boxes().filter(function (b) { return b.checked; }).length;
    if (label) { label.textContent = n ? n + " selected" : "Select rows to act on them"; }
    form.classList.toggle("has-selection", n > 0);
    if (all) {
      all.checked = n > 0 && n === boxes().length;
      all.indeterminate = n > 0 && n < boxes().length;
    }
  }
  if (all) {
    all.addEventListener("change", function () {
      boxes().forEach(function (b) { b.checked = all.checked; });
      refresh();
    });
  }
  form.addEventListener("change", function (event) {
    if (event.target.name === "ids") { refresh(); }
  });
  refresh();
})();
