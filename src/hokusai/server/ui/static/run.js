// The run page follows a run that is not finished: it polls the run's state (same permissions as the
// JSON API's GET /api/v1/runs/{id}), shows its progress, and reloads once it has finished.
(function () {
  "use strict";
  var section = document.getElementById("run-status");
  if (!section) { return; }
  var url = section.getAttribute("data-state-url");
  var state = document.getElementById("run-state");
  var step = document.getElementById("run-step");
  var bar = document.getElementById("run-progress");
  var finished = { succeeded: true, failed: true };

  function show(run) {
    var p = run.progress || {};
    state.textContent = run.state;
    if (p.step && p.total) {
      bar.max = p.total;
      bar.value = p.index || 0;
      var text = "step " + p.index + " of " + p.total + ": " + p.step;
      if (p.planned) { text += " (" + p.done + " of " + p.planned + " retrains)"; }
      step.textContent = text;
    }
  }

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (run) {
        show(run);
        if (finished[run.state]) { window.location.reload(); } else { window.setTimeout(poll, 1000); }
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }

  window.setTimeout(poll, 1000);
}());
