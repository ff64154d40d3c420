"""Every HTTP request body and response of the customers API. Invalid input becomes a 422
problem naming the field (servicekit)."""

import csv
import io
import math
from datetime import date, datetime
from typing import Annotated, Any, Literal, cast

from pydantic import BaseModel, ConfigDict, EmailStr, Field, SecretStr, ValidationError, field_validator

from crm_contracts.outbound import CustomerStats
from crm_contracts.types import email_key
from crm_customers.domain.customer import COUNTRIES, normalize_phone, public_view
from crm_customers.domain.documents import (
    Agent,
    Customer,
    Gender,
    ImportJob,
    ImportProblem,
    ImportRow,
    NewAddress,
    Note,
    ProfileChanges,
    Status,
    Task,
    TaskStatus,
)
from crm_customers.domain.stats import OrderStatus, OrderView
from crm_customers.domain.tasks import is_overdue

Name = Annotated[str, Field(min_length=1, max_length=200)]
Text = Annotated[str, Field(max_length=200)]
Tag = Annotated[str, Field(min_length=1, max_length=50)]
MetaValue = Annotated[str, Field(max_length=500)] | int | float | bool | None
Password = Annotated[SecretStr, Field(min_length=8, max_length=256)]
AgentId = Annotated[str, Field(min_length=1, max_length=100)]
GroupId = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")]
ReferralCode = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.:-]+$")]
NoteBody = Annotated[str, Field(min_length=1, max_length=5000)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _phone(value: str | None) -> str | None:
    return None if value is None else normalize_phone(value)


def _birthday(value: date | None) -> date | None:
    if value is not None and not (date(1900, 1, 1) <= value <= date.today()):
        raise ValueError("must be a date between 1900-01-01 and today")
    return value


def _metadata(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is not None:
        if len(value) > 50:
            raise ValueError("at most 50 keys")
        if any(not 1 <= len(k) <= 40 for k in value):
            raise ValueError("keys must have 1 to 40 characters")
        # The database refuses such keys and values (NaN even drops FerretDB's connection).
        if any(k.startswith("$") or "." in k or "\x00" in k for k in value):
            raise ValueError("keys must not start with '$' nor contain '.' or NUL")
        for v in value.values():
            if isinstance(v, float) and not math.isfinite(v):
                raise ValueError("numbers must be finite")
            if isinstance(v, int) and not -(2**63) <= v < 2**63:
                raise ValueError("integers must fit in 64 bits")
    return value


class NoteCreate(_Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "body": "Called about the late delivery of order 10452; offered free shipping on the next order.",
                    "author": "Joana Ferreira",
                }
            ]
        }
    )

    body: NoteBody
    author: Text | None = None


class CustomerFields(_Body):
    first_name: Name | None = None
    last_name: Name | None = None
    phone: Annotated[str, Field(max_length=40)] | None = Field(
        default=None, description="International form; stored as E.164"
    )
    company: Text | None = None
    gender: Gender | None = None
    birthday: date | None = None
    tags: list[Tag] | None = Field(default=None, max_length=100)
    metadata: dict[str, MetaValue] | None = None
    sales_agent_id: AgentId | None = Field(default=None, description="An active agent (`/v1/agents`)")

    @field_validator("phone")
    @classmethod
    def check_phone(cls, v: str | None) -> str | None:
        return _phone(v)

    @field_validator("birthday")
    @classmethod
    def check_birthday(cls, v: date | None) -> date | None:
        return _birthday(v)

    @field_validator("metadata")
    @classmethod
    def check_metadata(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        return _metadata(v)


class CustomerCreate(CustomerFields):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "email": "maria.silva@example.com",
                    "first_name": "Maria",
                    "last_name": "Silva",
                    "phone": "+351912345678",
                    "gender": "female",
                    "birthday": "1988-04-17",
                    "tags": ["vip", "wholesale"],
                    "metadata": {"loyalty_tier": "gold", "store": "lisboa-chiado"},
                    "password": "correct-horse-battery-staple",
                    "email_subscribed": True,
                    "addresses": [
                        {
                            "type": "shipping",
                            "is_default": True,
                            "first_name": "Maria",
                            "last_name": "Silva",
                            "line1": "Rua Garrett 120",
                            "line2": "3.º Esq.",
                            "city": "Lisboa",
                            "postal_code": "1200-205",
                            "country_code": "PT",
                            "phone": "+351912345678",
                        }
                    ],
                    "notes": [{"body": "Prefers delivery after 18:00.", "author": "Joana Ferreira"}],
                    "group_ids": ["grp_9f1c3e5a7b2d4c6e8a0b1d3f5e7c9a2b"],
                    "referred_by": "ANA-7K2Q",
                }
            ]
        }
    )

    email: EmailStr
    has_account: bool = Field(default=True, description="false: record a guest (no account)")
    password: Password | None = Field(
        default=None, description="Registered customers only; hashed with Argon2"
    )
    email_subscribed: bool | None = None
    status: Status = "enabled"
    notes: list[NoteCreate] = Field(default_factory=list, max_length=20, description="Notes to add")
    addresses: list["AddressCreate"] = Field(
        default_factory=list,
        max_length=10,
        description="Addresses to add; each is checked before anything is created",
    )
    group_ids: list[GroupId] = Field(
        default_factory=list,
        max_length=50,
        description="Groups to join: carried as `join_group_ids` on customer.created, which the "
        "groups service applies (group.members.added); not for a guest's registration",
    )
    referred_by: ReferralCode | None = Field(
        default=None, description="The referral code the customer arrived with (on every customer event)"
    )


