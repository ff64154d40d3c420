"""Group pricing: which of a customer's groups decides the discount and price tier, and the
price a customer pays for a SKU from the price lists of the groups it belongs to.

The price rule (docs in the README), for one SKU in one currency at one time:
1. In each group, the entry that applies, most specific first: a fixed price for the SKU, then
   a percentage off the SKU, then a percentage off every SKU, then the group's own
   `discount_percent`. Among entries equally specific, the one that started last (a dated
   promotion beats the open-ended base price), then the newest.
2. Between groups: the highest group `priority`; then the lowest price (a percentage is priced
   from `list_price` when given); a fixed price before a percentage that cannot be priced
   (no `list_price`); then the biggest percentage; then the oldest group, then the group id.
Every step is a total order, so several overlapping groups always give one answer, the same
on every call (Medusa's issue 13034 is a failure with several groups).
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypedDict

from crm_groups.domain.documents import GroupDoc, PriceDoc
from crm_servicekit.errors import Invalid

ALL_SKUS = "*"

Basis = Literal["sku-price", "sku-percent", "all-skus-percent", "group-discount"]
SPECIFICITY: dict[Basis, int] = {"sku-price": 0, "sku-percent": 1, "all-skus-percent": 2, "group-discount": 3}


def has_pricing(group: GroupDoc) -> bool:
    return group.get("discount_percent") is not None or bool(group.get("price_tier"))


def _rank(group: GroupDoc) -> tuple[int, int, datetime, str]:
    # Highest priority first, then the best discount, then the oldest group, then the id:
    # the answer is the same on every call, whatever order the groups are read in.
    return (
        -(group.get("priority") or 0),
        -(group.get("discount_percent") or 0),
        group["created_at"],
        group["id"],
    )


def applicable_pricing(groups: Iterable[GroupDoc]) -> tuple[GroupDoc | None, list[GroupDoc]]:
    """Of a customer's groups, the one whose pricing applies (None if no group has pricing),
    and every group with pricing in the order they were weighed."""
    ranked = sorted((g for g in groups if has_pricing(g)), key=_rank)
    return (ranked[0] if ranked else None), ranked


# --- price lists ------------------------------------------------------------------------------


class PriceFields(TypedDict):
    """A new price-list entry as POST /groups/{id}/prices gives it."""

    sku: str | None
    currency: str | None
    amount: int | None
    percent_off: int | None
    starts_at: datetime | None
    ends_at: datetime | None


def check_price(fields: PriceFields) -> None:
    """A fixed amount for one SKU in one currency, or a percentage; a window that ends after it
    starts. Raises Invalid naming each field at fault."""
    errors: list[dict[str, str]] = []
    has_amount, has_percent = fields["amount"] is not None, fields["percent_off"] is not None
    if has_amount == has_percent:
        errors.append({"field": "amount", "message": "give either amount or percent_off"})
    if has_amount:
        for f, value in (("sku", fields["sku"]), ("currency", fields["currency"])):
            if value is None:
                errors.append({"field": f, "message": "a fixed amount is for one SKU in one currency"})
    starts, ends = fields["starts_at"], fields["ends_at"]
    if starts is not None and ends is not None and ends <= starts:
        errors.append({"field": "ends_at", "message": "must be after starts_at"})
    if errors:
        raise Invalid("; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors)


def new_price(
    price_id: str, group_id: str, fields: PriceFields, now: datetime, events: list[dict[str, Any]]
) -> PriceDoc:
    """The stored entry with the events of its creation. Raises Invalid."""
    check_price(fields)
    return {
        "_id": price_id,
        "id": price_id,
        "group_id": group_id,
        "sku": fields["sku"],
        "sku_key": fields["sku"] if fields["sku"] is not None else ALL_SKUS,
        "currency": fields["currency"],
        "amount": fields["amount"],
        "percent_off": fields["percent_off"],
        "starts_at": fields["starts_at"],
        "ends_at": fields["ends_at"],
        "created_at": now,
        "recorded_at": now,
        "outbox": events,
        "published": not events,
    }


def price_view(entry: PriceDoc) -> dict[str, Any]:
    """The entry as the API and group.pricing.updated show it."""
    keys = (
        "id",
        "group_id",
        "sku",
        "currency",
        "amount",
        "percent_off",
        "starts_at",
        "ends_at",
        "created_at",
    )
    return {k: entry[k] for k in keys}  # type: ignore[literal-required]


def in_force(entry: PriceDoc, at: datetime) -> bool:
    """Starts inclusive, ends exclusive."""
    starts, ends = entry.get("starts_at"), entry.get("ends_at")
    return (starts is None or starts <= at) and (ends is None or at < ends)


def applies(entry: PriceDoc, sku: str, currency: str, at: datetime) -> bool:
    return entry["sku"] in (None, sku) and entry["currency"] in (None, currency) and in_force(entry, at)


def price_after(list_price: int, percent: int) -> int:
    """The list price less the percentage; the discount is rounded down to the minor unit."""
    return list_price - list_price * percent // 100


@dataclass(frozen=True)
class Candidate:
    """What one group offers for the SKU: a fixed price or a percentage, and where it comes from."""

    group: GroupDoc
    basis: Basis
    entry: PriceDoc | None  # None: the group's own discount_percent
    price: int | None  # None: a percentage without a list price to apply it to
    percent_off: int | None


def _basis(entry: PriceDoc) -> Basis:
    if entry["amount"] is not None:
        return "sku-price"
    return "sku-percent" if entry["sku"] is not None else "all-skus-percent"


def _candidate(group: GroupDoc, basis: Basis, entry: PriceDoc | None, list_price: int | None) -> Candidate:
    if entry is not None and entry["amount"] is not None:
        return Candidate(group, basis, entry, entry["amount"], None)
    percent = entry["percent_off"] if entry is not None else group.get("discount_percent")
    assert percent is not None
    price = price_after(list_price, percent) if list_price is not None else None
    return Candidate(group, basis, entry, price, percent)


def _epoch(at: datetime | None) -> float:
    return at.timestamp() if at is not None else float("-inf")


def group_offer(
    group: GroupDoc,
    entries: Iterable[PriceDoc],
    sku: str,
    currency: str,
    at: datetime,
    list_price: int | None,
) -> Candidate | None:
    """The entry of this group's price list that applies (rule step 1), or None."""
    found = [e for e in entries if e["group_id"] == group["id"] and applies(e, sku, currency, at)]
    if found:
        best = min(
            found,
            key=lambda e: (
                SPECIFICITY[_basis(e)],
                -_epoch(e["starts_at"]),
                -e["created_at"].timestamp(),
                e["id"],
            ),
        )
        return _candidate(group, _basis(best), best, list_price)
    if group.get("discount_percent") is not None:
        return _candidate(group, "group-discount", None, list_price)
    return None


