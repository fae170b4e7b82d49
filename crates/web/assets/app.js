// OpenZero dashboard: small progressive enhancement. Every page works
// without it; this adds the service worker (installable app, cached shell)
// and asks before destructive buttons when a page marks them.
"use strict";
document.documentElement.classList.add("js");
if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("/sw.js").catch(function () {});
}
document.addEventListener("submit", function (e) {
  var msg = e.target.getAttribute("data-confirm");
  if (msg && !window.confirm(msg)) { e.preventDefault(); }
});

// Logs: new lines arrive over server-sent events; Pause stops the page
// from adding them (they are fetched again, in order, on Resume).
(function () {
  var log = document.getElementById("log");
  if (!log || !window.EventSource) { return; }
  var pause = document.getElementById("log-pause");
  var state = document.getElementById("log-state");
  var after = log.getAttribute("data-after") || "0";
  var level = log.getAttribute("data-level") || "info";
  var source = null;
  function add(line) {
    var li = document.createElement("li");
    li.className = "lv-" + line.level;
    li.setAttribute("data-seq", line.seq);
    var t = document.createElement("time");
    t.textContent = new Date(line.at).toISOString().slice(11, 23);
    var b = document.createElement("b");
    b.textContent = line.level;
    var target = document.createElement("span");
    target.className = "muted";
    target.textContent = line.target;
    li.append(t, " ", b, " ", target, " " + line.text);
    log.appendChild(li);
    while (log.children.length > 1000) { log.removeChild(log.firstChild); }
    after = String(line.seq);
    if (window.innerHeight + window.scrollY >= document.body.offsetHeight - 80) {
      li.scrollIntoView({ block: "end" });
    }
  }
  function open() {
    source = new EventSource("/logs/stream?level=" + encodeURIComponent(level) + "&after=" + after);
    source.onmessage = function (e) { try { add(JSON.parse(e.data)); } catch (_) {} };
    source.addEventListener("skipped", function (e) { state.textContent = e.data; });
    state.textContent = "Live.";
    pause.textContent = "Pause";
  }
  pause.hidden = false;
  pause.addEventListener("click", function () {
    if (source) { source.close(); source = null; state.textContent = "Paused."; pause.textContent = "Resume"; }
    else { open(); }
  });
  open();
})();

// Boards: drag a card by its grip to another list. Pointer events, so a
// mouse, a pen and a finger all work; held near the board's edge, the
// board scrolls (a phone shows one list at a time). The move is sent with
// the session's CSRF token and the card goes back if the server refuses.
(function () {
  var board = document.getElementById("board");
  if (!board) { return; }
  var csrf = board.getAttribute("data-csrf");
  var drag = null;
  function columnAt(x, y) {
    // The card under the finger is not where it is dropped.
    var card = drag ? drag.card : null;
    if (card) { card.style.visibility = "hidden"; }
    // A finger past the board's edge means the list nearest to it.
    var r = board.getBoundingClientRect();
    x = Math.min(Math.max(x, r.left + 8), r.right - 8);
    y = Math.min(Math.max(y, r.top + 8), r.bottom - 8);
    var el = document.elementFromPoint(x, y);
    if (card) { card.style.visibility = ""; }
    return el && el.closest ? el.closest(".column") : null;
  }
  function count() {
    board.querySelectorAll(".column").forEach(function (col) {
      var n = col.querySelector(".count");
      if (n) { n.textContent = col.querySelectorAll(".task").length; }
    });
  }
  function place() {
    var dx = drag.px - drag.x + (board.scrollLeft - drag.scroll);
    drag.card.style.transform = "translate(" + dx + "px," + (drag.py - drag.y) + "px)";
    var col = columnAt(drag.px, drag.py);
    if (drag.over && drag.over !== col) { drag.over.classList.remove("drop"); }
    if (col) { col.classList.add("drop"); }
    drag.over = col;
  }
  function edge() {
    if (!drag) { return; }
    var r = board.getBoundingClientRect();
    var step = drag.px > r.right - 48 ? 14 : (drag.px < r.left + 48 ? -14 : 0);
    // Only as far as the lists go (the moving card must not widen the board).
    var to = Math.min(Math.max(board.scrollLeft + step, 0), drag.max);
    if (to !== board.scrollLeft) { board.scrollLeft = to; place(); }
  }
  function stop() {
    clearInterval(drag.timer);
    board.classList.remove("dragging-board");
    drag.card.classList.remove("dragging");
    drag.card.style.transform = "";
    if (drag.over) { drag.over.classList.remove("drop"); }
  }
  board.addEventListener("pointerdown", function (e) {
    var grip = e.target.closest(".grip");
    if (!grip) { return; }
    var card = grip.closest(".task");
    e.preventDefault();
    drag = { card: card, from: card.parentNode, next: card.nextSibling, x: e.clientX, y: e.clientY,
             px: e.clientX, py: e.clientY, scroll: board.scrollLeft, max: board.scrollWidth - board.clientWidth,
             over: null, timer: setInterval(edge, 16) };
    board.classList.add("dragging-board");
    card.classList.add("dragging");
    grip.setPointerCapture(e.pointerId);
  });
  board.addEventListener("pointermove", function (e) {
    if (!drag) { return; }
    drag.px = e.clientX;
    drag.py = e.clientY;
    place();
  });
  board.addEventListener("pointerup", function (e) {
    if (!drag) { return; }
    var d = drag;
    d.px = e.clientX;
    d.py = e.clientY;
    var col = columnAt(d.px, d.py);
    var r = board.getBoundingClientRect();
    stop();
    drag = null;
    if (!col || col.querySelector(".cards") === d.from) { return; }
    col.querySelector(".cards").appendChild(d.card);
    count();
    var id = d.card.getAttribute("data-card");
    fetch("/cards/" + id + "/move", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", "X-CSRF-Token": csrf },
      body: "list=" + encodeURIComponent(col.getAttribute("data-list")),
      credentials: "same-origin"
    }).then(function (r) {
      if (!r.ok) { throw new Error("refused"); }
      d.card.setAttribute("data-moved", col.getAttribute("data-list"));
    }).catch(function () {
      d.from.insertBefore(d.card, d.next);
      count();
      window.alert("The card could not be moved; it is back where it was.");
    });
  });
  board.addEventListener("pointercancel", function () {
    if (!drag) { return; }
    stop();
    drag = null;
  });
})();

