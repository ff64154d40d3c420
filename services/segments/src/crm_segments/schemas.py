"""Every HTTP request and response model of the segments service."""

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, Field

Name = Annotated[str, Field(min_length=1, max_length=200)]
RuleText = Annotated[
    str, Field(min_length=1, max_length=10_000, description="A segment query (docs/contract.md §3)")
]

# requests ---------------------------------------------------------------------------------------


class SegmentIn(BaseModel):
    name: Name
    rule: RuleText


class SegmentPatch(BaseModel):
    name: Name | None = None
    rule: RuleText | None = None


class PreviewIn(BaseModel):
    rule: RuleText
    sample_size: int = Field(default=10, ge=0, le=100)


# segments ---------------------------------------------------------------------------------------


class SegmentOut(BaseModel):
    id: str
    version: int
    name: str
    rule: str
    created_at: datetime
    updated_at: datetime


class SegmentWithCount(SegmentOut):
    member_count: int


class Member(BaseModel):
    customer_id: str
    email: str | None
    email_subscribed: bool | None
    joined_at: datetime


class CustomerSegment(BaseModel):
    segment_id: str
    segment_name: str
    joined_at: datetime


# profiles ---------------------------------------------------------------------------------------


class ProfileOut(BaseModel):
    """The attributes rules see (money in minor units of the base currency)."""

    customer_id: str
    customer_version: int
    email: str | None
    email_domain: str | None = None
    email_subscribed: bool | None
    has_account: bool | None
    status: str | None = None
    gender: str | None = None
    birthday: date | None = None
    country: str | None
    city: str | None
    created_at: datetime | None
    abandoned_checkout_date: datetime | None = None
    customer_tags: list[str]
    number_of_orders: int
    first_order_date: datetime | None
    last_order_date: datetime | None
    amount_spent: int
    average_order_value: int | None
    categories_purchased: list[str]
    products_purchased: list[str]
    group_ids: list[str]
    customer_groups: list[str]
    store_credit_balance: int


class CustomerProfile(ProfileOut):
    base_currency: str


class Preview(BaseModel):
    count: int
    sample: list[ProfileOut]


# analytics --------------------------------------------------------------------------------------


class MoneyOut(BaseModel):
    amount: int = Field(description="Minor units")
    currency: str


class Churn(BaseModel):
    days: int
    customers: int
    rate: float | None


class CountryCount(BaseModel):
    country: str | None
    customers: int


class RfmGroup(BaseModel):
    rfm: str
    recency: int
    frequency: int
    monetary: int
    customers: int


class Analytics(BaseModel):
    segment_id: str | None
    base_currency: str
    customers: int
    buyers: int
    new_customers: int
    returning_customers: int
    repeat_purchase_rate: float | None
    average_order_value: MoneyOut | None
    average_lifetime_value: MoneyOut | None
    total_spent: MoneyOut | None
    churn: Churn
    countries: list[CountryCount]
    rfm_groups: list[RfmGroup]


class RfmScore(BaseModel):
    customer_id: str
    recency: int
    frequency: int
    monetary: int
    rfm: str