def _order(c: Candidate) -> tuple[Any, ...]:
    # Rule step 2: priority, lowest known price, then biggest percentage, oldest group, id.
    return (
        -(c.group.get("priority") or 0),
        0 if c.price is not None else 1,
        c.price if c.price is not None else -(c.percent_off or 0),
        c.group["created_at"],
        c.group["id"],
    )


@dataclass(frozen=True)
class Resolution:
    winner: Candidate | None
    ranked: list[Candidate]  # best first
    rule: str  # which step decided: none, only-candidate, priority, lowest-price, ...
    reason: str  # the same, in words


def _describe(c: Candidate, currency: str) -> str:
    offer = f"{c.price} {currency}" if c.price is not None else f"{c.percent_off}% off"
    return f"{c.group['name']!r} ({offer})"


def resolve_price(candidates: Sequence[Candidate], sku: str, currency: str) -> Resolution:
    """Rule step 2 over each group's offer: the winner, every offer best first, and why."""
    ranked = sorted(candidates, key=_order)
    if not ranked:
        return Resolution(None, [], "none", f"no group of the customer's prices {sku} in {currency}")
    w = ranked[0]
    if len(ranked) == 1:
        return Resolution(w, ranked, "only-candidate", f"{_describe(w, currency)} is the only group offer")
    r = ranked[1]
    wp, rp = w.group.get("priority") or 0, r.group.get("priority") or 0
    if wp != rp:
        rule, why = "priority", f"its priority {wp} is higher than {rp} of {_describe(r, currency)}"
    elif w.price is not None and r.price is not None and w.price != r.price:
        rule, why = "lowest-price", f"at equal priority its price is lower than {_describe(r, currency)}"
    elif w.price is not None and r.price is None:
        rule, why = (
            "known-price",
            f"at equal priority a price beats {_describe(r, currency)}, which needs list_price to compare",
        )
    elif w.price is None and (w.percent_off or 0) != (r.percent_off or 0):
        rule, why = "biggest-percent", f"at equal priority its percentage beats {_describe(r, currency)}"
    else:
        rule, why = "oldest-group", f"it ties with {_describe(r, currency)} and is the older group"
    return Resolution(w, ranked, rule, f"{_describe(w, currency)} wins: {why}")
