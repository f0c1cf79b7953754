// The ops view's live part: fetch /ops/panel every second and put it in place.
// No inline script anywhere (the page's Content-Security-Policy forbids it); without JavaScript
// the page still shows everything as of when it was loaded.
(function () {
  "use strict";
  var root = document.getElementById("ops-live");
  if (!root) {
    return;
  }
  var url = root.getAttribute("data-panel-url");
  var every = parseInt(root.getAttribute("data-interval-ms"), 10) || 1000;
  var busy = false;

  function showProblem(text) {
    var status = document.getElementById("ops-updated");
    if (status) {
      status.textContent = text;
      status.className = "status stale";
    }
  }

  function refresh() {
    if (busy || document.hidden) {
      return;
    }
    busy = true;
    fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("the gateway answered " + response.status);
        }
        return response.text();
      })
      .then(function (html) {
        root.innerHTML = html;
      })
      .catch(function (error) {
        showProblem("Not updating: " + error.message + " (retrying)");
      })
      .finally(function () {
        busy = false;
      });
  }

  window.setInterval(refresh, every);
})();
