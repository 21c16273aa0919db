// Small behaviours every Bao page may use, under the default CSP (no inline
// scripts): a form or button with `data-confirm="Delete this task?"` asks
// before it submits.
document.addEventListener("submit", function (event) {
  var form = event.target;
  var button = event.submitter;
  var message = (button && button.getAttribute("data-confirm")) || form.getAttribute("data-confirm");
  if (message && !window.confirm(message)) {
    event.preventDefault();
  }
}, true);
