// chaosiq console: the only script. Pages work without it; it adds live updates
// of a running execution or verification run (#live with data-live-url) and
// submits the team switcher on change.
(function () {
  "use strict";
  var select = document.querySelector("select[data-autosubmit]");
  if (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  }

  var live = document.getElementById("live");
  if (!live || live.getAttribute("data-running") !== "true") { return; }
  var url = live.getAttribute("data-live-url");
  var delay = 1000;
  var lastHtml = null;

  function busy() {
    // Do not replace the form under the user's fingers.
    var active = document.activeElement;
    return active && live.contains(active) && active.tagName === "INPUT" && active.value !== "";
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (resp) {
        if (resp.status === 401) { window.location.reload(); throw new Error("signed out"); }
        if (!resp.ok) { throw new Error("HTTP " + resp.status); }
        return resp.json();
      })
      .then(function (body) {
        if (body.html !== lastHtml && !busy()) {
          live.innerHTML = body.html;
          lastHtml = body.html;
        }
        live.setAttribute("data-running", body.running ? "true" : "false");
        if (body.running) {
          delay = 1000;
          window.setTimeout(poll, delay);
        } else {
          // The final journal arrived: reload once to show it.
          window.location.reload();
        }
      })
      .catch(function () {
        delay = Math.min(delay * 2, 15000);
        window.setTimeout(poll, delay);
      });
  }
  window.setTimeout(poll, delay);
})();
