// The pipeline board: drag cards between and within columns, or use "Move to…"; no page reload.
(function () {
  "use strict";
  var board = document.querySelector('.board[data-editable="1"]');
  if (!board) { return; }
  board.classList.add("js");
  var statusBox = document.querySelector(".board-status");
  var dragged = null;
  var origin = null;  // {parent, next} to put a card back when the server refuses the move
  var dropped = false;

  function say(text, isError) {
    if (!statusBox) { return; }
    statusBox.textContent = text;
    statusBox.className = "board-status " + (isError ? "flash flash-error" : "flash flash-success");
  }

  // column counts include cards not shown (a column shows its first 200), so they move by one
  function bump(stage, delta) {
    var count = board.querySelector('.column[data-stage="' + stage + '"] .count');
    if (count) { count.textContent = String(parseInt(count.textContent, 10) + delta); }
  }

  function positionOf(card) {
    var prev = card.previousElementSibling;
    var next = card.nextElementSibling;
    var p = prev ? parseFloat(prev.getAttribute("data-position")) : null;
    var n = next ? parseFloat(next.getAttribute("data-position")) : null;
    if (p !== null && n !== null) { return (p + n) / 2; }
    if (p !== null) { return p + 1; }
    if (n !== null) { return n - 1; }
    return 1;
  }

  function post(card, stage, position) {
    var body = new URLSearchParams();
    body.set("stage", stage);
    if (position !== null) { body.set("position", String(position)); }
    return fetch(card.getAttribute("data-move-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: {"X-CSRFToken": window.outreachCsrf ? window.outreachCsrf() : "", "Accept": "application/json"},
      body: body
    }).then(function (response) {
      return response.json().catch(function () { return {error: "the server answered " + response.status}; })
        .then(function (data) {
          if (!response.ok) { throw new Error(data.error || ("the server answered " + response.status)); }
          return data;
        });
    });
  }

  function applied(card, data) {
    var before = card.getAttribute("data-stage");
    if (before !== data.stage) {
      bump(before, -1);
      bump(data.stage, 1);
    }
    card.setAttribute("data-stage", data.stage);
    card.setAttribute("data-position", data.position);
  }

  function move(card, stage, position, restore) {
    card.classList.add("saving");
    var domain = card.querySelector(".domain").textContent;
    return post(card, stage, position).then(function (data) {
      applied(card, data);
      say(data.changed ? domain + " moved to " + data.label + "." : domain + " reordered.", false);
    }).catch(function (error) {
      restore();
      say("Could not move " + domain + ": " + error.message, true);
    }).then(function () { card.classList.remove("saving"); });
  }

  board.addEventListener("dragstart", function (event) {
    var card = event.target.closest && event.target.closest(".pcard");
    if (!card) { return; }
    dragged = card;
    dropped = false;
    origin = {parent: card.parentNode, next: card.nextElementSibling};
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.getAttribute("data-id"));
    window.setTimeout(function () { card.classList.add("dragging"); }, 0);
  });

  function insertionPoint(cards, y) {
    var items = cards.querySelectorAll(".pcard:not(.dragging)");
    for (var i = 0; i < items.length; i++) {
      var box = items[i].getBoundingClientRect();
      if (y < box.top + box.height / 2) { return items[i]; }
    }
    return null;
  }

  board.addEventListener("dragover", function (event) {
    var column = event.target.closest && event.target.closest(".column");
    if (!column || !dragged) { return; }
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    board.querySelectorAll(".drop-target").forEach(function (c) { if (c !== column) { c.classList.remove("drop-target"); } });
    column.classList.add("drop-target");
    var cards = column.querySelector(".cards");
    var before = insertionPoint(cards, event.clientY);
    if (before !== dragged && (before !== dragged.nextElementSibling || dragged.parentNode !== cards)) {
      cards.insertBefore(dragged, before);
    }
  });

  board.addEventListener("drop", function (event) {
    var column = event.target.closest && event.target.closest(".column");
    if (!column || !dragged) { return; }
    event.preventDefault();
    dropped = true;
    var card = dragged;
    var back = origin;
    column.classList.remove("drop-target");
    var stage = column.getAttribute("data-stage");
    var samePlace = card.parentNode === back.parent && card.nextElementSibling === back.next;
    if (samePlace) { return; }
    move(card, stage, positionOf(card), function () { back.parent.insertBefore(card, back.next); });
  });

  board.addEventListener("dragend", function () {
    if (dragged) {
      dragged.classList.remove("dragging");
      if (!dropped && origin) { origin.parent.insertBefore(dragged, origin.next); }
    }
    board.querySelectorAll(".drop-target").forEach(function (c) { c.classList.remove("drop-target"); });
    dragged = null;
  });

  // "Move to…": the keyboard and touch fallback; without script the link opens the prospect's page.
  // A menu of buttons: arrow keys move the focus, Enter (or a click) moves the card, Escape closes.
  var menu = document.getElementById("move-menu");
  function closeMenu(list, refocus) {
    var link = list.previousElementSibling;
    list.remove();
    if (link) {
      link.setAttribute("aria-expanded", "false");
      if (refocus) { link.focus(); }
    }
  }
  board.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("[data-move]");
    if (!link || !menu) { return; }
    event.preventDefault();
    var open = link.nextElementSibling;
    if (open && open.classList.contains("moveto-menu")) { closeMenu(open, true); return; }
    var card = link.closest(".pcard");
    var list = menu.content.firstElementChild.cloneNode(true);
    var domain = card.querySelector(".domain").textContent;
    list.setAttribute("aria-label", "Move " + domain + " to");
    list.querySelectorAll('[data-stage="' + card.getAttribute("data-stage") + '"]').forEach(function (item) { item.remove(); });
    var items = Array.prototype.slice.call(list.querySelectorAll("[role=menuitem]"));
    link.setAttribute("aria-expanded", "true");
    link.after(list);
    items[0].focus();
    list.addEventListener("keydown", function (e) {
      var at = items.indexOf(document.activeElement);
      var next = null;
      if (e.key === "ArrowDown") { next = items[(at + 1) % items.length]; }
      else if (e.key === "ArrowUp") { next = items[(at - 1 + items.length) % items.length]; }
      else if (e.key === "Home") { next = items[0]; }
      else if (e.key === "End") { next = items[items.length - 1]; }
      else if (e.key === "Escape") { e.preventDefault(); closeMenu(list, true); return; }
      else if (e.key === "Tab") { closeMenu(list, false); return; }
      if (next) { e.preventDefault(); next.focus(); }
    });
    list.addEventListener("focusout", function (e) {
      if (!list.contains(e.relatedTarget)) {
        window.setTimeout(function () { if (list.isConnected && !list.contains(document.activeElement)) { closeMenu(list, false); } }, 150);
      }
    });
    list.addEventListener("click", function (e) {
      var item = e.target.closest("[role=menuitem]");
      if (!item) { return; }
      var stage = item.getAttribute("data-stage");
      closeMenu(list, false);
      var column = board.querySelector('.column[data-stage="' + stage + '"] .cards');
      var back = {parent: card.parentNode, next: card.nextElementSibling};
      if (column) { column.appendChild(card); }
      move(card, stage, null, function () { back.parent.insertBefore(card, back.next); })
        .then(function () { link.focus(); });
    });
  });
})();