// Chat: the answer streams into the page (server-sent events in the
// answer to the POST); without script the form posts and the page reloads.
(function () {
  var form = document.getElementById("chat-form");
  if (!form || !window.fetch || !window.TextDecoder) { return; }
  var list = document.getElementById("chat");
  var box = document.getElementById("chat-text");
  var csrf = form.querySelector("input[name=csrf]").value;
  function bubble(who, text) {
    var li = document.createElement("li");
    li.className = "said " + (who === "Z" ? "z" : "you");
    var label = document.createElement("span");
    label.className = "muted";
    label.textContent = who;
    var body = document.createElement("div");
    body.className = "prose";
    body.textContent = text;
    li.append(label, body);
    list.appendChild(li);
    li.scrollIntoView({ block: "end" });
    return body;
  }
  form.addEventListener("submit", function (e) {
    var text = box.value.trim();
    if (!text) { return; }
    e.preventDefault();
    var empty = document.getElementById("chat-empty");
    if (empty) { empty.remove(); }
    bubble("you", text);
    var answer = bubble("Z", "…");
    answer.parentNode.setAttribute("data-streaming", "1");
    box.value = "";
    var button = document.getElementById("chat-send");
    button.disabled = true;
    var started = false;
    fetch("/chat/stream", {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded", "X-CSRF-Token": csrf },
      body: "text=" + encodeURIComponent(text),
      credentials: "same-origin"
    }).then(function (r) {
      if (!r.ok) { return r.text().then(function () { throw new Error("refused (" + r.status + ")"); }); }
      var reader = r.body.getReader();
      var decoder = new TextDecoder();
      var buffer = "";
      function handle(block) {
        var event = "message", data = [];
        block.split("\n").forEach(function (line) {
          if (line.indexOf("event: ") === 0) { event = line.slice(7); }
          else if (line.indexOf("data: ") === 0) { data.push(line.slice(6)); }
        });
        var value = data.join("\n");
        if (event === "delta") {
          answer.textContent = (started ? answer.textContent : "") + value;
          started = true;
        } else if (event === "done") {
          answer.textContent = value;
          answer.parentNode.removeAttribute("data-streaming");
        } else if (event === "held") {
          answer.textContent = "That would go to a cloud model: thought #" + value + " waits for your Send on Thoughts.";
          var a = document.createElement("a");
          a.href = "/thoughts";
          a.textContent = " Open Thoughts";
          answer.appendChild(a);
          answer.parentNode.removeAttribute("data-streaming");
        } else if (event === "error") {
          answer.textContent = "I could not answer: " + value;
          answer.parentNode.removeAttribute("data-streaming");
        }
      }
      function pump() {
        return reader.read().then(function (chunk) {
          if (chunk.done) { return; }
          buffer += decoder.decode(chunk.value, { stream: true });
          var parts = buffer.split("\n\n");
          buffer = parts.pop();
          parts.forEach(handle);
          return pump();
        });
      }
      return pump();
    }).catch(function (err) {
      answer.textContent = "I could not answer: " + err.message;
    }).then(function () { button.disabled = false; box.focus(); });
  });
})();

// Memory import: the file goes up in one request; the bar follows the
// import (reading, embedding, storing) until the server says it is done.
(function () {
  var form = document.getElementById("import-form");
  if (!form || !window.fetch) { return; }
  form.hidden = false;
  var bar = document.getElementById("import-progress");
  var state = document.getElementById("import-state");
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var file = document.getElementById("import-file").files[0];
    if (!file) { state.textContent = "Choose a file first."; return; }
    bar.hidden = false;
    bar.value = 0;
    state.textContent = "Sending " + file.name + "…";
    fetch("/memory/import", {
      method: "POST",
      headers: { "Content-Type": "application/x-ndjson", "X-CSRF-Token": form.getAttribute("data-csrf") },
      body: file,
      credentials: "same-origin"
    }).then(function (r) {
      if (!r.ok) { throw new Error("refused (" + r.status + ")"); }
      return r.json();
    }).then(function (j) {
      function poll() {
        fetch("/memory/import/" + j.id, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (s) {
          bar.value = s.total ? Math.round(100 * s.read / s.total) : 100;
          if (s.done) { state.textContent = s.message; form.setAttribute("data-done", "1"); }
          else { state.textContent = "Importing… " + bar.value + "%"; setTimeout(poll, 300); }
        }).catch(function () { setTimeout(poll, 1000); });
      }
      poll();
    }).catch(function (err) { state.textContent = "The import did not start: " + err.message; });
  });
})();
