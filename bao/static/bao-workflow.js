// Live updates of a workflow run's page: the run's `workflow` channel says
// when a step or the run changed; the page then reads the run and its steps
// as JSON and redraws the table as text.
window.addEventListener("DOMContentLoaded", function () {
  var page = document.getElementById("bao-run");
  if (!page || !window.EventSource || !window.fetch) return;
  var events = new EventSource(page.getAttribute("data-events"));
  // Unix milliseconds as the server writes them: 2026-12-01 09:30:00 (UTC).
  var when = function (ms) {
    return new Date(ms).toISOString().replace("T", " ").slice(0, 19);
  };
  var refresh = function () {
    fetch(page.getAttribute("data-state"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) return;
        document.getElementById("bao-run-status").textContent = data.run.status;
        document.getElementById("bao-run-updated").textContent = when(data.run.updated_at);
        var body = document.getElementById("bao-steps");
        while (body.firstChild) body.removeChild(body.firstChild);
        data.steps.forEach(function (step) {
          var row = document.createElement("tr");
          [step.seq, step.name, step.status, step.attempts, when(step.finished_at), (step.error || step.result || "").slice(0, 120)].forEach(function (value) {
            var cell = document.createElement("td");
            cell.textContent = String(value);
            row.appendChild(cell);
          });
          body.appendChild(row);
        });
        if (["completed", "failed", "cancelled"].indexOf(data.run.status) >= 0) {
          events.close();
        }
      });
  };
  events.onopen = refresh;
  events.onmessage = refresh;
});
