"""What the events of the customers, groups and ledger services change: the customer's profile
(domain/profiles.py), then, through live membership, the segments the customer is in."""

from functools import partial

from crm_contracts.inbound import CheckoutAbandoned
from crm_contracts.outbound import CustomerState, GroupMembersChanged, GroupState, LedgerEntryRecorded
from crm_contracts.types import email_key
from crm_segments.domain import profiles
from crm_segments.domain.documents import Profile
from crm_segments.service import personal_data
from crm_segments.service.membership import Membership

DELETED_GROUP_VERSION = 1 << 62
"""The version a deleted group is kept under: no group.updated can bring it back."""


async def record_customer(live: Membership, state: CustomerState) -> None:
    """customer.created / .updated / .registered: applied if newer than the profile's version.
    A customer whose e-mail is new to the profile takes the checkouts abandoned under it."""
    before: dict[str, str | None] = {}

    def apply(p: Profile) -> Profile | None:
        before["email_key"] = p.get("email_key")
        return profiles.apply_customer(p, state, live.money)

    changed = await live.change_profile(state.id, apply)
    key, had = email_key(state.email), before.get("email_key")
    # A new e-mail takes the checkouts waiting under it; so does an event that changes nothing
    # (a redelivery, maybe after its first handler stopped before taking them).
    if (had != key) if changed else (had == key):
        await _take_pending_checkouts(live, state.id, key)


async def _take_pending_checkouts(live: Membership, customer_id: str, key: str) -> None:
    pending = await live.store.pending_checkouts_of(key)
    if not pending:
        return
    latest = max(c["abandoned_at"] for c in pending)
    await live.change_profile(customer_id, lambda p: profiles.abandon_checkout(p, latest))
    await live.store.forget_pending_checkouts([c["_id"] for c in pending])


async def record_checkout(live: Membership, checkout: CheckoutAbandoned) -> None:
    """checkout.abandoned: the customer named by id, else the one with that e-mail; a checkout of
    an e-mail no customer has yet waits in `pending_checkouts` for that customer."""
    at = checkout.abandoned_at
    if checkout.customer.customer_id:
        await live.change_profile(checkout.customer.customer_id, lambda p: profiles.abandon_checkout(p, at))
        return
    key = email_key(str(checkout.customer.email))
    customer_id = await live.store.customer_with_email(key)
    if customer_id is None:
        await live.store.keep_pending_checkout(
            {"_id": checkout.checkout_id, "email_key": key, "abandoned_at": at}
        )
        # The customer may have appeared meanwhile, after it looked for pending checkouts: look
        # again now that this one is recorded (one of the two sides sees the other).
        customer_id = await live.store.customer_with_email(key)
        if customer_id is None:
            return
        await _take_pending_checkouts(live, customer_id, key)
        return
    await live.change_profile(customer_id, lambda p: profiles.abandon_checkout(p, at))


async def merge_customer(live: Membership, kept_id: str, merged_id: str) -> None:
    """customer.merged: the merged record no longer exists, so its profile leaves every
    segment (the kept record's own customer.updated brings its new figures), and its order
    facts count for the kept record. Nothing is erased: the person is still a customer."""
    await live.change_profile(merged_id, profiles.erase)
    await live.store.reassign_orders(merged_id, kept_id)


async def erase_customer(live: Membership, customer_id: str) -> None:
    """customer.deleted: the profile becomes a tombstone and leaves every segment; checkouts
    waiting under the customer's e-mail go too; the order facts are kept for the figures under
    an id nobody can trace back. Then personal_data.erased says what was erased (a redelivered
    deletion publishes the first confirmation again)."""
    known = await live.store.profile(customer_id)
    held = known is not None and not known["deleted"]
    segments = sum(m["member"] for m in (await live.store.memberships_of(customer_id)).values())
    # What the e-mail leads to goes first: the tombstone forgets the e-mail, so a redelivery
    # after a stop between the two still finds it.
    key = known.get("email_key") if known else None
    checkouts = []
    if key:
        checkouts = await live.store.pending_checkouts_of(key)
        await live.store.forget_pending_checkouts([c["_id"] for c in checkouts])
    orders = await live.store.anonymise_orders(customer_id, key, personal_data.anonymous_id())
    await live.change_profile(customer_id, profiles.erase)
    await personal_data.confirm_erasure(
        live,
        customer_id,
        {
            "profiles": int(held),
            "memberships": segments if held else 0,
            "orders": orders,
            "pending_checkouts": len(checkouts),
        },
    )


async def add_group_members(live: Membership, g: GroupMembersChanged) -> None:
    known = await live.store.group(g.group_id)
    if known and known.get("deleted"):
        return  # a late event of a deleted group
    name = known["name"] if known else g.group_name  # group.updated is versioned: it wins
    if known is None:
        await live.store.save_group({"_id": g.group_id, "name": name, "version": 0, "deleted": False})
    for customer_id, version in _with_versions(g):
        await live.change_profile(
            customer_id, partial(profiles.join_group, group_id=g.group_id, name=name, version=version)
        )


async def remove_group_members(live: Membership, g: GroupMembersChanged) -> None:
    for customer_id, version in _with_versions(g):
        await live.change_profile(
            customer_id, partial(profiles.leave_group, group_id=g.group_id, version=version)
        )


def _with_versions(g: GroupMembersChanged) -> list[tuple[str, int | None]]:
    """Each customer with the pair's version (None from a publisher that sends none)."""
    if g.versions and len(g.versions) == len(g.customer_ids):
        return list(zip(g.customer_ids, g.versions, strict=True))
    return [(c, None) for c in g.customer_ids]


async def record_group(live: Membership, g: GroupState) -> None:
    """group.created / .updated (versioned): a new name reaches every member's profile."""
    known = await live.store.group(g.id)
    if known and (known.get("deleted") or known["version"] > g.version):
        return
    again = known is not None and known["version"] == g.version
    if not again:
        await live.store.save_group({"_id": g.id, "name": g.name, "version": g.version, "deleted": False})
    # The same version again (a redelivery): its first handling may have stopped part-way
    # through the members, so they are gone through again (each unchanged one costs nothing).
    if known is None or known["name"] != g.name or again:
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
