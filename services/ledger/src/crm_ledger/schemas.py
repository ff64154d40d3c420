"""Every HTTP request model of the ledger, the shapes of its response bodies (plain JSON
objects made from the typed documents, `*_view`) and their response models (`*Out`, what each
route declares for the OpenAPI document; a test checks the bodies against them member for member)."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from crm_contracts.types import CurrencyCode, UtcDatetime, utcnow
from crm_ledger.domain import Coupon, CouponTerms, CreditLine, JournalRecord, Program, RewardState, Threshold
from crm_ledger.domain.rewards import coupon_status

MAX_AMOUNT = 10**13

# Examples in the OpenAPI document (what Swagger UI offers to try, the typed client's docs), in the
# ids the services mint: the customers service's cus_, the groups service's grp_, ours ent_,
# hold_, prg_, and the storefront's order ids. No nulls: FastAPI writes the document without
# them (so EntryOut, whose debits lack expires_at and credits hold_id, has none).
CUSTOMER_ID = "cus_8d2f6a4c1e9b4f07b3a5c7d9e1f2a3b4"
GROUP_ID = "grp_5f0c3e9a2b7d4c18a6e1f3b2d4c5a697"
ENTRY_ID = "ent_3c9e1a7b5d2f4c6e8a0b1d3f"
HOLD_ID = "hold_7a1c3e5b9d2f4a6c8e0b2d4f"
PROGRAMME_ID = "prg_4e8a1c6b2d9f3e7a"
ORDER_ID = "ord_1042"
_AMOUNT_COUPON: dict[str, Any] = {"kind": "amount", "value": 500, "currency": "EUR", "valid_days": 90}
_BIG_COUPON: dict[str, Any] = {"kind": "amount", "value": 1500, "currency": "EUR", "valid_days": 60}
_PROGRAMME_IN: dict[str, Any] = {
    "name": "Winter double points",
    "points_per_unit": 2,
    "currency": "EUR",
    "rounding": "down",
    "minimum_order": 1000,
    "thresholds": [
        {"points": 100, "coupon": _AMOUNT_COUPON},
        {"points": 250, "coupon": _BIG_COUPON},
    ],
    "birthday_coupon": {"kind": "amount", "value": 1000, "currency": "EUR", "valid_days": 30},
    "referrer_coupon": {"kind": "amount", "value": 1000, "currency": "EUR", "valid_days": 90},
    "referee_coupon": {"kind": "amount", "value": 500, "currency": "EUR", "valid_days": 30},
    "group_multipliers": {GROUP_ID: 150},
    "points_expire_days": 365,
    "starts_at": "2026-12-01T10:00:00Z",
    "ends_at": "2027-03-01T00:00:00Z",
}
_PROGRAMME_OUT: dict[str, Any] = {
    **_PROGRAMME_IN,
    "id": PROGRAMME_ID,
    "version": 1,
    "source": "api",
    "effective_from": "2026-11-28T16:45:00Z",
}


class NewEntry(BaseModel):
    """funding / reward credit, unfunding debits; adjustment is signed (a correction)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "kind": "funding",
                    "amount": 2500,
                    "currency": "EUR",
                    "reason": "Goodwill credit for a late delivery",
                    "operator": "ana.silva@example.com",
                    "order_id": ORDER_ID,
                }
            ]
        },
    )

    kind: Literal["funding", "unfunding", "reward", "adjustment"]
    amount: int = Field(
        description="Minor units; > 0, or non-zero signed for adjustment", ge=-MAX_AMOUNT, le=MAX_AMOUNT
    )
    currency: CurrencyCode
    reason: str | None = Field(default=None, max_length=500)
    operator: str | None = Field(default=None, max_length=200, description="Who made it")
    order_id: str | None = Field(default=None, max_length=100)
    expires_at: UtcDatetime | None = Field(
        default=None, description="Credits only: when what is left expires"
    )

    @model_validator(mode="after")
    def _check(self) -> "NewEntry":
        if self.kind == "adjustment":
            if self.amount == 0:
                raise ValueError("amount of an adjustment must not be 0")
        elif self.amount <= 0:
            raise ValueError("amount must be greater than 0")
        credit = self.kind in ("funding", "reward") or (self.kind == "adjustment" and self.amount > 0)
        if self.expires_at is not None:
            if not credit:
                raise ValueError("expires_at is only for credits")
            if self.expires_at <= utcnow():
                raise ValueError("expires_at must be in the future")
        return self


