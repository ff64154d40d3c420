"""CloudEvents 1.0 through the real broker: an event with only the required attributes (no
`time`, no `datacontenttype`), as some producers send it, is processed, not dead-lettered."""

import uuid

from harness import Broker, envelope, order_placed


async def test_an_order_without_time_is_processed(system, broker: Broker):
    system.service("customers")
    email = f"notime.{uuid.uuid4().hex[:6]}@example.com"
    event = envelope("order.placed", order_placed(email))
    del event["time"], event["datacontenttype"]
    await broker.publish(event)

    created = await broker.wait_for("customer.created", lambda b: b["data"]["email"] == email)
    assert created[0]["body"]["data"]["has_account"] is False