class CustomerPatch(CustomerFields):
    """Only the fields given change; null clears an optional field. Metadata is merged key by
    key (a null value removes that key)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "last_name": "Silva Costa",
                    "phone": "+351 912 345 678",
                    "tags": ["vip"],
                    "metadata": {"loyalty_tier": "platinum"},
                    "email_subscribed": False,
                }
            ]
        }
    )

    email: EmailStr | None = None
    status: Status | None = None
    email_subscribed: bool | None = None


class AddressFields(_Body):
    first_name: Text | None = None
    last_name: Text | None = None
    company: Text | None = None
    line2: Text | None = None
    province: Text | None = None
    postal_code: Annotated[str, Field(max_length=20)] | None = None
    phone: Annotated[str, Field(max_length=40)] | None = None

    @field_validator("phone")
    @classmethod
    def check_phone(cls, v: str | None) -> str | None:
        return _phone(v)

    @field_validator("country_code", check_fields=False)
    @classmethod
    def check_country(cls, v: str | None) -> str | None:
        if v is not None and v.upper() not in COUNTRIES:
            raise ValueError("not an ISO 3166-1 alpha-2 country code")
        return None if v is None else v.upper()


class AddressCreate(AddressFields):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": "billing",
                    "is_default": True,
                    "first_name": "Maria",
                    "last_name": "Silva",
                    "company": "Silva & Filhos Lda",
                    "line1": "Avenida da Liberdade 245",
                    "line2": "4.º andar",
                    "city": "Lisboa",
                    "province": "Lisboa",
                    "postal_code": "1250-143",
                    "country_code": "PT",
                    "phone": "+351213456789",
                }
            ]
        }
    )

    type: Literal["shipping", "billing"]
    is_default: bool = False
    line1: Annotated[str, Field(min_length=1, max_length=200)]
    city: Annotated[str, Field(min_length=1, max_length=200)]
    country_code: Annotated[str, Field(min_length=2, max_length=2)]


CustomerCreate.model_rebuild()  # its `addresses` are AddressCreate, defined after it


class AddressPatch(AddressFields):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"line2": "5.º andar", "postal_code": "1250-144", "is_default": True}]
        }
    )

    type: Literal["shipping", "billing"] | None = None
    is_default: bool | None = None
    line1: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    city: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    country_code: Annotated[str, Field(min_length=2, max_length=2)] | None = None


class NotePatch(_Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "body": "Called about the late delivery of order 10452; free shipping on the next order accepted.",
                    "edited_by": "Joana Ferreira",
                }
            ]
        }
    )

    body: NoteBody
    edited_by: Text | None = Field(default=None, description="Who edits it (kept as `edited_by`)")


class Authenticate(_Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"email": "maria.silva@example.com", "password": "correct-horse-battery-staple"}]
        }
    )

    email: EmailStr
    password: Annotated[SecretStr, Field(min_length=1, max_length=256)]


class BulkTags(_Body):
    """Tags added to and removed from each customer given (removal wins for a tag in both)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "customer_ids": [
                        "cus_7d3f9a2c5b8e4d1fa6c0b2d9e4f71a35",
                        "cus_b41e6c09d27a4f8e9c3d5a1f0e7b2c68",
                    ],
                    "add": ["black-friday-2026"],
                    "remove": ["prospect"],
                }
            ]
        }
    )

    customer_ids: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        min_length=1, max_length=1000
    )
    add: list[Tag] = Field(default_factory=list, max_length=100)
    remove: list[Tag] = Field(default_factory=list, max_length=100)


