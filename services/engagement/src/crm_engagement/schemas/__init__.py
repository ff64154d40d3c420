"""Every HTTP request and response model of the engagement service, one module per feature:
`mail` (templates, messages, campaigns, automations), `tickets`, `reviews`."""
