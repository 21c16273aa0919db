// Bao, development only (BAO_LIVE_RELOAD=1, set by `bao run`): reloads the
// page when a rebuilt app answers. The stream names the server's start; the
// browser reconnects by itself while the app restarts.
(function () {
  "use strict";
  var first = null;
  var source = new EventSource("/_bao/dev/reload");
  source.addEventListener("boot", function (event) {
    if (first === null) {
      first = event.data;
    } else if (event.data !== first) {
      source.close();
      window.location.reload();
    }
  });
})();