class NewHold(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "amount": 4200,
                    "currency": "EUR",
                    "order_id": ORDER_ID,
                    "reason": "Checkout paid with store credit",
                }
            ]
        },
    )

    amount: int = Field(gt=0, le=MAX_AMOUNT)
    currency: CurrencyCode
    expires_at: UtcDatetime | None = Field(default=None, description="Default: the configured hold lifetime")
    order_id: str | None = Field(default=None, max_length=100)
    reason: str | None = Field(default=None, max_length=500)

    @model_validator(mode="after")
    def _future(self) -> "NewHold":
        if self.expires_at is not None and self.expires_at <= utcnow():
            raise ValueError("expires_at must be in the future")
        return self


class Capture(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"amount": 4200, "order_id": ORDER_ID}]}
    )

    amount: int | None = Field(default=None, gt=0, le=MAX_AMOUNT, description="Default: the hold's amount")
    order_id: str | None = Field(default=None, max_length=100)


class Redeem(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"customer_id": CUSTOMER_ID, "order_id": ORDER_ID}]}
    )

    customer_id: str = Field(min_length=1, max_length=100, description="Who redeems: the coupon's owner")

    order_id: str | None = Field(
        default=None, max_length=100, description="Redeeming again for the same order is the same success"
    )


class CouponTermsIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_AMOUNT_COUPON]})

    kind: Literal["amount", "percentage"]
    value: int = Field(ge=1, le=MAX_AMOUNT, description="Minor units (amount) or whole percent (percentage)")
    currency: CurrencyCode | None = Field(default=None, description="Amount coupons: required")
    valid_days: int = Field(ge=1, le=3660)

    def terms(self) -> CouponTerms:
        return CouponTerms(
            self.kind, self.value, self.currency if self.kind == "amount" else None, self.valid_days
        )


class ThresholdIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"points": 100, "coupon": _AMOUNT_COUPON}]}
    )

    points: int = Field(ge=1, le=10**9)
    coupon: CouponTermsIn


GroupMultipliers = Annotated[
    dict[
        Annotated[str, StringConstraints(min_length=1, max_length=100)], Annotated[int, Field(ge=0, le=1000)]
    ],
    Field(max_length=100),
]
MULTIPLIERS = (
    "Group id -> whole percent of the points its members earn (0: none, 100: as everyone, 200: double); "
    "a customer in several listed groups earns by the best; in none: 100"
)

EXPIRY = (
    "The points of each earning expire this many days after it (soonest-expiring spent first); "
    "null: never. Applies to points earned under this version"
)


