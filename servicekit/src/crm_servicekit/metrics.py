"""Prometheus metrics shared by every service (exposed at GET /metrics)."""

from prometheus_client import Counter, Gauge, Histogram

EVENTS_CONSUMED = Counter(
    "crm_events_consumed_total", "Inbound events by type and outcome", ["type", "outcome"]
)
EVENTS_PUBLISHED = Counter("crm_events_published_total", "Events published by type", ["type"])
HANDLER_SECONDS = Histogram("crm_event_handler_seconds", "Time to handle one event", ["type"])
HTTP_REQUESTS = Counter(
    "crm_http_requests_total", "HTTP requests by route and status", ["method", "route", "status"]
)
HTTP_SECONDS = Histogram(
    "crm_http_request_duration_seconds", "Time to answer an HTTP request, by route", ["method", "route"]
)
OUTBOX_BACKLOG = Gauge(
    "crm_outbox_backlog", "Change records whose events are not published yet, by collection", ["collection"]
)
QUEUE_MESSAGES = Gauge(
    "crm_queue_messages",
    "Messages waiting in a queue of this service: <service>.events (consumer lag) and "
    "<service>.dead-letter (dead letters not yet replayed or purged)",
    ["queue"],
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
