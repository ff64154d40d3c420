"""Issue 19: live traffic is not stuck behind bulk traffic. A history import's events, marked
`crmlane: "bulk"` (docs/contract.md), are moved into the service's bulk lane and handled beside
the live queue; a shopper's order published after the whole import is reflected long before the
import is, and every bulk event is still handled once."""

import uuid

from harness import Broker, envelope, order_placed

BULK = 300


async def test_a_live_order_overtakes_a_bulk_backlog_and_nothing_is_lost(system, broker: Broker):
    system.service("customers")
    run = uuid.uuid4().hex[:6]
    for i in range(BULK):
        event = envelope("order.placed", order_placed(f"bulk.{run}.{i}@example.com"))
        await broker.publish({**event, "crmlane": "bulk"})
    live = f"live.{run}@example.com"
    await broker.publish(envelope("order.placed", order_placed(live)))

    def bulk_created() -> list:
        return broker.events("customer.created", lambda b: b["data"]["email"].startswith(f"bulk.{run}."))

    await broker.wait_for("customer.created", lambda b: b["data"]["email"] == live, timeout=60)
    assert len(bulk_created()) < BULK / 2  # the import was still far from done

    await broker.wait_for(
        "customer.created", lambda b: b["data"]["email"].startswith(f"bulk.{run}."), count=BULK, timeout=300
    )
    emails = [e["body"]["data"]["email"] for e in bulk_created()]
    assert len(set(emails)) == BULK
