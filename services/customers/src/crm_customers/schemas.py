"""Every HTTP request body and response of the customers API. Invalid input becomes a 422
problem naming the field (servicekit)."""

import math
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, SecretStr, field_validator

from crm_contracts.outbound import CustomerStats
from crm_customers.domain.customer import COUNTRIES, normalize_phone, public_view
from crm_customers.domain.documents import Customer, Gender, Note, Status
from crm_customers.domain.stats import OrderStatus, OrderView

Name = Annotated[str, Field(min_length=1, max_length=200)]
Text = Annotated[str, Field(max_length=200)]
Tag = Annotated[str, Field(min_length=1, max_length=50)]
MetaValue = Annotated[str, Field(max_length=500)] | int | float | bool | None
Password = Annotated[SecretStr, Field(min_length=8, max_length=256)]


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
    email: EmailStr
    has_account: bool = Field(default=True, description="false: record a guest (no account)")
    password: Password | None = Field(
        default=None, description="Registered customers only; hashed with Argon2"
    )
    email_subscribed: bool | None = None
    status: Status = "enabled"


class CustomerPatch(CustomerFields):
    """Only the fields given change; null clears an optional field. Metadata is merged key by
    key (a null value removes that key)."""

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
    type: Literal["shipping", "billing"]
    is_default: bool = False
    line1: Annotated[str, Field(min_length=1, max_length=200)]
    city: Annotated[str, Field(min_length=1, max_length=200)]
    country_code: Annotated[str, Field(min_length=2, max_length=2)]


class AddressPatch(AddressFields):
    type: Literal["shipping", "billing"] | None = None
    is_default: bool | None = None
    line1: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    city: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    country_code: Annotated[str, Field(min_length=2, max_length=2)] | None = None


class NoteCreate(_Body):
    body: Annotated[str, Field(min_length=1, max_length=5000)]
    author: Text | None = None


class PasswordSet(_Body):
    password: Password
    current_password: SecretStr | None = Field(
        default=None, description="When given, it must match the password set now"
    )


# Responses (what GET returns; also the OpenAPI documentation)


class AddressOut(BaseModel):
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


class CustomerOut(BaseModel):
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
    id: str
    customer_id: str
    body: str
    author: str | None
    created_at: datetime

    @classmethod
    def of(cls, n: Note) -> "NoteOut":
        return cls(
            id=n["_id"],
            customer_id=n["customer_id"],
            body=n["body"],
            author=n.get("author"),
            created_at=n["created_at"],
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
