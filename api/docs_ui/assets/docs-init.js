// Starts the API documentation viewer (Swagger UI) on the schema named by the page.
// A file of its own, not an inline script, so that the page's Content-Security-Policy
// lets only the ledger's own scripts run. The validator badge (a call to a public
// service) is off.
window.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-schema-url"),
    domNode: root,
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
});
