"""Creating, editing and deleting groups: load, decide (domain), commit with the events."""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from crm_contracts import new_event
from crm_contracts.names import EventType
from crm_contracts.outbound import GroupDeleted, GroupState
from crm_contracts.types import utcnow
from crm_groups import domain
from crm_groups.context import Context
from crm_servicekit.problems import Problem, conflict, invalid, not_found
from crm_servicekit.versioned import retry_on_conflict


def now() -> datetime:
    """Milliseconds: what MongoDB stores, so a reply and a later read show the same time."""
    t = utcnow()
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


def name_taken(name: str) -> Problem:
    return conflict(
        "group-name-taken",
        "Group name taken",
        f"a group named {domain.clean_name(name)!r} exists (names are case-insensitive)",
    )


def _metadata_problem(e: domain.InvalidMetadata) -> Problem:
    return invalid(str(e), errors=e.errors)


def _state_event(ctx: Context, event_type: str, doc: dict[str, Any], member_count: int) -> dict[str, Any]:
    data = GroupState(**domain.group_view(doc, member_count))
    return new_event(event_type, ctx.source, data, subject=doc["id"])


async def create(ctx: Context, fields: Mapping[str, Any], metadata: Mapping[str, Any]) -> dict[str, Any]:
    try:
        meta = domain.merge_metadata({}, metadata, ctx.metadata_limits)
    except domain.InvalidMetadata as e:
        raise _metadata_problem(e) from None
    group_id = domain.new_group_id()
    doc = domain.new_group(group_id, fields, meta, now())
    if not await ctx.store.claim_name(doc["name_key"], group_id):
        raise name_taken(doc["name"])
    try:
        await ctx.store.groups.commit(group_id, 1, doc, [_state_event(ctx, EventType.GROUP_CREATED, doc, 0)])
    except BaseException:
        await ctx.store.release_name(doc["name_key"], group_id)
        raise
    return domain.group_view(doc, 0)


async def edit(
    ctx: Context, group_id: str, changes: Mapping[str, Any], metadata: Mapping[str, Any] | None
) -> dict[str, Any]:
    claimed: set[str] = set()

    async def attempt() -> dict[str, Any]:
        doc = await ctx.store.get(group_id)
        if doc is None:
            raise not_found("Group", group_id)
        try:
            new = domain.edited(doc, changes, metadata, ctx.metadata_limits, now())
        except domain.InvalidMetadata as e:
            raise _metadata_problem(e) from None
        count = await ctx.store.member_count(group_id)
        if new is None:
            return domain.group_view(doc, count)  # nothing changed: no new version, no event
        if new["name_key"] != doc["name_key"]:
            if not await ctx.store.claim_name(new["name_key"], group_id):
                raise name_taken(new["name"])
            claimed.add(new["name_key"])
        await ctx.store.groups.commit(
            group_id, new["version"], new, [_state_event(ctx, EventType.GROUP_UPDATED, new, count)]
        )
        if doc["name_key"] != new["name_key"]:
            await ctx.store.release_name(doc["name_key"], group_id)
        return domain.group_view(new, count)

    try:
        view = await retry_on_conflict(attempt)
    finally:
        # Names claimed by attempts that lost a race or failed, and not the name now held.
        current = await ctx.store.get(group_id)
        for key in claimed - ({current["name_key"]} if current else set()):
            await ctx.store.release_name(key, group_id)
    return view


async def delete(ctx: Context, group_id: str) -> None:
    """Irreversible. The customers stay; memberships, pricing and metadata go with the group."""
    await ctx.store.deletion_started(group_id)  # lets recovery finish if we crash below

    async def attempt() -> dict[str, Any]:
        doc = await ctx.store.get(group_id)
        if doc is None:
            raise not_found("Group", group_id)
        count = await ctx.store.member_count(group_id)
        data = GroupDeleted(id=group_id, name=doc["name"], members_removed=count)
        event = new_event(EventType.GROUP_DELETED, ctx.source, data, subject=group_id)
        await ctx.store.groups.commit(group_id, doc["version"] + 1, None, [event])
        return doc

    try:
        doc = await retry_on_conflict(attempt)
    except Problem:
        await ctx.store.deletion_done(group_id)
        raise
    await ctx.store.delete_all_members(group_id)
    await ctx.store.release_name(doc["name_key"], group_id)
    await ctx.store.deletion_done(group_id)
