"""Membership changes: bulk add/remove, a customer's erasure, and finishing changes a crash
interrupted.

One change runs as: record it (`membership_ops`) -> claim, note and delete the memberships it
removes (a unique claim per membership: two concurrent removals announce a member once) ->
insert the memberships it adds (unique _id per (group, customer): a member added twice, or by
two concurrent calls, is added once) -> store its events once, keyed by the change id
(`membership_events`, an outbox source). Only the ids that actually changed are in the events.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import uuid4

from crm_contracts import new_event
from crm_contracts.names import EventType
from crm_contracts.outbound import GroupMembersChanged
from crm_contracts.types import utcnow
from crm_groups.context import Context
from crm_groups.domain import chunks

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    added: list[str]
    removed: list[str]


def member_events(
    ctx: Context, group: dict[str, Any], added: list[str], removed: list[str]
) -> list[dict[str, Any]]:
    """group.members.added / removed, split so no message carries more than the configured ids."""
    events = []
    size = ctx.settings.member_event_ids
    for event_type, ids in (
        (EventType.GROUP_MEMBERS_REMOVED, removed),
        (EventType.GROUP_MEMBERS_ADDED, added),
    ):
        for batch in chunks(ids, size):
            data = GroupMembersChanged(
                group_id=group["id"], group_name=group["name"], customer_ids=list(batch)
            )
            events.append(new_event(event_type, ctx.source, data, subject=group["id"]))
    return events


async def change_members(
    ctx: Context, group: dict[str, Any], add: list[str], remove: list[str], op_id: str | None = None
) -> Outcome:
    """Applies one change to `group`'s members. `op_id` is deterministic for changes caused by
    an event, so a redelivery continues (or skips) the same change instead of making a new one."""
    op, fresh = await ctx.store.start_op(
        {
            "_id": op_id or f"op_{uuid4().hex}",
            "group_id": group["id"],
            "group_name": group["name"],
            "add": add,
            "remove": remove,
        }
    )
    if op.get("done"):
        return Outcome([], [])
    return await _apply(ctx, op, recovering=not fresh)


async def _apply(ctx: Context, op: dict[str, Any], recovering: bool) -> Outcome:
    store = ctx.store
    group_id = op["group_id"]
    if await store.op_finished(op["_id"]):  # events stored, only the "done" mark was missing
        await store.finish_op(op["_id"], group_id, 0, 0, [])
        return Outcome([], [])

    if op.get("removing") is not None:
        removing = {r["c"]: r["op"] for r in op["removing"]}
    else:
        present = await store.present_members(group_id, op.get("remove", []))
        removing = await store.claim_removals(group_id, present, op["_id"])
        if removing:
            await store.note_removing(op["_id"], removing)
    await store.delete_memberships(group_id, removing)

    added = await store.insert_members(group_id, op.get("add", []), op["_id"])
    if recovering:  # an interrupted run may have inserted some already: those count as ours
        added = await store.members_added_by(group_id, op["_id"])

    # A customer erased while this change ran must not stay a member: its customer.deleted
    # handling may have swept the group before our insert landed.
    erased = await store.erased_among(added)
    if erased:
        await store.delete_memberships(group_id, {c: op["_id"] for c in erased})
        added = [c for c in added if c not in erased]

    group = await store.get(group_id)
    if group is None:  # deleted meanwhile: its memberships go with it, and nothing is announced
        await store.delete_all_members(group_id)
        await store.finish_op(op["_id"], group_id, 0, 0, [])
        return Outcome([], [])

    removed = list(removing)
    events = member_events(ctx, group, added, removed)
    await store.finish_op(op["_id"], group_id, len(added), len(removed), events)
    return Outcome(added, removed)


async def customer_erased(ctx: Context, customer_id: str, event_id: str) -> None:
    """customer.deleted: the customer leaves every group, each with group.members.removed."""
    await ctx.store.customer_erased(customer_id)  # first: concurrent adds then see it as erased
    for membership in await ctx.store.memberships_of(customer_id):
        group = await ctx.store.get(membership["group_id"])
        if group is None:
            continue  # a group being deleted: its own clean-up removes the membership
        await change_members(ctx, group, [], [customer_id], op_id=f"{event_id}:{group['id']}")


async def recover(ctx: Context) -> None:
    """Finishes what a crashed process left (membership changes, group deletions) and drops
    old records of finished changes."""
    cutoff = utcnow() - timedelta(seconds=ctx.settings.recovery_after_seconds)
    for op in await ctx.store.stale_ops(cutoff):
        log.warning("finishing interrupted membership change %s", op["_id"])
        await _apply(ctx, op, recovering=True)
    for group_id in await ctx.store.stale_deletions(cutoff):
        if await ctx.store.get(group_id) is None:
            log.warning("finishing interrupted deletion of group %s", group_id)
            await ctx.store.delete_all_members(group_id)
        await ctx.store.deletion_done(group_id)
    await ctx.store.prune(utcnow() - timedelta(days=ctx.settings.keep_records_days))
