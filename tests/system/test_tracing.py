"""Tracing (issue 20): with OTEL_EXPORTER_OTLP_ENDPOINT set, every service exports its spans by
OTLP, and one order's path through all of them is one trace: from a storefront's CloudEvents
`traceparent`, or from an HTTP request's `traceparent` header, through the database, the outbox,
the broker (W3C trace context in the AMQP headers) and every consumer."""

import gzip
import secrets
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from harness import Broker, envelope, eventually, free_port, order_placed

SERVICES = ["customers", "groups", "ledger", "segments"]


class Collector:
    """A minimal OTLP/HTTP receiver: keeps (service, trace id, span id, parent id, name, kind)."""

    def __init__(self) -> None:
        self.spans: list[dict] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                request = ExportTraceServiceRequest.FromString(body)
                for resource in request.resource_spans:
                    attrs = {a.key: a.value.string_value for a in resource.resource.attributes}
                    for scope in resource.scope_spans:
                        for span in scope.spans:
                            collector.spans.append(
                                {
                                    "service": attrs.get("service.name"),
                                    "trace": span.trace_id.hex(),
                                    "id": span.span_id.hex(),
                                    "parent": span.parent_span_id.hex(),
                                    "name": span.name,
                                    "kind": Span.SpanKind.Name(span.kind).removeprefix("SPAN_KIND_"),
                                }
                            )
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def of(self, trace_id: str) -> list[dict]:
        return [s for s in self.spans if s["trace"] == trace_id]


@pytest.fixture(scope="module")
def collector(system):
    c = Collector()
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{c.port}", "OTEL_BSP_SCHEDULE_DELAY": "100"}
    for name in SERVICES:
        system.service(name, **env)
    yield c
    c.server.shutdown()


def _kinds(spans: list[dict], service: str) -> set[str]:
    return {s["kind"] for s in spans if s["service"] == service}


async def test_an_order_from_a_storefront_is_one_trace_across_every_service(collector, broker: Broker):
    trace_id, parent = secrets.token_hex(16), secrets.token_hex(8)
    email = f"traced.{uuid.uuid4().hex[:6]}@example.com"
    event = envelope("order.placed", order_placed(email))
    event["traceparent"] = f"00-{trace_id}-{parent}-01"  # CloudEvents distributed tracing extension
    await broker.publish(event)

    async def whole() -> bool:
        spans = collector.of(trace_id)
        return all("CONSUMER" in _kinds(spans, s) for s in SERVICES) and "PRODUCER" in _kinds(
            spans, "customers"
        )

    await eventually(whole, timeout=60)
    spans = collector.of(trace_id)
    by_id = {s["id"]: s for s in spans}
    # the customers service continued the storefront's span, and talked to its database inside it
    first = [
        s for s in spans if s["service"] == "customers" and s["kind"] == "CONSUMER" and s["parent"] == parent
    ]
    assert first and first[0]["name"] == "order.placed process"
    assert "CLIENT" in _kinds(spans, "customers")
    # groups learnt of the new customer from an event customers published within this trace
    for consumer in (s for s in spans if s["service"] == "groups" and s["kind"] == "CONSUMER"):
        producer = by_id.get(consumer["parent"])
        assert producer and producer["service"] == "customers" and producer["kind"] == "PRODUCER"
    # and what went over the broker carried the W3C context in its AMQP headers
    created = await broker.wait_for("customer.created", lambda b: b["data"]["email"] == email)
    assert created[0]["headers"]["traceparent"].split("-")[1] == trace_id
    assert created[0]["body"]["traceparent"].split("-")[1] == trace_id


async def test_a_staff_request_is_one_trace_with_the_events_it_causes(
    system, collector, broker: Broker, token
):
    trace_id = secrets.token_hex(16)
    email = f"staff.{uuid.uuid4().hex[:6]}@example.com"
    async with system.service("customers").client() as http:
        r = await http.post(
            "/v1/customers",
            json={"email": email, "first_name": "Ines"},
            headers={"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"},
        )
    assert r.status_code == 201, r.text

    async def reached_all() -> bool:
        spans = collector.of(trace_id)
        return "SERVER" in _kinds(spans, "customers") and all(
            "CONSUMER" in _kinds(spans, s) for s in ("groups", "ledger", "segments")
        )

    await eventually(reached_all, timeout=60)


async def test_without_configuration_nothing_is_traced_or_stamped(system, broker: Broker):
    # a service started without OTEL_* variables: no trace context on what it publishes
    plain = system.processes["customers"]
    plain.stop()
    plain.start()
    email = f"plain.{uuid.uuid4().hex[:6]}@example.com"
    await broker.publish(envelope("order.placed", order_placed(email)))
    created = await broker.wait_for("customer.created", lambda b: b["data"]["email"] == email)
    assert "traceparent" not in created[0]["body"] and "traceparent" not in created[0]["headers"]
