"""Events -> contacts, consent, segment membership, and the automations they trigger; a merge
of two customers moves the merged one's records to the kept one."""

from typing import Annotated

from pydantic import Field

from crm_contracts.envelope import CloudEvent
from crm_contracts.inbound import NewsletterSubscribed, NewsletterUnsubscribed, OrderPlaced
from crm_contracts.names import EventType
from crm_contracts.outbound import (
    CustomerDeleted,
    CustomerMerged,
    PersonalDataRequested,
    SegmentMembership,
    TicketMessageAdded,
)
from crm_contracts.types import Contract, UtcDatetime
from crm_engagement.context import Context
from crm_engagement.domain import order_vars
from crm_servicekit.consumer import EventHandlers

handlers = EventHandlers()


class Stats(Contract):
    categories_purchased: list[str] = Field(default_factory=list)


class ConsentSeen(Contract):
    at: UtcDatetime | None = None


class CustomerSeen(Contract):
    """The part of `CustomerState` this service needs."""

    id: Annotated[str, Field(min_length=1, max_length=200)]
    version: int = Field(ge=1)
    email: Annotated[str, Field(min_length=3, max_length=320)]
    first_name: str | None = None
    last_name: str | None = None
    has_account: bool = False
    email_subscribed: bool = False
    marketing_consent: ConsentSeen | None = None
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
        d.marketing_consent.at if d.marketing_consent else None,
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
    """Erases the contact, anonymises messages, tickets and reviews; personal_data.erased."""
    await ctx.privacy.erase(event.data.id)


@handlers.on(EventType.CUSTOMER_MERGED, CustomerMerged)
async def on_customer_merged(event: CloudEvent[CustomerMerged], ctx: Context) -> None:
    """Moves what the merged customer had here to the kept one; drops the merged contact."""
    await ctx.merges.customer_merged(event.data.id, event.data.merged_id)


@handlers.on(EventType.PERSONAL_DATA_REQUESTED, PersonalDataRequested)
async def on_personal_data_requested(event: CloudEvent[PersonalDataRequested], ctx: Context) -> None:
    """Answers with personal_data.collected: what this service holds about the customer."""
    await ctx.privacy.collect(event.id, event.data.request_id, event.data.customer_id)


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
    await ctx.automations.re_engagement(event.id, event.data.segment_id, event.data.customer_id)


@handlers.on(EventType.SEGMENT_MEMBER_LEFT, SegmentMembership)
async def on_segment_member_left(event: CloudEvent[SegmentMembership], ctx: Context) -> None:
    await ctx.contacts.segment_membership(
        event.id, event.data.segment_id, event.data.customer_id, False, event.time
    )


@handlers.on(EventType.TICKET_MESSAGE_ADDED, TicketMessageAdded)
async def on_ticket_message_added(event: CloudEvent[TicketMessageAdded], ctx: Context) -> None:
    """This service's own event: a staff reply is mailed to the customer, once per reply."""
    d = event.data
    if d.direction != "outbound":
        return
    await ctx.tickets.mail_reply(ctx.messages, d.ticket_id, d.message_id, d.author, d.body)


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
    await ctx.automations.plan_review_request(
        event.source,
        o.order_id,
        str(o.customer.email),
        o.customer.customer_id,
        (o.customer.first_name, o.customer.last_name),
        order_vars(o),
        o.placed_at,
    )
    await ctx.surveys.after_order(o.customer.customer_id, str(o.customer.email))
