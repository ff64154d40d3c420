"""Support tickets, with no I/O: the stored documents, status transitions, the first-response
rule, the reference a mail gateway finds in a reply's subject, and the list queries.

A ticket is versioned (each change an inserted (id, version), store.py); each message of its
thread is a document of its own, inserted once, so two replies at once both land and neither
rewrites the ticket. The first response is the first outbound message: `first_response_at` on
the ticket is only a copy for the overdue list, always recomputed from the messages."""

import hashlib
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, NotRequired, TypedDict

from crm_contracts.outbound import TicketMessageAdded, TicketState
from crm_engagement.domain import keyset
from crm_servicekit.errors import Conflict

Priority = Literal["low", "normal", "high", "urgent"]
Status = Literal["open", "pending", "resolved", "closed"]
Direction = Literal["inbound", "outbound"]
SortName = Literal["created", "due", "priority"]

PRIORITY_RANK: dict[str, int] = {"low": 0, "normal": 1, "high": 2, "urgent": 3}
CUSTOMER = "customer"  # the author of every inbound message

# What staff may set (PATCH); anything else is refused with 409. A closed ticket is final for
# staff: only the customer writing again (an inbound message) opens it.
STAFF_MOVES: dict[str, set[str]] = {
    "open": {"pending", "resolved", "closed"},
    "pending": {"open", "resolved", "closed"},
    "resolved": {"open", "closed"},
    "closed": set(),
}
WAITING = ("open", "pending")  # statuses in which a missing first response is overdue


class TicketDoc(TypedDict):
    _id: str  # tkt_<hex>
    version: int
    subject: str
    customer_id: str | None
    email: str | None
    email_key: str | None
    status: Status
    priority: Priority
    priority_rank: int  # for sorting by priority (urgent highest)
    assignee_id: str | None  # a sales agent id (the customers service owns agents)
    order_ids: list[str]
    channel: Literal["staff", "inbound"]
    first_response_due_at: datetime
    first_response_at: datetime | None  # copy of the first outbound message's time
    created_at: datetime
    updated_at: datetime
    last_message_at: NotRequired[datetime | None]  # every message moves the ticket one version up
    erased: NotRequired[bool]  # the customer was erased (subject, e-mail and texts gone)


class TicketMessage(TypedDict):
    """One message of a ticket's thread, inserted once and never changed."""

    _id: str  # tmsg_<hex>, or derived from the gateway's own message id (a retry adds nothing)
    ticket_id: str
    direction: Direction
    author: str  # the staff member (operator e-mail) or "customer"
    body: str
    at: datetime
    recorded_by: str | None  # staff who noted an inbound message down (a phone call...)


class TicketChanges(TypedDict, total=False):
    status: Status
    priority: Priority
    assignee_id: str | None
    order_ids: list[str]


def ticket_id(external_id: str | None = None) -> str:
    """A new ticket's id; from a gateway's message id it is always the same, so a retried
    inbound call opens one ticket."""
    if external_id is None:
        return f"tkt_{uuid.uuid4().hex}"
    return "tkt_" + hashlib.sha256(f"ticket:{external_id}".encode()).hexdigest()[:32]


def message_id(ticket: str, external_id: str | None = None) -> str:
    if external_id is None:
        return f"tmsg_{uuid.uuid4().hex}"
    return "tmsg_" + hashlib.sha256(f"{ticket}:{external_id}".encode()).hexdigest()[:32]


def new_ticket(
    id_: str,
    *,
    subject: str,
    customer_id: str | None,
    email: str | None,
    email_key: str | None,
    priority: Priority,
    assignee_id: str | None,
    order_ids: list[str],
    channel: Literal["staff", "inbound"],
    now: datetime,
    first_response_hours: float,
) -> TicketDoc:
    return {
        "_id": id_,
        "version": 1,
        "subject": subject,
        "customer_id": customer_id,
        "email": email,
        "email_key": email_key,
        "status": "open",
        "priority": priority,
        "priority_rank": PRIORITY_RANK[priority],
        "assignee_id": assignee_id,
        "order_ids": list(dict.fromkeys(order_ids)),
        "channel": channel,
        "first_response_due_at": now + timedelta(hours=first_response_hours),
        "first_response_at": None,
        "created_at": now,
        "updated_at": now,
        "last_message_at": None,
        "erased": False,
    }


