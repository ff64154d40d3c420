"""Inbound events -> customer changes."""

from dataclasses import dataclass

from crm_contracts import new_event
from crm_contracts.envelope import CloudEvent
from crm_contracts.inbound import OrderPlaced
from crm_contracts.names import EventType
from crm_contracts.types import utcnow
from crm_customers import domain
from crm_customers.store import CustomerStore
from crm_servicekit.consumer import EventHandlers
from crm_servicekit.versioned import AlreadyApplied, retry_on_conflict

handlers = EventHandlers()


@dataclass
class Context:
    store: CustomerStore
    source: str


@handlers.on(EventType.ORDER_PLACED, OrderPlaced)
async def on_order_placed(event: CloudEvent[OrderPlaced], ctx: Context) -> None:
    order = event.data
    customer_id = await ctx.store.claim_email(
        domain.normalize_email(order.customer.email), domain.new_customer_id()
    )

    async def ensure_customer() -> None:
        if await ctx.store.get(customer_id) is not None:
            return
        doc = domain.new_guest(customer_id, order.customer, utcnow())
        created = new_event(
            EventType.CUSTOMER_CREATED, ctx.source, domain.public_view(doc), subject=customer_id
        )
        try:
            await ctx.store.customers.commit(customer_id, 1, doc, [created], cause=event.id)
        except AlreadyApplied:
            pass

    await retry_on_conflict(ensure_customer)
    await ctx.store.record_order(
        {
            "_id": f"{event.source}|{order.order_id}",
            "order_id": order.order_id,
            "source": event.source,
            "customer_id": customer_id,
            "placed_at": order.placed_at,
            "currency": order.currency,
            "total": order.total,
            "items": [i.model_dump() for i in order.items],
            "event_id": event.id,
        }
    )