class BulkTagsResult(BaseModel):
    updated: list[str] = Field(description="Customers whose tags changed (each published customer.updated)")
    unchanged: list[str]
    not_found: list[str]


class CustomerCount(BaseModel):
    count: int = Field(description="Customers matching the filters")


class TagCount(BaseModel):
    tag: str
    customers: int


class AgentCreate(_Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"name": "Joana Ferreira", "email": "joana.ferreira@example.com", "active": True}]
        }
    )

    name: Name
    email: EmailStr
    active: bool = True


class AgentPatch(_Body):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"name": "Joana Ferreira Santos", "active": False}]}
    )

    name: Name | None = None
    email: EmailStr | None = None
    active: bool | None = None


class AgentOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "agt_5c2e8f1a9d4b4e7c8a0f3d6b2e9c1a74",
                    "name": "Joana Ferreira",
                    "email": "joana.ferreira@example.com",
                    "active": True,
                    "calendar_feed": False,
                    "created_at": "2026-11-02T08:15:00Z",
                    "updated_at": "2026-11-02T08:15:00Z",
                }
            ]
        }
    )

    id: str
    name: str
    email: str
    active: bool
    calendar_feed: bool = Field(description="Whether a calendar feed secret exists")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, a: Agent) -> "AgentOut":
        return cls(
            id=a["_id"],
            name=a["name"],
            email=a["email"],
            active=a["active"],
            calendar_feed=a["calendar_token_sha256"] is not None,
            created_at=a["created_at"],
            updated_at=a["updated_at"],
        )


class CalendarFeed(BaseModel):
    """The agent's feed: shown once (only its hash is stored); a new one revokes the old."""

    path: str = Field(description="Path of the feed on this service; the secret is part of it")
    url: str | None = Field(default=None, description="Full URL, when CRM_CUSTOMERS_PUBLIC_URL is set")
    token: str


def _utc(value: datetime | None) -> datetime | None:
    if value is not None and (value.tzinfo is None or value.utcoffset() is None):
        raise ValueError("must have a timezone (UTC: ...Z)")
    return value


class TaskCreate(_Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "title": "Call back about the late delivery",
                    "notes": "Order 10452: check with the carrier first.",
                    "due_at": "2026-12-03T10:00:00Z",
                    "assignee_id": "agt_5c2e8f1a9d4b4e7c8a0f3d6b2e9c1a74",
                }
            ]
        }
    )

    title: Name
    notes: Annotated[str, Field(max_length=5000)] | None = None
    due_at: datetime = Field(description="Date and time with a timezone; stored in UTC")
    assignee_id: AgentId | None = Field(default=None, description="An active agent")

    @field_validator("due_at")
    @classmethod
    def check_due(cls, v: datetime) -> datetime | None:
        return _utc(v)


class TaskPatch(_Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"status": "done", "notes": "Customer accepted free shipping on the next order."}]
        }
    )

    title: Name | None = None
    notes: Annotated[str, Field(max_length=5000)] | None = None
    due_at: datetime | None = None
    assignee_id: AgentId | None = None
    status: TaskStatus | None = Field(default=None, description="`done` records completed_at")

    @field_validator("due_at")
    @classmethod
    def check_due(cls, v: datetime | None) -> datetime | None:
        return _utc(v)


class TaskOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "tsk_6b8d0f2a4c6e4b1d3f5a7c9e1b3d5f7a",
                    "version": 2,
                    "customer_id": "cus_7d3f9a2c5b8e4d1fa6c0b2d9e4f71a35",
                    "title": "Call back about the late delivery",
                    "notes": "Order 10452: check with the carrier first.",
                    "due_at": "2026-12-03T10:00:00Z",
                    "assignee_id": "agt_5c2e8f1a9d4b4e7c8a0f3d6b2e9c1a74",
                    "status": "done",
                    "overdue": False,
                    "completed_at": "2026-12-02T15:40:00Z",
                    "created_at": "2026-12-01T10:00:00Z",
                    "updated_at": "2026-12-02T15:40:00Z",
                }
            ]
        }
    )

    id: str
    version: int = Field(description="Incremented by every change (task.* events carry it)")
    customer_id: str
    title: str
    notes: str | None
    due_at: datetime
    assignee_id: str | None
    status: TaskStatus
    overdue: bool = Field(description="Open and due before now")
    completed_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, t: Task, now: datetime) -> "TaskOut":
        return cls(
            id=t["_id"],
            version=t["version"],
            customer_id=t["customer_id"],
            title=t["title"],
            notes=t["notes"],
            due_at=t["due_at"],
            assignee_id=t["assignee_id"],
            status=t["status"],
            overdue=is_overdue(t, now),
            completed_at=t["completed_at"],
            created_at=t["created_at"],
            updated_at=t["updated_at"],
        )


class PasswordSet(_Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"password": "a-new-longer-passphrase", "current_password": "correct-horse-battery-staple"}
            ]
        }
    )

    password: Password
    current_password: SecretStr | None = Field(
        default=None, description="When given, it must match the password set now"
    )


# Responses (what GET returns; also the OpenAPI documentation)


_ADDRESS_EXAMPLE: dict[str, Any] = {
    "id": "addr_2a4c6e8f0b1d4a3c5e7f9b2d4a6c8e0f",
    "type": "shipping",
    "is_default": True,
    "first_name": "Maria",
    "last_name": "Silva",
    "line1": "Rua Garrett 120",
    "line2": "3.º Esq.",
    "city": "Lisboa",
    "postal_code": "1200-205",
    "country_code": "PT",
    "phone": "+351912345678",
    "created_at": "2026-11-14T09:32:05Z",
}


class AddressOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_ADDRESS_EXAMPLE]})

    id: str
    type: Literal["shipping", "billing"]
    is_default: bool
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    line1: str
    line2: str | None = None
    city: str
    province: str | None = None
    postal_code: str | None = None
    country_code: str
    phone: str | None = None
    created_at: datetime | None = None
    from_order: str | None = Field(default=None, description="Learned from this order (<source>|<order_id>)")


class Consent(BaseModel):
    state: Literal["subscribed", "unsubscribed", "not_set"]
    at: datetime | None = None
    source: str | None = Field(default=None, description="Who stated it: an event source, or `api`")


class ContactPreferenceOut(BaseModel):
    topic: Literal["newsletter", "offers", "product_news"]
    channel: Literal["email", "sms"]
    granted: bool
    at: datetime | None = None
    source: str | None = None


class CustomerOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "cus_7d3f9a2c5b8e4d1fa6c0b2d9e4f71a35",
                    "version": 4,
                    "email": "maria.silva@example.com",
                    "first_name": "Maria",
                    "last_name": "Silva",
                    "phone": "+351912345678",
                    "gender": "female",
                    "birthday": "1988-04-17",
                    "has_account": True,
                    "registered_at": "2026-11-14T09:32:05Z",
                    "status": "enabled",
                    "tags": ["vip", "wholesale"],
                    "email_subscribed": True,
                    "marketing_consent": {
                        "state": "subscribed",
                        "at": "2026-11-14T09:32:05Z",
                        "source": "api",
                    },
                    "metadata": {"loyalty_tier": "gold", "store": "lisboa-chiado"},
                    "addresses": [_ADDRESS_EXAMPLE],
                    "group_ids": ["grp_9f1c3e5a7b2d4c6e8a0b1d3f5e7c9a2b"],
                    "sales_agent_id": "agt_5c2e8f1a9d4b4e7c8a0f3d6b2e9c1a74",
                    "referred_by": "ANA-7K2Q",
                    "contact_preferences": [
                        {
                            "topic": "newsletter",
                            "channel": "email",
                            "granted": True,
                            "at": "2026-11-14T09:32:05Z",
                            "source": "storefront-account",
                        }
                    ],
                    "country": "PT",
                    "city": "Lisboa",
                    "stats": {
                        "number_of_orders": 3,
                        "first_order_at": "2026-11-14T09:40:12Z",
                        "last_order_at": "2026-11-29T18:02:47Z",
                        "per_currency": [
                            {"currency": "EUR", "orders": 3, "total_spent": 18970, "average_order": 6323}
                        ],
                        "categories_purchased": ["shoes", "bags"],
                        "products_purchased": ["SHOE-RED-38", "BAG-TOTE-01"],
                    },
                    "created_at": "2026-11-14T09:32:05Z",
                    "updated_at": "2026-12-01T10:00:00Z",
                }
            ]
        }
    )

    id: str
    version: int = Field(description="Incremented by every change")
    email: str
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = Field(default=None, description="E.164")
    company: str | None = None
    gender: Gender | None = None
    birthday: date | None = None
    has_account: bool = Field(description="Registered (true) or guest (false)")
    registered_at: datetime | None = None
    status: Status = "enabled"
    tags: list[str] = Field(default_factory=list)
    email_subscribed: bool = False
    marketing_consent: Consent = Field(default_factory=lambda: Consent(state="not_set"))
    metadata: dict[str, Any] = Field(default_factory=dict)
    addresses: list[AddressOut] = Field(default_factory=list)
    group_ids: list[str] = Field(default_factory=list)
    sales_agent_id: str | None = None
    referred_by: str | None = Field(default=None, description="The referral code given at creation")
    contact_preferences: list[ContactPreferenceOut] = Field(
        default_factory=list,
        description="Consent per topic and channel from the preference centre (engagement)",
    )
    country: str | None = Field(default=None, description="Default shipping address, else the latest order's")
    city: str | None = None
    stats: CustomerStats = Field(default_factory=CustomerStats)
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, doc: Customer) -> "CustomerOut":
        return cls.model_validate(public_view(doc))


class OrderItemOut(BaseModel):
    sku: str
    name: str | None = None
    category: str | None = None
    quantity: int
    unit_price: int


class OrderAddressOut(BaseModel):
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None
    line1: str
    line2: str | None = None
    city: str
    province: str | None = None
    postal_code: str | None = None
    country_code: str
    phone: str | None = None


class OrderOut(BaseModel):
    """An order in the customer's history, with its cancellation and refunds applied."""

    order_id: str
    source: str
    placed_at: datetime
    currency: str
    total: int
    refunded: int
    net_total: int
    status: OrderStatus
    cancelled_at: datetime | None
    items: list[OrderItemOut]
    shipping_address: OrderAddressOut | None
    billing_address: OrderAddressOut | None
    store_credit_used: int

    @classmethod
    def of(cls, v: OrderView) -> "OrderOut":
        o = v.order
        return cls.model_validate(
            {
                "order_id": o["order_id"],
                "source": o["source"],
                "placed_at": o["placed_at"],
                "currency": o["currency"],
                "total": o["total"],
                "refunded": v.refunded,
                "net_total": v.net,
                "status": v.status,
                "cancelled_at": v.cancelled_at,
                "items": o.get("items", []),
                "shipping_address": o.get("shipping_address"),
                "billing_address": o.get("billing_address"),
                "store_credit_used": o.get("store_credit_used", 0),
            }
        )


class NoteOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "note_e3b1d5f7a9c24e6b8d0f2a4c6e8b1d3f",
                    "customer_id": "cus_7d3f9a2c5b8e4d1fa6c0b2d9e4f71a35",
                    "body": "Prefers delivery after 18:00.",
                    "author": "Joana Ferreira",
                    "created_at": "2026-11-14T09:32:05Z",
                }
            ]
        }
    )

    id: str
    customer_id: str
    body: str
    author: str | None
    created_at: datetime
    edited_at: datetime | None = None
    edited_by: str | None = None

    @classmethod
    def of(cls, n: Note) -> "NoteOut":
        return cls(
            id=n["_id"],
            customer_id=n["customer_id"],
            body=n["body"],
            author=n.get("author"),
            created_at=n["created_at"],
            edited_at=n.get("edited_at"),
            edited_by=n.get("edited_by"),
        )


class ConsentRecord(BaseModel):
    """Consent stated for the e-mail before it was a customer (a suppression record)."""

    state: Literal["subscribed", "unsubscribed"]
    at: datetime
    source: str


