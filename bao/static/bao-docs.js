// Starts the API explorer on /docs with the app's own /openapi.json.
window.addEventListener("DOMContentLoaded", function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#docs",
    deepLinking: true,
    tryItOutEnabled: true,
    presets: [SwaggerUIBundle.presets.apis],
    requestInterceptor: function (request) {
      // Requests made with the session cookie carry its CSRF token.
      var token = document.querySelector('meta[name="csrf-token"]');
      if (token && !request.headers["X-CSRF-Token"]) {
        request.headers["X-CSRF-Token"] = token.getAttribute("content");
      }
      return request;
    },
  });
});
