"""Reward program rules with no I/O (NexoPOS-style: points per amount spent; reaching the
target issues a coupon; leftover points carry over).

A customer's reward state is one versioned document (documents.RewardState): points towards the
next coupon, earned_total, coupons. The n-th coupon of a customer has a code derived from
(customer, n), so however often an order's points are applied, the coupon for crossing the
target the n-th time is one coupon with one code.
"""

import calendar
import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from crm_ledger.domain.documents import (
    Coupon,
    CouponSource,
    MergedRewards,
    OrderPoints,
    OrderShare,
    PointsLot,
    PointsMovement,
    RewardState,
)
from crm_ledger.domain.programmes import CouponTerms, Program
from crm_servicekit.errors import Conflict, NotFound


class CouponNotRedeemable(Conflict):
    """409 coupon-used / coupon-expired."""

    def __init__(self, slug: Literal["coupon-used", "coupon-revoked", "coupon-expired"], detail: str) -> None:
        super().__init__(slug, "Coupon cannot be redeemed", detail)


def coupon_code(customer_id: str, n: int) -> str:
    digest = hashlib.sha256(f"{customer_id}:{n}".encode()).hexdigest()[:12].upper()
    return f"RW-{digest}"


def referral_code(customer_id: str) -> str:
    """The code a customer shares: the same for ever, from the customer id."""
    return "REF-" + hashlib.sha256(f"referral:{customer_id}".encode()).hexdigest()[:10].upper()


def grant_referral(
    state: RewardState,
    terms: CouponTerms | None,
    role: Literal["referrer", "referee"],
    referee_id: str,
    order_id: str,
    now: datetime,
) -> tuple[RewardState | None, Coupon | None]:
    """The reward of one side of a referee's conversion (None, None: the state has it already).
    The new state records it even when the programme gives that side no coupon, so the
    conversion's event goes out with it."""
    code = "RF-" + hashlib.sha256(f"{role}:{referee_id}".encode()).hexdigest()[:12].upper()
    if any(c["code"] == code for c in state["coupons"]):
        return None, None
    coupon = new_coupon(code, state["id"], terms, now, order_id, "referral") if terms else None
    coupons = [*state["coupons"], coupon] if coupon else state["coupons"]
    return {**state, "version": state["version"] + 1, "coupons": coupons}, coupon


def birthday_code(customer_id: str, year: int) -> str:
    digest = hashlib.sha256(f"birthday:{customer_id}:{year}".encode()).hexdigest()[:12].upper()
    return f"BD-{digest}"


def birthday_keys(today: date) -> list[str]:
    """The stored birthdays ("MM-DD") celebrated today: 29 February on the 28th in other years."""
    keys = [today.strftime("%m-%d")]
    if (today.month, today.day) == (2, 28) and not calendar.isleap(today.year):
        keys.append("02-29")
    return keys


def grant_birthday(
    state: RewardState, terms: CouponTerms, year: int, now: datetime
) -> tuple[RewardState | None, Coupon]:
    """The birthday coupon of `year` (None: the state has it already). Its code comes from
    (customer, year), so it is one coupon however often or wherever the job runs."""
    code = birthday_code(state["id"], year)
    existing = next((c for c in state["coupons"] if c["code"] == code), None)
    if existing is not None:
        return None, existing
    coupon = new_coupon(code, state["id"], terms, now, None, "birthday")
    return {**state, "version": state["version"] + 1, "coupons": [*state["coupons"], coupon]}, coupon


def empty(customer_id: str) -> RewardState:
    return {"id": customer_id, "version": 0, "points": 0, "earned_total": 0, "coupons": []}


def new_coupon(
    code: str,
    customer_id: str,
    terms: CouponTerms,
    now: datetime,
    order_id: str | None,
    source: CouponSource,
) -> Coupon:
    return {
        "code": code,
        "customer_id": customer_id,
        "kind": terms.kind,
        "value": terms.value,
        "currency": terms.currency if terms.kind == "amount" else None,
        "issued_at": now,
        "expires_at": now + timedelta(days=terms.valid_days),
        "order_id": order_id,
        "redeemed_at": None,
        "redemption": None,
        "source": source,
    }


def _consume(lots: list[PointsLot], amount: int) -> list[PointsLot]:
    """`amount` points spent or taken back: from the soonest-expiring lots first (what they do
    not cover came from points that never expire)."""
    out: list[PointsLot] = []
    for lot in lots:
        take = min(amount, lot["points"])
        amount -= take
        if lot["points"] - take > 0:
            out.append({**lot, "points": lot["points"] - take})
    return out


