"""Events published by storefronts (docs/contract.md §1.1)."""

from typing import Annotated

from pydantic import EmailStr, Field, model_validator

from crm_contracts.types import Contract, CountryCode, CurrencyCode, MinorUnits, UtcDatetime

Text = Annotated[str, Field(max_length=200)]


class Address(Contract):
    first_name: Text | None = None
    last_name: Text | None = None
    company: Text | None = None
    line1: Text = Field(min_length=1)
    line2: Text | None = None
    city: Text = Field(min_length=1)
    province: Text | None = None
    postal_code: Annotated[str, Field(max_length=20)] | None = None
    country_code: CountryCode
    phone: Annotated[str, Field(max_length=40)] | None = None


class OrderCustomer(Contract):
    email: EmailStr
    customer_id: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    first_name: Text | None = None
    last_name: Text | None = None
    phone: Annotated[str, Field(max_length=40)] | None = None


class CustomerRef(Contract):
    email: EmailStr
    customer_id: Annotated[str, Field(min_length=1, max_length=100)] | None = None


class OrderItem(Contract):
    sku: Annotated[str, Field(min_length=1, max_length=100)]
    name: Text | None = None
    category: Text | None = None
    quantity: int = Field(ge=1, le=100_000)
    unit_price: MinorUnits


OrderId = Annotated[str, Field(min_length=1, max_length=100, description="Unique per source")]


class OrderPlaced(Contract):
    order_id: OrderId
    placed_at: UtcDatetime
    customer: OrderCustomer
    currency: CurrencyCode
    total: MinorUnits
    items: list[OrderItem] = Field(default_factory=list, max_length=1000)
    shipping_address: Address | None = None
    billing_address: Address | None = None
    store_credit_used: MinorUnits = 0
    hold_id: Annotated[str, Field(max_length=100)] | None = Field(
        default=None, description="A ledger hold to capture for the store credit used"
    )
    referral_code: Annotated[str, Field(max_length=100)] | None = Field(
        default=None, description="The code of the customer who referred this one (first order)"
    )

    @model_validator(mode="after")
    def _credit_within_total(self) -> "OrderPlaced":
        if self.store_credit_used > self.total:
            raise ValueError("store_credit_used cannot exceed total")
        return self


class OrderRefunded(Contract):
    order_id: OrderId
    refunded_at: UtcDatetime
    customer: CustomerRef
    currency: CurrencyCode
    amount: MinorUnits = Field(gt=0)
    to_store_credit: bool = False
    refund_id: Annotated[str, Field(min_length=1, max_length=100)] | None = Field(
        default=None,
        description="The storefront's id of this refund: the same refund sent again under a new "
        "event id counts once (without it, the event id is the key)",
    )


class OrderCancelled(Contract):
    order_id: OrderId
    cancelled_at: UtcDatetime
    customer: CustomerRef


class NewsletterSubscribed(Contract):
    email: EmailStr
    at: UtcDatetime


class NewsletterUnsubscribed(Contract):
    email: EmailStr
    at: UtcDatetime


class CheckoutAbandoned(Contract):
    """Optional: a storefront may publish it when a checkout with a known e-mail is left
    unfinished. Segments keep the latest time per customer (`abandoned_checkout_date`)."""

    checkout_id: Annotated[str, Field(min_length=1, max_length=100, description="Unique per source")]
    abandoned_at: UtcDatetime
    customer: CustomerRef
    currency: CurrencyCode | None = None
    total: MinorUnits | None = None
    items: list[OrderItem] = Field(default_factory=list, max_length=1000)
