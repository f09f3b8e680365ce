/* FairLens dashboard: live refresh of a model page's #live fragment, and the scenario sliders' read-outs.
 *
 * The page works without this script; it only adds:
 *  - every few seconds, a fetch of the same page with partial=1 (version and metric kept, the scenario
 *    parameters left out so the scenario is not run again). The fragment replaces #live only when its digest
 *    changed, so nothing flickers; refreshing pauses while a form inside #live has focus or holds typed text,
 *    and while the tab is hidden;
 *  - the current value of each range input in its <output>.
 */
(function () {
  "use strict";

  function wireOutputs() {
    var ranges = document.querySelectorAll("#scenario-form input[type=range]");
    Array.prototype.forEach.call(ranges, function (input) {
      var output = document.getElementById(input.id + "-value");
      if (!output) return;
      var decimals = (input.step && input.step.indexOf(".") >= 0) ? input.step.split(".")[1].length : 0;
      var show = function () { output.value = Number(input.value).toFixed(decimals); };
      input.addEventListener("input", show);
      show();
    });
  }

  function busy(live) {
    var active = document.activeElement;
    if (active && active !== document.body && live.contains(active) && active.closest("form")) return true;
    var fields = live.querySelectorAll("form textarea, form input[type=text]");
    for (var i = 0; i < fields.length; i++) {
      if (fields[i].value.trim() !== "") return true; // a note being written must not be wiped
    }
    return false;
  }

  function openDetails(live) {
    var open = [];
    Array.prototype.forEach.call(live.querySelectorAll("details[id]"), function (item) {
      if (item.open) open.push(item.id);
    });
    return open;
  }

  function startLiveRefresh() {
    var live = document.getElementById("live");
    if (!live || !live.dataset.partialUrl || !window.fetch) return;
    var interval = parseInt(live.dataset.interval, 10) || 5000;
    var status = document.getElementById("live-status");

    function schedule() { window.setTimeout(tick, interval); }

    function tick() {
      if (document.hidden || busy(live)) { schedule(); return; }
      window.fetch(live.dataset.partialUrl, {
        credentials: "same-origin",
        cache: "no-store",
        headers: { "X-Requested-With": "XMLHttpRequest", "Accept": "text/html" }
      }).then(function (response) {
        var digest = response.headers.get("X-Live-Digest");
        // Signed out (redirected to the login page) or an error: keep what is shown, try again later.
        if (!response.ok || response.redirected || !digest) return null;
        if (digest === live.dataset.digest) return null;
        return response.text().then(function (html) {
          if (busy(live)) return; // focus moved into a form while the request was out
          var open = openDetails(live);
          live.innerHTML = html;
          live.dataset.digest = digest;
          open.forEach(function (id) {
            var item = document.getElementById(id);
            if (item && item.tagName === "DETAILS") item.open = true;
          });
          if (status) status.textContent = "Updated at " + new Date().toLocaleTimeString() + ".";
        });
      }).catch(function () { /* offline: try again on the next tick */ }).then(schedule, schedule);
    }

    schedule();
  }

  function start() {
    wireOutputs();
    startLiveRefresh();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
