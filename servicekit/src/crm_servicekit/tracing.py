"""Tracing with OpenTelemetry, so that one order's path through every service is one trace.

Off unless configured with OpenTelemetry's own variables: `OTEL_EXPORTER_OTLP_ENDPOINT` (or
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) exports by OTLP over HTTP; `OTEL_TRACES_EXPORTER=console`
prints spans (for a look without a collector). Off, the API's no-op tracer costs next to nothing.

How the context travels (W3C trace context everywhere):
- HTTP: the `traceparent` request header (FastAPI instrumentation), server spans;
- database: a client span per MongoDB command (PyMongo instrumentation);
- events: a change's events are stamped with the CloudEvents distributed-tracing extension
  (`traceparent`, `tracestate`) when they are stored in the outbox (`outbox.pending`), because the
  relay publishes them later, in another task; the relay's publish span continues that context
  and puts its own in the AMQP headers; a consumer continues the AMQP header's context, or the
  envelope's `traceparent` where a producer (a storefront) set only that.
"""

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from opentelemetry import context, propagate, trace
from opentelemetry.trace import Span, SpanKind

log = logging.getLogger(__name__)
_tracer = trace.get_tracer("crm_servicekit")
_configured = False


def enabled() -> bool:
    return bool(
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        or os.environ.get("OTEL_TRACES_EXPORTER", "").strip() in ("otlp", "console")
    )


def configure(service: str) -> None:
    """Installs the SDK with the configured exporter and instruments PyMongo; before any
    MongoDB client is made (PyMongo reads its global listeners when a client is created).
    Does nothing when tracing is not configured."""
    global _configured
    if not enabled() or _configured:
        return
    from opentelemetry.instrumentation.pymongo import PymongoInstrumentor
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

    exporter: SpanExporter
    if os.environ.get("OTEL_TRACES_EXPORTER", "").strip() == "console":
        exporter = ConsoleSpanExporter()
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    provider = TracerProvider(
        resource=Resource.create({SERVICE_NAME: os.environ.get("OTEL_SERVICE_NAME", service)})
    )
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    PymongoInstrumentor().instrument()
    _configured = True


def instrument_http(app: Any) -> None:
    """Server spans for the HTTP app, continuing a request's `traceparent` header."""
    if _configured:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(app, excluded_urls="/healthz,/readyz,/metrics")


def shutdown() -> None:
    """Flushes the spans still buffered (at service stop)."""
    provider = trace.get_tracer_provider()
    if hasattr(provider, "shutdown"):
        provider.shutdown()


def stamp(envelope: dict[str, Any]) -> dict[str, Any]:
    """Puts the current trace context on an envelope about to be stored (CloudEvents
    `traceparent`/`tracestate`), unless it carries one already."""
    if "traceparent" in envelope or not trace.get_current_span().get_span_context().is_valid:
        return envelope
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return {**envelope, **{k: v for k, v in carrier.items() if k in ("traceparent", "tracestate")}}


@contextmanager
def publishing(envelope: Mapping[str, Any], headers: dict[str, Any]) -> Iterator[Span]:
    """The span of publishing a stored envelope, a child of the context the envelope was created
    in; fills `headers` with this span's context for the consumers."""
    parent = propagate.extract(_trace_fields(envelope))
    with _tracer.start_as_current_span(
        f"{envelope.get('type')} publish",
        context=parent,
        kind=SpanKind.PRODUCER,
        attributes={
            "messaging.system": "rabbitmq",
            "messaging.operation.type": "publish",
            "messaging.destination.name": "crm.events",
            "messaging.rabbitmq.destination.routing_key": str(envelope.get("type")),
            "messaging.message.id": str(envelope.get("id")),
        },
    ) as span:
        propagate.inject(headers)
        yield span


@contextmanager
def consuming(headers: Mapping[str, Any], envelope: Mapping[str, Any], queue: str) -> Iterator[Span]:
    """The span of handling one delivered event, a child of the publisher's context (AMQP
    headers first, else the envelope's CloudEvents `traceparent`)."""
    carrier = _trace_fields(headers) or _trace_fields(envelope)
    token = context.attach(propagate.extract(carrier))
    try:
        with _tracer.start_as_current_span(
            f"{envelope.get('type')} process",
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "rabbitmq",
                "messaging.operation.type": "process",
                "messaging.destination.name": queue,
                "messaging.message.id": str(envelope.get("id")),
                "cloudevents.event_type": str(envelope.get("type")),
                "cloudevents.event_source": str(envelope.get("source")),
            },
        ) as span:
            yield span
    finally:
        context.detach(token)


def _trace_fields(carrier: Mapping[str, Any]) -> dict[str, str]:
    return {k: v for k in ("traceparent", "tracestate") if isinstance(v := carrier.get(k), str)}
