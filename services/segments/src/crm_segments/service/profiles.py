"""What the events of the customers, groups and ledger services change: the customer's profile
(domain/profiles.py), then, through live membership, the segments the customer is in."""

from crm_contracts.outbound import CustomerState, GroupMembersChanged, GroupState, LedgerEntryRecorded
from crm_segments.domain import profiles
from crm_segments.service.membership import Membership

DELETED_GROUP_VERSION = 1 << 62
"""The version a deleted group is kept under: no group.updated can bring it back."""


async def record_customer(live: Membership, state: CustomerState) -> None:
    """customer.created / .updated / .registered: applied if newer than the profile's version."""
    await live.change_profile(state.id, lambda p: profiles.apply_customer(p, state, live.money))


async def erase_customer(live: Membership, customer_id: str) -> None:
    """customer.deleted: the profile becomes a tombstone and leaves every segment."""
    await live.change_profile(customer_id, profiles.erase)


async def add_group_members(live: Membership, g: GroupMembersChanged) -> None:
    known = await live.store.group(g.group_id)
    if known and known.get("deleted"):
        return  # a late event of a deleted group
    name = known["name"] if known else g.group_name  # group.updated is versioned: it wins
    if known is None:
        await live.store.save_group({"_id": g.group_id, "name": name, "version": 0, "deleted": False})
    for customer_id in g.customer_ids:
        await live.change_profile(customer_id, lambda p: profiles.join_group(p, g.group_id, name))


async def remove_group_members(live: Membership, g: GroupMembersChanged) -> None:
    for customer_id in g.customer_ids:
        await live.change_profile(customer_id, lambda p: profiles.leave_group(p, g.group_id))


async def record_group(live: Membership, g: GroupState) -> None:
    """group.created / .updated (versioned): a new name reaches every member's profile."""
    known = await live.store.group(g.id)
    if known and (known.get("deleted") or known["version"] >= g.version):
        return
    await live.store.save_group({"_id": g.id, "name": g.name, "version": g.version, "deleted": False})
    if known is None or known["name"] != g.name:
        for customer_id in await live.store.customers_in_group(g.id):
            await live.change_profile(customer_id, lambda p: profiles.rename_group(p, g.id, g.name))


async def delete_group(live: Membership, group_id: str) -> None:
    """group.deleted: the group leaves every profile; its late members.added are ignored."""
    known = await live.store.group(group_id)
    await live.store.save_group(
        {
            "_id": group_id,
            "name": known.get("name", "") if known else "",
            "version": DELETED_GROUP_VERSION,
            "deleted": True,
        }
    )
    for customer_id in await live.store.customers_in_group(group_id):
        await live.change_profile(customer_id, lambda p: profiles.leave_group(p, group_id))


async def record_ledger_entry(live: Membership, entry: LedgerEntryRecorded) -> None:
    """ledger.entry.recorded: the store credit of the entry's currency, newest sequence wins."""
    await live.change_profile(entry.customer_id, lambda p: profiles.apply_ledger(p, entry, live.money))
