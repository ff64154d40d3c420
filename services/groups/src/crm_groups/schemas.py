"""HTTP bodies of the groups API (requests are strict: an unknown field is a 422)."""

from datetime import datetime
from typing import Annotated, Any, cast

from pydantic import BaseModel, ConfigDict, Field, field_validator

from crm_contracts.types import CurrencyCode, UtcDatetime
from crm_groups.domain import CreditLimit, GroupChanges, GroupFields, PriceFields

Name = Annotated[str, Field(min_length=1, max_length=100, description="Unique, case-insensitive")]
Description = Annotated[str, Field(max_length=2000)]
Discount = Annotated[int, Field(ge=0, le=100, description="Whole percent off")]
Tier = Annotated[str, Field(min_length=1, max_length=100, description="A named price list")]
Priority = Annotated[int, Field(ge=-1_000_000, le=1_000_000, description="Higher wins between groups")]
CustomerId = Annotated[str, Field(min_length=1, max_length=200)]
Amount = Annotated[int, Field(ge=0, le=10**15, description="Minor units (cents); never a float")]
PaymentTerms = Annotated[int, Field(ge=0, le=365, description="Net days to pay an invoice (net 30)")]
Sku = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[^*\s][^\s]*$", description="A SKU")]

# Examples in the OpenAPI document (what Swagger UI offers to try, the typed client's docs), in the
# ids the service mints (grp_) and the customers service's cus_. No nulls: FastAPI writes the
# document without them (so PriceOut, whose amount or percent_off is always null, has none).
GROUP_ID = "grp_5f0c3e9a2b7d4c18a6e1f3b2d4c5a697"
CUSTOMER_ID = "cus_8d2f6a4c1e9b4f07b3a5c7d9e1f2a3b4"
OTHER_CUSTOMER_ID = "cus_1b7e9c3a5d2f4e6a8c0b2d4f6a8c0e1d"
_GROUP_EXAMPLE: dict[str, Any] = {
    "id": GROUP_ID,
    "version": 3,
    "name": "Wholesale EU",
    "description": "Trade customers in the EU who buy on account",
    "metadata": {"erp_id": "WH-EU-01", "sync_to_erp": True},
    "discount_percent": 10,
    "price_tier": "wholesale",
    "priority": 10,
    "payment_terms_days": 30,
    "credit_limits": [{"currency": "EUR", "amount": 500000}],
    "member_count": 42,
    "created_at": "2026-11-02T09:15:00Z",
    "updated_at": "2026-12-01T10:00:00Z",
}


class CreditLimitIn(BaseModel):
    """How far below zero a member's balance may go in one currency (buying on account)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"currency": "EUR", "amount": 500000}]}
    )

    currency: CurrencyCode
    amount: Amount


CreditLimits = Annotated[
    list[CreditLimitIn],
    Field(max_length=50, description="At most one per currency; the whole list is replaced by a PATCH"),
]


def _limits(value: list[CreditLimitIn] | None) -> list[CreditLimit] | None:
    return None if value is None else [{"currency": c.currency, "amount": c.amount} for c in value]


Metadata = Annotated[
    dict[str, Any],
    Field(
        description="Key-value pairs for integrations; a key set to null is removed. Values "
        "are strings, numbers or booleans; limits on key length, value size and key count apply."
    ),
]


def _real_name(value: str | None) -> str | None:
    if value is not None and not value.strip():
        raise ValueError("name must not be blank")
    return value


class GroupCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Wholesale EU",
                    "description": "Trade customers in the EU who buy on account",
                    "metadata": {"erp_id": "WH-EU-01", "sync_to_erp": True},
                    "discount_percent": 10,
                    "price_tier": "wholesale",
                    "priority": 10,
                    "payment_terms_days": 30,
                    "credit_limits": [{"currency": "EUR", "amount": 500000}],
                }
            ]
        },
    )

    name: Name
    description: Description | None = None
    metadata: Metadata = Field(default_factory=dict)
    discount_percent: Discount | None = None
    price_tier: Tier | None = None
    priority: Priority = 0
    payment_terms_days: PaymentTerms | None = None
    credit_limits: CreditLimits = Field(default_factory=list)

    _name = field_validator("name")(_real_name)

    def fields(self) -> GroupFields:
        return {
            "name": self.name,
            "description": self.description,
            "discount_percent": self.discount_percent,
            "price_tier": self.price_tier,
            "priority": self.priority,
            "payment_terms_days": self.payment_terms_days,
            "credit_limits": _limits(self.credit_limits),
        }


class GroupPatch(BaseModel):
    """Only the fields given change; null clears description, discount_percent, price_tier,
    payment_terms_days, credit_limits."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "discount_percent": 15,
                    "payment_terms_days": 45,
                    "credit_limits": [
                        {"currency": "EUR", "amount": 1000000},
                        {"currency": "GBP", "amount": 800000},
                    ],
                    "metadata": {"account_manager": "Ana Silva"},
                }
            ]
        },
    )

    name: Name | None = None
    description: Description | None = None
    metadata: Metadata | None = None
    discount_percent: Discount | None = None
    price_tier: Tier | None = None
    priority: Priority | None = None
    payment_terms_days: PaymentTerms | None = None
    credit_limits: CreditLimits | None = None

    @field_validator("name")
    @classmethod
    def _name_not_null(cls, value: str | None) -> str | None:
        if value is None:
            raise ValueError("name cannot be null")
        return _real_name(value)

    def changes(self) -> GroupChanges:
        """The fields given, besides metadata."""
        changes = {f: getattr(self, f) for f in self.model_fields_set if f != "metadata"}
        if "credit_limits" in changes:
            changes["credit_limits"] = _limits(self.credit_limits)
        return cast(GroupChanges, changes)