def _with_lots(state: RewardState, lots: list[PointsLot]) -> RewardState:
    lots = sorted(lots, key=lambda x: (x["expires_at"], x["id"]))
    return {**state, "lots": lots, "points_deadline": lots[0]["expires_at"] if lots else None}


def expire(state: RewardState, now: datetime) -> tuple[RewardState | None, list[PointsLot]]:
    """Removes what is left of every lot whose time has come, each with a movement saying why:
    (new state, the lots expired); (None, []) when none is due."""
    due = [x for x in state.get("lots", []) if x["expires_at"] <= now]
    if not due:
        return None, []
    points = state["points"]
    movements = list(state.get("movements", []))
    for lot in due:
        gone = min(lot["points"], points)
        points -= gone
        of = f"order {lot['order_id']}" if lot["order_id"] else "an earning"
        movements.append(
            {
                "kind": "expired",
                "points": -gone,
                "requested": lot["points"],
                "order_id": lot["order_id"],
                "reason": f"{gone} points of {of} (earned {lot['earned_at'].date().isoformat()}) expired "
                f"on {lot['expires_at'].date().isoformat()}: the programme's points expire after a while",
                "at": now,
            }
        )
    kept = [x for x in state.get("lots", []) if x["expires_at"] > now]
    new: RewardState = {
        **state,
        "version": state["version"] + 1,
        "points": points,
        "expired_total": state.get("expired_total", 0) + sum(x["points"] for x in due),
        "movements": _kept(movements),
    }
    return _with_lots(new, kept), due


def earn(
    state: RewardState,
    program: Program,
    points: int,
    now: datetime,
    order_id: str | None,
    lot_id: str | None = None,
) -> tuple[RewardState, list[Coupon]]:
    """Adds points; reaching a threshold of the programme issues its coupon, once per cycle;
    reaching the highest spends its worth of points and starts the next cycle (the rest carries
    over). With one threshold: a coupon each time the points reach it. Points taken back by a
    refund do not make a threshold issue again when reached again in the same cycle (the
    refund exploit). Returns (new state, new coupons)."""
    total = state["points"] + points
    reached = state.get("ladder", 0)
    issued: list[Coupon] = []
    n = len(state["coupons"])
    cycle = program.target
    while cycle is not None:
        for t in program.thresholds:
            if reached < t.points <= total:
                n += 1
                coupon = new_coupon(
                    coupon_code(state["id"], n), state["id"], t.coupon, now, order_id, "points"
                )
                if t.points == cycle:
                    coupon["points_spent"] = cycle  # the cycle closes: its points are spent
                issued.append(coupon)
                reached = t.points
        if total < cycle:
            break
        total, reached = total - cycle, 0
    movement: PointsMovement = {
        "kind": "earned",
        "points": points,
        "requested": points,
        "order_id": order_id,
        "reason": f"order {order_id} earned {points} points" if order_id else f"{points} points earned",
        "at": now,
    }
    new: RewardState = {
        **state,
        "version": state["version"] + 1,
        "points": total,
        "earned_total": state["earned_total"] + points,
        "coupons": [*state["coupons"], *issued],
        "movements": _kept([*state.get("movements", []), movement]),
        "ladder": reached,
    }
    lots = list(state.get("lots", []))
    if program.points_expire_days and points > 0:
        lots.append(
            {
                "id": lot_id or f"{order_id}:{state['version'] + 1}",
                "order_id": order_id,
                "points": points,
                "earned_at": now,
                "expires_at": now + timedelta(days=program.points_expire_days),
            }
        )
    if lots or "lots" in state:
        spent = state["points"] + points - total  # a closed cycle's points went into its coupon
        new = _with_lots(new, _consume(sorted(lots, key=lambda x: (x["expires_at"], x["id"])), spent))
    return new, issued


MOVEMENTS_KEPT = 20
"""Point movements kept in the reward state (the document stays small; every reversal is also
published as reward.points.reversed, with its reason)."""


def _kept(movements: list[PointsMovement]) -> list[PointsMovement]:
    return movements[-MOVEMENTS_KEPT:]


