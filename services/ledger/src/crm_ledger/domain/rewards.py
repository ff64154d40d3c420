"""Reward program rules with no I/O (NexoPOS-style: points per amount spent; reaching the
target issues a coupon; leftover points carry over).

A customer's reward state is one versioned document (documents.RewardState): points towards the
next coupon, earned_total, coupons. The n-th coupon of a customer has a code derived from
(customer, n), so however often an order's points are applied, the coupon for crossing the
target the n-th time is one coupon with one code.
"""

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from crm_ledger.domain.documents import Coupon, CouponKind, RewardState
from crm_servicekit.errors import Conflict, NotFound

# ISO 4217 minor-unit exponents other than 2 (the rest use 2).
_EXPONENTS = {
    "BIF": 0,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "ISK": 0,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "PYG": 0,
    "RWF": 0,
    "UGX": 0,
    "UYI": 0,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
    "BHD": 3,
    "IQD": 3,
    "JOD": 3,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "TND": 3,
}


class CouponNotRedeemable(Conflict):
    """409 coupon-used / coupon-expired."""

    def __init__(self, slug: Literal["coupon-used", "coupon-expired"], detail: str) -> None:
        super().__init__(slug, "Coupon cannot be redeemed", detail)


@dataclass(frozen=True)
class Program:
    points_per_unit: int
    target: int
    coupon_kind: CouponKind
    coupon_value: int
    coupon_currency: str
    coupon_days: int
    currency: str | None = None  # only orders in this currency earn points

    def points_for(self, total: int, currency: str) -> int:
        """Points for an order total in minor units: per whole major unit (rounded down)."""
        if self.points_per_unit == 0 or (self.currency and currency != self.currency):
            return 0
        return total * self.points_per_unit // 10 ** _EXPONENTS.get(currency, 2)


def coupon_code(customer_id: str, n: int) -> str:
    digest = hashlib.sha256(f"{customer_id}:{n}".encode()).hexdigest()[:12].upper()
    return f"RW-{digest}"


def empty(customer_id: str) -> RewardState:
    return {"id": customer_id, "version": 0, "points": 0, "earned_total": 0, "coupons": []}


def earn(
    state: RewardState, program: Program, points: int, now: datetime, order_id: str | None
) -> tuple[RewardState, list[Coupon]]:
    """Adds points; for every time they reach the target a coupon is issued and the target's
    worth of points is spent. Returns (new state, new coupons)."""
    total = state["points"] + points
    issued: list[Coupon] = []
    n = len(state["coupons"])
    while total >= program.target:
        total -= program.target
        n += 1
        issued.append(
            {
                "code": coupon_code(state["id"], n),
                "customer_id": state["id"],
                "kind": program.coupon_kind,
                "value": program.coupon_value,
                "currency": program.coupon_currency if program.coupon_kind == "amount" else None,
                "issued_at": now,
                "expires_at": now + timedelta(days=program.coupon_days),
                "order_id": order_id,
                "redeemed_at": None,
                "redemption": None,
            }
        )
    new: RewardState = {
        **state,
        "version": state["version"] + 1,
        "points": total,
        "earned_total": state["earned_total"] + points,
        "coupons": [*state["coupons"], *issued],
    }
    return new, issued


def redeem(
    state: RewardState, code: str, redemption: str | None, now: datetime
) -> tuple[RewardState | None, Coupon]:
    """(new state or None when nothing changes, the coupon). Redeeming again with the same
    redemption key (order id or Idempotency-Key) is the same success; otherwise single use."""
    coupon = next((c for c in state["coupons"] if c["code"] == code), None)
    if coupon is None:
        raise NotFound("Coupon", code)
    if coupon["redeemed_at"] is not None:
        if redemption is not None and coupon["redemption"] == redemption:
            return None, coupon
        raise CouponNotRedeemable("coupon-used", f"coupon {code} was already redeemed")
    if coupon["expires_at"] <= now:
        raise CouponNotRedeemable(
            "coupon-expired", f"coupon {code} expired at {coupon['expires_at'].isoformat()}"
        )
    used: Coupon = {**coupon, "redeemed_at": now, "redemption": redemption}
    coupons = [used if c["code"] == code else c for c in state["coupons"]]
    return {**state, "version": state["version"] + 1, "coupons": coupons}, used


def coupon_status(c: Coupon, now: datetime) -> Literal["redeemed", "expired", "active"]:
    return "redeemed" if c["redeemed_at"] else "expired" if c["expires_at"] <= now else "active"
