"""The staff console: server-rendered pages over the services' HTTP APIs. The browser talks to
the console only; the console holds the service token and names the signed-in person as the
operator of every change (X-CRM-Operator)."""