@dataclass(frozen=True)
class Reversal:
    """Points taken back from one order: what its share comes to (`requested`), what the
    balance allowed (`points`; never below zero) and the coupons revoked to cover it."""

    order_id: str
    cause: Literal["refund", "cancellation"]
    requested: int
    points: int
    points_after: int
    reason: str
    revoked: tuple[str, ...] = ()


def _revocable(c: Coupon, now: datetime) -> bool:
    """A coupon that points paid for and nobody has used: revoking it gives its points back."""
    return (
        c.get("source", "points") == "points"
        and c.get("points_spent", 0) > 0
        and c["redeemed_at"] is None
        and c.get("revoked_at") is None
        and "moved_to" not in c
        and c["expires_at"] > now
    )


def _revoke_to_cover(
    state: RewardState, short: int, now: datetime
) -> tuple[list[Coupon], list[PointsLot], int, list[Coupon]]:
    """Revokes the newest unused coupons that points paid for until their points cover `short`
    (points the balance lacks for a reversal). Without this, when events arrive in another
    order the same refund leaves a different balance (a coupon issued before it arrived would
    keep points that were never earned), and refunding after the coupon is issued would be
    the refund exploit. The points come back expiring when the coupon would have.
    Returns (coupons, lots, points restored, revoked coupons)."""
    coupons = list(state["coupons"])
    lots = list(state.get("lots", []))
    restored, revoked = 0, list[Coupon]()
    for i in range(len(coupons) - 1, -1, -1):
        if restored >= short:
            break
        c = coupons[i]
        if not _revocable(c, now):
            continue
        coupons[i] = {**c, "revoked_at": now}
        restored += c.get("points_spent", 0)
        revoked.append(coupons[i])
        if "lots" in state:
            lots.append(
                {
                    "id": f"revoked:{c['code']}",
                    "order_id": c["order_id"],
                    "points": c.get("points_spent", 0),
                    "earned_at": now,
                    "expires_at": c["expires_at"],
                }
            )
    return coupons, lots, restored, revoked


def reverse(
    state: RewardState,
    earned: OrderPoints,
    refunded: int | None,
    currency: str | None,
    now: datetime,
) -> tuple[RewardState, Reversal | None]:
    """Takes back an order's points: for a refund of `refunded` (minor units) its share in
    proportion to the order's total (all refunds so far together, rounded down, so partial
    refunds add up to what one full refund would take); for a cancellation (`refunded` None)
    all of it. Never more than the order earned, never the balance below zero: when the balance
    lacks points, unused coupons that points paid for are revoked first (newest first) and
    their points taken instead; points spent on coupons already used stay spent. Returns the
    new state (always: it records the refund) and the reversal, None when nothing is due (a
    cancelled order, a refund whose share rounds to 0)."""
    order_id = earned["order_id"]
    others = [x for x in state.get("shares", []) if x["order_id"] != order_id]
    share = next((x for x in state.get("shares", []) if x["order_id"] == order_id), None)
    refunded_before = share["refunded"] if share else 0
    reversed_before = share["reversed"] if share else 0
    if share is not None and share["cancelled"]:
        return {**state, "version": state["version"] + 1}, None
    total, points = earned["total"], earned["points"]
    if refunded is None:
        target, refunded_now = points, refunded_before
        what = f"order {order_id} cancelled"
    else:
        refunded_now = refunded_before + refunded
        capped = min(refunded_now, total)
        target = points * capped // total if total > 0 else 0
        what = f"order {order_id} refunded {refunded} {currency or ''}".rstrip() + (
            f" ({capped} of {total} in all)" if total > 0 else " (its total is unknown)"
        )
    requested = max(min(target, points) - reversed_before, 0)
    coupons, lots = state["coupons"], state.get("lots", [])
    restored, revoked = 0, list[Coupon]()
    if requested > state["points"]:
        coupons, lots, restored, revoked = _revoke_to_cover(state, requested - state["points"], now)
    balance = state["points"] + restored
    taken = min(requested, balance)
    new_share: OrderShare = {
        "order_id": order_id,
        "refunded": refunded_now,
        "reversed": reversed_before + requested,
        "cancelled": refunded is None,
    }
    new: RewardState = {
        **state,
        "version": state["version"] + 1,
        "points": balance - taken,
        "reversed_total": state.get("reversed_total", 0) + taken,
        "shares": [*others, new_share],
        "coupons": coupons,
    }
    if lots or "lots" in state:
        new = _with_lots(new, _consume(sorted(lots, key=lambda x: (x["expires_at"], x["id"])), taken))
    if requested == 0:
        return new, None
    reason = f"{what}: {taken} of its {points} points taken back"
    if revoked:
        codes = ", ".join(c["code"] for c in revoked)
        reason += f"; unused coupon {codes} revoked to cover it, its {restored} points returned first"
    if taken < requested:
        reason += (
            f"; {requested - taken} more were due but the balance was {balance} "
            "(points already spent on used coupons stay spent; the balance never goes below 0)"
        )
    movement: PointsMovement = {
        "kind": "reversed",
        "points": -taken,
        "requested": requested,
        "order_id": order_id,
        "reason": reason,
        "at": now,
    }
    new["movements"] = _kept([*state.get("movements", []), movement])
    cause: Literal["refund", "cancellation"] = "cancellation" if refunded is None else "refund"
    return new, Reversal(
        order_id, cause, requested, taken, new["points"], reason, tuple(c["code"] for c in revoked)
    )


