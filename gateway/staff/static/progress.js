// The broadcast page's progress bar, kept live: fetch progress.json every few seconds and
// update the bar and the counts, until the broadcast has finished. Without JS the page's
// Refresh link does the same by hand.
(function () {
  "use strict";
  var box = document.getElementById("broadcast-progress");
  if (!box) { return; }
  var url = box.getAttribute("data-url");
  var interval = parseInt(box.getAttribute("data-interval"), 10) || 2000;
  var names = ["queued", "sent", "delivered", "failed", "cancelled", "unknown"];

  function stateText(p) {
    var done = p.done + " of " + p.total + " done";
    if (p.status === "scheduled") { return null; }  // keep the server's "Scheduled for ..."
    if (p.status === "cancelled") { return "Cancelled: " + done; }
    if (p.finished) { return "Finished: " + done; }
    return "Sending: " + done;
  }

  function show(p) {
    var bar = document.getElementById("broadcast-bar");
    bar.value = p.percent;
    bar.textContent = p.percent + "%";
    names.forEach(function (name) {
      var cell = document.getElementById("count-" + name);
      if (cell) { cell.textContent = p[name]; }
    });
    var text = stateText(p);
    if (text !== null) { document.getElementById("broadcast-state").textContent = text; }
    box.setAttribute("data-finished", p.finished ? "true" : "false");
    if (p.finished) {
      var cancel = document.getElementById("broadcast-cancel");
      if (cancel) { cancel.hidden = true; }
    }
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (p) {
        if (p) { show(p); }
        if (!p || !p.finished) { window.setTimeout(poll, interval); }
      })
      .catch(function () { window.setTimeout(poll, interval * 2); });
  }

  if (box.getAttribute("data-finished") !== "true") { window.setTimeout(poll, interval); }
}());
