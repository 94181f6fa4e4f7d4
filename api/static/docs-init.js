// Swagger UI for HireMate's REST API v1, from files this server serves
// (no CDN, no inline script: the recruiter app's CSP allows scripts of its origin only).
(function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.getAttribute("data-openapi"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
})();