def redeem(
    state: RewardState, code: str, customer_id: str, redemption: str | None, now: datetime
) -> tuple[RewardState | None, Coupon]:
    """(new state or None when nothing changes, the coupon). Only its owner redeems a coupon
    (someone else's is not found: codes are not to be guessed at). Redeeming again with the
    same redemption key (order id or Idempotency-Key) is the same success; otherwise single use."""
    coupon = next((c for c in state["coupons"] if c["code"] == code), None)
    if coupon is None or coupon["customer_id"] != customer_id:
        raise NotFound("Coupon", code)
    if coupon["redeemed_at"] is not None:
        if redemption is not None and coupon["redemption"] == redemption:
            return None, coupon
        raise CouponNotRedeemable("coupon-used", f"coupon {code} was already redeemed")
    if coupon.get("revoked_at") is not None:
        raise CouponNotRedeemable(
            "coupon-revoked", f"coupon {code} was revoked: the order whose points paid for it was refunded"
        )
    if coupon["expires_at"] <= now:
        raise CouponNotRedeemable(
            "coupon-expired", f"coupon {code} expired at {coupon['expires_at'].isoformat()}"
        )
    used: Coupon = {**coupon, "redeemed_at": now, "redemption": redemption}
    coupons = [used if c["code"] == code else c for c in state["coupons"]]
    return {**state, "version": state["version"] + 1, "coupons": coupons}, used


def coupon_status(c: Coupon, now: datetime) -> Literal["redeemed", "revoked", "expired", "active"]:
    if c["redeemed_at"]:
        return "redeemed"
    if c.get("revoked_at"):
        return "revoked"
    return "expired" if c["expires_at"] <= now else "active"


# -- customer.merged --------------------------------------------------------------------------
def merge_out(state: RewardState, into: str) -> tuple[RewardState | None, MergedRewards]:
    """The merged customer's side of customer.merged: its points (and expiring lots) and its
    unredeemed coupons go to `into`. Returns (new state, what moved); new state None when it
    was handed over before (what moved then). The coupons stay in this state, marked `moved_to`,
    so the n-th coupon code of this customer is never issued twice and its history stays."""
    done = state.get("merged_out")
    if done is not None:
        return None, done
    moving = [c for c in state["coupons"] if c["redeemed_at"] is None and not c.get("moved_to")]
    moved: MergedRewards = {
        "from_id": state["id"],
        "into": into,
        "points": state["points"],
        "lots": list(state.get("lots", [])),
        "coupons": [{**c, "customer_id": into} for c in moving],
    }
    codes = {c["code"] for c in moving}
    coupons: list[Coupon] = [{**c, "moved_to": into} if c["code"] in codes else c for c in state["coupons"]]
    new: RewardState = {
        **state,
        "version": state["version"] + 1,
        "points": 0,
        "coupons": coupons,
        "merged_into": into,
        "merged_out": moved,
    }
    return _with_lots(new, []), moved


def merge_in(state: RewardState, moved: MergedRewards) -> RewardState:
    """The kept customer's side: the merged customer's points, lots and coupons added (what they
    earned stays counted under the merged customer: `earned_total` is not moved)."""
    have = {c["code"] for c in state["coupons"]}
    coupons = [*state["coupons"], *(c for c in moved["coupons"] if c["code"] not in have)]
    new: RewardState = {
        **state,
        "version": state["version"] + 1,
        "points": state["points"] + moved["points"],
        "coupons": coupons,
    }
    return _with_lots(new, [*state.get("lots", []), *moved["lots"]])
