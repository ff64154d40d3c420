"""Events of the customers, groups and ledger services (and storefronts' checkout.abandoned): one function per event type, each
calling the use case of service/profiles.py that changes the customer's profile (and so their
segments). The storefront's order events add one order fact each (service/analytics.py), what
the analytics per period read; personal_data.requested is answered by service/personal_data.py."""

from crm_contracts.envelope import CloudEvent
from crm_contracts.inbound import CheckoutAbandoned, OrderCancelled, OrderPlaced, OrderRefunded
from crm_contracts.names import EventType
from crm_contracts.outbound import (
    CustomerDeleted,
    CustomerMerged,
    CustomerState,
    GroupDeleted,
    GroupMembersChanged,
    GroupState,
    LedgerEntryRecorded,
    PersonalDataRequested,
)
from crm_segments.context import Context
from crm_segments.service import analytics, personal_data, profiles
from crm_servicekit.consumer import EventHandlers

handlers = EventHandlers()


@handlers.on(EventType.CUSTOMER_CREATED, CustomerState)
@handlers.on(EventType.CUSTOMER_UPDATED, CustomerState)
@handlers.on(EventType.CUSTOMER_REGISTERED, CustomerState)
async def on_customer_state(event: CloudEvent[CustomerState], ctx: Context) -> None:
    await profiles.record_customer(ctx.membership, event.data)


@handlers.on(EventType.CUSTOMER_DELETED, CustomerDeleted)
async def on_customer_deleted(event: CloudEvent[CustomerDeleted], ctx: Context) -> None:
    await profiles.erase_customer(ctx.membership, event.data.id)


@handlers.on(EventType.CUSTOMER_MERGED, CustomerMerged)
async def on_customer_merged(event: CloudEvent[CustomerMerged], ctx: Context) -> None:
    await profiles.merge_customer(ctx.membership, event.data.id, event.data.merged_id)


@handlers.on(EventType.GROUP_MEMBERS_ADDED, GroupMembersChanged)
async def on_group_members_added(event: CloudEvent[GroupMembersChanged], ctx: Context) -> None:
    await profiles.add_group_members(ctx.membership, event.data)


@handlers.on(EventType.GROUP_MEMBERS_REMOVED, GroupMembersChanged)
async def on_group_members_removed(event: CloudEvent[GroupMembersChanged], ctx: Context) -> None:
    await profiles.remove_group_members(ctx.membership, event.data)


@handlers.on(EventType.GROUP_CREATED, GroupState)
@handlers.on(EventType.GROUP_UPDATED, GroupState)
async def on_group_state(event: CloudEvent[GroupState], ctx: Context) -> None:
    await profiles.record_group(ctx.membership, event.data)


@handlers.on(EventType.GROUP_DELETED, GroupDeleted)
async def on_group_deleted(event: CloudEvent[GroupDeleted], ctx: Context) -> None:
    await profiles.delete_group(ctx.membership, event.data.id)


@handlers.on(EventType.LEDGER_ENTRY_RECORDED, LedgerEntryRecorded)
async def on_ledger_entry(event: CloudEvent[LedgerEntryRecorded], ctx: Context) -> None:
    await profiles.record_ledger_entry(ctx.membership, event.data)


@handlers.on(EventType.CHECKOUT_ABANDONED, CheckoutAbandoned)
async def on_checkout_abandoned(event: CloudEvent[CheckoutAbandoned], ctx: Context) -> None:
    await profiles.record_checkout(ctx.membership, event.data)


@handlers.on(EventType.ORDER_PLACED, OrderPlaced)
async def on_order_placed(event: CloudEvent[OrderPlaced], ctx: Context) -> None:
    await analytics.record_order(ctx.store, event.data)


@handlers.on(EventType.ORDER_REFUNDED, OrderRefunded)
async def on_order_refunded(event: CloudEvent[OrderRefunded], ctx: Context) -> None:
    await analytics.record_refund(ctx.store, event.id, event.data)


@handlers.on(EventType.ORDER_CANCELLED, OrderCancelled)
async def on_order_cancelled(event: CloudEvent[OrderCancelled], ctx: Context) -> None:
    await analytics.record_cancellation(ctx.store, event.data)


@handlers.on(EventType.PERSONAL_DATA_REQUESTED, PersonalDataRequested)
async def on_personal_data_requested(event: CloudEvent[PersonalDataRequested], ctx: Context) -> None:
    await personal_data.collect(ctx.membership, event.data)