def check_staff_move(ticket: TicketDoc, to: Status) -> None:
    """Raises Conflict (409) if staff may not move the ticket to `to`; staying is allowed."""
    now = ticket["status"]
    if to == now or to in STAFF_MOVES[now]:
        return
    if now == "closed":
        detail = "a closed ticket reopens only when the customer writes again (an inbound message)"
    else:
        allowed = ", ".join(sorted(STAFF_MOVES[now]))
        detail = f"a {now} ticket can move to {allowed}, not {to}"
    raise Conflict("ticket-transition", "Status change not allowed", detail, current=now, requested=to)


def check_reply(ticket: TicketDoc) -> None:
    if ticket["status"] == "closed":
        raise Conflict(
            "ticket-closed",
            "Ticket closed",
            "a closed ticket takes no replies; it reopens when the customer writes again",
        )


def edit(ticket: TicketDoc, changes: TicketChanges, now: datetime) -> TicketDoc:
    """The ticket with `changes` applied (its status move checked), one version up; the same
    ticket if nothing changes."""
    out: TicketDoc = {**ticket}
    if "status" in changes:
        check_staff_move(ticket, changes["status"])
        out["status"] = changes["status"]
    if "priority" in changes:
        out["priority"] = changes["priority"]
        out["priority_rank"] = PRIORITY_RANK[changes["priority"]]
    if "assignee_id" in changes:
        out["assignee_id"] = changes["assignee_id"]
    if "order_ids" in changes:
        out["order_ids"] = list(dict.fromkeys(changes["order_ids"]))
    return _bumped(ticket, out, now)


def after_inbound(ticket: TicketDoc, at: datetime, now: datetime) -> TicketDoc:
    """The customer wrote again (a message at `at`): a pending, resolved or closed ticket
    opens."""
    return _bumped(ticket, {**ticket, "status": "open", "last_message_at": _latest(ticket, at)}, now)


def _latest(ticket: TicketDoc, at: datetime) -> datetime:
    last = ticket.get("last_message_at")
    return at if last is None or at > last else last


def after_reply(
    ticket: TicketDoc,
    first: datetime | None,
    status: Status | None,
    now: datetime,
    at: datetime | None = None,
) -> TicketDoc:
    """Staff answered (a message at `at`): the copy of the first response's time follows the
    messages, and the reply may move the ticket (e.g. to pending: waiting on the customer)."""
    check_reply(ticket)
    out: TicketDoc = {**ticket, "first_response_at": first}
    if at is not None:
        out["last_message_at"] = _latest(ticket, at)
    if status is not None:
        check_staff_move(ticket, status)
        out["status"] = status
    return _bumped(ticket, out, now)


def anonymised(ticket: TicketDoc, now: datetime) -> TicketDoc:
    """The ticket once its customer is erased: no subject, no e-mail; the customer id stays (a
    random id nobody maps to a person any more) with status, times and order links, so that
    ticket counts and response times still add up."""
    return _bumped(
        ticket, {**ticket, "subject": ERASED, "email": None, "email_key": None, "erased": True}, now
    )


ERASED = "(erased)"


def belongs_to(ticket: TicketDoc, customer_id: str, email_key: str | None) -> bool:
    """The customer's ticket: by id, or opened by its e-mail before any id was known."""
    if ticket["customer_id"] is not None:
        return ticket["customer_id"] == customer_id
    return email_key is not None and ticket["email_key"] == email_key