class ProgrammeIn(BaseModel):
    """A reward programme. Changes apply to orders placed after them."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_PROGRAMME_IN]})

    name: str = Field(min_length=1, max_length=200)
    points_per_unit: int = Field(
        ge=0, le=10**6, description="Points per major unit of currency (1 EUR, 1 JPY)"
    )
    currency: CurrencyCode | None = Field(default=None, description="Only orders in it earn (default: all)")
    rounding: Literal["down", "nearest", "up"] = "down"
    minimum_order: int = Field(default=0, ge=0, le=MAX_AMOUNT, description="Minor units; below it no points")
    thresholds: list[ThresholdIn] = Field(
        default_factory=list,
        max_length=20,
        description="Ascending; reaching one issues its coupon once per cycle; the highest closes the cycle "
        "(its points are spent, the rest carries over)",
    )
    birthday_coupon: CouponTermsIn | None = Field(
        default=None, description="Issued on the customer's birthday"
    )
    referrer_coupon: CouponTermsIn | None = Field(
        default=None, description="For who referred a customer, at that customer's first order"
    )
    referee_coupon: CouponTermsIn | None = Field(default=None, description="For the referred customer")
    group_multipliers: GroupMultipliers = Field(default_factory=dict, description=MULTIPLIERS)
    points_expire_days: int | None = Field(default=None, ge=1, le=3660, description=EXPIRY)
    starts_at: UtcDatetime | None = None
    ends_at: UtcDatetime | None = None

    def fields(self) -> dict[str, Any]:
        return programme_fields(self, set(type(self).model_fields))


class ProgrammePatch(BaseModel):
    """Only the members sent change (null clears the optional ones)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "points_per_unit": 3,
                    "minimum_order": 1500,
                    "group_multipliers": {GROUP_ID: 200},
                    "points_expire_days": 365,
                }
            ]
        },
    )

    name: str | None = Field(default=None, min_length=1, max_length=200)
    points_per_unit: int | None = Field(default=None, ge=0, le=10**6)
    currency: CurrencyCode | None = None
    rounding: Literal["down", "nearest", "up"] | None = None
    minimum_order: int | None = Field(default=None, ge=0, le=MAX_AMOUNT)
    thresholds: list[ThresholdIn] | None = Field(default=None, max_length=20)
    birthday_coupon: CouponTermsIn | None = None
    referrer_coupon: CouponTermsIn | None = None
    referee_coupon: CouponTermsIn | None = None
    group_multipliers: GroupMultipliers | None = Field(default=None, description=MULTIPLIERS)
    points_expire_days: int | None = Field(default=None, ge=1, le=3660, description=EXPIRY)
    starts_at: UtcDatetime | None = None
    ends_at: UtcDatetime | None = None

    @model_validator(mode="after")
    def _required_stay_set(self) -> "ProgrammePatch":
        for name in ("name", "points_per_unit", "rounding", "minimum_order", "thresholds"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self

    def fields(self) -> dict[str, Any]:
        return programme_fields(self, self.model_fields_set)


def programme_fields(body: BaseModel, names: set[str]) -> dict[str, Any]:
    """The members named, as domain.Program fields."""
    out: dict[str, Any] = {}
    for name in names:
        value = getattr(body, name)
        if name == "thresholds":
            value = tuple(Threshold(t.points, t.coupon.terms()) for t in value)
        elif name in ("birthday_coupon", "referrer_coupon", "referee_coupon") and value is not None:
            value = value.terms()
        elif name == "group_multipliers":
            value = tuple(sorted((value or {}).items()))
        out[name] = value
    return out


# -- response bodies ------------------------------------------------------------------------
def entry_view(doc: JournalRecord) -> dict[str, Any]:
    return {
        "id": doc["_id"],
        "customer_id": doc["customer_id"],
        "currency": doc["currency"],
        "kind": doc["kind"],
        "amount": doc["amount"],
        "balance_after": doc["balance_after"],
        "available_after": doc["available_after"],
        "sequence": doc["sequence"],
        "reason": doc.get("reason") or doc.get("description"),
        "operator": doc.get("operator"),
        "order_id": doc.get("order_id"),
        "hold_id": doc.get("hold_id"),
        "caused_by": doc.get("caused_by"),
        "expires_at": doc.get("expires_at"),
        "at": doc["at"],
    }


def balance_view(latest: JournalRecord, now: datetime, credit_limit: int = 0) -> dict[str, Any]:
    """An account from its newest record; credit already expired is not `expiring`."""
    s = latest["state"]
    return {
        "currency": latest["currency"],
        "balance": s["balance"],
        "available": s["available"],
        "held": s["held"],
        "credit_limit": credit_limit,
        "expiring": [
            {"amount": x["remaining"], "expires_at": x["expires_at"], "funding_id": x["id"]}
            for x in s["lots"]
            if x["expires_at"] > now
        ],
        "updated_at": latest["at"],
    }


def credit_view(line: CreditLine | None) -> dict[str, Any]:
    """What the customer's groups let them buy on account."""
    return {
        "group_ids": line["group_ids"] if line else [],
        "limits": [{"amount": a, "currency": c} for c, a in (line["limits"] if line else {}).items()],
        "payment_terms_days": line["payment_terms_days"] if line else None,
    }


def coupon_terms_view(c: CouponTerms | None) -> dict[str, Any] | None:
    if c is None:
        return None
    return {"kind": c.kind, "value": c.value, "currency": c.currency, "valid_days": c.valid_days}


def programme_view(p: Program) -> dict[str, Any]:
    return {
        "id": p.id,
        "name": p.name,
        "version": p.version,
        "source": "environment" if p.version == 0 else "api",
        "points_per_unit": p.points_per_unit,
        "currency": p.currency,
        "rounding": p.rounding,
        "minimum_order": p.minimum_order,
        "thresholds": [{"points": t.points, "coupon": coupon_terms_view(t.coupon)} for t in p.thresholds],
        "birthday_coupon": coupon_terms_view(p.birthday_coupon),
        "referrer_coupon": coupon_terms_view(p.referrer_coupon),
        "referee_coupon": coupon_terms_view(p.referee_coupon),
        "group_multipliers": dict(p.group_multipliers),
        "points_expire_days": p.points_expire_days,
        "starts_at": p.starts_at,
        "ends_at": p.ends_at,
        "effective_from": p.effective_from,
    }


def program_view(p: Program) -> dict[str, Any]:
    """The programme in effect; `target` and `coupon` are those of its highest threshold."""
    top = p.thresholds[-1].coupon if p.thresholds else None
    return {**programme_view(p), "target": p.target, "coupon": coupon_terms_view(top)}


def rewards_view(customer_id: str, state: RewardState, program: Program | None) -> dict[str, Any]:
    return {
        "customer_id": customer_id,
        "points": state["points"],
        "earned_total": state["earned_total"],
        "reversed_total": state.get("reversed_total", 0),
        "expired_total": state.get("expired_total", 0),
        "expiring": [
            {"points": x["points"], "expires_at": x["expires_at"], "order_id": x["order_id"]}
            for x in state.get("lots", [])
        ],
        "target": program.target if program else None,
        "coupons_issued": len(state["coupons"]),
        "movements": list(reversed(state.get("movements", []))),  # newest first
    }


def coupon_view(c: Coupon, now: datetime) -> dict[str, Any]:
    return {
        "code": c["code"],
        "customer_id": c["customer_id"],
        "kind": c["kind"],
        "value": c["value"],
        "currency": c["currency"],
        "issued_at": c["issued_at"],
        "expires_at": c["expires_at"],
        "status": coupon_status(c, now),
        "redeemed_at": c["redeemed_at"],
        "revoked_at": c.get("revoked_at"),
        "order_id": c.get("order_id"),
    }


# -- response models (the OpenAPI document; routes return these shapes as built above) ----
class MoneyOut(BaseModel):
    amount: int = Field(description="Minor units")
    currency: str


class ExpiringCreditOut(BaseModel):
    amount: int = Field(description="Minor units left of one funding that expires")
    expires_at: datetime
    funding_id: str


class BalanceOut(BaseModel):
    currency: str
    balance: int = Field(description="Minor units; below zero only by a group's credit limit")
    available: int = Field(description="balance - held")
    held: int
    credit_limit: int = Field(description="How far below zero purchases may take the balance (groups)")
    expiring: list[ExpiringCreditOut]
    updated_at: datetime


class CreditOut(BaseModel):
    """What the customer's groups let them buy on account: per currency the most generous limit."""

    group_ids: list[str]
    limits: list[MoneyOut]
    payment_terms_days: int | None


class AccountOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "customer_id": CUSTOMER_ID,
                    "balances": [
                        {
                            "currency": "EUR",
                            "balance": 7500,
                            "available": 3300,
                            "held": 4200,
                            "credit_limit": 50000,
                            "expiring": [
                                {"amount": 2500, "expires_at": "2027-06-30T23:59:59Z", "funding_id": ENTRY_ID}
                            ],
                            "updated_at": "2026-12-01T10:00:00Z",
                        }
                    ],
                    "credit": {
                        "group_ids": [GROUP_ID],
                        "limits": [{"amount": 50000, "currency": "EUR"}],
                        "payment_terms_days": 30,
                    },
                }
            ]
        }
    )

    customer_id: str
    balances: list[BalanceOut]
    credit: CreditOut


