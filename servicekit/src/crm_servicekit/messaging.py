"""RabbitMQ: the broker, the topology every service shares, and publishing an envelope.

Topology: `crm.events` (durable topic exchange, the contract's) -> `crm.lanes` (headers, bound
with `#`): an event with the AMQP header `crm-lane: bulk` goes on to `crm.bulk` (topic), any
other to `crm.lanes`' alternate exchange `crm.live` (topic). `<service>.events`, a durable
quorum queue per service, is bound to `crm.live` and its bulk lane `<service>.bulk` to
`crm.bulk`, each with the event types the service consumes; both have a delivery limit and
dead-letter to `crm.dead-letter` (direct) -> `<service>.dead-letter`. So the broker itself keeps
bulk traffic out of the live queue, and marketing systems' own queues on `crm.events` see every
event as before. Bulk events that carry only `crmlane: "bulk"` in the envelope (the contract
asks no more of a publisher) reach `<service>.events` and are moved from there into the bulk
lane (crm_servicekit.consumer), so that live events wait only for that move, not for their
handling.
With CRM_PARTITIONS=K, the event types are bound to `<service>.intake` instead, a queue with a
single active consumer that moves live events on, in the order they came, through the service's
consistent-hash exchange `<service>.partitions` into K partition queues `<service>.p<i>`, each
with a single active consumer too (crm_servicekit.partitions).
"""

import json
import logging
from typing import Any

import aio_pika
from faststream.rabbit import (
    Channel,
    ExchangeType,
    QueueType,
    RabbitBroker,
    RabbitExchange,
    RabbitQueue,
)
from faststream.rabbit.schemas.queue import QuorumQueueArgs

from crm_contracts.names import CONTENT_TYPE, DEAD_LETTER_EXCHANGE, EXCHANGE, LANE_HEADER
from crm_servicekit import metrics, tracing
from crm_servicekit.partitions import KEY_HEADER
from crm_servicekit.settings import ServiceSettings

EVENTS = RabbitExchange(EXCHANGE, type=ExchangeType.TOPIC, durable=True)
DEAD_LETTERS = RabbitExchange(DEAD_LETTER_EXCHANGE, type=ExchangeType.DIRECT, durable=True)
LIVE = RabbitExchange("crm.live", type=ExchangeType.TOPIC, durable=True)
BULK = RabbitExchange("crm.bulk", type=ExchangeType.TOPIC, durable=True)
LANES = RabbitExchange(
    "crm.lanes", type=ExchangeType.HEADERS, durable=True, arguments={"alternate-exchange": LIVE.name}
)
BULK_MATCH: dict[str, Any] = {"x-match": "all", LANE_HEADER: "bulk"}


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


def intake_queue(service: str, delivery_limit: int) -> RabbitQueue:
    return _service_queue(f"{service}.intake", service, delivery_limit, single_active=True)


def partition_exchange(service: str) -> RabbitExchange:
    """RabbitMQ's consistent-hash exchange (plugin rabbitmq_consistent_hash_exchange), hashing
    the header the intake sets, so that one customer's events always reach the same partition."""
    return RabbitExchange(
        f"{service}.partitions",
        type=ExchangeType.X_CONSISTENT_HASH,
        durable=True,
        arguments={"hash-header": KEY_HEADER},
    )


def partition_queue(service: str, partition: int, delivery_limit: int) -> RabbitQueue:
    return _service_queue(f"{service}.p{partition}", service, delivery_limit, single_active=True)


def _service_queue(name: str, service: str, delivery_limit: int, single_active: bool = False) -> RabbitQueue:
    arguments: QuorumQueueArgs = {
        "x-delivery-limit": delivery_limit,
        "x-dead-letter-exchange": DEAD_LETTER_EXCHANGE,
        "x-dead-letter-routing-key": service,
        # at-least-once dead-lettering: a dead letter is never lost on the way.
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }
    if single_active:
        arguments["x-single-active-consumer"] = True
    return RabbitQueue(
        name,
        queue_type=QueueType.QUORUM,
        durable=True,
        arguments=arguments,
        # FastStream binds with this key; the service's other event types are bound at start.
        routing_key="crm.internal.never",
    )


def dead_letter_queue(service: str) -> RabbitQueue:
    return RabbitQueue(
        f"{service}.dead-letter", queue_type=QueueType.QUORUM, durable=True, routing_key=service
    )


