"""Merging two customer records (staff): the kept record takes the other's orders (with their
cancellations and refunds), notes, tasks, addresses and tags; the other record goes, its last
version publishing `customer.merged {id, merged_id}`; an audit record says who merged what,
when, and what moved.

The audit record's insert (keyed by the merged record's id) is the claim: a record is merged
away once. The e-mail claim of the merged record points at the kept one before the merged record
goes, so an order arriving meanwhile lands on the kept record (an order stored for the merged
record just before is moved with the others, or finds it gone and is retried on the kept one)."""

from dataclasses import dataclass
from datetime import timedelta

from crm_contracts import new_event
from crm_contracts.names import EventType
from crm_contracts.outbound import CustomerMerged
from crm_customers.domain import merges, tasks
from crm_customers.domain.documents import Customer, CustomerMerge, MergeMoved, Task
from crm_customers.service.customers import Customers
from crm_customers.store import CustomerStore
from crm_servicekit import logs
from crm_servicekit.clock import now_ms
from crm_servicekit.versioned import retry_on_conflict

STALE_MERGE = timedelta(minutes=5)  # a merge started this long ago and not completed: its request died


@dataclass
class Merges:
    store: CustomerStore
    customers: Customers
    source: str

    async def merge(self, kept_id: str, merged_id: str) -> tuple[Customer, CustomerMerge]:
        if kept_id == merged_id:
            raise merges.same_record(kept_id)
        await self.customers.get(kept_id)
        other = await self.customers.get(merged_id)
        audit: CustomerMerge = {
            "_id": merged_id,
            "kept_id": kept_id,
            "merged_id": merged_id,
            "merged_email": other["email"],
            "merged_by": logs.operator_var.get(),
            "started_at": now_ms(),
            "completed_at": None,
            "moved": None,
        }
        if not await self.store.add_merge(audit):
            existing = await self.store.merge_of(merged_id)
            if existing is None or existing["kept_id"] != kept_id or existing["completed_at"] is not None:
                raise merges.already_merged(merged_id, existing["kept_id"] if existing else kept_id)
            if now_ms() - existing["started_at"] < STALE_MERGE:
                raise merges.already_merged(merged_id, kept_id)  # under way in another request
            audit = existing  # the same two, interrupted long ago (its request died): finish it
        await self.store.repoint_email(other["email_key"], merged_id, kept_id)

        async def retire() -> None:
            d = await self.store.get(merged_id)
            if d is None:
                return
            version = d["version"] + 1
            said = CustomerMerged(id=kept_id, merged_id=merged_id, version=version)
            event = new_event(EventType.CUSTOMER_MERGED, self.source, said, subject=kept_id)
            await self.store.commit(merged_id, version, None, [event], None)

        await retry_on_conflict(retire)
        orders, notes = await self.store.move_records(merged_id, kept_id)
        moved_tasks = 0
        for task_id in await self.store.task_ids_of(merged_id):
            moved_tasks += await self._move_task(task_id, merged_id, kept_id)
        added_addresses, added_tags = await self.customers.take_addresses_and_tags(kept_id, other)
        kept = await self.customers.sync(kept_id) or await self.customers.get(kept_id)
        await self.store.forget_merged(merged_id)
        moved: MergeMoved = {
            "orders": orders,
            "notes": notes,
            "tasks": moved_tasks,
            "addresses": added_addresses,
            "tags": added_tags,
        }
        audit = {**audit, "completed_at": now_ms(), "moved": moved}
        await self.store.complete_merge(audit)
        return kept, audit

    async def _move_task(self, task_id: str, from_id: str, to_id: str) -> int:
        async def attempt() -> int:
            task = await self.store.task(task_id)
            if task is None or task["customer_id"] != from_id:
                return 0
            new: Task = {**task, "customer_id": to_id, "version": task["version"] + 1, "updated_at": now_ms()}
            event = new_event(EventType.TASK_UPDATED, self.source, tasks.event_state(new), subject=task_id)
            await self.store.commit_task(task_id, new["version"], new, [event])
            return 1

        done: int = await retry_on_conflict(attempt)
        return done

    async def into(self, kept_id: str) -> list[CustomerMerge]:
        """The records merged into this one, newest first (the audit)."""
        return await self.store.merges_into(kept_id)
