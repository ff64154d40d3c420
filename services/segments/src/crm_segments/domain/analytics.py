"""Customer analytics over all profiles or one segment's, by streaming the profiles (FerretDB
lacks $avg, $min, $max, $push and $facet, and its $sum is unreliable without a group key), so
only counters are held in memory, never the profiles.

Definitions (money in minor units of the base currency; only counted currencies, domain/money.py):
- customers: profiles considered; buyers: those with at least one order.
- new_customers: buyers with exactly one order; returning_customers: with two or more.
- repeat_purchase_rate = returning / buyers.
- average_order_value = money spent by all / their orders (rounded down).
- average_lifetime_value = money spent by all / buyers (rounded down).
- churn: buyers whose last order is more than `churn_days` days ago, and their share of buyers.
- countries: customers per country (null: unknown), most first.
- RFM: for buyers, recency (last order date, more recent is better), frequency (orders) and
  monetary (amount spent) each scored 1 to 5 by quintile: score = 1 + floor(5 * w / n), with w
  the number of buyers whose value is strictly worse and n the number of buyers. Ties share a
  score. The RFM group is the three digits, e.g. "545".
"""

from bisect import bisect_left
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import accumulate
from typing import Any, TypedDict

from crm_segments.domain.documents import ProfileFigures

RFM_FIELDS = {"_id": 1, "last_order_date": 1, "number_of_orders": 1, "amount_spent": 1}
"""The projection RFM needs; summary() also reads `country` and `counted_orders`."""
SUMMARY_FIELDS = {**RFM_FIELDS, "country": 1, "counted_orders": 1}


class RfmScore(TypedDict):
    recency: int
    frequency: int
    monetary: int
    rfm: str


class Money(TypedDict):
    amount: int
    currency: str


class Churn(TypedDict):
    days: int
    customers: int
    rate: float | None


class CountryCount(TypedDict):
    country: str | None
    customers: int


class RfmGroup(TypedDict):
    rfm: str
    recency: int
    frequency: int
    monetary: int
    customers: int


class Summary(TypedDict):
    customers: int
    buyers: int
    new_customers: int
    returning_customers: int
    repeat_purchase_rate: float | None
    average_order_value: Money | None
    average_lifetime_value: Money | None
    total_spent: Money | None
    churn: Churn
    countries: list[CountryCount]
    rfm_groups: list[RfmGroup]


def is_buyer(p: ProfileFigures) -> bool:
    return p.get("number_of_orders", 0) > 0 and p.get("last_order_date") is not None


@dataclass
class Quintiles:
    """Scores values 1 to 5 from the count of each distinct value seen."""

    counts: Counter[Any] = field(default_factory=Counter)

    def add(self, value: Any) -> None:
        self.counts[value] += 1

    def scorer(self) -> Callable[[Any], int]:
        values = sorted(self.counts)  # ascending: lower is worse for every RFM metric
        worse = list(accumulate((self.counts[v] for v in values), initial=0))
        n = worse[-1] or 1

        def score(value: Any) -> int:
            # A value not seen (the profile changed since) still gets its place in the order.
            return min(5, 1 + (5 * worse[bisect_left(values, value)]) // n)

        return score


@dataclass
class RfmScorer:
    recency: Callable[[Any], int]
    frequency: Callable[[Any], int]
    monetary: Callable[[Any], int]

    def score(self, p: ProfileFigures) -> RfmScore:
        r = self.recency(p["last_order_date"])
        f = self.frequency(p["number_of_orders"])
        m = self.monetary(p["amount_spent"])
        return {"recency": r, "frequency": f, "monetary": m, "rfm": f"{r}{f}{m}"}


async def rfm_scorer(profiles: AsyncIterator[ProfileFigures]) -> RfmScorer:
    r, f, m = Quintiles(), Quintiles(), Quintiles()
    async for p in profiles:
        if is_buyer(p):
            r.add(p["last_order_date"])
            f.add(p["number_of_orders"])
            m.add(p["amount_spent"])
    return RfmScorer(r.scorer(), f.scorer(), m.scorer())


async def summary(
    first_pass: AsyncIterator[ProfileFigures],
    second_pass: AsyncIterator[ProfileFigures],
    now: datetime,
    churn_days: int,
    currency: str,
) -> Summary:
    """Two streams of the same profiles: the first gives the RFM quintiles, the second counts."""
    scorer = await rfm_scorer(first_pass)
    customers = buyers = returning = new = churned = orders = spent = 0
    countries: Counter[str | None] = Counter()
    groups: Counter[str] = Counter()
    churn_before = now - timedelta(days=churn_days)
    async for p in second_pass:
        customers += 1
        countries[p.get("country")] += 1
        last_order = p.get("last_order_date")
        if not is_buyer(p) or last_order is None:  # is_buyer tests it too; this tells mypy
            continue
        buyers += 1
        n = p["number_of_orders"]
        new += n == 1
        returning += n >= 2
        churned += last_order < churn_before
        orders += p.get("counted_orders", 0)
        spent += p.get("amount_spent", 0)
        groups[scorer.score(p)["rfm"]] += 1

    def share(part: int) -> float | None:
        return part / buyers if buyers else None

    def money(amount: int | None) -> Money | None:
        return None if amount is None else {"amount": amount, "currency": currency}

    return {
        "customers": customers,
        "buyers": buyers,
        "new_customers": new,
        "returning_customers": returning,
        "repeat_purchase_rate": share(returning),
        "average_order_value": money(spent // orders if orders else None),
        "average_lifetime_value": money(spent // buyers if buyers else None),
        "total_spent": money(spent),
        "churn": {"days": churn_days, "customers": churned, "rate": share(churned)},
        "countries": [
            {"country": c, "customers": k}
            for c, k in sorted(countries.items(), key=lambda i: (-i[1], i[0] or "~"))
        ],
        "rfm_groups": [
            {"rfm": g, "recency": int(g[0]), "frequency": int(g[1]), "monetary": int(g[2]), "customers": k}
            for g, k in sorted(groups.items(), key=lambda i: i[0], reverse=True)
        ],
    }
