"""Tasks about a customer: create, edit (done records completed_at), delete, list (per
customer, per assignee, overdue), and an agent's calendar feed. A task is versioned: every
change is an inserted (id, version) with its task.* event (a second writer of the same version
starts again on fresh state); it goes, with a task.deleted, when its customer is erased."""

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from crm_contracts import new_event
from crm_contracts.names import EventType
from crm_contracts.outbound import TaskDeleted
from crm_customers.domain import tasks
from crm_customers.domain.documents import Agent, Task, TaskChanges
from crm_customers.service.agents import assignable
from crm_customers.store import CustomerStore
from crm_servicekit.clock import now_ms, to_ms
from crm_servicekit.errors import Invalid, NotFound
from crm_servicekit.versioned import retry_on_conflict

FEED_LIMIT = 1000  # tasks in one feed, soonest first


def _state_event(type_: str, source: str, task: Task) -> dict[str, Any]:
    return new_event(type_, source, tasks.event_state(task), subject=task["_id"])


async def remove(store: CustomerStore, source: str, task_id: str) -> bool:
    """Deletes the task with its `task.deleted` (False: there was none). The deleted version
    drops the task's older snapshots, so nothing of it stays but its ids."""

    async def attempt() -> bool:
        task = await store.task(task_id)
        if task is None:
            return False
        version = task["version"] + 1
        gone = TaskDeleted(id=task_id, customer_id=task["customer_id"], version=version)
        await store.commit_task(
            task_id, version, None, [new_event(EventType.TASK_DELETED, source, gone, subject=task_id)]
        )
        return True

    done: bool = await retry_on_conflict(attempt)
    return done


async def remove_all_of(store: CustomerStore, source: str, customer_id: str) -> None:
    """Every task of a customer (erasure)."""
    for task_id in await store.task_ids_of(customer_id):
        await remove(store, source, task_id)


@dataclass
class Tasks:
    store: CustomerStore
    source: str

    async def get(self, task_id: str) -> Task:
        task = await self.store.task(task_id)
        if task is None:
            raise NotFound("Task", task_id)
        return task

    async def create(
        self, customer_id: str, *, title: str, notes: str | None, due_at: datetime, assignee_id: str | None
    ) -> Task:
        if await self.store.get(customer_id) is None:
            raise NotFound("Customer", customer_id)
        if assignee_id is not None:
            await assignable(self.store, "assignee_id", assignee_id)
        task = tasks.new_task(
            customer_id, title=title, notes=notes, due_at=to_ms(due_at), assignee_id=assignee_id, now=now_ms()
        )
        await self.store.commit_task(
            task["_id"], 1, task, [_state_event(EventType.TASK_CREATED, self.source, task)]
        )
        return task

    async def edit(self, task_id: str, changes: TaskChanges) -> Task:
        for required in ("title", "due_at", "status"):
            if required in changes and changes.get(required) is None:
                raise Invalid(
                    f"{required} cannot be null", errors=[{"field": required, "message": "cannot be null"}]
                )
        task = await self.get(task_id)
        if "due_at" in changes:
            changes["due_at"] = to_ms(changes["due_at"])
        assignee = changes.get("assignee_id")
        if assignee is not None and assignee != task["assignee_id"]:
            await assignable(self.store, "assignee_id", assignee)

        async def attempt() -> Task:
            current = await self.get(task_id)
            new = tasks.edit(current, changes, now_ms())
            if new == current:
                return current
            event = _state_event(EventType.TASK_UPDATED, self.source, new)
            await self.store.commit_task(task_id, new["version"], new, [event])
            return new

        done: Task = await retry_on_conflict(attempt)
        return done

    async def delete(self, task_id: str) -> None:
        if not await remove(self.store, self.source, task_id):
            raise NotFound("Task", task_id)

    async def feed(self, agent: Agent) -> bytes:
        """The agent's open tasks and those done lately, as an iCalendar document."""
        now = now_ms()
        since = now - timedelta(days=tasks.FEED_DONE_DAYS)
        found = [
            *await self.store.tasks_page(tasks.query(assignee_id=agent["_id"], status="open"), FEED_LIMIT),
            *await self.store.tasks_page(
                tasks.query(assignee_id=agent["_id"], completed_since=since), FEED_LIMIT
            ),
        ]
        ids = sorted({t["customer_id"] for t in found})
        docs = await asyncio.gather(*(self.store.get(i) for i in ids))
        names: dict[str, str] = {}
        for i, d in zip(ids, docs, strict=True):
            if d is not None:
                full = " ".join(p for p in (d["first_name"], d["last_name"]) if p)
                names[i] = full or d["email"]
        return tasks.calendar(agent, found, names, now)