class EntryOut(BaseModel):
    id: str
    customer_id: str
    currency: str
    kind: str = Field(description="funding, unfunding, purchase, refund, reward, expiry, adjustment")
    amount: int = Field(description="Signed minor units: credits positive, debits negative")
    balance_after: int
    available_after: int
    sequence: int
    reason: str | None
    operator: str | None
    order_id: str | None
    hold_id: str | None
    caused_by: str | None
    expires_at: datetime | None
    at: datetime


class EntryPage(BaseModel):
    items: list[EntryOut]
    next_cursor: str | None


class HoldOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": HOLD_ID,
                    "customer_id": CUSTOMER_ID,
                    "currency": "EUR",
                    "amount": 4200,
                    "status": "captured",
                    "expires_at": "2026-12-01T10:15:00Z",
                    "order_id": ORDER_ID,
                    "created_at": "2026-12-01T10:00:00Z",
                    "ended_at": "2026-12-01T10:02:30Z",
                    "captured_amount": 4200,
                    "entry_id": "ent_9b2d4f6a8c0e1b3d5f7a9c2e",
                }
            ]
        }
    )

    id: str
    customer_id: str
    currency: str
    amount: int
    status: Literal["active", "captured", "voided", "expired"]
    expires_at: datetime
    order_id: str | None
    created_at: datetime
    ended_at: datetime | None
    captured_amount: int | None
    entry_id: str | None


