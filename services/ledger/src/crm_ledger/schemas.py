"""Every HTTP request model of the ledger, and the shapes of its response bodies (plain JSON
objects made from the typed documents; the API declares no response models)."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from crm_contracts.types import CurrencyCode, UtcDatetime, utcnow
from crm_ledger.domain import Coupon, JournalRecord, Program, RewardState
from crm_ledger.domain.rewards import coupon_status

MAX_AMOUNT = 10**13


class NewEntry(BaseModel):
    """funding / reward credit, unfunding debits; adjustment is signed (a correction)."""

    model_config = ConfigDict(extra="forbid")

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
    model_config = ConfigDict(extra="forbid")

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
    model_config = ConfigDict(extra="forbid")

    amount: int | None = Field(default=None, gt=0, le=MAX_AMOUNT, description="Default: the hold's amount")
    order_id: str | None = Field(default=None, max_length=100)


class Redeem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    order_id: str | None = Field(
        default=None, max_length=100, description="Redeeming again for the same order is the same success"
    )


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


def balance_view(latest: JournalRecord, now: datetime) -> dict[str, Any]:
    """An account from its newest record; credit already expired is not `expiring`."""
    s = latest["state"]
    return {
        "currency": latest["currency"],
        "balance": s["balance"],
        "available": s["available"],
        "held": s["held"],
        "expiring": [
            {"amount": x["remaining"], "expires_at": x["expires_at"], "funding_id": x["id"]}
            for x in s["lots"]
            if x["expires_at"] > now
        ],
        "updated_at": latest["at"],
    }


def program_view(p: Program) -> dict[str, Any]:
    return {
        "points_per_unit": p.points_per_unit,
        "currency": p.currency,
        "target": p.target,
        "coupon": {
            "kind": p.coupon_kind,
            "value": p.coupon_value,
            "currency": p.coupon_currency if p.coupon_kind == "amount" else None,
            "valid_days": p.coupon_days,
        },
    }


def rewards_view(customer_id: str, state: RewardState, program: Program) -> dict[str, Any]:
    return {
        "customer_id": customer_id,
        "points": state["points"],
        "earned_total": state["earned_total"],
        "target": program.target,
        "coupons_issued": len(state["coupons"]),
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
        "order_id": c.get("order_id"),
    }
