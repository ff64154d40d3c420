"""Customer events -> the set of customers that exist, and leaving groups on erasure."""

from typing import Annotated

from pydantic import Field

from crm_contracts.envelope import CloudEvent
from crm_contracts.names import EventType
from crm_contracts.outbound import CustomerDeleted
from crm_contracts.types import Contract
from crm_groups import membership
from crm_groups.context import Context
from crm_servicekit.consumer import EventHandlers

handlers = EventHandlers()


class CustomerSeen(Contract):
    """The part of `CustomerState` this service needs: it only keeps which customers exist,
    so a change elsewhere in the customer's state can never make its events unprocessable here."""

    id: Annotated[str, Field(min_length=1, max_length=200)]
    version: int = Field(ge=1)


async def _seen(event: CloudEvent[CustomerSeen], ctx: Context) -> None:
    await ctx.store.customer_seen(event.data.id, event.data.version)


for _type in (EventType.CUSTOMER_CREATED, EventType.CUSTOMER_UPDATED, EventType.CUSTOMER_REGISTERED):
    handlers.on(_type, CustomerSeen)(_seen)


@handlers.on(EventType.CUSTOMER_DELETED, CustomerDeleted)
async def on_customer_deleted(event: CloudEvent[CustomerDeleted], ctx: Context) -> None:
    await membership.customer_erased(ctx, event.data.id, event.id)