async def declare_topology(
    broker: RabbitBroker,
    service: str,
    delivery_limit: int,
    routing_keys: list[str],
    partitions: int = 0,
) -> list[int]:
    """Idempotent: exchanges, the service queue with one binding per consumed type, its bulk
    lane, its DLQ and its partitions. Returns the partitions left over from a larger
    CRM_PARTITIONS before: unbound here (no new events reach them), to be drained."""
    # On a channel of our own, not through broker.declare_queue: FastStream keeps the queue
    # objects it declared, and a subscriber then consumes through the one declared first, on
    # the broker's default channel, with its prefetch instead of the subscriber's own.
    channel = await (await broker.connect()).channel()
    try:
        events = await _exchange(channel, EVENTS)
        dead = await _exchange(channel, DEAD_LETTERS)
        live = await _exchange(channel, LIVE)  # before crm.lanes, which names it
        lanes = await _exchange(channel, LANES)
        bulk_exchange = await _exchange(channel, BULK)
        await lanes.bind(events, routing_key="#")
        await bulk_exchange.bind(lanes, arguments=BULK_MATCH)
        # Partitioned, events arrive in the intake, whose single active consumer moves them on
        # in the order they came; otherwise in the events queue. Both are consumed, so that what
        # an earlier setting left in the other one is not lost.
        queue = await declare_queue_on(channel, events_queue(service, delivery_limit))
        intake = await declare_queue_on(channel, intake_queue(service, delivery_limit))
        bulk = await declare_queue_on(channel, bulk_queue(service, delivery_limit))
        bound, unbound = (intake, queue) if partitions else (queue, intake)
        for key in routing_keys:
            await bound.bind(live, routing_key=key)
            await unbound.unbind(live, routing_key=key)
            await bulk.bind(bulk_exchange, routing_key=key)
            # An installation from before the lanes bound the queues to crm.events itself.
            await queue.unbind(events, routing_key=key)
            await intake.unbind(events, routing_key=key)
        dlq = await declare_queue_on(channel, dead_letter_queue(service))
        await dlq.bind(dead, routing_key=service)
        if partitions:
            spread = await _exchange(channel, partition_exchange(service))
            for p in range(partitions):
                part = await declare_queue_on(channel, partition_queue(service, p, delivery_limit))
                await part.bind(spread, routing_key="1")  # the binding key is the partition's weight
    finally:
        await channel.close()
    return await _leftover_partitions(broker, service, partitions)


async def _exchange(
    channel: aio_pika.abc.AbstractChannel, exchange: RabbitExchange
) -> aio_pika.abc.AbstractExchange:
    return await channel.declare_exchange(
        exchange.name, exchange.type.value, durable=exchange.durable, arguments=exchange.arguments
    )


async def declare_queue_on(
    channel: aio_pika.abc.AbstractChannel, queue: RabbitQueue
) -> aio_pika.abc.AbstractQueue:
    return await channel.declare_queue(queue.name, durable=queue.durable, arguments=queue.arguments)


async def _leftover_partitions(broker: RabbitBroker, service: str, start: int) -> list[int]:
    """Partition queues numbered from `start` that exist, each unbound from the partitions
    exchange. Passive declares, each on a channel of its own: a missing queue closes it."""
    found: list[int] = []
    connection = await broker.connect()
    for p in range(start, start + 1024):
        channel = await connection.channel()
        try:
            try:
                queue = await channel.declare_queue(f"{service}.p{p}", passive=True)
            except Exception:  # noqa: BLE001 - aiormq.ChannelNotFoundEntity: no more partitions
                break
            found.append(p)
            try:
                await queue.unbind(f"{service}.partitions", routing_key="1")
            except Exception:  # noqa: BLE001 - not bound (or no exchange): nothing reaches it
                pass
        finally:
            if not channel.is_closed:
                await channel.close()
    return found


async def publish_event(broker: RabbitBroker, envelope: dict[str, Any]) -> None:
    """Publish one stored envelope: persistent, confirmed, message_id = event id.
    `mandatory` is off: an event nobody has bound a queue for yet is not an error."""
    headers: dict[str, Any] = {}
    if envelope.get("crmlane") == "bulk":  # our own bulk work (CSV imports) goes to the lanes
        headers[LANE_HEADER] = "bulk"
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