class PasswordState(BaseModel):
    set: bool
    updated_at: datetime | None


class VersionOut(BaseModel):
    version: int
    recorded_at: datetime
    events: list[str] = Field(description="Types of the events this version published")


class CustomerExport(BaseModel):
    """Everything this service holds about the person, as one document (right of access)."""

    exported_at: datetime
    customer: dict[str, Any] = Field(description="The customer as stored (no query keys)")
    orders: list[OrderOut]
    notes: list[NoteOut]
    group_ids: list[str]
    consent_record: ConsentRecord | None
    password: PasswordState
    versions: list[VersionOut]
    tasks: list[TaskOut] = Field(default_factory=list, description="Tasks about the customer")


# CSV (exports): one header, one row per record. Cells that a spreadsheet would take for a
# formula (=, +, -, @, tab, CR) are prefixed with a quote (OWASP's CSV injection advice).

CUSTOMER_CSV_COLUMNS = [
    "id", "email", "first_name", "last_name", "phone", "company", "gender", "birthday", "has_account",
    "status", "tags", "email_subscribed", "sales_agent_id", "group_ids", "country", "city",
    "number_of_orders", "total_spent", "currency", "created_at", "updated_at",
]  # fmt: skip

ORDER_CSV_COLUMNS = [
    "order_id", "source", "placed_at", "currency", "total", "refunded", "net_total", "status",
    "cancelled_at", "items", "quantity", "store_credit_used",
]  # fmt: skip


def csv_line(values: list[Any]) -> str:
    out = io.StringIO()
    cells = []
    for v in values:
        if v is None:
            cells.append("")
        elif isinstance(v, bool):
            cells.append("true" if v else "false")
        elif isinstance(v, datetime):
            cells.append(v.isoformat().replace("+00:00", "Z"))
        elif isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r"):
            cells.append("'" + v)
        else:
            cells.append(str(v))
    csv.writer(out, lineterminator="\r\n").writerow(cells)
    return out.getvalue()


def customer_csv_row(doc: Customer, currency: str) -> list[Any]:
    return [
        doc["id"], doc["email"], doc["first_name"], doc["last_name"], doc["phone"], doc["company"],
        doc["gender"], doc["birthday"], doc["has_account"], doc["status"], ";".join(doc["tags"]),
        doc["email_subscribed"], doc.get("sales_agent_id"), ";".join(doc["group_ids"]), doc["country"],
        doc["city"], doc["stats"]["number_of_orders"], doc["spent"].get(currency, 0), currency,
        doc["created_at"], doc["updated_at"],
    ]  # fmt: skip


def order_csv_row(v: OrderView) -> list[Any]:
    o = v.order
    items = o.get("items", [])
    return [
        o["order_id"], o["source"], o["placed_at"], o["currency"], o["total"], v.refunded, v.net,
        v.status, v.cancelled_at, len(items), sum(i["quantity"] for i in items), o.get("store_credit_used", 0),
    ]  # fmt: skip


# CSV import: one customer per row; the header names the columns (any order, `email` required).

_IMPORT_FIELDS = [
    "email", "first_name", "last_name", "phone", "company", "gender", "birthday", "tags", "has_account",
    "status", "email_subscribed", "sales_agent_id", "group_ids",
]  # fmt: skip
_ADDRESS_FIELDS = ["first_name", "last_name", "company", "line1", "line2", "city", "province", "postal_code",
                   "country_code", "phone"]  # fmt: skip
IMPORT_COLUMNS = [
    *_IMPORT_FIELDS,
    *(f"{kind}_{f}" for kind in ("shipping", "billing") for f in _ADDRESS_FIELDS),
]
MAX_IMPORT_ROWS = 200_000
_BOOLS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


class ImportReport(BaseModel):
    """What a CSV import would do (dry run), or why it was refused: every bad row, with its line
    (the header is line 1) and reason."""

    dry_run: bool
    rows: int
    valid: int
    problems: list[dict[str, Any]] = Field(description="[{line, field, message}]")