class CouponTermsOut(BaseModel):
    kind: Literal["amount", "percentage"]
    value: int
    currency: str | None
    valid_days: int


class ThresholdOut(BaseModel):
    points: int
    coupon: CouponTermsOut


class ProgrammeOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_PROGRAMME_OUT]})

    id: str
    name: str
    version: int
    source: Literal["environment", "api"]
    points_per_unit: int
    currency: str | None
    rounding: Literal["down", "nearest", "up"]
    minimum_order: int
    thresholds: list[ThresholdOut]
    birthday_coupon: CouponTermsOut | None
    referrer_coupon: CouponTermsOut | None
    referee_coupon: CouponTermsOut | None
    group_multipliers: dict[str, int] = Field(description=MULTIPLIERS)
    points_expire_days: int | None = Field(description=EXPIRY)
    starts_at: datetime | None
    ends_at: datetime | None
    effective_from: datetime | None


class ProgramInEffectOut(ProgrammeOut):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{**_PROGRAMME_OUT, "target": 250, "coupon": _BIG_COUPON}]}
    )

    target: int | None = Field(description="The points of the highest threshold")
    coupon: CouponTermsOut | None = Field(description="The highest threshold's coupon")


class ProgrammeList(BaseModel):
    items: list[ProgrammeOut]


class MovementOut(BaseModel):
    kind: Literal["earned", "reversed", "expired"]
    points: int = Field(description="Signed: what moved")
    requested: int
    order_id: str | None
    reason: str
    at: datetime


class ExpiringPointsOut(BaseModel):
    points: int
    expires_at: datetime
    order_id: str | None


class RewardsOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "customer_id": CUSTOMER_ID,
                    "points": 84,
                    "earned_total": 334,
                    "reversed_total": 0,
                    "expired_total": 0,
                    "expiring": [{"points": 84, "expires_at": "2027-12-01T10:00:00Z", "order_id": ORDER_ID}],
                    "target": 250,
                    "coupons_issued": 1,
                    "movements": [
                        {
                            "kind": "earned",
                            "points": 84,
                            "requested": 84,
                            "order_id": ORDER_ID,
                            "reason": f"order {ORDER_ID} earned 84 points",
                            "at": "2026-12-01T10:00:00Z",
                        }
                    ],
                }
            ]
        }
    )

    customer_id: str
    points: int = Field(description="Towards the next coupon")
    earned_total: int
    reversed_total: int
    expired_total: int
    expiring: list[ExpiringPointsOut]
    target: int | None
    coupons_issued: int
    movements: list[MovementOut] = Field(description="The newest point movements, newest first")


class KpisOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: datetime = Field(alias="from")
    to: datetime
    customers: int
    members: int
    enrolment_rate: float | None
    new_members: int
    points_issued: int
    points_reversed: int
    points_redeemed: int
    points_expired: int
    coupons_issued: int
    coupons_redeemed: int
    redemption_rate: float | None
    referral_conversions: int


class ReferralOut(BaseModel):
    customer_id: str
    code: str
    conversions: int


class CouponOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "code": "RW-3A9F0C12B7E4",
                    "customer_id": CUSTOMER_ID,
                    "kind": "amount",
                    "value": 500,
                    "currency": "EUR",
                    "issued_at": "2026-11-20T14:30:00Z",
                    "expires_at": "2027-02-18T14:30:00Z",
                    "status": "redeemed",
                    "redeemed_at": "2026-12-01T10:00:00Z",
                    "order_id": ORDER_ID,
                }
            ]
        }
    )

    code: str
    customer_id: str
    kind: Literal["amount", "percentage"]
    value: int
    currency: str | None
    issued_at: datetime
    expires_at: datetime
    status: Literal["redeemed", "revoked", "expired", "active"]
    redeemed_at: datetime | None
    revoked_at: datetime | None = Field(
        default=None, description="Revoked unused: a refund took back the points that paid for it"
    )
    order_id: str | None


class CouponPage(BaseModel):
    items: list[CouponOut]
    next_cursor: str | None