def reattributed(ticket: TicketDoc, customer_id: str, now: datetime) -> TicketDoc:
    """The ticket once its customer was merged into `customer_id` (customer.merged): the kept
    customer's, one version up; the conversation (subject, e-mail, thread) stays as it was."""
    return _bumped(ticket, {**ticket, "customer_id": customer_id}, now)


def state_data(ticket: TicketDoc) -> TicketState:
    """The ticket as ticket.created / ticket.updated carry it."""
    return TicketState(
        id=ticket["_id"],
        version=ticket["version"],
        subject=ticket["subject"],
        customer_id=ticket["customer_id"],
        email=ticket["email"],
        status=ticket["status"],
        priority=ticket["priority"],
        assignee_id=ticket["assignee_id"],
        order_ids=ticket["order_ids"],
        channel=ticket["channel"],
        first_response_due_at=ticket["first_response_due_at"],
        first_response_at=ticket["first_response_at"],
        last_message_at=ticket.get("last_message_at"),
        erased=ticket.get("erased", False),
        created_at=ticket["created_at"],
        updated_at=ticket["updated_at"],
    )


def message_data(message: TicketMessage, ticket_version: int) -> TicketMessageAdded:
    return TicketMessageAdded(
        ticket_id=message["ticket_id"],
        ticket_version=ticket_version,
        message_id=message["_id"],
        direction=message["direction"],
        author=message["author"],
        body=message["body"],
        at=message["at"],
    )


def _bumped(before: TicketDoc, after: TicketDoc, now: datetime) -> TicketDoc:
    if after == before:
        return before
    after["version"] = before["version"] + 1
    after["updated_at"] = max(now, before["updated_at"])
    return after


def first_response(messages: Iterable[TicketMessage]) -> datetime | None:
    """When staff first answered: the earliest outbound message."""
    return min((m["at"] for m in messages if m["direction"] == "outbound"), default=None)


def is_overdue(ticket: TicketDoc, first: datetime | None, now: datetime) -> bool:
    """Its first response is due and not given, while the customer waits (open or pending)."""
    return first is None and ticket["status"] in WAITING and ticket["first_response_due_at"] <= now


_REF = re.compile(r"\[(tkt_[0-9a-f]{32})\]")


def reference(subject: str) -> str | None:
    """The ticket a reply's subject refers to (`Re: Late parcel [tkt_…]`, the last one if
    several); None if there is none."""
    found = _REF.findall(subject)
    return found[-1] if found else None


SORTS: dict[str, list[tuple[str, int]]] = {
    "created": [("created_at", -1), ("_id", -1)],  # newest first
    "due": [("first_response_due_at", 1), ("_id", 1)],  # soonest due first
    "priority": [("priority_rank", -1), ("created_at", 1), ("_id", 1)],  # urgent, oldest first
}


@dataclass(frozen=True)
class TicketQuery:
    filter: dict[str, Any]
    sort: list[tuple[str, int]]


def query(
    *,
    sort: str = "created",
    status: str | None = None,
    priority: str | None = None,
    assignee_id: str | None = None,
    customer_id: str | None = None,
    overdue_at: datetime | None = None,
    after: list[Any] | None = None,
) -> TicketQuery:
    """Tickets matching every filter given, in the named order. `overdue_at`: first response
    due by then and not given (by the ticket's copy: the caller checks the messages too)."""
    clauses: list[dict[str, Any]] = []
    for field, value in (
        ("status", status),
        ("priority", priority),
        ("assignee_id", assignee_id),
        ("customer_id", customer_id),
    ):
        if value is not None:
            clauses.append({field: value})
    if overdue_at is not None:
        clauses += [
            {"first_response_at": None},
            {"first_response_due_at": {"$lte": overdue_at}},
            {"status": {"$in": list(WAITING)}},
        ]
    order = SORTS[sort]
    if after is not None:
        clauses.append(keyset.after(order, after))
    return TicketQuery(keyset.combine(clauses), order)