class MembershipChange(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"add": [CUSTOMER_ID], "remove": [OTHER_CUSTOMER_ID]}]},
    )

    add: list[CustomerId] = Field(default_factory=list, max_length=100_000)
    remove: list[CustomerId] = Field(default_factory=list, max_length=100_000)


class GroupOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_GROUP_EXAMPLE]})

    id: str
    version: int
    name: str
    description: str | None
    metadata: dict[str, Any]
    discount_percent: int | None
    price_tier: str | None
    priority: int
    payment_terms_days: int | None = None
    credit_limits: list[CreditLimitIn] = Field(default_factory=list)
    member_count: int
    created_at: datetime
    updated_at: datetime


class GroupsPage(BaseModel):
    items: list[GroupOut]
    next_cursor: str | None = None


class MembershipOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"group_id": GROUP_ID, "added": [CUSTOMER_ID], "removed": [], "member_count": 43}]
        }
    )

    group_id: str
    added: list[str] = Field(description="Ids that became members by this call")
    removed: list[str] = Field(description="Ids that stopped being members by this call")
    member_count: int


class MemberOut(BaseModel):
    customer_id: str
    added_at: datetime


class MembersPage(BaseModel):
    items: list[MemberOut]
    next_cursor: str | None = None


class CustomerGroupOut(GroupOut):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{**_GROUP_EXAMPLE, "added_at": "2026-11-20T14:30:00Z"}]}
    )

    added_at: datetime


class CustomerGroupsPage(BaseModel):
    items: list[CustomerGroupOut]
    next_cursor: str | None = None


class PricingGroup(BaseModel):
    id: str
    name: str
    priority: int
    discount_percent: int | None
    price_tier: str | None


class PricingOut(BaseModel):
    customer_id: str
    discount_percent: int | None = Field(description="The one discount to apply; null: none")
    price_tier: str | None
    group: PricingGroup | None = Field(description="The group whose pricing applies")
    considered: list[PricingGroup] = Field(
        description="The customer's groups with pricing, best first (priority, then discount)"
    )
    quote: "QuoteOut | None" = Field(
        default=None, description="With `sku` and `currency`: the price of that SKU, and why"
    )


# --- price lists -------------------------------------------------------------------------------


class PriceCreate(BaseModel):
    """A fixed `amount` for one SKU in one currency, or `percent_off` for one SKU or every SKU
    (no `sku`), in one currency or every currency (no `currency`); optionally in a window."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "sku": "COFFEE-BEANS-1KG",
                    "currency": "EUR",
                    "amount": 1850,
                    "starts_at": "2026-12-01T10:00:00Z",
                    "ends_at": "2027-01-01T00:00:00Z",
                }
            ]
        },
    )

    sku: Sku | None = None
    currency: CurrencyCode | None = None
    amount: Amount | None = None
    percent_off: Discount | None = None
    starts_at: UtcDatetime | None = Field(default=None, description="Inclusive, UTC")
    ends_at: UtcDatetime | None = Field(default=None, description="Exclusive, UTC")

    def fields(self) -> PriceFields:
        return {
            "sku": self.sku,
            "currency": self.currency,
            "amount": self.amount,
            "percent_off": self.percent_off,
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
        }


class PriceOut(BaseModel):
    id: str
    group_id: str
    sku: str | None = Field(description="null: every SKU")
    currency: str | None = Field(description="null: every currency")
    amount: int | None = Field(description="The price in minor units; null for a percentage")
    percent_off: int | None
    starts_at: datetime | None
    ends_at: datetime | None
    created_at: datetime


class PricesPage(BaseModel):
    items: list[PriceOut]
    next_cursor: str | None = None


class OfferGroup(BaseModel):
    id: str
    name: str
    priority: int


class OfferOut(BaseModel):
    group: OfferGroup
    basis: str = Field(description="sku-price, sku-percent, all-skus-percent or group-discount")
    price_id: str | None = Field(description="The price-list entry; null for the group's discount_percent")
    price: int | None = Field(description="Minor units; null for a percentage without list_price")
    percent_off: int | None


class QuoteOut(BaseModel):
    """The price the customer pays for one SKU in one currency at one time, and why."""

    sku: str
    currency: str
    at: datetime
    list_price: int | None
    price: int | None = Field(
        description="What the customer pays, minor units; the list price when no group offers "
        "anything; null for a percentage (or nothing) without list_price"
    )
    percent_off: int | None = Field(description="The winning percentage, if it is one")
    group: OfferGroup | None = Field(description="The group that won; null: none offers anything")
    basis: str | None
    price_id: str | None
    rule: str = Field(
        description="What decided: none, only-candidate, priority, lowest-price, known-price, "
        "biggest-percent, oldest-group"
    )
    reason: str
    offers: list[OfferOut] = Field(description="Each of the customer's groups' offer, best first")


PricingOut.model_rebuild()


class CurrencyAnalyticsOut(BaseModel):
    currency: str
    buyers: int = Field(description="Members with at least one order that counts in this currency")
    orders: int
    total_spent: int = Field(description="Minor units, net of refunds, cancelled orders left out")
    average_order: int = Field(description="total_spent / orders in minor units, rounded down")


class AnalyticsOut(BaseModel):
    """The current members' lifetime figures, as the customers service counts them."""

    group_id: str
    members: int
    buyers: int = Field(description="Members with at least one order that counts")
    orders: int
    per_currency: list[CurrencyAnalyticsOut] = Field(description="Money is never added across currencies")
    computed_at: datetime
