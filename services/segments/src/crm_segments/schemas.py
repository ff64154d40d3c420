"""Every HTTP request and response model of the segments service."""

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from crm_contracts.types import UtcDatetime

Name = Annotated[str, Field(min_length=1, max_length=200)]
RuleText = Annotated[
    str, Field(min_length=1, max_length=10_000, description="A segment query (docs/contract.md §3)")
]

# Examples in the OpenAPI document (what Swagger UI offers to try, the typed client's docs), in the
# ids the service mints (seg_, spend_); money in minor units with its currency, times in UTC.
# No nulls: FastAPI writes the document without them.
SEGMENT_ID = "seg_6b1d9e3f5a7c4e2b8d0f1a3c5e7b9d2f"
SPEND_ID = "spend_2e4a6c8b0d1f3e5a7c9b1d3f5a7c9e0b"
_RULE = "amount_spent >= 500 AND last_order_date < 90_days_ago AND email_subscribed = true"
_SEGMENT: dict[str, Any] = {
    "id": SEGMENT_ID,
    "version": 2,
    "name": "Lapsed VIPs",
    "rule": _RULE,
    "created_at": "2026-11-02T09:15:00Z",
    "updated_at": "2026-12-01T10:00:00Z",
}

# requests ---------------------------------------------------------------------------------------


class SegmentIn(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "Lapsed VIPs", "rule": _RULE}]})

    name: Name
    rule: RuleText


class SegmentPatch(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"rule": "amount_spent >= 750 AND last_order_date < 90_days_ago AND email_subscribed = true"}
            ]
        }
    )

    name: Name | None = None
    rule: RuleText | None = None


class PreviewIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"rule": "country = 'PT' AND number_of_orders >= 2", "sample_size": 5}]
        }
    )

    rule: RuleText
    sample_size: int = Field(default=10, ge=0, le=100)


# segments ---------------------------------------------------------------------------------------


class SegmentOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_SEGMENT]})

    id: str
    version: int
    name: str
    rule: str
    created_at: datetime
    updated_at: datetime


class SegmentWithCount(SegmentOut):
    model_config = ConfigDict(json_schema_extra={"examples": [{**_SEGMENT, "member_count": 318}]})

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


# analytics per period (domain/period.py) ----------------------------------------------------------


class PeriodChurn(BaseModel):
    days: int
    customers: int = Field(description="Customers whose latest order before `to` is older than `days`")
    of_customers: int = Field(description="Customers with an order before `to`")
    rate: float | None


class PeriodScope(BaseModel):
    from_: datetime = Field(alias="from")
    to: datetime
    segment_id: str | None
    group_id: str | None
    base_currency: str


class PeriodAnalytics(PeriodScope):
    customers: int
    buyers: int
    new_customers: int
    returning_customers: int
    orders: int
    revenue: MoneyOut | None
    repeat_purchase_rate: float | None
    average_order_value: MoneyOut | None
    average_lifetime_value: MoneyOut | None
    churn: PeriodChurn


class WeekdayCount(BaseModel):
    weekday: int = Field(description="0 = Monday")
    orders: int


class HourCount(BaseModel):
    hour: int
    orders: int


class Timing(PeriodScope):
    time_zone: str
    orders: int
    average_days_between_orders: float | None
    intervals: int = Field(description="Orders in the period that followed an earlier order")
    by_weekday: list[WeekdayCount]
    by_hour: list[HourCount]


class Retention(BaseModel):
    offset: int = Field(description="Months after the cohort's month")
    month: str
    customers: int
    rate: float | None


class Cohort(BaseModel):
    month: str = Field(description="YYYY-MM of the first order")
    customers: int
    retention: list[Retention]


class Cohorts(PeriodScope):
    time_zone: str
    cohorts: list[Cohort]


class CountryFigures(BaseModel):
    country: str | None
    customers: int
    buyers: int
    revenue: MoneyOut | None


class CityFigures(CountryFigures):
    city: str | None


class Geography(PeriodScope):
    countries: list[CountryFigures]
    cities: list[CityFigures]


class CategoryFigures(BaseModel):
    category: str | None
    buyers: int
    units: int
    revenue: MoneyOut | None


class ProductFigures(BaseModel):
    sku: str
    buyers: int
    units: int
    revenue: MoneyOut | None


class Preferences(PeriodScope):
    sort: str
    categories: list[CategoryFigures]
    products: list[ProductFigures]


class CurrencyCac(BaseModel):
    currency: str
    spend: int = Field(description="Minor units")
    cac: MoneyOut | None = Field(description="spend / new customers (null with none)")


class ChannelSpend(BaseModel):
    channel: str
    spend: MoneyOut


class AcquisitionCost(PeriodScope):
    new_customers: int
    per_currency: list[CurrencyCac]
    per_channel: list[ChannelSpend]


# marketing spend --------------------------------------------------------------------------------

Channel = Annotated[str, Field(min_length=1, max_length=100)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
Amount = Annotated[int, Field(ge=0, le=10**15, description="Minor units")]
Note = Annotated[str, Field(max_length=1000)]


class SpendIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "channel": "google-ads",
                    "starts_at": "2026-11-01T00:00:00Z",
                    "ends_at": "2026-12-01T00:00:00Z",
                    "amount": 250000,
                    "currency": "EUR",
                    "note": "November search campaign",
                }
            ]
        }
    )

    channel: Channel
    starts_at: UtcDatetime
    ends_at: UtcDatetime
    amount: Amount
    currency: Currency
    note: Note | None = None


class SpendPatch(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"amount": 275000, "note": "November search campaign, final invoice"}]
        }
    )

    channel: Channel | None = None
    starts_at: UtcDatetime | None = None
    ends_at: UtcDatetime | None = None
    amount: Amount | None = None
    currency: Currency | None = None
    note: Note | None = None


class SpendOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": SPEND_ID,
                    "channel": "google-ads",
                    "starts_at": "2026-11-01T00:00:00Z",
                    "ends_at": "2026-12-01T00:00:00Z",
                    "amount": 250000,
                    "currency": "EUR",
                    "note": "November search campaign",
                    "created_at": "2026-12-01T10:00:00Z",
                    "updated_at": "2026-12-01T10:00:00Z",
                }
            ]
        }
    )

    id: str
    channel: str
    starts_at: datetime
    ends_at: datetime
    amount: int
    currency: str
    note: str | None
    created_at: datetime
    updated_at: datetime
