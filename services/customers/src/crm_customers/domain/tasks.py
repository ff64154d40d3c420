"""Tasks about a customer, with no I/O: a new task, edits (done sets completed_at), the list
queries with their keyset cursor, and the iCalendar feed of an agent (RFC 5545, `icalendar`).

Lists are in due order (due_at, _id ascending); each filter has an index in
`crm_customers.store.INDEXES["tasks"]` that starts with its equality field."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

import icalendar

from crm_contracts.outbound import TaskState
from crm_customers.domain.documents import Agent, Task, TaskChanges

FEED_EVENT_LENGTH = timedelta(minutes=30)  # a task is a point in time; calendars want a span
FEED_DONE_DAYS = 30  # done tasks stay in the feed this long after completion


def new_task(
    customer_id: str,
    *,
    title: str,
    notes: str | None,
    due_at: datetime,
    assignee_id: str | None,
    now: datetime,
) -> Task:
    return {
        "_id": f"tsk_{uuid4().hex}",
        "version": 1,
        "customer_id": customer_id,
        "title": title,
        "notes": notes,
        "due_at": due_at,
        "assignee_id": assignee_id,
        "status": "open",
        "completed_at": None,
        "created_at": now,
        "updated_at": now,
    }


def edit(task: Task, changes: TaskChanges, now: datetime) -> Task:
    """The task with the fields given set; marking it done records when, reopening clears it."""
    out: Task = {**task}
    if "title" in changes:
        out["title"] = changes["title"]
    if "notes" in changes:
        out["notes"] = changes["notes"]
    if "due_at" in changes:
        out["due_at"] = changes["due_at"]
    if "assignee_id" in changes:
        out["assignee_id"] = changes["assignee_id"]
    if "status" in changes and changes["status"] != task["status"]:
        out["status"] = changes["status"]
        out["completed_at"] = now if changes["status"] == "done" else None
    if out != task:
        out["updated_at"] = max(now, task["updated_at"])
        out["version"] = task["version"] + 1
    return out


def event_state(task: Task) -> TaskState:
    """`data` of task.created / task.updated."""
    return TaskState.model_validate({**task, "id": task["_id"]})


def is_overdue(task: Task, now: datetime) -> bool:
    return task["status"] == "open" and task["due_at"] < now


@dataclass(frozen=True)
class TaskQuery:
    filter: dict[str, Any]
    sort: list[tuple[str, int]]


def query(
    *,
    customer_id: str | None = None,
    assignee_id: str | None = None,
    status: str | None = None,
    overdue_at: datetime | None = None,
    completed_since: datetime | None = None,
    after: tuple[datetime, str] | None = None,
) -> TaskQuery:
    """Tasks in due order. `overdue_at`: open and due before that instant; `completed_since`:
    done since that instant."""
    clauses: list[dict[str, Any]] = []
    for field, value in (("customer_id", customer_id), ("assignee_id", assignee_id)):
        if value is not None:
            clauses.append({field: value})
    if overdue_at is not None:
        clauses += [{"status": "open"}, {"due_at": {"$lt": overdue_at}}]
    elif completed_since is not None:
        clauses += [{"status": "done"}, {"completed_at": {"$gte": completed_since}}]
    elif status is not None:
        clauses.append({"status": status})
    if after is not None:
        at, id_ = after
        clauses.append({"$or": [{"due_at": {"$gt": at}}, {"due_at": at, "_id": {"$gt": id_}}]})
    filt: dict[str, Any] = {"$and": clauses} if len(clauses) > 1 else (clauses[0] if clauses else {})
    return TaskQuery(filt, [("due_at", 1), ("_id", 1)])


def calendar(agent: Agent, tasks: list[Task], customer_names: dict[str, str], now: datetime) -> bytes:
    """The agent's tasks as an RFC 5545 calendar: one VEVENT per task at its due time (apps
    that subscribe to feeds show events, most ignore VTODO); done tasks are marked so."""
    cal = icalendar.Calendar()
    cal.add("prodid", "-//CRM//customers tasks//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", f"CRM tasks: {agent['name']}")
    cal.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    for t in tasks:
        who = customer_names.get(t["customer_id"], t["customer_id"])
        done = t["status"] == "done"
        ev = icalendar.Event()
        ev.add("uid", f"{t['_id']}@crm-customers")
        ev.add("dtstamp", now)
        ev.add("created", t["created_at"])
        ev.add("last-modified", t["updated_at"])
        ev.add("dtstart", t["due_at"])
        ev.add("dtend", t["due_at"] + FEED_EVENT_LENGTH)
        ev.add("summary", f"{'Done: ' if done else ''}{t['title']} ({who})")
        lines = [f"Customer: {who} ({t['customer_id']})"]
        if t["notes"]:
            lines += ["", t["notes"]]
        ev.add("description", "\n".join(lines))
        ev.add("status", "CONFIRMED")
        ev.add("transp", "TRANSPARENT" if done else "OPAQUE")
        cal.add_component(ev)
    return cal.to_ical()
