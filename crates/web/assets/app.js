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
