"""The HTTP request and response models of support tickets."""

from datetime import datetime
from typing import Annotated, Any, Literal

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
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "subject": "Order 10452 arrived damaged",
                    "body": "The box was crushed and one shoe is scuffed. Can I get a replacement?",
                    "customer_id": "cus_7d3f9a2c5b8e4d1fa6c0b2d9e4f71a35",
                    "priority": "high",
                    "assignee_id": "agt_5c2e8f1a9d4b4e7c8a0f3d6b2e9c1a74",
                    "order_ids": ["10452"],
                }
            ]
        }
    )

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
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "email": "maria.silva@example.com",
                    "subject": "Re: [tkt_5a7c9e1b3d2f4a6c8e0b1d3f5a7c9e2b] Order 10452 arrived damaged",
                    "body": "Thank you, a replacement in size 38 would be great.",
                    "message_id": "<CAF3x9q2b7Yk4Lp@mail.example.com>",
                }
            ]
        }
    )

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
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "body": "Sorry about that, Maria! A replacement pair is on its way; you will get the tracking number by e-mail.",
                    "author": "Joana Ferreira",
                    "status": "pending",
                }
            ]
        }
    )

    body: Body
    author: Author | None = Field(default=None, description="Default: the X-CRM-Operator header")
    status: Status | None = Field(default=None, description="Move the ticket too, e.g. pending")


class TicketPatch(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "resolved",
                    "priority": "normal",
                    "assignee_id": "agt_5c2e8f1a9d4b4e7c8a0f3d6b2e9c1a74",
                }
            ]
        }
    )

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


_TICKET_EXAMPLE: dict[str, Any] = {
    "id": "tkt_5a7c9e1b3d2f4a6c8e0b1d3f5a7c9e2b",
    "subject": "Order 10452 arrived damaged",
    "customer_id": "cus_7d3f9a2c5b8e4d1fa6c0b2d9e4f71a35",
    "email": "maria.silva@example.com",
    "priority": "high",
    "assignee_id": "agt_5c2e8f1a9d4b4e7c8a0f3d6b2e9c1a74",
    "order_ids": ["10452"],
    "channel": "inbound",
    "first_response_due_at": "2026-12-02T10:00:00Z",
    "first_response_at": "2026-12-01T11:05:00Z",
    "overdue": False,
    "erased": False,
    "created_at": "2026-12-01T10:00:00Z",
    "version": 2,
    "status": "pending",
    "last_message_at": "2026-12-01T11:05:00Z",
    "updated_at": "2026-12-01T11:05:00Z",
    "messages": [
        {
            "id": "tmsg_9d1f3a5c7e2b4d6f8a0c1e3b5d7f9a2c",
            "direction": "inbound",
            "author": "customer",
            "body": "The box was crushed and one shoe is scuffed. Can I get a replacement?",
            "at": "2026-12-01T10:00:00Z",
        },
        {
            "id": "tmsg_2c4e6a8b0d1f3e5a7c9b2d4f6a8c0e1b",
            "direction": "outbound",
            "author": "Joana Ferreira",
            "body": "Sorry about that, Maria! A replacement pair is on its way; you will get the tracking number by e-mail.",
            "at": "2026-12-01T11:05:00Z",
        },
    ],
}


class TicketOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_TICKET_EXAMPLE]})

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


# the inbound mail that reopened the ticket above
_INBOUND_EXAMPLE = {
    **_TICKET_EXAMPLE,
    "version": 3,
    "status": "open",
    "last_message_at": "2026-12-01T12:30:00Z",
    "updated_at": "2026-12-01T12:30:00Z",
    "created": False,
    "messages": [
        *_TICKET_EXAMPLE["messages"],
        {
            "id": "tmsg_7e9a1c3b5d0f2e4a6c8b1d3f5e7a9c2d",
            "direction": "inbound",
            "author": "customer",
            "body": "Thank you, a replacement in size 38 would be great.",
            "at": "2026-12-01T12:30:00Z",
        },
    ],
}


class InboundOut(TicketOut):
    model_config = ConfigDict(json_schema_extra={"examples": [_INBOUND_EXAMPLE]})

    created: bool = Field(description="True: the message opened this ticket")


class TicketsPage(BaseModel):
    items: list[TicketOut]
    next_cursor: str | None
