"""Events of the customers, groups and ledger services -> profile changes -> membership."""

from dataclasses import dataclass

from crm_contracts.envelope import CloudEvent
from crm_contracts.names import EventType
from crm_contracts.outbound import (
    CustomerDeleted,
    CustomerState,
    GroupDeleted,
    GroupMembersChanged,
    GroupState,
    LedgerEntryRecorded,
)
from crm_segments import profiles
from crm_segments.membership import Membership
from crm_segments.money import BaseMoney
from crm_segments.store import SegmentStore
from crm_servicekit.consumer import EventHandlers

handlers = EventHandlers()


@dataclass
class Context:
    store: SegmentStore
    membership: Membership
    money: BaseMoney
    source: str


async def _customer_state(event: CloudEvent[CustomerState], ctx: Context) -> None:
    state = event.data
    await ctx.membership.change_profile(state.id, lambda p: profiles.apply_customer(p, state, ctx.money))


for _type in (EventType.CUSTOMER_CREATED, EventType.CUSTOMER_UPDATED, EventType.CUSTOMER_REGISTERED):
    handlers.on(_type, CustomerState)(_customer_state)


@handlers.on(EventType.CUSTOMER_DELETED, CustomerDeleted)
async def on_customer_deleted(event: CloudEvent[CustomerDeleted], ctx: Context) -> None:
    def erase(p: profiles.Profile) -> profiles.Profile | None:
        return None if p["deleted"] else profiles.erase(p)

    await ctx.membership.change_profile(event.data.id, erase)


@handlers.on(EventType.GROUP_MEMBERS_ADDED, GroupMembersChanged)
async def on_group_members_added(event: CloudEvent[GroupMembersChanged], ctx: Context) -> None:
    g = event.data
    known = await ctx.store.group(g.group_id)
    if known and known.get("deleted"):
        return  # a late event of a deleted group
    name = known["name"] if known else g.group_name  # group.updated is versioned: it wins
    if known is None:
        await ctx.store.save_group({"_id": g.group_id, "name": name, "version": 0, "deleted": False})
    for customer_id in g.customer_ids:
        await ctx.membership.change_profile(customer_id, lambda p: profiles.join_group(p, g.group_id, name))


@handlers.on(EventType.GROUP_MEMBERS_REMOVED, GroupMembersChanged)
async def on_group_members_removed(event: CloudEvent[GroupMembersChanged], ctx: Context) -> None:
    g = event.data
    for customer_id in g.customer_ids:
        await ctx.membership.change_profile(customer_id, lambda p: profiles.leave_group(p, g.group_id))


async def _group_state(event: CloudEvent[GroupState], ctx: Context) -> None:
    g = event.data
    known = await ctx.store.group(g.id)
    if known and (known.get("deleted") or known["version"] >= g.version):
        return
    await ctx.store.save_group({"_id": g.id, "name": g.name, "version": g.version, "deleted": False})
    if known is None or known["name"] != g.name:
        for customer_id in await ctx.store.customers_in_group(g.id):
            await ctx.membership.change_profile(customer_id, lambda p: profiles.rename_group(p, g.id, g.name))


handlers.on(EventType.GROUP_CREATED, GroupState)(_group_state)
handlers.on(EventType.GROUP_UPDATED, GroupState)(_group_state)


@handlers.on(EventType.GROUP_DELETED, GroupDeleted)
async def on_group_deleted(event: CloudEvent[GroupDeleted], ctx: Context) -> None:
    group_id = event.data.id
    known = await ctx.store.group(group_id)
    await ctx.store.save_group(
        {"_id": group_id, "name": (known or {}).get("name", ""), "version": 1 << 62, "deleted": True}
    )
    for customer_id in await ctx.store.customers_in_group(group_id):
        await ctx.membership.change_profile(customer_id, lambda p: profiles.leave_group(p, group_id))


@handlers.on(EventType.LEDGER_ENTRY_RECORDED, LedgerEntryRecorded)
async def on_ledger_entry(event: CloudEvent[LedgerEntryRecorded], ctx: Context) -> None:
    entry = event.data
    await ctx.membership.change_profile(
        entry.customer_id, lambda p: profiles.apply_ledger(p, entry, ctx.money)
    )
