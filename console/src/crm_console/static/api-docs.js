// Starts Swagger UI on the API page (a file of its own: the console's CSP allows no inline script).
(function () {
  const target = document.getElementById("swagger-ui");
  if (!target || typeof SwaggerUIBundle === "undefined") return;
  SwaggerUIBundle({ url: target.dataset.spec, dom_id: "#swagger-ui", deepLinking: true });
})();
