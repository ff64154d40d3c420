"""Membership changes (bulk add/remove, a customer's erasure, finishing changes a crash
interrupted), the customers this service knows, and reading memberships and pricing.

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
from crm_groups.domain import (
    CustomerGroupView,
    GroupAnalytics,
    GroupDoc,
    MembershipDoc,
    MembershipOp,
    Spend,
    UnknownCustomers,
    applicable_pricing,
    check_change,
    chunks,
    group_analytics,
    group_view,
    unique,
)
from crm_groups.service.groups import Listing, group_or_not_found
from crm_groups.settings import GroupsSettings
from crm_groups.store import GroupStore
from crm_servicekit.errors import Invalid, NotFound

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    """What one change did: only the ids that changed."""

    added: list[str]
    removed: list[str]


@dataclass
class MembersChanged(Outcome):
    member_count: int


@dataclass
class Memberships:
    store: GroupStore
    settings: GroupsSettings

    # --- the customers that exist ------------------------------------------------------------

    async def customer_seen(self, customer_id: str, version: int, spend: list[Spend]) -> None:
        """customer.created / updated / registered: the customer exists, and has spent this."""
        await self.store.customer_seen(customer_id, version, spend)

    async def require_customer(self, customer_id: str) -> None:
        """NotFound for a customer this service does not know (or that was erased)."""
        if not await self.store.customer_exists(customer_id):
            raise NotFound("Customer", customer_id)

    async def customer_erased(self, customer_id: str, event_id: str) -> None:
        """customer.deleted: the customer leaves every group, each with group.members.removed."""
        await self.store.customer_erased(customer_id)  # first: concurrent adds then see it as erased
        for group_id in await self.store.groups_to_leave(f"{event_id}:erase", customer_id):
            group = await self.store.get(group_id)
            if group is None:
                continue  # a group being deleted: its own clean-up removes the membership
            await self._change(group, [], [customer_id], op_id=f"{event_id}:{group['id']}")
        await self.store.forget_leaving(f"{event_id}:erase")

    # --- changing members --------------------------------------------------------------------

    async def change_members(self, group_id: str, add: list[str], remove: list[str]) -> MembersChanged:
        """Adds and removes members in bulk. Idempotent: adding a member or removing a
        non-member changes nothing and announces nothing. Raises Invalid (too many ids, an id
        in both lists), NotFound (the group), UnknownCustomers (ids in `add`)."""
        add, remove = unique(add), unique(remove)
        check_change(add, remove, self.settings.max_bulk_ids)
        group = await group_or_not_found(self.store, group_id)
        unknown = await self.store.unknown_customers(add)
        if unknown:
            raise UnknownCustomers(unknown)
        outcome = await self._change(group, add, remove)
        return MembersChanged(outcome.added, outcome.removed, await self.store.member_count(group_id))

    async def join_at_creation(self, customer_id: str, group_ids: list[str], event_id: str) -> None:
        """customer.created with `join_group_ids`: the customer joins each existing group, announced
        with group.members.added as a staff bulk add is. A group that does not exist (or was
        deleted) is skipped, with a log line. One change per group, its id derived from the
        event's: a redelivered (or concurrently handled) event continues the same change."""
        for group_id in unique(g for g in group_ids if g)[: self.settings.max_join_groups]:
            group = await self.store.get(group_id)
            if group is None:
                log.warning(
                    "customer %s asked at creation to join group %s, which does not exist: skipped",
                    customer_id,
                    group_id,
                )
                continue
            await self._change(group, [customer_id], [], op_id=f"{event_id}:join:{group_id}")

    async def customer_merged(self, kept_id: str, merged_id: str, event_id: str) -> None:
        """customer.merged: the kept customer joins every group the merged one was in (unless a
        member already) and the merged one leaves them, one change per group (one
        group.members.added for the kept, one group.members.removed for the merged), its id
        derived from the event's: a redelivery, or a second replica handling the same event,
        continues the same change. The merged id is marked erased first, so it is refused for
        new memberships from then on (and a concurrent add of it is undone). Raises Invalid
        (the same id kept and merged: the event is dead-lettered)."""
        if kept_id == merged_id:
            raise Invalid("customer.merged with the same id kept and merged")
        await self.store.customer_erased(merged_id)  # first: concurrent adds then see it as gone
        for group_id in await self.store.groups_to_leave(f"{event_id}:merge", merged_id):
            group = await self.store.get(group_id)
            if group is None:
                continue  # a group being deleted: its own clean-up removes the membership
            await self._change(group, [kept_id], [merged_id], op_id=f"{event_id}:merge:{group['id']}")

    def _member_events(
        self, group: GroupDoc, added: dict[str, int], removed: dict[str, int]
    ) -> list[dict[str, Any]]:
        """group.members.added / removed, split so no message carries more than the configured ids;
        each id with the version of its pair's change (`versions`, in the same order)."""
        events = []
        size = self.settings.member_event_ids
        for event_type, changed in (
            (EventType.GROUP_MEMBERS_REMOVED, removed),
            (EventType.GROUP_MEMBERS_ADDED, added),
        ):
            for batch in chunks(list(changed), size):
                data = GroupMembersChanged(
                    group_id=group["id"],
                    group_name=group["name"],
                    customer_ids=list(batch),
                    versions=[changed[c] for c in batch],
                )
                events.append(new_event(event_type, self.settings.source, data, subject=group["id"]))
        return events

    async def _change(
        self, group: GroupDoc, add: list[str], remove: list[str], op_id: str | None = None
    ) -> Outcome:
        """Applies one change to `group`'s members. `op_id` is deterministic for changes caused by
        an event, so a redelivery continues (or skips) the same change instead of making a new one."""
        op, fresh = await self.store.start_op(op_id or f"op_{uuid4().hex}", group, add, remove)
        if op.get("done"):
            return Outcome([], [])
        return await self._apply(op, recovering=not fresh)

    async def _apply(self, op: MembershipOp, recovering: bool) -> Outcome:
        store = self.store
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
        # The versions of these removals, each after its membership's add (settled first).
        removed_v = await store.removal_versions(
            group_id, removing, await store.add_versions(group_id, removing), op["_id"]
        )
        await store.delete_memberships(group_id, removing)

        added = await store.insert_members(group_id, op.get("add", []), op["_id"])
        if recovering or len(added) < len(op.get("add", [])):
            # An interrupted run, or the same change run at this moment by another replica (a
            # duplicate event), may have inserted some: those count as ours, or whichever run
            # records the change first would announce fewer adds than were made.
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

        added_v = await store.add_versions(group_id, {c: op["_id"] for c in added})
        removed = list(removing)
        events = self._member_events(group, added_v, removed_v)
        await store.finish_op(op["_id"], group_id, len(added), len(removed), events)
        return Outcome(added, removed)

    async def finish_interrupted(self) -> None:
        """Finishes what a crashed process left (membership changes, group deletions) and drops
        old records of finished changes."""
        store = self.store
        cutoff = utcnow() - timedelta(seconds=self.settings.recovery_after_seconds)
        for op in await store.stale_ops(cutoff):
            log.warning("finishing interrupted membership change %s", op["_id"])
            await self._apply(op, recovering=True)
        for group_id in await store.stale_deletions(cutoff):
            if await store.get(group_id) is None:
                log.warning("finishing interrupted deletion of group %s", group_id)
                await store.delete_all_members(group_id)
                await store.delete_group_prices(group_id)
            await store.deletion_done(group_id)
        await store.prune(utcnow() - timedelta(days=self.settings.keep_records_days))

    # --- reading -----------------------------------------------------------------------------

    async def list_members(self, group_id: str, after: str | None, limit: int) -> Listing[MembershipDoc]:
        """By customer id (the sort key). The group's existence is checked by the caller."""
        docs = await self.store.members_page(group_id, after, limit + 1)
        page, more = docs[:limit], len(docs) > limit
        return Listing(page, (page[-1]["customer_id"],) if more else None)

    async def groups_of_customer(
        self, customer_id: str, after: str | None, limit: int
    ) -> Listing[CustomerGroupView]:
        """By group id (the sort key). The customer's existence is checked by the caller."""
        rows = await self.store.memberships_of(customer_id, after, limit + 1)
        page, more = rows[:limit], len(rows) > limit
        groups = await self.store.groups_by_id([r["group_id"] for r in page])
        counts = await self.store.member_counts(list(groups))
        items: list[CustomerGroupView] = [
            {**group_view(groups[r["group_id"]], counts.get(r["group_id"], 0)), "added_at": r["added_at"]}
            for r in page
            if r["group_id"] in groups
        ]  # a group being deleted is left out
        return Listing(items, (page[-1]["group_id"],) if more else None)

    async def pricing_of_customer(self, customer_id: str) -> tuple[GroupDoc | None, list[GroupDoc]]:
        """The group whose pricing applies to the customer (None: none has pricing), and every
        group of the customer's with pricing, best first. Raises NotFound (the customer)."""
        await self.require_customer(customer_id)
        rows = await self.store.memberships_of(customer_id)
        groups = await self.store.groups_by_id([r["group_id"] for r in rows])
        return applicable_pricing(groups.values())

    async def analytics(self, group_id: str) -> GroupAnalytics:
        """Members, buyers, orders, total spent and average order of the group's current
        members (their lifetime figures as the customers service counts them). Raises NotFound."""
        await group_or_not_found(self.store, group_id)
        members = await self.store.member_ids(group_id)
        spend = await self.store.spend_of(members)
        return group_analytics(len(members), spend.values())
