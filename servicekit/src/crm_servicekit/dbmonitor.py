"""Watching the commands a service sends to the database.

Every command is counted in `crm_db_commands_total` (Prometheus), so the cost of an event can be
read off /metrics. With CRM_RECORD_QUERIES=<file>, each distinct query shape (collection, command,
the filter's fields and operators) is also appended to that file once, with one real filter as
JSON and the event type being handled. tests/system/test_query_plans.py replays those filters through `explain` to check that an
index serves every query that a flow made.
"""

import json
import os
import threading
from typing import Any

from bson import json_util
from pymongo import monitoring

from crm_servicekit import metrics
from crm_servicekit.logs import event_type_var

# Commands whose filter is a query over a collection, and where the filter is.
_FILTERS = {
    "find": lambda c: [c.get("filter") or {}],
    "count": lambda c: [c.get("query") or {}],
    "delete": lambda c: [d.get("q") or {} for d in c.get("deletes", [])],
    "update": lambda c: [u.get("q") or {} for u in c.get("updates", [])],
    "findAndModify": lambda c: [c.get("query") or {}],
    "aggregate": lambda c: [
        s["$match"] for s in c.get("pipeline", [])[:1] if isinstance(s, dict) and "$match" in s
    ],
}


def shape(value: Any) -> Any:
    """The filter with its values replaced by their type names."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [shape(v) for v in value[:1]]
    return type(value).__name__


class CommandMonitor(monitoring.CommandListener):
    def __init__(self, record_to: str | None = None) -> None:
        self.record_to = record_to
        self._seen: set[str] = set()
        self._lock = threading.Lock()  # pymongo may call listeners from its own threads

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        name = event.command_name
        target = event.command.get(name)
        collection = target if isinstance(target, str) else ""
        metrics.DB_COMMANDS.labels(name, collection).inc()
        if self.record_to and name in _FILTERS and collection:
            for filt in _FILTERS[name](event.command):
                self._record(event.database_name, collection, name, filt)

    def _record(self, database: str, collection: str, command: str, filt: dict[str, Any]) -> None:
        # Which event was being handled (None: an HTTP request, the outbox relay or a job).
        during = event_type_var.get()
        key = json.dumps([collection, command, shape(filt), during], sort_keys=True)
        with self._lock:
            if key in self._seen:
                return
            self._seen.add(key)
            line = {
                "database": database,
                "collection": collection,
                "command": command,
                "shape": shape(filt),
                "during": during,
                "filter": json.loads(json_util.dumps(filt)),
            }
            with open(self.record_to, "a", encoding="utf-8") as f:  # type: ignore[arg-type]
                f.write(json.dumps(line) + "\n")

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def monitor_from_env() -> CommandMonitor:
    return CommandMonitor(os.environ.get("CRM_RECORD_QUERIES") or None)
