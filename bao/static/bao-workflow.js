// Live updates of a workflow run's page: the server sends the run and its
// steps as JSON whenever they change; the table is redrawn as text.
window.addEventListener("DOMContentLoaded", function () {
  var page = document.getElementById("bao-run");
  if (!page || !window.EventSource) return;
  var events = new EventSource(page.getAttribute("data-events"));
  events.onmessage = function (message) {
    var data = JSON.parse(message.data);
    document.getElementById("bao-run-status").textContent = data.run.status;
    var body = document.getElementById("bao-steps");
    while (body.firstChild) body.removeChild(body.firstChild);
    data.steps.forEach(function (step) {
      var row = document.createElement("tr");
      [step.seq, step.name, step.status, step.attempts, (step.error || step.result || "").slice(0, 120)].forEach(function (value) {
        var cell = document.createElement("td");
        cell.textContent = String(value);
        row.appendChild(cell);
      });
      body.appendChild(row);
    });
    if (["completed", "failed", "cancelled"].indexOf(data.run.status) >= 0) {
      events.close();
    }
  };
});
