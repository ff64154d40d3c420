"""Customer events -> the set of customers that exist (with what they spent), the groups a new
customer asked to join, leaving groups on erasure, moving memberships on a merge; the personal-data protocol (GDPR)."""

from typing import Annotated

from pydantic import Field

from crm_contracts.envelope import CloudEvent
from crm_contracts.names import EventType
from crm_contracts.outbound import CustomerDeleted, CustomerMerged, PersonalDataRequested
from crm_contracts.types import Contract
from crm_groups.context import Context
from crm_groups.domain import Spend
from crm_servicekit.consumer import EventHandlers

handlers = EventHandlers()


class SeenSpend(Contract):
    currency: Annotated[str, Field(min_length=1, max_length=10)]
    orders: int = Field(ge=0)
    total_spent: int


class SeenStats(Contract):
    per_currency: list[SeenSpend] = Field(default_factory=list, max_length=500)


class CustomerSeen(Contract):
    """The part of `CustomerState` this service needs: which customers exist and what they have
    spent (for group analytics), so a change elsewhere in the customer's state can never make
    its events unprocessable here."""

    id: Annotated[str, Field(min_length=1, max_length=200)]
    version: int = Field(ge=1)
    stats: SeenStats = Field(default_factory=SeenStats)
    # customer.created only: the groups asked for at creation (ids of groups unknown here are
    # skipped, not refused, so they never make the customer's event unprocessable)
    join_group_ids: list[str] = Field(default_factory=list)


@handlers.on(EventType.CUSTOMER_CREATED, CustomerSeen)
@handlers.on(EventType.CUSTOMER_UPDATED, CustomerSeen)
@handlers.on(EventType.CUSTOMER_REGISTERED, CustomerSeen)
async def on_customer_seen(event: CloudEvent[CustomerSeen], ctx: Context) -> None:
    spend: list[Spend] = [
        {"currency": s.currency, "orders": s.orders, "total_spent": s.total_spent}
        for s in event.data.stats.per_currency
    ]
    await ctx.memberships.customer_seen(event.data.id, event.data.version, spend)
    if event.data.join_group_ids:  # asked for at creation, or by a guest's registration
        await ctx.memberships.join_at_creation(event.data.id, event.data.join_group_ids, event.id)


@handlers.on(EventType.CUSTOMER_DELETED, CustomerDeleted)
async def on_customer_deleted(event: CloudEvent[CustomerDeleted], ctx: Context) -> None:
    await ctx.personal_data.erase(event.data.id, event.id)


@handlers.on(EventType.CUSTOMER_MERGED, CustomerMerged)
async def on_customer_merged(event: CloudEvent[CustomerMerged], ctx: Context) -> None:
    await ctx.memberships.customer_merged(event.data.id, event.data.merged_id, event.id)


@handlers.on(EventType.PERSONAL_DATA_REQUESTED, PersonalDataRequested)
async def on_personal_data_requested(event: CloudEvent[PersonalDataRequested], ctx: Context) -> None:
    await ctx.personal_data.collect(event.data.request_id, event.data.customer_id)
