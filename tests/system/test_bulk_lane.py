"""Issue 19: live traffic is not stuck behind bulk traffic. A history import's events, marked
`crmlane: "bulk"` (docs/contract.md), are moved into the service's bulk lane and handled beside
the live queue; a shopper's order published after the whole import is reflected long before the
import is, and every bulk event is still handled once. With the AMQP header `crm-lane: bulk` as
well, the broker puts them in the lane itself: the live queue never holds them."""

import uuid

from harness import Broker, envelope, eventually, order_placed

# What overtakes the live order is about the bulk work in flight when it comes (the lane's
# prefetch, the relay's backlog), not the size of the import: 1,000 leave room on a slow machine.
BULK = 1000


async def test_a_live_order_overtakes_a_bulk_backlog_and_nothing_is_lost(system, broker: Broker):
    system.service("customers")
    run = uuid.uuid4().hex[:6]
    for i in range(BULK):
        event = envelope("order.placed", order_placed(f"bulk.{run}.{i}@example.com"))
        await broker.publish({**event, "crmlane": "bulk"})

    def bulk_created() -> list:
        return broker.events("customer.created", lambda b: b["data"]["email"].startswith(f"bulk.{run}."))

    # The import has been published and moved into the lane; a shopper orders while it is absorbed.
    await eventually(lambda: _moved_into_lane(broker), timeout=60)
    left = BULK - len(bulk_created())
    assert left > BULK / 4, "the backlog was absorbed before the live order; raise BULK"
    live = f"live.{run}@example.com"
    await broker.publish(envelope("order.placed", order_placed(live)))
    [created] = await broker.wait_for("customer.created", lambda b: b["data"]["email"] == live, timeout=60)
    assert "crmlane" not in created["body"] and "crm-lane" not in created["headers"]
    handled_meanwhile = len(bulk_created()) - (BULK - left)
    assert handled_meanwhile < left / 2, f"{handled_meanwhile} of {left} bulk events went first"

    await broker.wait_for(
        "customer.created", lambda b: b["data"]["email"].startswith(f"bulk.{run}."), count=BULK, timeout=300
    )
    emails = [e["body"]["data"]["email"] for e in bulk_created()]
    assert len(set(emails)) == BULK
    # What the import caused is bulk too: the next services take it in their bulk lanes.
    assert all(e["body"]["crmlane"] == "bulk" and e["headers"]["crm-lane"] == "bulk" for e in bulk_created())


async def _moved_into_lane(broker: Broker) -> bool:
    return await broker.queue_depth("customers.events") == 0


async def test_bulk_events_with_the_lane_header_are_routed_by_the_broker_into_the_lane(
    system, broker: Broker
):
    # Stopped, so that the queues show where the broker put each event.
    system.service("customers").stop()
    run = uuid.uuid4().hex[:6]
    before = {q: await broker.queue_depth(q) for q in ("customers.events", "customers.bulk")}
    for i in range(20):
        event = envelope("order.placed", order_placed(f"hdr.{run}.{i}@example.com"))
        await broker.publish({**event, "crmlane": "bulk"}, headers={"crm-lane": "bulk"})
    live = f"hdr-live.{run}@example.com"
    await broker.publish(envelope("order.placed", order_placed(live)))
    assert await broker.queue_depth("customers.bulk") == before["customers.bulk"] + 20
    assert await broker.queue_depth("customers.events") == before["customers.events"] + 1

    system.service("customers")
    created = await broker.wait_for(
        "customer.created", lambda b: b["data"]["email"].startswith(f"hdr.{run}."), count=20, timeout=120
    )
    assert len({e["body"]["data"]["email"] for e in created}) == 20
    await broker.wait_for("customer.created", lambda b: b["data"]["email"] == live, timeout=60)
