"""Inbound events -> customer changes: one function per event type, each translating the
payload into a use case. Every effect is keyed by a natural key or the event id, and statistics
are recomputed from what is stored, so redelivery and reordering change nothing."""

from crm_contracts.envelope import CloudEvent
from crm_contracts.inbound import (
    NewsletterSubscribed,
    NewsletterUnsubscribed,
    OrderCancelled,
    OrderPlaced,
    OrderRefunded,
)
from crm_contracts.names import EventType
from crm_contracts.outbound import (
    GroupDeleted,
    GroupMembersChanged,
    PersonalDataCollected,
    PersonalDataErased,
    PreferencesUpdated,
)
from crm_customers.context import Context
from crm_customers.domain.documents import ContactPreference
from crm_servicekit.consumer import EventHandlers

handlers = EventHandlers()


@handlers.on(EventType.ORDER_PLACED, OrderPlaced)
async def on_order_placed(event: CloudEvent[OrderPlaced], ctx: Context) -> None:
    await ctx.customers.record_order(event.source, event.id, event.data)


@handlers.on(EventType.ORDER_CANCELLED, OrderCancelled)
async def on_order_cancelled(event: CloudEvent[OrderCancelled], ctx: Context) -> None:
    await ctx.customers.cancel_order(event.source, event.id, event.data)


@handlers.on(EventType.ORDER_REFUNDED, OrderRefunded)
async def on_order_refunded(event: CloudEvent[OrderRefunded], ctx: Context) -> None:
    await ctx.customers.refund_order(event.source, event.id, event.data)


@handlers.on(EventType.NEWSLETTER_SUBSCRIBED, NewsletterSubscribed)
async def on_subscribed(event: CloudEvent[NewsletterSubscribed], ctx: Context) -> None:
    await ctx.customers.set_consent(event.data.email, True, event.data.at, event.source, event.id)


@handlers.on(EventType.NEWSLETTER_UNSUBSCRIBED, NewsletterUnsubscribed)
async def on_unsubscribed(event: CloudEvent[NewsletterUnsubscribed], ctx: Context) -> None:
    await ctx.customers.set_consent(event.data.email, False, event.data.at, event.source, event.id)


@handlers.on(EventType.PREFERENCES_UPDATED, PreferencesUpdated)
async def on_preferences_updated(event: CloudEvent[PreferencesUpdated], ctx: Context) -> None:
    stated = [
        ContactPreference(topic=p.topic, channel=p.channel, granted=p.granted, at=p.at, source=p.source)
        for p in event.data.preferences
    ]
    await ctx.customers.set_contact_preferences(event.data.customer_id, stated, event.data.at)


@handlers.on(EventType.GROUP_MEMBERS_ADDED, GroupMembersChanged)
async def on_members_added(event: CloudEvent[GroupMembersChanged], ctx: Context) -> None:
    data = event.data
    await ctx.customers.record_membership(
        data.group_id, data.customer_ids, True, event.time, event.id, data.versions
    )


@handlers.on(EventType.GROUP_MEMBERS_REMOVED, GroupMembersChanged)
async def on_members_removed(event: CloudEvent[GroupMembersChanged], ctx: Context) -> None:
    data = event.data
    await ctx.customers.record_membership(
        data.group_id, data.customer_ids, False, event.time, event.id, data.versions
    )


@handlers.on(EventType.GROUP_DELETED, GroupDeleted)
async def on_group_deleted(event: CloudEvent[GroupDeleted], ctx: Context) -> None:
    await ctx.customers.remove_group(event.data.id)


@handlers.on(EventType.PERSONAL_DATA_COLLECTED, PersonalDataCollected)
async def on_personal_data_collected(event: CloudEvent[PersonalDataCollected], ctx: Context) -> None:
    await ctx.personal_data.record_part(event.id, event.data)


@handlers.on(EventType.PERSONAL_DATA_ERASED, PersonalDataErased)
async def on_personal_data_erased(event: CloudEvent[PersonalDataErased], ctx: Context) -> None:
    await ctx.erasures.record_confirmation(event.data)
