// OpenZero dashboard: small progressive enhancement. Every page works
// without it; this adds the service worker (installable app, cached shell)
// and asks before destructive buttons when a page marks them.
"use strict";
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
