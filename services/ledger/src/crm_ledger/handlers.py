"""Inbound events, one handler per event type: translate the payload, call a use case
(service.customers). Every effect is keyed by the event id, so a redelivered event moves no
money twice; an event naming a customer the ledger cannot know is dead-lettered (Invalid)."""

from crm_contracts.envelope import CloudEvent
from crm_contracts.inbound import OrderCancelled, OrderPlaced, OrderRefunded
from crm_contracts.names import EventType
from crm_contracts.outbound import CustomerDeleted, CustomerState
from crm_ledger.context import Context
from crm_servicekit.consumer import EventHandlers

handlers = EventHandlers()


@handlers.on(EventType.ORDER_PLACED, OrderPlaced)
async def on_order_placed(event: CloudEvent[OrderPlaced], ctx: Context) -> None:
    await ctx.customers.record_order(event.id, event.data)


@handlers.on(EventType.ORDER_REFUNDED, OrderRefunded)
async def on_order_refunded(event: CloudEvent[OrderRefunded], ctx: Context) -> None:
    await ctx.customers.record_refund(event.id, event.data)


@handlers.on(EventType.ORDER_CANCELLED, OrderCancelled)
async def on_order_cancelled(event: CloudEvent[OrderCancelled], ctx: Context) -> None:
    await ctx.customers.record_cancellation(event.data)


@handlers.on(EventType.CUSTOMER_CREATED, CustomerState)
@handlers.on(EventType.CUSTOMER_UPDATED, CustomerState)
@handlers.on(EventType.CUSTOMER_REGISTERED, CustomerState)
async def on_customer_state(event: CloudEvent[CustomerState], ctx: Context) -> None:
    await ctx.customers.learn(event.data)


@handlers.on(EventType.CUSTOMER_DELETED, CustomerDeleted)
async def on_customer_deleted(event: CloudEvent[CustomerDeleted], ctx: Context) -> None:
    await ctx.customers.erase(event.data.id)
