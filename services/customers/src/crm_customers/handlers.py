"""Inbound events -> customer changes. Every effect is keyed by a natural key or the event id,
and statistics are recomputed from what is stored, so redelivery and reordering change nothing."""

from typing import Any

from crm_contracts.envelope import CloudEvent
from crm_contracts.inbound import (
    NewsletterSubscribed,
    NewsletterUnsubscribed,
    OrderCancelled,
    OrderPlaced,
    OrderRefunded,
)
from crm_contracts.names import EventType
from crm_contracts.outbound import GroupDeleted, GroupMembersChanged
from crm_customers import domain
from crm_customers.operations import Customers, Erased, ms
from crm_servicekit.consumer import EventHandlers

handlers = EventHandlers()


def order_key(source: str, order_id: str) -> str:
    """Order ids are unique per source (docs/contract.md 1.1)."""
    return f"{source}|{order_id}"


@handlers.on(EventType.ORDER_PLACED, OrderPlaced)
async def on_order_placed(event: CloudEvent[OrderPlaced], ctx: Customers) -> None:
    order = event.data
    who = order.customer
    key = order_key(event.source, order.order_id)
    fields = {
        "first_name": who.first_name,
        "last_name": who.last_name,
        "phone": domain.phone_or_none(who.phone),
    }
    for _ in range(3):
        customer_id = await ctx.owner_id(who.email, who.customer_id)
        stored = await ctx.store.record_order(
            {
                "_id": key,
                "order_id": order.order_id,
                "source": event.source,
                "customer_id": customer_id,
                "placed_at": ms(order.placed_at),
                "currency": order.currency,
                "total": order.total,
                "items": [i.model_dump() for i in order.items],
                "shipping_address": order.shipping_address.model_dump() if order.shipping_address else None,
                "billing_address": order.billing_address.model_dump() if order.billing_address else None,
                "store_credit_used": order.store_credit_used,
                "event_id": event.id,
            }
        )
        # A cancellation or refund may have come first: it now belongs to this customer.
        await ctx.store.attach_adjustments(key, stored["customer_id"])
        try:
            await ctx.ensure(stored["customer_id"], who.email, fields, cause=event.id)
            return
        except Erased:
            # The e-mail pointed at a customer erased meanwhile: this order is a new person's.
            await ctx.store.release_email(domain.normalize_email(who.email), stored["customer_id"])
            await ctx.store.orders.delete_one({"_id": key, "customer_id": stored["customer_id"]})
    raise RuntimeError(f"order {key}: its customer keeps being erased")


async def _adjust(ctx: Customers, key: str, adjustment: dict[str, Any]) -> None:
    """A cancellation or refund is stored with its order's customer when the order is here;
    statistics follow now, otherwise when the order arrives (which attaches it then)."""
    order = await ctx.store.order(key)
    fresh = await ctx.store.record_adjustment(
        {**adjustment, "customer_id": order["customer_id"] if order else None}
    )
    if order is not None and not fresh:
        # A redelivery: the first delivery may have stored it before the order was known.
        await ctx.store.attach_adjustments(key, order["customer_id"])
    elif order is None:
        order = await ctx.store.order(key)  # it may have arrived meanwhile: look again
        if order is None:
            return
        await ctx.store.attach_adjustments(key, order["customer_id"])
    await ctx.sync(order["customer_id"])


@handlers.on(EventType.ORDER_CANCELLED, OrderCancelled)
async def on_order_cancelled(event: CloudEvent[OrderCancelled], ctx: Customers) -> None:
    key = order_key(event.source, event.data.order_id)
    await _adjust(
        ctx,
        key,
        {
            "_id": f"{key}|cancelled",
            "order_key": key,
            "kind": "cancelled",
            "at": ms(event.data.cancelled_at),
            "event_id": event.id,
        },
    )


@handlers.on(EventType.ORDER_REFUNDED, OrderRefunded)
async def on_order_refunded(event: CloudEvent[OrderRefunded], ctx: Customers) -> None:
    r = event.data
    key = order_key(event.source, r.order_id)
    await _adjust(
        ctx,
        key,
        {
            "_id": f"{key}|refund|{event.id}",
            "order_key": key,
            "kind": "refunded",
            "at": ms(r.refunded_at),
            "amount": r.amount,
            "currency": r.currency,
            "to_store_credit": r.to_store_credit,
            "event_id": event.id,
        },
    )


@handlers.on(EventType.NEWSLETTER_SUBSCRIBED, NewsletterSubscribed)
async def on_subscribed(event: CloudEvent[NewsletterSubscribed], ctx: Customers) -> None:
    await ctx.set_consent(event.data.email, True, event.data.at, event.source, event.id)


@handlers.on(EventType.NEWSLETTER_UNSUBSCRIBED, NewsletterUnsubscribed)
async def on_unsubscribed(event: CloudEvent[NewsletterUnsubscribed], ctx: Customers) -> None:
    await ctx.set_consent(event.data.email, False, event.data.at, event.source, event.id)


@handlers.on(EventType.GROUP_MEMBERS_ADDED, GroupMembersChanged)
async def on_members_added(event: CloudEvent[GroupMembersChanged], ctx: Customers) -> None:
    for customer_id in event.data.customer_ids:
        await ctx.store.record_membership(event.data.group_id, customer_id, True, ms(event.time), event.id)
        await ctx.sync(customer_id)  # unknown ids: kept, applied if the customer appears


@handlers.on(EventType.GROUP_MEMBERS_REMOVED, GroupMembersChanged)
async def on_members_removed(event: CloudEvent[GroupMembersChanged], ctx: Customers) -> None:
    for customer_id in event.data.customer_ids:
        await ctx.store.record_membership(event.data.group_id, customer_id, False, ms(event.time), event.id)
        await ctx.sync(customer_id)


@handlers.on(EventType.GROUP_DELETED, GroupDeleted)
async def on_group_deleted(event: CloudEvent[GroupDeleted], ctx: Customers) -> None:
    await ctx.store.remove_group(event.data.id)
    members = await ctx.store.members_of(event.data.id)
    for customer_id in members:
        await ctx.sync(customer_id)
