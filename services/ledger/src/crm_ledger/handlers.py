"""Inbound events, one handler per event type: translate the payload, call a use case
(service.customers). Every effect is keyed by the event id, so a redelivered event moves no
money twice; an event naming a customer the ledger cannot know is dead-lettered (Invalid)."""

from crm_contracts.envelope import CloudEvent
from crm_contracts.inbound import OrderCancelled, OrderPlaced, OrderRefunded
from crm_contracts.names import EventType
from crm_contracts.outbound import (
    CustomerDeleted,
    CustomerMerged,
    CustomerState,
    GroupDeleted,
    GroupMembersChanged,
    GroupState,
    PersonalDataRequested,
)
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
    await ctx.personal_data.erase(event.data.id)


@handlers.on(EventType.CUSTOMER_MERGED, CustomerMerged)
async def on_customer_merged(event: CloudEvent[CustomerMerged], ctx: Context) -> None:
    await ctx.customers.merge(event.id, event.data)


@handlers.on(EventType.PERSONAL_DATA_REQUESTED, PersonalDataRequested)
async def on_personal_data_requested(event: CloudEvent[PersonalDataRequested], ctx: Context) -> None:
    await ctx.personal_data.answer(event.data)


@handlers.on(EventType.GROUP_CREATED, GroupState)
@handlers.on(EventType.GROUP_UPDATED, GroupState)
async def on_group_state(event: CloudEvent[GroupState], ctx: Context) -> None:
    await ctx.credit.learn_group(event.data)


@handlers.on(EventType.GROUP_DELETED, GroupDeleted)
async def on_group_deleted(event: CloudEvent[GroupDeleted], ctx: Context) -> None:
    await ctx.credit.group_deleted(event.data.id, event.data.name)


@handlers.on(EventType.GROUP_MEMBERS_ADDED, GroupMembersChanged)
async def on_group_members_added(event: CloudEvent[GroupMembersChanged], ctx: Context) -> None:
    await ctx.credit.members_changed(event.id, event.time, event.data, "added")


@handlers.on(EventType.GROUP_MEMBERS_REMOVED, GroupMembersChanged)
async def on_group_members_removed(event: CloudEvent[GroupMembersChanged], ctx: Context) -> None:
    await ctx.credit.members_changed(event.id, event.time, event.data, "removed")
