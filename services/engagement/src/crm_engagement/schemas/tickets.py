"""The HTTP request and response models of support tickets."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from crm_engagement.domain.tickets import TicketChanges
from crm_servicekit.errors import Invalid

Id = Annotated[str, Field(min_length=1, max_length=200)]
Subject = Annotated[str, Field(min_length=1, max_length=300)]
Body = Annotated[str, Field(min_length=1, max_length=20_000)]
Author = Annotated[str, Field(min_length=1, max_length=320)]
Priority = Literal["low", "normal", "high", "urgent"]
Status = Literal["open", "pending", "resolved", "closed"]
OrderIds = Annotated[list[Id], Field(max_length=100, description="Order ids this ticket is about")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TicketIn(Strict):
    subject: Subject
    body: Body | None = Field(
        default=None, description="What the customer asked: the thread's first message (inbound)"
    )
    customer_id: Id | None = Field(default=None, description="The customer (or `email`, or both)")
    email: EmailStr | None = None
    priority: Priority = "normal"
    assignee_id: Id | None = Field(
        default=None, description="A sales agent id; the customers service owns agents (not checked here)"
    )
    order_ids: OrderIds = Field(default_factory=list)


class InboundIn(Strict):
    customer_id: Id | None = Field(default=None, description="The customer (or `email`, or both)")
    email: EmailStr | None = None
    subject: Subject
    body: Body
    ticket_id: Id | None = Field(
        default=None,
        description="Add to this ticket (the customer's own); without it a `[tkt_…]` reference in "
        "the subject is followed, else a new ticket opens",
    )
    message_id: Id | None = Field(
        default=None,
        description="The gateway's id of this message (e.g. the mail's Message-ID): sent "
        "again, it adds nothing",
    )


class ReplyIn(Strict):
    body: Body
    author: Author | None = Field(default=None, description="Default: the X-CRM-Operator header")
    status: Status | None = Field(default=None, description="Move the ticket too, e.g. pending")


class TicketPatch(Strict):
    status: Status | None = None
    priority: Priority | None = None
    assignee_id: Id | None = Field(default=None, description="null: unassigned")
    order_ids: OrderIds | None = Field(default=None, description="Replaces the ticket's order links")

    def changes(self) -> TicketChanges:
        """The fields sent; null only where it means something (no assignee)."""
        out: TicketChanges = {}
        for field in sorted(self.model_fields_set):
            value = getattr(self, field)
            if value is None and field != "assignee_id":
                raise Invalid(
                    f"{field} cannot be null", errors=[{"field": field, "message": "cannot be null"}]
                )
            out[field] = value  # type: ignore[literal-required]
        return out


class TicketMessageOut(BaseModel):
    id: str
    direction: Literal["inbound", "outbound"]
    author: str = Field(description="The staff member, or `customer`")
    body: str
    at: datetime
    recorded_by: str | None = Field(default=None, description="Staff who noted an inbound message down")


class TicketOut(BaseModel):
    id: str
    version: int
    subject: str
    customer_id: str | None
    email: str | None
    status: Status
    priority: Priority
    assignee_id: str | None
    order_ids: list[str]
    channel: Literal["staff", "inbound"]
    first_response_due_at: datetime
    first_response_at: datetime | None = Field(description="The first outbound message's time")
    overdue: bool = Field(description="First response due and not given, while open or pending")
    last_message_at: datetime | None = None
    erased: bool = Field(default=False, description="The customer was erased: no subject, e-mail or texts")
    created_at: datetime
    updated_at: datetime
    messages: list[TicketMessageOut] | None = Field(
        default=None, description="The thread, oldest first (with a single ticket, not in lists)"
    )


class InboundOut(TicketOut):
    created: bool = Field(description="True: the message opened this ticket")


class TicketsPage(BaseModel):
    items: list[TicketOut]
    next_cursor: str | None
