"""Analytics over a period [start, end) from the order facts (documents.OrderFact) and the
profiles in scope, computed by streaming (FerretDB 1.24 lacks $facet, $lookup and $avg): three
passes, each holding counters and a few values per customer, never the documents.

1. the profiles in scope (all active customers, a segment's or a group's): the customer's id,
   e-mail key, country, city and the first and last order dates the customers service counted
   (which include orders from before this service recorded order facts);
2. refunds and cancellations, by order;
3. the placed orders before `end`, oldest first.

An order's customer is the customer the storefront named, else the profile with its e-mail.
Over all customers, the orders of a customer no profile knows (not yet created, or erased and
anonymised) count too, with no country or city; over a segment or a group they cannot belong.

Definitions (money in minor units of the base currency, domain/money.py: an order in a currency
that does not count adds to `orders` but to no money figure):
- an order counts unless it was cancelled; its revenue is its total less its refunds (never
  below 0), in the period the order was placed;
- buyers: customers with an order in the period; new_customers: buyers whose first order ever is
  in the period; returning_customers: the other buyers (a first order before the period);
- repeat_purchase_rate: buyers with at least two orders by the end of the period (returning
  buyers, and new buyers with two orders in it) / buyers;
- average_order_value: revenue / counted orders; average_lifetime_value: revenue / buyers;
- churn: customers with an order before `end` whose latest order before `end` is more than
  `churn_days` before `end`, and their share of those customers (today's churn, as at `end`);
- cohorts: customers by the month of their first order (months from `start` to `end`), and in
  each later month up to the month of `end`, those of them with an order in that month;
- timing: orders by weekday (0 = Monday) and hour in the store's time zone; the average number of
  days between an order in the period and the customer's previous order;
- preferences: per category and SKU of the items of orders in the period, distinct buyers, units
  and item revenue (quantity * unit price, before refunds);
- CAC: marketing spend over the period (an entry straddling a bound counts pro rata of its time)
  / new customers, per currency of the spend.
"""

import csv
import io
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, TypedDict

from crm_segments.domain.documents import MarketingSpend, OrderFact
from crm_segments.domain.money import BaseMoney
from crm_segments.domain.orders import CANCELLED, REFUNDED
from crm_servicekit.errors import Invalid

PROFILE_FIELDS = {
    "_id": 1,
    "email_key": 1,
    "country": 1,
    "city": 1,
    "first_order_date": 1,
    "last_order_date": 1,
}
"""The projection of the profiles in scope this module reads."""

MICRO = timedelta(microseconds=1)
EARLIEST, LATEST = datetime(1900, 1, 1, tzinfo=UTC), datetime(2300, 1, 1, tzinfo=UTC)
"""Periods lie within these: any time zone can show them, and a cohort triangle stays small."""
MOST_COHORT_MONTHS = 240


class ScopeProfile(TypedDict, total=False):
    _id: str
    email_key: str | None
    country: str | None
    city: str | None
    first_order_date: datetime | None
    last_order_date: datetime | None


