"""A rule tree compiled twice, with the same meaning: to a MongoDB filter (find members among all
profiles, using indexes) and to a Python predicate (re-check one profile when it changes).

Meaning, on both sides:
- A comparison with a null (absent) attribute is false, `!=` included: `country != 'PT'` does
  not match a customer with no country. `NOT (...)` is plain negation, so `NOT country = 'PT'`
  does match them. `IS NULL` / `IS NOT NULL` test absence.
- Money (`amount_spent`, `average_order_value`, `store_credit_balance`) is written in major
  units of the base currency and compared with the profile's minor units.
- An absolute date is a whole day in the store's time zone (`tz`, UTC unless set): `= 2026-01-31`
  is any time that day, `> 2026-01-31` is from the next day on, `<= 2026-01-31` up to its end.
- A named date (`today`, `yesterday`, `30_days_ago`, `12_months_ago`) is a whole day too, counted
  back from today in the store's time zone: `>= 30_days_ago` is from the start of that day.
- A relative date (`-30d`, `-12w`, `-6m`, `-1y`, or forward `+7d`) is the instant that long before
  (after) `now`, so `last_order_date > -30d` means within the last 30 days. With `=` / `!=` it
  stands for its day.
- A birthday is a calendar date: its days are the dates themselves, whatever the time zone.
- `anniversary()` compares the birthday's month and day with the days of the window.
- `rfm_group` compares the RFM scores with the bands of `rfm` (rfm.py).
- `BETWEEN a AND b` is `>= a AND <= b`. `CONTAINS` is exact membership in the list.
- `now` is given by the caller and cut to milliseconds, the precision MongoDB stores.
"""

import calendar
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from crm_segments.domain.rules import rfm as rfm_groups
from crm_segments.domain.rules.attributes import FIELDS, LOWER_CASED, Kind
from crm_segments.domain.rules.rfm import RfmBands
from crm_segments.domain.rules.tree import (
    AbsDate,
    And,
    Anniversary,
    Between,
    Bool,
    Compare,
    Contains,
    IsNull,
    NamedDate,
    Node,
    Not,
    Number,
    Or,
    RelDate,
    RfmGroup,
    Text,
    Value,
)
from crm_servicekit.clock import to_ms

Profile = Mapping[str, Any]
"""A profile document (documents.Profile), read by attribute name."""
Predicate = Callable[[Profile], bool]


@dataclass(frozen=True)
class Compiled:
    filter: dict[str, Any]
    predicate: Predicate


def compile_rule(
    node: Node, now: datetime, money_scale: int = 100, tz: tzinfo = UTC, rfm: RfmBands | None = None
) -> Compiled:
    """`money_scale`: minor units per major unit of the base currency (100 for EUR); `tz`: the
    store's time zone (what `today` is); `rfm`: the current RFM bands, for rfm_group."""
    c = _Compiler(to_ms(now), money_scale, tz, rfm or RfmBands())
    mongo, pred = c.node(node)
    return Compiled(mongo, pred)


def minus_months(t: datetime, months: int) -> datetime:
    y, m = divmod(t.month - 1 - months, 12)
    year, month = t.year + y, m + 1
    if year < 1:
        return datetime(1, 1, 1, tzinfo=UTC)
    if year > 9999:
        return datetime(9999, 12, 31, tzinfo=UTC)
    return t.replace(year=year, month=month, day=min(t.day, calendar.monthrange(year, month)[1]))


def month_day(d: date) -> int:
    """What a profile keeps of a birthday for anniversary(): 3 March is 303."""
    return d.month * 100 + d.day


def _shift(t: datetime, amount: int, unit: str) -> datetime:
    """`t` moved `amount` units (d, w, m, y) back; a negative amount moves forward."""
    try:
        if unit == "d":
            return t - timedelta(days=amount)
        if unit == "w":
            return t - timedelta(weeks=amount)
        return minus_months(t, amount if unit == "m" else 12 * amount)
    except OverflowError:
        return datetime(1, 1, 1, tzinfo=UTC) if amount > 0 else datetime(9999, 12, 31, tzinfo=UTC)


