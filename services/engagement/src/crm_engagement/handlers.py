"""Events -> contacts, consent, segment membership, and the automations they trigger."""

from typing import Annotated

from pydantic import Field

from crm_contracts.envelope import CloudEvent
from crm_contracts.inbound import NewsletterSubscribed, NewsletterUnsubscribed, OrderPlaced
from crm_contracts.names import EventType
from crm_contracts.outbound import CustomerDeleted, SegmentMembership
from crm_contracts.types import Contract, UtcDatetime
from crm_engagement.context import Context
from crm_engagement.domain import order_vars
from crm_servicekit.consumer import EventHandlers

handlers = EventHandlers()


class Stats(Contract):
    categories_purchased: list[str] = Field(default_factory=list)


class CustomerSeen(Contract):
    """The part of `CustomerState` this service needs."""

    id: Annotated[str, Field(min_length=1, max_length=200)]
    version: int = Field(ge=1)
    email: Annotated[str, Field(min_length=3, max_length=320)]
    first_name: str | None = None
    last_name: str | None = None
    has_account: bool = False
    email_subscribed: bool = False
    updated_at: UtcDatetime
    stats: Stats = Field(default_factory=Stats)


async def _seen(event: CloudEvent[CustomerSeen], ctx: Context) -> None:
    d = event.data
    contact = await ctx.contacts.customer_seen(
        d.id,
        d.version,
        d.email,
        d.first_name,
        d.last_name,
        d.has_account,
        d.email_subscribed,
        d.stats.categories_purchased[:50],
        d.updated_at,
    )
    # Welcome: an account opened (created with one, or a guest who registered). Its message id
    # derives from the customer, so a redelivery or both events send one welcome.
    wants_welcome = event.type == EventType.CUSTOMER_REGISTERED or (
        event.type == EventType.CUSTOMER_CREATED and d.has_account
    )
    if wants_welcome:
        contact = contact or await ctx.store.contact(d.id)
        if contact is not None:
            await ctx.automations.welcome(contact)


@handlers.on(EventType.CUSTOMER_CREATED, CustomerSeen)
async def on_customer_created(event: CloudEvent[CustomerSeen], ctx: Context) -> None:
    await _seen(event, ctx)


@handlers.on(EventType.CUSTOMER_UPDATED, CustomerSeen)
@handlers.on(EventType.CUSTOMER_REGISTERED, CustomerSeen)
async def on_customer_changed(event: CloudEvent[CustomerSeen], ctx: Context) -> None:
    await _seen(event, ctx)


@handlers.on(EventType.CUSTOMER_DELETED, CustomerDeleted)
async def on_customer_deleted(event: CloudEvent[CustomerDeleted], ctx: Context) -> None:
    await ctx.contacts.customer_erased(event.data.id)


@handlers.on(EventType.NEWSLETTER_SUBSCRIBED, NewsletterSubscribed)
async def on_newsletter_subscribed(event: CloudEvent[NewsletterSubscribed], ctx: Context) -> None:
    await ctx.contacts.record_consent(event.id, event.data.email, True, event.data.at, "newsletter-event")


@handlers.on(EventType.NEWSLETTER_UNSUBSCRIBED, NewsletterUnsubscribed)
async def on_newsletter_unsubscribed(event: CloudEvent[NewsletterUnsubscribed], ctx: Context) -> None:
    await ctx.contacts.record_consent(event.id, event.data.email, False, event.data.at, "newsletter-event")


@handlers.on(EventType.SEGMENT_MEMBER_JOINED, SegmentMembership)
async def on_segment_member_joined(event: CloudEvent[SegmentMembership], ctx: Context) -> None:
    await ctx.contacts.segment_membership(
        event.id, event.data.segment_id, event.data.customer_id, True, event.time
    )


@handlers.on(EventType.SEGMENT_MEMBER_LEFT, SegmentMembership)
async def on_segment_member_left(event: CloudEvent[SegmentMembership], ctx: Context) -> None:
    await ctx.contacts.segment_membership(
        event.id, event.data.segment_id, event.data.customer_id, False, event.time
    )


@handlers.on(EventType.ORDER_PLACED, OrderPlaced)
async def on_order_placed(event: CloudEvent[OrderPlaced], ctx: Context) -> None:
    o = event.data
    await ctx.automations.thank_you(
        event.source,
        o.order_id,
        str(o.customer.email),
        o.customer.customer_id,
        (o.customer.first_name, o.customer.last_name),
        order_vars(o),
    )