@dataclass(frozen=True)
class Period:
    start: datetime
    end: datetime

    @classmethod
    def of(cls, start: datetime, end: datetime) -> "Period":
        if start >= end:
            raise Invalid(
                "`from` must be before `to`",
                errors=[{"field": "from", "message": "must be before `to`"}],
            )
        for name, t in (("from", start), ("to", end)):
            if not EARLIEST <= t <= LATEST:
                raise Invalid(
                    f"`{name}` must be between {EARLIEST.year} and {LATEST.year}",
                    errors=[{"field": name, "message": "out of range"}],
                )
        return cls(start, end)

    def holds(self, t: datetime) -> bool:
        return self.start <= t < self.end

    def share(self, starts_at: datetime, ends_at: datetime, amount: int) -> int:
        """The part of `amount`, spent evenly over [starts_at, ends_at), that falls in the period."""
        overlap = min(ends_at, self.end) - max(starts_at, self.start)
        length = ends_at - starts_at
        if overlap <= timedelta(0) or length <= timedelta(0):
            return 0
        return amount * (overlap // MICRO) // (length // MICRO)


@dataclass
class Who:
    """What the passes keep per customer."""

    country: str | None = None
    city: str | None = None
    profile: bool = False  # a customer in scope (not only orders of an unknown one)
    first: datetime | None = None  # earliest known order (profile or facts)
    last: datetime | None = None  # latest known order before `end` (profile or facts seen so far)
    last_fact: datetime | None = None  # latest order fact seen so far (for the days between orders)
    in_period: int = 0
    revenue: int = 0
    months: set[int] = field(default_factory=set)  # month numbers with an order

    def knows(self, t: datetime | None, end: datetime) -> None:
        if t is None or t >= end:
            return
        self.first = t if self.first is None else min(self.first, t)
        self.last = t if self.last is None else max(self.last, t)


@dataclass
class Item:
    buyers: set[str] = field(default_factory=set)
    units: int = 0
    revenue: int = 0


class Money(TypedDict):
    amount: int
    currency: str


def _month(t: datetime, tz: tzinfo) -> int:
    local = t.astimezone(tz)
    return local.year * 12 + local.month - 1


def _month_name(n: int) -> str:
    return f"{n // 12:04d}-{n % 12 + 1:02d}"


class PeriodFigures:
    """Feed the three passes in order (add_profile, add_adjustment, add_order), then read."""

    def __init__(
        self, period: Period, money: BaseMoney, tz: tzinfo, *, scoped: bool, churn_days: int = 90
    ) -> None:
        self.period, self.money, self.tz, self.scoped, self.churn_days = period, money, tz, scoped, churn_days
        self.who: dict[str, Who] = {}
        self.by_email: dict[str, str] = {}
        self.customers = 0
        self.refunds: Counter[tuple[str, str]] = Counter()  # (order, currency) -> refunded
        self.cancelled: set[str] = set()
        self.orders = self.counted_orders = 0
        self.weekdays: Counter[int] = Counter()
        self.hours: Counter[int] = Counter()
        self.gaps = timedelta(0)
        self.gap_count = 0
        self.categories: defaultdict[str | None, Item] = defaultdict(Item)
        self.skus: defaultdict[str, Item] = defaultdict(Item)

    # passes ------------------------------------------------------------------------------------

    def add_profile(self, p: ScopeProfile) -> None:
        self.customers += 1
        w = self.who[p["_id"]] = Who(country=p.get("country"), city=p.get("city"), profile=True)
        w.knows(p.get("first_order_date"), self.period.end)
        w.knows(p.get("last_order_date"), self.period.end)
        if key := p.get("email_key"):
            self.by_email.setdefault(key, p["_id"])

    def add_adjustment(self, fact: OrderFact) -> None:
        if fact["kind"] == CANCELLED:
            self.cancelled.add(fact["order_id"])
        elif fact["kind"] == REFUNDED:
            self.refunds[(fact["order_id"], fact.get("currency", ""))] += fact.get("amount", 0)

    def _customer(self, fact: OrderFact) -> str | None:
        cid, key = fact["customer_id"], fact["email_key"]
        if cid is not None and cid in self.who:
            return cid
        if key is not None and key in self.by_email:
            return self.by_email[key]
        if self.scoped:
            return None
        return cid or f"email:{key}"

    def add_order(self, fact: OrderFact) -> None:
        """A placed order before `end`; called oldest first."""
        if fact["order_id"] in self.cancelled or fact["at"] >= self.period.end:
            return
        cid = self._customer(fact)
        if cid is None:
            return
        w = self.who.get(cid)
        if w is None:
            w = self.who[cid] = Who()
        at = fact["at"]
        previous = w.last_fact if w.last_fact is not None else (w.first if w.first and w.first < at else None)
        w.knows(at, self.period.end)
        w.last_fact = at
        w.months.add(_month(at, self.tz))
        if not self.period.holds(at):
            return
        currency = fact.get("currency", "")
        net = max(0, fact.get("amount", 0) - self.refunds[(fact["order_id"], currency)])
        value = self.money.to_base(net, currency)
        self.orders += 1
        w.in_period += 1
        if value is not None:
            self.counted_orders += 1
            w.revenue += value
        local = at.astimezone(self.tz)
        self.weekdays[local.weekday()] += 1
        self.hours[local.hour] += 1
        if previous is not None:
            self.gaps += at - previous
            self.gap_count += 1
        for line in fact.get("items", []):
            line_value = self.money.to_base(line["amount"], currency)
            for item in (self.categories[line["category"]], self.skus[line["sku"]]):
                item.buyers.add(cid)
                item.units += line["quantity"]
                item.revenue += line_value or 0

    # figures -------------------------------------------------------------------------------------

    def _money(self, amount: int | None) -> Money | None:
        return None if amount is None else {"amount": amount, "currency": self.money.base}

    def _buyers(self) -> list[Who]:
        return [w for w in self.who.values() if w.in_period]

    def _is_new(self, w: Who) -> bool:
        return w.first is not None and w.first >= self.period.start

    @property
    def new_customers(self) -> int:
        return sum(self._is_new(w) for w in self._buyers())

    def summary(self) -> dict[str, object]:
        buyers = self._buyers()
        new = [w for w in buyers if self._is_new(w)]
        repeat = len(buyers) - len(new) + sum(w.in_period >= 2 for w in new)
        revenue = sum(w.revenue for w in buyers)
        cutoff = self.period.end - timedelta(days=self.churn_days)
        known = [w for w in self.who.values() if w.last is not None]
        churned = sum(w.last is not None and w.last < cutoff for w in known)

        def share(part: int, whole: int) -> float | None:
            return part / whole if whole else None

        return {
            "customers": self.customers,
            "buyers": len(buyers),
            "new_customers": len(new),
            "returning_customers": len(buyers) - len(new),
            "orders": self.orders,
            "revenue": self._money(revenue),
            "repeat_purchase_rate": share(repeat, len(buyers)),
            "average_order_value": self._money(
                revenue // self.counted_orders if self.counted_orders else None
            ),
            "average_lifetime_value": self._money(revenue // len(buyers) if buyers else None),
            "churn": {
                "days": self.churn_days,
                "customers": churned,
                "of_customers": len(known),
                "rate": share(churned, len(known)),
            },
        }

    def timing(self) -> dict[str, object]:
        days = self.gaps / timedelta(days=1) / self.gap_count if self.gap_count else None
        return {
            "orders": self.orders,
            "average_days_between_orders": days,
            "intervals": self.gap_count,
            "by_weekday": [{"weekday": d, "orders": self.weekdays[d]} for d in range(7)],
            "by_hour": [{"hour": h, "orders": self.hours[h]} for h in range(24)],
        }

    def cohorts(self) -> list[dict[str, object]]:
        first_month, last_month = _month(self.period.start, self.tz), _month(self.period.end - MICRO, self.tz)
        if last_month - first_month >= MOST_COHORT_MONTHS:
            raise Invalid(
                f"cohorts cover at most {MOST_COHORT_MONTHS} months",
                errors=[{"field": "to", "message": f"at most {MOST_COHORT_MONTHS} months after `from`"}],
            )
        sizes: Counter[int] = Counter()
        active: Counter[tuple[int, int]] = Counter()
        for w in self.who.values():
            if w.first is None or not self.period.holds(w.first):
                continue
            cohort = _month(w.first, self.tz)
            sizes[cohort] += 1
            months = w.months | {_month(t, self.tz) for t in (w.first, w.last) if t is not None}
            for m in months:
                if cohort < m <= last_month:
                    active[(cohort, m)] += 1
        rows = []
        for cohort in range(first_month, last_month + 1):
            size = sizes[cohort]
            rows.append(
                {
                    "month": _month_name(cohort),
                    "customers": size,
                    "retention": [
                        {
                            "offset": m - cohort,
                            "month": _month_name(m),
                            "customers": active[(cohort, m)],
                            "rate": active[(cohort, m)] / size if size else None,
                        }
                        for m in range(cohort + 1, last_month + 1)
                    ],
                }
            )
        return rows

    def geography(self) -> dict[str, list[dict[str, object]]]:
        countries: defaultdict[str | None, list[int]] = defaultdict(lambda: [0, 0, 0])
        cities: defaultdict[tuple[str | None, str | None], list[int]] = defaultdict(lambda: [0, 0, 0])
        for w in self.who.values():
            for row in (countries[w.country], cities[(w.country, w.city)]):
                row[0] += w.profile
                row[1] += w.in_period > 0
                row[2] += w.revenue
        return {
            "countries": [
                {"country": c, "customers": k[0], "buyers": k[1], "revenue": self._money(k[2])}
                for c, k in sorted(countries.items(), key=lambda i: (-i[1][2], -i[1][0], i[0] or "~"))
            ],
            "cities": [
                {
                    "country": c[0],
                    "city": c[1],
                    "customers": k[0],
                    "buyers": k[1],
                    "revenue": self._money(k[2]),
                }
                for c, k in sorted(
                    cities.items(), key=lambda i: (-i[1][2], -i[1][0], i[0][0] or "~", i[0][1] or "~")
                )
            ],
        }

    def preferences(self, limit: int, by: str) -> dict[str, list[dict[str, object]]]:
        def ranked(items: dict[str | None, Item] | dict[str, Item], name: str) -> list[dict[str, object]]:
            def key(i: tuple[str | None, Item]) -> tuple[int, int, str]:
                first, second = (
                    (len(i[1].buyers), i[1].revenue) if by == "buyers" else (i[1].revenue, len(i[1].buyers))
                )
                return (-first, -second, i[0] or "~")

            return [
                {name: k, "buyers": len(v.buyers), "units": v.units, "revenue": self._money(v.revenue)}
                for k, v in sorted(items.items(), key=key)[:limit]
            ]

        return {"categories": ranked(self.categories, "category"), "products": ranked(self.skus, "sku")}


def acquisition_cost(period: Period, spend: list[MarketingSpend], new_customers: int) -> dict[str, object]:
    """CAC per currency of the spend, and the spend per channel (new customers are not
    attributed to channels, so a channel has spend, not a CAC of its own)."""
    per_currency: Counter[str] = Counter()
    per_channel: Counter[tuple[str, str]] = Counter()
    for s in spend:
        part = period.share(s["starts_at"], s["ends_at"], s["amount"])
        if part:
            per_currency[s["currency"]] += part
            per_channel[(s["channel"], s["currency"])] += part
    return {
        "new_customers": new_customers,
        "per_currency": [
            {
                "currency": cur,
                "spend": amount,
                "cac": {"amount": amount // new_customers, "currency": cur} if new_customers else None,
            }
            for cur, amount in sorted(per_currency.items())
        ],
        "per_channel": [
            {"channel": ch, "spend": {"amount": amount, "currency": cur}}
            for (ch, cur), amount in sorted(per_channel.items())
        ],
    }


def cohorts_csv(rows: list[dict[str, Any]]) -> str:
    """cohort,customers,m1,m2,...: the share (0 to 1, four decimals) of each cohort that ordered
    again n months after its first; empty where that month is after the period or the cohort is
    empty."""
    width = max((len(r["retention"]) for r in rows), default=0)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["cohort", "customers", *(f"m{n}" for n in range(1, width + 1))])
    for r in rows:
        rates = ["" if c["rate"] is None else f"{c['rate']:.4f}" for c in r["retention"]]
        writer.writerow([r["month"], r["customers"], *rates, *([""] * (width - len(rates)))])
    return out.getvalue()
