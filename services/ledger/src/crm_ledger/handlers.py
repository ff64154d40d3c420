"""Inbound events -> ledger movements, reward points, customer directory.

Every effect is keyed by the event id (record ids, reward causes), so a redelivered event,
or the same event replayed after the inbox was lost, moves no money twice."""

import asyncio
from dataclasses import dataclass

from crm_contracts.envelope import CloudEvent
from crm_contracts.inbound import OrderPlaced, OrderRefunded
from crm_contracts.names import EventType
from crm_contracts.outbound import CustomerDeleted, CustomerState
from crm_ledger.directory import Directory, email_key
from crm_ledger.operations import Ledger, Rewards, derived_id
from crm_servicekit.consumer import EventHandlers, Unprocessable
from crm_servicekit.idempotency import IdempotencyKeys

handlers = EventHandlers()


@dataclass
class Context:
    ledger: Ledger
    rewards: Rewards
    directory: Directory
    idempotency: IdempotencyKeys
    unknown_customer_grace: float = 3.0


async def _customer_id(ctx: Context, customer_id: str | None, email: str) -> str | None:
    return customer_id or await ctx.directory.customer_of(email)


async def _required_customer_id(ctx: Context, customer_id: str | None, email: str, what: str) -> str:
    """The customer an order's money belongs to. Events are handled concurrently, so the
    customer.created that makes an e-mail known may be in flight beside this event: wait
    for it a little before giving up (dead-letter, docs/contract.md §1)."""
    deadline = asyncio.get_running_loop().time() + ctx.unknown_customer_grace
    while True:
        found = await _customer_id(ctx, customer_id, email)
        if found is not None:
            return found
        if asyncio.get_running_loop().time() >= deadline:
            raise Unprocessable(
                f"unknown customer where one is required: {what} names no customer_id and its "
                "e-mail belongs to no customer the ledger knows"
            )
        await asyncio.sleep(0.25)


@handlers.on(EventType.ORDER_PLACED, OrderPlaced)
async def on_order_placed(event: CloudEvent[OrderPlaced], ctx: Context) -> None:
    order = event.data
    customer_id = await _customer_id(ctx, order.customer.customer_id, order.customer.email)
    if order.store_credit_used > 0:
        # Store credit belongs to a known customer; an order that spends some for an e-mail
        # the ledger has never seen can never be booked.
        customer_id = await _required_customer_id(
            ctx,
            order.customer.customer_id,
            order.customer.email,
            f"order {order.order_id} uses store credit but",
        )
        await ctx.ledger.pay_order(customer_id, event.id, order)

    points = ctx.rewards.program.points_for(order.total, order.currency)
    if points <= 0:
        return
    if customer_id is None:
        # The customers service creates this guest from the same order; its customer.created
        # may come after this event. Park the points under the e-mail until then.
        await ctx.directory.park(
            {
                "_id": event.id,
                "email_key": email_key(order.customer.email),
                "order_id": order.order_id,
                "points": points,
            }
        )
        customer_id = await ctx.directory.customer_of(order.customer.email)  # arrived meanwhile?
        if customer_id is None:
            return
        await ctx.rewards.earn(customer_id, points, event.id, order.order_id)
        await ctx.directory.unpark(event.id)
        return
    await ctx.rewards.earn(customer_id, points, event.id, order.order_id)


@handlers.on(EventType.ORDER_REFUNDED, OrderRefunded)
async def on_order_refunded(event: CloudEvent[OrderRefunded], ctx: Context) -> None:
    refund = event.data
    if not refund.to_store_credit:
        return
    customer_id = await _required_customer_id(
        ctx,
        refund.customer.customer_id,
        refund.customer.email,
        f"refund of order {refund.order_id} to store credit",
    )
    await ctx.ledger.record(
        customer_id,
        refund.currency,
        derived_id("ent", "refund", event.id),
        "refund",
        refund.amount,
        order_id=refund.order_id,
        caused_by=event.id,
        description="order refunded to store credit",
    )


async def _learn(event: CloudEvent[CustomerState], ctx: Context) -> None:
    customer = event.data
    if await ctx.directory.customer_of(customer.email) == customer.id:
        # Known already (most customer events are statistics changing): nothing to record,
        # and no points can be parked for an e-mail the ledger already knew.
        return
    await ctx.directory.learn(customer.email, customer.id, customer.version)
    for parked in await ctx.directory.parked_for(customer.email):
        await ctx.rewards.earn(customer.id, parked["points"], parked["_id"], parked.get("order_id"))
        await ctx.directory.unpark(parked["_id"])


for _type in (EventType.CUSTOMER_CREATED, EventType.CUSTOMER_UPDATED, EventType.CUSTOMER_REGISTERED):
    handlers.on(_type, CustomerState)(_learn)


@handlers.on(EventType.CUSTOMER_DELETED, CustomerDeleted)
async def on_customer_deleted(event: CloudEvent[CustomerDeleted], ctx: Context) -> None:
    """Entries are financial records and stay; reasons, operator names, e-mails and stored
    HTTP responses (which repeat them) go."""
    customer_id = event.data.id
    await ctx.ledger.journal.anonymise(customer_id)
    await ctx.directory.forget(customer_id)
    await ctx.idempotency.forget(customer_id)
