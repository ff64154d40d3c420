"""Prometheus metrics shared by every service (exposed at GET /metrics)."""

from prometheus_client import Counter, Histogram

EVENTS_CONSUMED = Counter(
    "crm_events_consumed_total", "Inbound events by type and outcome", ["type", "outcome"]
)
EVENTS_PUBLISHED = Counter("crm_events_published_total", "Events published by type", ["type"])
HANDLER_SECONDS = Histogram("crm_event_handler_seconds", "Time to handle one event", ["type"])
HTTP_REQUESTS = Counter(
    "crm_http_requests_total", "HTTP requests by route and status", ["method", "route", "status"]
)
DB_COMMANDS = Counter(
    "crm_db_commands_total",
    "Database commands sent (each is one round trip), by command and collection",
    ["command", "collection"],
)
BROKER_OPERATIONS = Counter(
    "crm_broker_operations_total",
    "Broker operations: publish (each waits for its confirm), ack, nack, dead_letter",
    ["operation"],
)