class ImportJobOut(BaseModel):
    id: str
    status: Literal["running", "done", "failed"]
    rows: int
    processed: int
    created: int
    existing: int = Field(description="E-mails that already had a customer: left unchanged")
    failed: int
    problems: list[dict[str, Any]]
    started_at: datetime
    updated_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, j: ImportJob) -> "ImportJobOut":
        return cls(id=j["_id"], **{k: v for k, v in j.items() if k != "_id"})


def _problems(line: int, e: ValidationError, prefix: str = "") -> list[ImportProblem]:
    out: list[ImportProblem] = []
    for err in e.errors():
        loc = [str(x) for x in err["loc"]]
        field = prefix + loc[0] if loc else None
        for listed in ("tags", "group_ids"):  # a cell of several values: name the column
            if field and field.startswith(listed):
                field = listed
        out.append({"line": line, "field": field, "message": err["msg"]})
    return out


def parse_import(text: str) -> tuple[list[ImportRow], list[ImportProblem]]:
    """The valid rows of a CSV import and a problem for every bad one (nothing is skipped
    silently). A bad header makes the whole file a problem."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        return [], [{"line": 1, "field": None, "message": "empty file: a header line is required"}]
    except csv.Error as e:
        return [], [{"line": 1, "field": None, "message": f"not CSV: {e}"}]
    unknown = [h for h in header if h not in IMPORT_COLUMNS]
    if unknown or "email" not in header or len(set(header)) != len(header):
        why = (
            f"unknown columns {unknown} (known: {', '.join(IMPORT_COLUMNS)})"
            if unknown
            else "a column `email` is required"
            if "email" not in header
            else "a column is named twice"
        )
        return [], [{"line": 1, "field": None, "message": why}]
    rows: list[ImportRow] = []
    problems: list[ImportProblem] = []
    seen: dict[str, int] = {}
    count = 0
    end = reader.line_num  # a record's line is where it starts (a quoted cell may span lines)
    try:
        for cells in reader:
            line, end = end + 1, reader.line_num
            if not any(c.strip() for c in cells):
                continue
            count += 1
            if count > MAX_IMPORT_ROWS:
                problems.append({"line": line, "field": None, "message": f"more than {MAX_IMPORT_ROWS} rows"})
                break
            if len(cells) != len(header):
                problems.append(
                    {"line": line, "field": None, "message": f"{len(cells)} cells for {len(header)} columns"}
                )
                continue
            row, bad = _import_row(line, dict(zip(header, (c.strip() for c in cells), strict=True)))
            if row is not None and not bad:
                key = email_key(row["email"])
                if key in seen:
                    bad = [{"line": line, "field": "email", "message": f"same e-mail as line {seen[key]}"}]
                else:
                    seen[key] = line
                    rows.append(row)
            problems += bad
    except csv.Error as e:
        problems.append({"line": reader.line_num, "field": None, "message": f"not CSV: {e}"})
    return rows, problems


def _import_row(line: int, cells: dict[str, str]) -> tuple[ImportRow | None, list[ImportProblem]]:
    given: dict[str, Any] = {}
    bad: list[ImportProblem] = []
    for f in _IMPORT_FIELDS:
        v = cells.get(f, "")
        if v == "":
            continue
        if f in ("has_account", "email_subscribed"):
            if v.lower() not in _BOOLS:
                bad.append({"line": line, "field": f, "message": "not a boolean (true/false)"})
                continue
            given[f] = _BOOLS[v.lower()]
        elif f in ("tags", "group_ids"):  # several values in one cell, split by ";"
            given[f] = [t for t in (t.strip() for t in v.split(";")) if t]
        else:
            given[f] = v
    try:
        body = CustomerCreate.model_validate(given)
    except ValidationError as e:
        bad += _problems(line, e)
        body = None
    addresses: list[NewAddress] = []
    for kind in ("shipping", "billing"):
        parts = {f: cells[f"{kind}_{f}"] for f in _ADDRESS_FIELDS if cells.get(f"{kind}_{f}")}
        if not parts:
            continue
        try:
            a = AddressCreate.model_validate({"type": kind, "is_default": True, **parts})
            addresses.append(cast(NewAddress, a.model_dump()))
        except ValidationError as e:
            bad += _problems(line, e, prefix=f"{kind}_")
    if body is None or bad:
        return None, bad
    profile = cast(ProfileChanges, body.model_dump(include=_PROFILE, exclude_unset=True))
    if body.email_subscribed is not None:
        profile["email_subscribed"] = body.email_subscribed
    if body.group_ids:  # applied by the groups service, from customer.created
        profile["join_group_ids"] = body.group_ids
    row: ImportRow = {
        "line": line,
        "email": body.email,
        "has_account": body.has_account,
        "profile": profile,
        "addresses": addresses,
    }
    return row, []


_PROFILE = {
    "first_name",
    "last_name",
    "phone",
    "company",
    "gender",
    "birthday",
    "tags",
    "status",
    "sales_agent_id",
}


# personal data across services (GDPR exports) and scheduled erasure


class ExportParts(BaseModel):
    answered: list[str] = Field(description="Services whose part is stored, in the order they answered")
    awaited: list[str] = Field(description="Expected services that have not answered yet")


class PersonalDataRequestOut(BaseModel):
    """An export of everything the CRM holds about a person, collected from every service."""

    id: str
    customer_id: str
    status: Literal["collecting", "complete"] = Field(
        description="complete once every expected service (CRM_CUSTOMERS_PERSONAL_DATA_SERVICES) answered"
    )
    requested_at: datetime
    requested_by: str | None = Field(description="X-CRM-Operator of the request")
    completed_at: datetime | None
    expected: list[str]
    parts: ExportParts


class ServicePart(BaseModel):
    collected_at: datetime
    received_at: datetime
    data: dict[str, Any]


class PersonalDataDocumentOut(PersonalDataRequestOut):
    """The one document: this service's part (`customers`, assembled when read; null once the
    customer is erased) and every other service's part as it sent it (`services`)."""

    customers: CustomerExport | None
    services: dict[str, ServicePart]


