"""HTTP API of support tickets: thin routes over the Tickets use cases. The staff member
behind a request is the X-CRM-Operator header (servicekit puts it in `logs.operator_var`)."""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response

from crm_engagement.api import paging
from crm_engagement.context import Ctx
from crm_engagement.domain import tickets as rules
from crm_engagement.domain.tickets import TicketDoc, TicketMessage
from crm_engagement.schemas.tickets import (
    InboundIn,
    InboundOut,
    Priority,
    ReplyIn,
    Status,
    TicketIn,
    TicketOut,
    TicketPatch,
    TicketsPage,
)
from crm_servicekit import logs
from crm_servicekit.clock import now_ms
from crm_servicekit.pagination import Cursor, Limit

router = APIRouter(tags=["tickets"])

FilterId = Annotated[str | None, Query(min_length=1, max_length=200)]


def _message(m: TicketMessage) -> dict[str, Any]:
    return {"id": m["_id"], **{k: v for k, v in m.items() if k not in ("_id", "ticket_id")}}


def _ticket(
    t: TicketDoc, *, answered: bool = False, thread: list[TicketMessage] | None = None
) -> dict[str, Any]:
    """`answered`: an outbound message is known even if the ticket's copy does not say so."""
    first = rules.first_response(thread) if thread is not None else t["first_response_at"]
    overdue = rules.is_overdue(t, first, now_ms()) and not answered
    out = {"id": t["_id"], **{k: v for k, v in t.items() if k not in ("_id", "email_key", "priority_rank")}}
    out.update(first_response_at=first, overdue=overdue)
    if thread is not None:
        out["messages"] = [_message(m) for m in thread]
    return out


async def _full(ctx: Any, t: TicketDoc) -> dict[str, Any]:
    return _ticket(t, thread=await ctx.tickets.thread(t["_id"]))


@router.post("/tickets", status_code=201, response_model=TicketOut)
async def create_ticket(body: TicketIn, ctx: Ctx) -> dict[str, Any]:
    """A ticket opened by staff; `body` (what the customer asked) is its first message."""
    doc = await ctx.tickets.create(
        subject=body.subject,
        body=body.body,
        customer_id=body.customer_id,
        email=str(body.email) if body.email else None,
        priority=body.priority,
        assignee_id=body.assignee_id,
        order_ids=body.order_ids,
        operator=logs.operator_var.get(),
    )
    return await _full(ctx, doc)


@router.post(
    "/tickets/inbound",
    response_model=InboundOut,
    responses={
        201: {"model": InboundOut, "description": "A new ticket was opened"},
        404: {"description": "ticket (`ticket_id`) not found"},
    },
)
async def inbound_message(body: InboundIn, ctx: Ctx, response: Response) -> dict[str, Any]:
    """A customer's message from a storefront or a mail gateway: 201 with a new ticket, or 200
    with the ticket it was added to (named by `ticket_id` or a `[tkt_…]` in the subject)."""
    doc, created = await ctx.tickets.inbound(
        customer_id=body.customer_id,
        email=str(body.email) if body.email else None,
        subject=body.subject,
        body=body.body,
        ticket_id=body.ticket_id,
        external_id=body.message_id,
    )
    response.status_code = 201 if created else 200
    return {**await _full(ctx, doc), "created": created}


@router.get("/tickets", response_model=TicketsPage)
async def list_tickets(
    ctx: Ctx,
    status: Status | None = None,
    priority: Priority | None = None,
    assignee_id: FilterId = None,
    customer_id: FilterId = None,
    overdue: bool = False,
    sort: Literal["created", "due", "priority"] = Query(
        "created",
        description="created: newest first; due: first response due soonest; priority: urgent first",
    ),
    limit: Limit = 50,
    cursor: Cursor = None,
) -> dict[str, Any]:
    """`overdue=true`: first response due and not given, while open or pending."""
    order = rules.SORTS[sort]
    listed = await ctx.tickets.list(
        sort=sort,
        status=status,
        priority=priority,
        assignee_id=assignee_id,
        customer_id=customer_id,
        overdue=overdue,
        after=paging.after(cursor, sort, order),
        limit=limit,
    )
    docs, next_cursor = paging.page(listed.tickets, limit, sort, order)
    return {
        "items": [_ticket(t, answered=t["_id"] in listed.answered) for t in docs],
        "next_cursor": next_cursor,
    }


@router.get("/tickets/{ticket_id}", response_model=TicketOut)
async def get_ticket(ticket_id: str, ctx: Ctx) -> dict[str, Any]:
    """The ticket with its thread."""
    return await _full(ctx, await ctx.tickets.get(ticket_id))


@router.patch(
    "/tickets/{ticket_id}",
    response_model=TicketOut,
    responses={409: {"description": "ticket-transition (a status move not allowed)"}},
)
async def change_ticket(ticket_id: str, body: TicketPatch, ctx: Ctx) -> dict[str, Any]:
    """Status (409 for a move not allowed; a closed ticket reopens only by an inbound
    message), priority, assignee, order links (replaced)."""
    return await _full(ctx, await ctx.tickets.change(ticket_id, body.changes()))


@router.post(
    "/tickets/{ticket_id}/messages",
    status_code=201,
    response_model=TicketOut,
    responses={409: {"description": "ticket-closed; ticket-transition (a `status` move not allowed)"}},
)
async def reply(ticket_id: str, body: ReplyIn, ctx: Ctx) -> dict[str, Any]:
    """A staff answer; its author is `author` or the X-CRM-Operator header. The first one
    meets the ticket's first response."""
    doc, _ = await ctx.tickets.reply(
        ticket_id, body=body.body, author=body.author or logs.operator_var.get(), status=body.status
    )
    return await _full(ctx, doc)
