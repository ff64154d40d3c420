"""Loyalty KPIs of a period, with no I/O: computed from what the store hands over (stored
facts, every figure derived here, in Python: FerretDB 1.24 has no `$facet`, `$lookup` or
`$avg`, and this is correct on MongoDB alike). Periods are half-open, [from, to)."""

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class LoyaltyKpis:
    customers: int  # known, not erased, heard of before `to`
    members: int  # of those, who had earned points before `to`
    enrolment_rate: float | None  # members / customers
    new_members: int  # first points earned in the period
    points_issued: int  # earned by orders in the period
    points_reversed: int  # taken back by refunds and cancellations in the period
    points_redeemed: int  # turned into coupons in the period (a cycle's points, spent)
    points_expired: int  # expired in the period (programmes with points_expire_days)
    coupons_issued: int  # in the period, every source (points, birthday, referral)
    coupons_redeemed: int  # of those, redeemed by now
    redemption_rate: float | None  # coupons_redeemed / coupons_issued
    referral_conversions: int  # referred customers whose first order fell in the period

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _in(t: datetime | None, start: datetime, end: datetime) -> bool:
    return t is not None and start <= t < end


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def loyalty_kpis(
    start: datetime,
    end: datetime,
    customers: Iterable[tuple[str, datetime | None]],  # (id, first heard of; None: before records)
    erased: set[str],
    earnings: Iterable[tuple[str, int, datetime]],  # (customer, points, when): what orders earned
    reversals: Iterable[tuple[int, datetime]],  # (points taken back, when)
    coupons: Iterable[tuple[datetime, datetime | None, int]],  # (issued, redeemed, points spent)
    conversions: Iterable[datetime],
    expiries: Iterable[tuple[int, datetime]] = (),  # (points expired, when)
) -> LoyaltyKpis:
    known = {c for c, since in customers if c not in erased and (since is None or since < end)}
    first: dict[str, datetime] = {}
    issued = 0
    for customer, points, at in earnings:
        if customer not in first or at < first[customer]:
            first[customer] = at
        issued += points if _in(at, start, end) else 0
    members = {c for c, at in first.items() if at < end and c in known}
    new_members = sum(1 for c in members if first[c] >= start)
    in_period = [(r, spent) for at, r, spent in coupons if _in(at, start, end)]
    redeemed = sum(1 for r, _ in in_period if r is not None)
    return LoyaltyKpis(
        customers=len(known),
        members=len(members),
        enrolment_rate=_rate(len(members), len(known)),
        new_members=new_members,
        points_issued=issued,
        points_reversed=sum(p for p, at in reversals if _in(at, start, end)),
        points_redeemed=sum(spent for at, _, spent in coupons if _in(at, start, end)),
        points_expired=sum(p for p, at in expiries if _in(at, start, end)),
        coupons_issued=len(in_period),
        coupons_redeemed=redeemed,
        redemption_rate=_rate(redeemed, len(in_period)),
        referral_conversions=sum(1 for at in conversions if _in(at, start, end)),
    )
