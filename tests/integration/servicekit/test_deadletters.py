"""Listing dead letters changes nothing, however often: the messages stay, in the order listed,
and are not counted as delivered again (RabbitMQ 4.0 to 4.2 drop a quorum queue's message after 20
deliveries by default, so a listing that requeued would lose dead letters)."""

import aio_pika

from crm_servicekit.deadletters import list_dead_letters
from harness import Broker, eventually


async def test_listing_often_keeps_every_dead_letter_uncounted(system, broker: Broker):
    system.service("customers")
    for body in (b"{first", b"{second"):
        await broker.publish(body, routing_key="order.placed")

    async def both():
        listed = await list_dead_letters(system.rabbit_url, "customers")
        return listed if len(listed) == 2 else None

    first = await eventually(both, timeout=30)
    for _ in range(5):
        assert await list_dead_letters(system.rabbit_url, "customers") == first

    connection = await aio_pika.connect(system.rabbit_url)
    async with connection:
        queue = await (await connection.channel()).get_queue("customers.dead-letter")
        message = await queue.get(no_ack=False)
        # The order listed is the queue's order, and stays so. (Which of two messages handled
        # side by side is dead-lettered first is not promised.)
        assert message.body.decode() == first[0]["body"]
        assert int((message.headers or {}).get("x-delivery-count", 0) or 0) == 0  # never redelivered
        assert message.headers["x-crm-reason"].startswith("malformed JSON")
        await message.nack(requeue=True)
