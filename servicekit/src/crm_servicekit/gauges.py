"""Gauges that say how far behind a service is, sampled by a periodic job (`/metrics` then
reports the last sample): the outbox backlog per source, the messages waiting in the service's
queue, its bulk lane and its partitions (consumer lag) and in its dead-letter queue."""

import asyncio

from faststream.rabbit import RabbitBroker, RabbitQueue

from crm_servicekit import metrics
from crm_servicekit.messaging import (
    bulk_queue,
    dead_letter_queue,
    declare_queue_on,
    events_queue,
    partition_queue,
)
from crm_servicekit.outbox import OutboxSource


async def sample(
    broker: RabbitBroker,
    service: str,
    delivery_limit: int,
    sources: list[OutboxSource],
    partitions: int = 0,
) -> None:
    for source in sources:
        # served by the (published, recorded_at) index every outbox source declares
        backlog = await source.collection.count_documents({"published": False})
        metrics.OUTBOX_BACKLOG.labels(source.collection.name).set(backlog)
    queues: list[RabbitQueue] = [
        events_queue(service, delivery_limit),
        bulk_queue(service, delivery_limit),
        dead_letter_queue(service),
        *(partition_queue(service, p, delivery_limit) for p in range(partitions)),
    ]
    # Declaring again with the same arguments changes nothing and answers with the counts. On a
    # channel of its own (messaging.declare_topology says why not through the broker).
    channel = await asyncio.wait_for((await broker.connect()).channel(), 10)  # broker away: next time
    try:
        for queue in queues:
            declared = await declare_queue_on(channel, queue)
            metrics.QUEUE_MESSAGES.labels(queue.name).set(declared.declaration_result.message_count or 0)
    finally:
        await channel.close()
