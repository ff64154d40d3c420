"""Reward programmes as data, with no I/O: how many points an order earns (per major unit of
currency, rounded as the programme says, from a minimum order on), the thresholds whose
reaching issues a coupon, the birthday coupon, and which programme is in effect when.

A programme is kept as versions, never edited (documents.ProgrammeVersion): a change is a new
version, effective from the moment it is recorded. An order earns by the version in effect
when it was placed, so a change applies to orders placed after it, however late an earlier
order's event arrives; points an order has earned are recorded with it (documents.OrderPoints)
and are what a refund takes back, whatever the programme says by then.

Several programmes may run with dates (`starts_at`, `ends_at`): at a time, the one in effect is
the active one that started last (a dated promotion inside an undated default programme wins
while it runs), ties broken by id. The programme `default` starts as the environment settings
(its version 0); editing it records version 1 and so on.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from crm_contracts.types import minor_digits
from crm_ledger.domain.documents import CouponKind, CouponTermsDoc, ProgrammeVersion
from crm_servicekit.errors import Invalid

Rounding = Literal["down", "nearest", "up"]
DEFAULT_ID = "default"


@dataclass(frozen=True)
class CouponTerms:
    kind: CouponKind
    value: int  # minor units (amount) or whole percent (percentage)
    currency: str | None  # amount coupons only
    valid_days: int

    def to_doc(self) -> CouponTermsDoc:
        return {
            "kind": self.kind,
            "value": self.value,
            "currency": self.currency,
            "valid_days": self.valid_days,
        }

    @classmethod
    def from_doc(cls, d: CouponTermsDoc) -> "CouponTerms":
        return cls(d["kind"], d["value"], d["currency"] if d["kind"] == "amount" else None, d["valid_days"])


@dataclass(frozen=True)
class Threshold:
    points: int
    coupon: CouponTerms


@dataclass(frozen=True)
class Program:
    points_per_unit: int
    thresholds: tuple[Threshold, ...] = ()  # ascending; the highest closes a cycle (its points are spent)
    currency: str | None = None  # only orders in this currency earn points
    rounding: Rounding = "down"
    minimum_order: int = 0  # minor units of the order's currency; below it an order earns nothing
    birthday_coupon: CouponTerms | None = None
    referrer_coupon: CouponTerms | None = None  # for who referred a customer, at its first order
    referee_coupon: CouponTerms | None = None  # for the referred customer
    # (group id, whole percent) sorted: an order's points x the best percent among the
    # customer's groups listed here (none listed: 100). 0 = members earn nothing, 200 = double.
    group_multipliers: tuple[tuple[str, int], ...] = ()
    points_expire_days: int | None = None  # the points of an earning expire after (None: never)
    id: str = DEFAULT_ID
    name: str = "Default"
    version: int = 0  # 0: the environment settings
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    effective_from: datetime | None = None  # None: always (version 0)
    recorded_at: datetime | None = field(default=None, compare=False)

    @property
    def target(self) -> int | None:
        """The points of the highest threshold (a cycle); None when no threshold is set."""
        return self.thresholds[-1].points if self.thresholds else None

    def points_for(self, total: int, currency: str) -> int:
        """Points for an order total in minor units, per major unit, rounded as configured."""
        if self.points_per_unit == 0 or (self.currency and currency != self.currency):
            return 0
        if total < self.minimum_order:
            return 0
        scaled, unit = total * self.points_per_unit, 10 ** minor_digits(currency)
        if self.rounding == "up":
            return -(-scaled // unit)
        if self.rounding == "nearest":
            return (2 * scaled + unit) // (2 * unit)  # half up
        return scaled // unit

    def multiplied(self, points: int, group_ids: Iterable[str]) -> int:
        """`points` by the best multiplier among the groups (rounded down); unchanged when
        none of them has one."""
        percents = dict(self.group_multipliers)
        found = [percents[g] for g in group_ids if g in percents]
        return points * max(found) // 100 if found else points

    def active_at(self, t: datetime) -> bool:
        return (self.starts_at is None or self.starts_at <= t) and (self.ends_at is None or t < self.ends_at)

    def effective_at(self, t: datetime) -> bool:
        return self.effective_from is None or self.effective_from <= t

    # -- storage form ----------------------------------------------------------------------
    def to_doc(self) -> ProgrammeVersion:
        assert self.effective_from is not None and self.recorded_at is not None
        return {
            "_id": f"{self.id}:{self.version}",
            "id": self.id,
            "version": self.version,
            "name": self.name,
            "points_per_unit": self.points_per_unit,
            "currency": self.currency,
            "rounding": self.rounding,
            "minimum_order": self.minimum_order,
            "thresholds": [{"points": t.points, "coupon": t.coupon.to_doc()} for t in self.thresholds],
            "birthday_coupon": self.birthday_coupon.to_doc() if self.birthday_coupon else None,
            "referrer_coupon": self.referrer_coupon.to_doc() if self.referrer_coupon else None,
            "referee_coupon": self.referee_coupon.to_doc() if self.referee_coupon else None,
            "group_multipliers": dict(self.group_multipliers),
            "points_expire_days": self.points_expire_days,
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
            "effective_from": self.effective_from,
            "recorded_at": self.recorded_at,
        }

    @classmethod
    def from_doc(cls, d: ProgrammeVersion) -> "Program":
        return cls(
            points_per_unit=d["points_per_unit"],
            thresholds=tuple(
                Threshold(t["points"], CouponTerms.from_doc(t["coupon"])) for t in d["thresholds"]
            ),
            currency=d["currency"],
            rounding=d["rounding"],
            minimum_order=d["minimum_order"],
            birthday_coupon=_terms(d["birthday_coupon"]),
            referrer_coupon=_terms(d.get("referrer_coupon")),
            referee_coupon=_terms(d.get("referee_coupon")),
            group_multipliers=tuple(sorted(d.get("group_multipliers", {}).items())),
            points_expire_days=d.get("points_expire_days"),
            id=d["id"],
            name=d["name"],
            version=d["version"],
            starts_at=d["starts_at"],
            ends_at=d["ends_at"],
            effective_from=d["effective_from"],
            recorded_at=d["recorded_at"],
        )


def _terms(d: CouponTermsDoc | None) -> CouponTerms | None:
    return CouponTerms.from_doc(d) if d else None


def in_effect(versions: Iterable[Program], at: datetime) -> Program | None:
    """The programme an order placed at `at` earns by: per programme the newest version
    effective then; of those active then, the one that started last (undated = earliest)."""
    newest: dict[str, Program] = {}
    for v in versions:
        if v.effective_at(at) and (v.id not in newest or v.version > newest[v.id].version):
            newest[v.id] = v
    active = [p for p in newest.values() if p.active_at(at)]
    if not active:
        return None
    return max(active, key=lambda p: (p.starts_at is not None, p.starts_at or at, p.id))


def current(versions: Iterable[Program]) -> dict[str, Program]:
    """The newest version of every programme, by id."""
    out: dict[str, Program] = {}
    for v in versions:
        if v.id not in out or v.version > out[v.id].version:
            out[v.id] = v
    return out


def check(p: Program) -> Program:
    """Raises Invalid (422) for a programme that cannot work; returns it otherwise."""
    errors: list[dict[str, str]] = []

    def bad(field: str, message: str) -> None:
        errors.append({"field": field, "message": message})

    points = [t.points for t in p.thresholds]
    if any(x < 1 for x in points) or points != sorted(set(points)):
        bad("thresholds", "threshold points must be at least 1 and strictly ascending")
    coupons = [("thresholds", t.coupon) for t in p.thresholds]
    for name in ("birthday_coupon", "referrer_coupon", "referee_coupon"):
        if (terms := getattr(p, name)) is not None:
            coupons.append((name, terms))
    for loc, c in coupons:
        if c.kind == "amount" and c.currency is None:
            bad(loc, "an amount coupon needs a currency")
        if c.kind == "percentage" and not 1 <= c.value <= 100:
            bad(loc, "a percentage coupon's value is 1 to 100")
    for group_id, percent in p.group_multipliers:
        if not group_id.strip() or not 0 <= percent <= 1000:
            bad("group_multipliers", f"{group_id!r}: a group id and a whole percent from 0 to 1000")
    if p.points_expire_days is not None and not 1 <= p.points_expire_days <= 3660:
        bad("points_expire_days", "points expire after 1 to 3660 days (null: never)")
    if p.starts_at and p.ends_at and p.ends_at <= p.starts_at:
        bad("ends_at", "ends_at must be after starts_at")
    if errors:
        raise Invalid("; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors)
    return p


def next_version(p: Program, changes: dict[str, Any], now: datetime) -> Program:
    """The version after `p` with `changes` (fields of Program), effective from `now`."""
    return check(replace(p, **changes, version=p.version + 1, effective_from=now, recorded_at=now))