class _Compiler:
    def __init__(self, now: datetime, money_scale: int, tz: tzinfo, rfm: RfmBands) -> None:
        self.now = now
        self.scale = money_scale
        self.tz = tz
        self.rfm = rfm
        self.today = now.astimezone(tz).date()

    def node(self, n: Node) -> tuple[dict[str, Any], Predicate]:
        if isinstance(n, (And, Or)):
            parts = [self.node(x) for x in n.items]
            preds = [p for _, p in parts]
            if isinstance(n, And):
                return {"$and": [f for f, _ in parts]}, lambda p: all(q(p) for q in preds)
            return {"$or": [f for f, _ in parts]}, lambda p: any(q(p) for q in preds)
        if isinstance(n, Not):
            f, q = self.node(n.item)
            return {"$nor": [f]}, lambda p: not q(p)
        if isinstance(n, IsNull):
            a = n.attr
            if n.negated:
                return {a: {"$ne": None}}, lambda p: p.get(a) is not None
            return {a: None}, lambda p: p.get(a) is None
        if isinstance(n, Contains):
            a, v = n.attr, n.value.value
            if n.negated:
                return {a: {"$ne": v}}, lambda p: v not in (p.get(a) or [])
            return {a: v}, lambda p: v in (p.get(a) or [])
        if isinstance(n, Between):
            return self.node(And((Compare(n.attr, ">=", n.low), Compare(n.attr, "<=", n.high))))
        if isinstance(n, Compare):
            return self.compare(n)
        if isinstance(n, Anniversary):
            return self.anniversary(n)
        if isinstance(n, RfmGroup):
            return self.rfm_group(n.group)
        raise TypeError(n)

    def compare(self, n: Compare) -> tuple[dict[str, Any], Predicate]:
        a, op = n.attr, n.op
        kind = FIELDS[a]
        if kind in (Kind.DATE, Kind.DAY):
            day = self.day_of(n.value, op, kind)
            if day is not None:
                return self.day_compare(a, op, *day)
        v = self.resolve(a, n.value)
        return _scalar(a, op, v)

    def resolve(self, attr: str, value: Value) -> Any:
        kind = FIELDS[attr]
        if isinstance(value, Number):
            d = value.value * self.scale if kind is Kind.MONEY else value.value
            return int(d) if d == d.to_integral_value() else float(d)
        if isinstance(value, Text):
            if attr == "country":
                return value.value.upper()
            return value.value.lower() if attr in LOWER_CASED else value.value
        if isinstance(value, Bool):
            return value.value
        if isinstance(value, RelDate):
            return self.relative(value)
        raise TypeError(value)  # absolute and named dates are days, handled by day_compare

    def relative(self, r: RelDate) -> datetime:
        return _shift(self.now, -r.amount if r.forward else r.amount, r.unit)

    def local_date(self, value: Value) -> date:
        """The day a date value names, in the store's time zone."""
        if isinstance(value, AbsDate):
            return value.value
        if isinstance(value, NamedDate) and value.anchor:
            first = self.today.replace(day=1)
            if value.anchor == "start_of_month":
                return first
            return (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        if isinstance(value, NamedDate):
            start = datetime.combine(self.today, time(), tzinfo=UTC)
            return _shift(start, value.amount, value.unit).date()
        assert isinstance(value, RelDate)
        return self.relative(value).astimezone(self.tz).date()

    def start_of(self, d: date, kind: Kind) -> datetime:
        """Where day `d` starts: local midnight, or UTC midnight for calendar dates (DAY)."""
        if kind is Kind.DAY:
            return datetime.combine(d, time(), tzinfo=UTC)
        return datetime.combine(d, time(), tzinfo=self.tz).astimezone(UTC)

    def day_of(self, value: Value, op: str, kind: Kind) -> tuple[datetime, datetime] | None:
        """[start, end) of the day a date literal stands for, or None if it is an instant."""
        if isinstance(value, RelDate) and op not in ("=", "!=") and kind is Kind.DATE:
            return None
        d = self.local_date(value)
        return self.start_of(d, kind), self.start_of(d + timedelta(days=1), kind)

    @staticmethod
    def day_compare(a: str, op: str, lo: datetime, hi: datetime) -> tuple[dict[str, Any], Predicate]:
        if op == "=":
            return {a: {"$gte": lo, "$lt": hi}}, lambda p: _has(p, a) and lo <= p[a] < hi
        if op == "!=":
            return (
                {"$or": [{a: {"$lt": lo}}, {a: {"$gte": hi}}]},
                lambda p: _has(p, a) and (p[a] < lo or p[a] >= hi),
            )
        bound = {"<": ("$lt", lo), "<=": ("$lt", hi), ">": ("$gte", hi), ">=": ("$gte", lo)}[op]
        return _scalar(a, {"$lt": "<", "$gte": ">="}[bound[0]], bound[1])

    def anniversary(self, n: Anniversary) -> tuple[dict[str, Any], Predicate]:
        """Month-day ranges of the window's days, one per calendar year it touches; a 28 February
        of a common year takes in the 29 February birthdays."""
        low, high = self.local_date(n.low), self.local_date(n.high)
        a = "birthday_md"
        if high < low:
            return {"_id": {"$exists": False}}, lambda p: False  # an empty window
        if (high - low).days >= 365:
            return self.node(IsNull(a, negated=True))
        ranges: list[tuple[int, int]] = []
        start = low
        while start <= high:
            end = min(high, date(start.year, 12, 31))
            last = month_day(end)
            if last == 228 and not calendar.isleap(end.year):
                last = 229
            ranges.append((month_day(start), last))
            start = end + timedelta(days=1)
        parts = [{a: {"$gte": lo, "$lte": hi}} for lo, hi in ranges]

        def pred(p: Profile) -> bool:
            md = p.get(a)
            return md is not None and any(lo <= md <= hi for lo, hi in ranges)

        return {"$or": parts}, pred

    def rfm_group(self, group: str) -> tuple[dict[str, Any], Predicate]:
        buyer = {"$and": [{"number_of_orders": {"$gt": 0}}, {"last_order_date": {"$ne": None}}]}

        def is_buyer(p: Profile) -> bool:
            return (p.get("number_of_orders") or 0) > 0 and p.get("last_order_date") is not None

        bands = self.rfm
        if group == "prospects":
            return {"$nor": [buyer]}, lambda p: not is_buyer(p)
        alternatives: list[dict[str, Any]] = []
        for scores in rfm_groups.cells(group):
            conditions: list[dict[str, Any]] = []
            for metric, score in zip(rfm_groups.METRICS, scores, strict=True):
                bounds = bands.range_of(metric, score)
                if bounds is None:
                    break
                above, at_most = bounds
                if above is not None:
                    conditions.append({metric: {"$gt": above}})
                if at_most is not None:
                    conditions.append({metric: {"$lte": at_most}})
            else:
                alternatives.append({"$and": [buyer, *conditions]})
        mongo = {"$or": alternatives} if alternatives else {"_id": {"$exists": False}}

        def pred(p: Profile) -> bool:
            if not is_buyer(p):
                return False
            r, f, m = (bands.score(metric, p[metric]) for metric in rfm_groups.METRICS)
            return rfm_groups.group_of(r, f, m) == group

        return mongo, pred


def _has(p: Profile, a: str) -> bool:
    return p.get(a) is not None


_OPS: dict[str, tuple[str, Callable[[Any, Any], bool]]] = {
    "=": ("$eq", lambda x, y: x == y),
    "<": ("$lt", lambda x, y: x < y),
    "<=": ("$lte", lambda x, y: x <= y),
    ">": ("$gt", lambda x, y: x > y),
    ">=": ("$gte", lambda x, y: x >= y),
}


def _scalar(a: str, op: str, v: Any) -> tuple[dict[str, Any], Predicate]:
    if op == "!=":
        # Mongo's $ne also matches null; a comparison with null is false here, so exclude it.
        return {a: {"$nin": [v, None]}}, lambda p: _has(p, a) and p[a] != v
    mongo_op, fn = _OPS[op]
    return {a: {mongo_op: v}}, lambda p: _has(p, a) and fn(p[a], v)
