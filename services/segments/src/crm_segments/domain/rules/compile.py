"""A rule tree compiled twice, with the same meaning: to a MongoDB filter (find members among all
profiles, using indexes) and to a Python predicate (re-check one profile when it changes).

Meaning, on both sides:
- A comparison with a null (absent) attribute is false, `!=` included: `country != 'PT'` does
  not match a customer with no country. `NOT (...)` is plain negation, so `NOT country = 'PT'`
  does match them. `IS NULL` / `IS NOT NULL` test absence.
- Money (`amount_spent`, `average_order_value`, `store_credit_balance`) is written in major
  units of the base currency and compared with the profile's minor units.
- An absolute date is a whole UTC day: `= 2026-01-31` is any time that day, `> 2026-01-31` is
  from the next day on, `<= 2026-01-31` up to the end of that day.
- A relative date (`-30d`, `-12w`, `-6m`, `-1y`) is the instant that long before `now`, so
  `last_order_date > -30d` means within the last 30 days. With `=` / `!=` it stands for its day.
- `BETWEEN a AND b` is `>= a AND <= b`. `CONTAINS` is exact membership in the list.
- `now` is given by the caller and cut to milliseconds, the precision MongoDB stores.
"""

import calendar
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from crm_segments.domain.rules.attributes import ATTRIBUTES, Kind
from crm_segments.domain.rules.syntax import (
    AbsDate,
    And,
    Between,
    Bool,
    Compare,
    Contains,
    IsNull,
    Node,
    Not,
    Number,
    Or,
    RelDate,
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


def compile_rule(node: Node, now: datetime, money_scale: int = 100) -> Compiled:
    """`money_scale`: minor units per major unit of the base currency (100 for EUR)."""
    c = _Compiler(to_ms(now), money_scale)
    mongo, pred = c.node(node)
    return Compiled(mongo, pred)


def _day(d: date) -> datetime:
    return datetime.combine(d, time(), tzinfo=UTC)


def minus_months(t: datetime, months: int) -> datetime:
    y, m = divmod(t.month - 1 - months, 12)
    year, month = t.year + y, m + 1
    if year < 1:
        return datetime(1, 1, 1, tzinfo=UTC)
    return t.replace(year=year, month=month, day=min(t.day, calendar.monthrange(year, month)[1]))


class _Compiler:
    def __init__(self, now: datetime, money_scale: int) -> None:
        self.now = now
        self.scale = money_scale

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
        raise TypeError(n)

    def compare(self, n: Compare) -> tuple[dict[str, Any], Predicate]:
        a, op = n.attr, n.op
        if ATTRIBUTES[a] is Kind.DATE:
            day = self.day_of(n.value, op)
            if day is not None:
                return self.day_compare(a, op, *day)
        v = self.resolve(a, n.value)
        return _scalar(a, op, v)

    def resolve(self, attr: str, value: Value) -> Any:
        kind = ATTRIBUTES[attr]
        if isinstance(value, Number):
            d = value.value * self.scale if kind is Kind.MONEY else value.value
            return int(d) if d == d.to_integral_value() else float(d)
        if isinstance(value, Text):
            return value.value.upper() if attr == "country" else value.value
        if isinstance(value, Bool):
            return value.value
        if isinstance(value, RelDate):
            return self.relative(value)
        raise TypeError(value)  # absolute dates are days, handled by day_compare

    def relative(self, r: RelDate) -> datetime:
        try:
            if r.unit == "d":
                return self.now - timedelta(days=r.amount)
            if r.unit == "w":
                return self.now - timedelta(weeks=r.amount)
            if r.unit == "m":
                return minus_months(self.now, r.amount)
            return minus_months(self.now, 12 * r.amount)
        except OverflowError:
            return datetime(1, 1, 1, tzinfo=UTC)

    def day_of(self, value: Value, op: str) -> tuple[datetime, datetime] | None:
        """[start, end) of the day a date literal stands for, or None if it is an instant."""
        if isinstance(value, AbsDate):
            start = _day(value.value)
        elif op in ("=", "!="):
            start = _day(self.resolve_date(value))
        else:
            return None
        return start, start + timedelta(days=1)

    def resolve_date(self, value: Value) -> date:
        assert isinstance(value, RelDate)
        return self.relative(value).date()

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
