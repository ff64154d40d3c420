"""Structured JSON logs: UTC times in RFC 3339; every record made while handling an event
carries its id, every record made while answering a request its request id (X-Request-ID), and
with tracing on every record made inside a span its trace id."""

import logging
import sys
import time
from contextvars import ContextVar

from opentelemetry import trace
from pythonjsonlogger.json import JsonFormatter

event_id_var: ContextVar[str | None] = ContextVar("event_id", default=None)
event_type_var: ContextVar[str | None] = ContextVar("event_type", default=None)
request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
# Who asked, when a trusted client (the staff console) names the person behind a request
# (X-CRM-Operator): on logs, on the events stored, and the default operator of a change.
operator_var: ContextVar[str | None] = ContextVar("operator", default=None)


class _EventContext(logging.Filter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        if (event_id := event_id_var.get()) is not None:
            record.event_id = event_id
            record.event_type = event_type_var.get()
        if (request_id := request_id_var.get()) is not None:
            record.request_id = request_id
        if (operator := operator_var.get()) is not None:
            record.operator = operator
        span = trace.get_current_span().get_span_context()
        if span.is_valid:
            record.trace_id = format(span.trace_id, "032x")
        return True


def configure(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        JsonFormatter(
            "{asctime}{levelname}{name}{message}",
            style="{",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    )
    formatter = handler.formatter
    assert isinstance(formatter, JsonFormatter)
    formatter.converter = time.gmtime  # UTC, whatever the machine's zone
    formatter.default_time_format, formatter.default_msec_format = "%Y-%m-%dT%H:%M:%S", "%s.%03dZ"
    handler.addFilter(_EventContext(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("pymongo", "aiormq", "aio_pika"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
