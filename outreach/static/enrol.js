// The board's enrol bar: tick cards, or a whole column, then enrol them in the campaign's sequence.
(function () {
  "use strict";
  var form = document.getElementById("board-enrol");
  var board = document.querySelector(".board");
  if (!form || !board) { return; }
  var label = form.querySelector(".selected-count");
  function picks(root) { return Array.prototype.slice.call(root.querySelectorAll("input.pick")); }
  function refresh() {
    var n = picks(board).filter(function (b) { return b.checked; }).length;
    if (label) { label.textContent = n ? n + " card" + (n === 1 ? "" : "s") + " selected" : "Tick cards (or a whole column) to enrol them"; }
    form.classList.toggle("has-selection", n > 0);
    board.querySelectorAll(".column").forEach(function (column) {
      var all = column.querySelector(".pick-column");
      if (!all) { return; }
      var boxes = picks(column);
      var ticked = boxes.filter(function (b) { return b.checked; }).length;
      all.checked = ticked > 0 && ticked === boxes.length;
      all.indeterminate = ticked > 0 && ticked < boxes.length;
    });
  }
  board.querySelectorAll(".pick-column").forEach(function (all) { all.hidden = false; });
  board.addEventListener("change", function (event) {
    var target = event.target;
    if (target.classList.contains("pick-column")) {
      picks(target.closest(".column")).forEach(function (b) { b.checked = target.checked; });
    }
    if (target.classList.contains("pick") || target.classList.contains("pick-column")) { refresh(); }
  });
  // a card moved out of the early stages can no longer be enrolled from here
  board.addEventListener("dragend", function () { window.setTimeout(refresh, 0); });
  refresh();
})();
