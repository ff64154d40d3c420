"""RabbitMQ: the broker, the topology every service shares, and publishing an envelope.

Topology: `crm.events` (durable topic exchange) -> `<service>.events`, a durable quorum queue
per service bound to the event types it consumes, with a delivery limit and dead-lettering to
`crm.dead-letter` (direct) -> `<service>.dead-letter` (one dead-letter queue per service).
Bulk events (`crmlane: "bulk"`) are moved from `<service>.events` into `<service>.bulk`, the
service's bulk lane (same arguments, fed through the default exchange), so that live events
never wait behind an import's backlog (crm_servicekit.consumer).
"""

import json
import logging
from typing import Any

from faststream.rabbit import (
    Channel,
    ExchangeType,
    QueueType,
    RabbitBroker,
    RabbitExchange,
    RabbitQueue,
)

from crm_contracts.names import CONTENT_TYPE, DEAD_LETTER_EXCHANGE, EXCHANGE
from crm_servicekit import metrics, tracing
from crm_servicekit.settings import ServiceSettings

EVENTS = RabbitExchange(EXCHANGE, type=ExchangeType.TOPIC, durable=True)
DEAD_LETTERS = RabbitExchange(DEAD_LETTER_EXCHANGE, type=ExchangeType.DIRECT, durable=True)


def make_broker(settings: ServiceSettings) -> RabbitBroker:
    return RabbitBroker(
        settings.rabbitmq_url,
        # Explicit prefetch (unlimited otherwise) and publisher confirms on every publish.
        default_channel=Channel(prefetch_count=settings.prefetch_count, publisher_confirms=True),
        app_id=settings.service_name,
        graceful_timeout=15.0,
        # Through the root logger, so FastStream's lines are JSON like ours.
        logger=logging.getLogger("crm.broker"),
        log_level=logging.DEBUG,
    )


def events_queue(service: str, delivery_limit: int) -> RabbitQueue:
    return _service_queue(f"{service}.events", service, delivery_limit)


def bulk_queue(service: str, delivery_limit: int) -> RabbitQueue:
    return _service_queue(f"{service}.bulk", service, delivery_limit)


def _service_queue(name: str, service: str, delivery_limit: int) -> RabbitQueue:
    return RabbitQueue(
        name,
        queue_type=QueueType.QUORUM,
        durable=True,
        arguments={
            "x-delivery-limit": delivery_limit,
            "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
            "x-dead-letter-routing-key": service,
            # at-least-once dead-lettering: a dead letter is never lost on the way.
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        },
        # FastStream binds with this key; the service's other event types are bound at start.
        routing_key="crm.internal.never",
    )


def dead_letter_queue(service: str) -> RabbitQueue:
    return RabbitQueue(
        f"{service}.dead-letter", queue_type=QueueType.QUORUM, durable=True, routing_key=service
    )


async def declare_topology(
    broker: RabbitBroker, service: str, delivery_limit: int, routing_keys: list[str]
) -> None:
    """Idempotent: exchanges, the service queue with one binding per consumed type, its DLQ."""
    events = await broker.declare_exchange(EVENTS)
    dead = await broker.declare_exchange(DEAD_LETTERS)
    queue = await broker.declare_queue(events_queue(service, delivery_limit))
    for key in routing_keys:
        await queue.bind(events, routing_key=key)
    await broker.declare_queue(bulk_queue(service, delivery_limit))  # no binding: fed by the consumer
    dlq = await broker.declare_queue(dead_letter_queue(service))
    await dlq.bind(dead, routing_key=service)


async def publish_event(broker: RabbitBroker, envelope: dict[str, Any]) -> None:
    """Publish one stored envelope: persistent, confirmed, message_id = event id.
    `mandatory` is off: an event nobody has bound a queue for yet is not an error."""
    headers: dict[str, Any] = {}
    with tracing.publishing(envelope, headers):  # fills headers with the trace context
        await broker.publish(
            json.dumps(envelope, separators=(",", ":")).encode(),
            exchange=EVENTS,
            routing_key=envelope["type"],
            persist=True,
            mandatory=False,
            message_id=envelope["id"],
            content_type=CONTENT_TYPE,
            headers=headers or None,
            timeout=10,
        )
    metrics.BROKER_OPERATIONS.labels("publish").inc()