class ErasureCreate(_Body):
    model_config = ConfigDict(json_schema_extra={"examples": [{"grace_days": 30}]})

    grace_days: int | None = Field(
        default=None,
        ge=0,
        le=365,
        description="Days until it is carried out (default CRM_CUSTOMERS_ERASURE_GRACE_DAYS; "
        "0: at the erasure job's next run)",
    )


class ErasureConfirmationOut(BaseModel):
    service: str
    erased: dict[str, int]
    at: datetime


class ErasureRequestOut(BaseModel):
    id: str
    customer_id: str
    status: Literal["scheduled", "cancelled", "carrying_out", "carried_out"]
    requested_at: datetime
    requested_by: str | None = Field(description="X-CRM-Operator of the request")
    grace_days: int
    due_at: datetime
    cancelled_at: datetime | None
    cancelled_by: str | None
    carried_out_at: datetime | None
    confirmations: list[ErasureConfirmationOut] = Field(
        description="personal_data.erased from each service, once carried out"
    )
    awaiting_confirmation: list[str] = Field(description="Expected services that have not confirmed yet")


# registering with a guest's e-mail


class VerificationPending(BaseModel):
    """A registration with a guest's e-mail: nothing happens to the guest until the e-mail is
    verified (its token is sent in customer.verification.requested). Nothing of the guest is
    shown here."""

    status: Literal["verification_pending"] = "verification_pending"
    email: str
    expires_at: datetime


class Verify(_Body):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"token": "q7Hc2mR9vXb4LpZ0sW8nTe3KaY6uJd1FgB5oNiC2rQk"}]}
    )

    token: Annotated[str, Field(min_length=1, max_length=200)]


# merging two customer records (staff)


class MergeCreate(_Body):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"from_customer_id": "cus_b41e6c09d27a4f8e9c3d5a1f0e7b2c68"}]}
    )

    from_customer_id: Annotated[str, Field(min_length=1, max_length=100)] = Field(
        description="The record merged into this one (it goes; what it holds moves here)"
    )


class MergeMovedOut(BaseModel):
    orders: int
    notes: int
    tasks: int
    addresses: int
    tags: list[str] = Field(description="Tags the kept record did not have")


class MergeOut(BaseModel):
    """The audit of a merge: who merged which record into which, when, and what moved."""

    kept_id: str
    merged_id: str
    merged_email: str
    merged_by: str | None = Field(description="X-CRM-Operator of the merge")
    started_at: datetime
    completed_at: datetime | None
    moved: MergeMovedOut | None


class MergeResult(BaseModel):
    customer: "CustomerOut"
    merge: MergeOut
