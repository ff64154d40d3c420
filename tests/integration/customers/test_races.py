"""Issue 7, part A: the interleaving the database-outage run revealed in the customers service,
replayed deterministically against the real MongoDB-protocol server (in process, no broker).

An order's handler reads the customer's orders and adjustments, then (paused here) commits a
new version. Meanwhile the cancellation of that order is stored and its handler reads the
older version, in which a cancelled ord-2 looks the same as no ord-2. Unless that handler still
sees a change (the version records how many orders and adjustments it was derived from) and
commits, the order's version wins the version race and the cancelled order stays counted."""

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from crm_contracts.envelope import CloudEvent
from crm_contracts.inbound import OrderCancelled, OrderPlaced
from crm_customers.context import Context
from crm_customers.handlers import on_order_cancelled, on_order_placed
from crm_customers.settings import CustomersSettings
from crm_customers.store import CustomerStore
from harness import envelope, order_placed


@pytest.fixture
async def customers(mongo) -> AsyncIterator[Context]:
    name = f"t_races_{uuid.uuid4().hex[:8]}"
    store = CustomerStore(mongo[name], lambda: None)
    for collection, indexes in store.indexes.items():
        for index in indexes:
            await mongo[name][collection].create_indexes([index])
    settings = CustomersSettings.model_construct(source="/storefronts/test", base_currency="EUR")
    yield Context.build(settings, store)
    await mongo.drop_database(name)


async def test_cancellation_stored_while_its_order_is_being_counted_is_not_lost(customers: Context):
    email = f"race.{uuid.uuid4().hex[:6]}@example.com"
    first = CloudEvent[OrderPlaced].model_validate(envelope("order.placed", order_placed(email, "ord-1")))
    second = CloudEvent[OrderPlaced].model_validate(envelope("order.placed", order_placed(email, "ord-2")))
    cancel = CloudEvent[OrderCancelled].model_validate(
        envelope(
            "order.cancelled",
            {"order_id": "ord-2", "cancelled_at": "2026-11-22T11:00:00Z", "customer": {"email": email}},
        )
    )
    await on_order_placed(first, customers)

    store = customers.store
    read, go_on = asyncio.Event(), asyncio.Event()
    order_views = store.order_views

    async def pausing(customer_id: str):  # the order's handler stops between read and commit
        views = await order_views(customer_id)
        if asyncio.current_task() is placing and not read.is_set():
            read.set()
            await go_on.wait()
        return views

    store.order_views = pausing  # type: ignore[method-assign]
    placing = asyncio.create_task(on_order_placed(second, customers))
    await asyncio.wait_for(read.wait(), 30)
    await on_order_cancelled(cancel, customers)
    go_on.set()
    await asyncio.wait_for(placing, 30)

    customer_id = await store.owner_of(email)
    doc = await customers.customers.get(customer_id)  # type: ignore[arg-type]
    assert doc["stats"]["number_of_orders"] == 1
