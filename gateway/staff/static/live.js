// Live results: every few seconds, fetch the results section again and swap it in.
// The page works without this script; it only saves a reload. The section names its own URL
// (data-live-url) and period (data-refresh-seconds, from [staff] live_refresh_seconds).
(function () {
  "use strict";
  var section = document.getElementById("live-results");
  if (!section || !window.fetch) { return; }
  var url = section.getAttribute("data-live-url");
  var seconds = parseInt(section.getAttribute("data-refresh-seconds"), 10) || 5;
  var status = document.getElementById("live-status");
  var busy = false;
  var timer = null;

  function say(text) { if (status) { status.textContent = text; } }

  function openDetails() {
    var open = [];
    section.querySelectorAll("details[open][id]").forEach(function (d) { open.push(d.id); });
    return open;
  }

  function swap(html) {
    var open = openDetails();  // a breakdown the reader opened stays open
    section.innerHTML = html;
    open.forEach(function (id) {
      var d = document.getElementById(id);
      if (d) { d.open = true; }
    });
    section.setAttribute("data-refreshed", String(Date.now()));
  }

  function stop(text) {
    if (timer) { clearInterval(timer); timer = null; }
    say(text);
  }

  function refresh() {
    if (busy || document.hidden) { return; }
    busy = true;
    fetch(url, { credentials: "same-origin", cache: "no-store", redirect: "manual" })
      .then(function (response) {
        if (response.type === "opaqueredirect" || response.status === 401 || response.status === 403) {
          stop("Live updates stopped: your session has ended. Reload the page to log in.");
          return null;
        }
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.text();
      })
      .then(function (html) {
        if (html !== null) { swap(html); say(""); }
      })
      .catch(function () { say("Live updates paused: the server did not answer. Retrying."); })
      .then(function () { busy = false; });
  }

  timer = setInterval(refresh, seconds * 1000);
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && timer) { refresh(); }
  });
}());
