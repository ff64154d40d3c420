"""The profile: this service's read model of one customer, built only from events. Each rule
attribute (rules/attributes.py) is a field of the same name; money is in minor units of the
base currency. Pure functions, no I/O: each returns the new profile for one event."""

from datetime import UTC, datetime
from typing import Any

from crm_contracts.outbound import CustomerState, LedgerEntryRecorded
from crm_segments.money import BaseMoney

Profile = dict[str, Any]


def ms(t: datetime | None) -> datetime | None:
    """MongoDB keeps milliseconds; profiles are cut to them so the predicate sees what is stored."""
    if t is None:
        return None
    t = t.astimezone(UTC)
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


def empty(customer_id: str) -> Profile:
    """A profile before (or after) the customer exists: never a member of any segment."""
    return {
        "_id": customer_id,
        "active": False,
        "deleted": False,
        "customer_version": 0,
        "email": None,
        "email_subscribed": None,
        "has_account": None,
        "country": None,
        "city": None,
        "created_at": None,
        "customer_tags": [],
        "number_of_orders": 0,
        "counted_orders": 0,
        "first_order_date": None,
        "last_order_date": None,
        "amount_spent": 0,
        "average_order_value": None,
        "categories_purchased": [],
        "products_purchased": [],
        "groups": [],
        "group_ids": [],
        "customer_groups": [],
        "credit": {},
        "store_credit_balance": 0,
    }


def apply_customer(p: Profile, state: CustomerState, money: BaseMoney) -> Profile | None:
    """The profile with the customer's new state, or None if it is not newer (or erased)."""
    if p["deleted"] or state.version <= p["customer_version"]:
        return None
    stats = state.stats
    spent, counted = 0, 0
    for pc in stats.per_currency:
        value = money.to_base(pc.total_spent, pc.currency)
        if value is not None:
            spent, counted = spent + value, counted + pc.orders
    return {
        **p,
        "active": True,
        "customer_version": state.version,
        "email": state.email,
        "email_subscribed": state.email_subscribed,
        "has_account": state.has_account,
        "country": state.country.upper() if state.country else None,
        "city": state.city,
        "created_at": ms(state.created_at),
        "customer_tags": sorted(set(state.tags)),
        "number_of_orders": stats.number_of_orders,
        "counted_orders": counted,
        "first_order_date": ms(stats.first_order_at),
        "last_order_date": ms(stats.last_order_at),
        "amount_spent": spent,
        "average_order_value": spent // counted if counted else None,
        "categories_purchased": sorted(set(stats.categories_purchased)),
        "products_purchased": sorted(set(stats.products_purchased)),
    }


def erase(p: Profile) -> Profile:
    """customer.deleted: no personal data is kept, only a tombstone that stops late events."""
    return {**empty(p["_id"]), "deleted": True, "customer_version": p["customer_version"]}


def _with_groups(p: Profile, groups: list[dict[str, str]]) -> Profile:
    groups = sorted(groups, key=lambda g: g["id"])
    return {
        **p,
        "groups": groups,
        "group_ids": [g["id"] for g in groups],
        "customer_groups": sorted({g["name"] for g in groups}),
    }


def join_group(p: Profile, group_id: str, name: str) -> Profile | None:
    if p["deleted"] or any(g["id"] == group_id and g["name"] == name for g in p["groups"]):
        return None
    return _with_groups(p, [g for g in p["groups"] if g["id"] != group_id] + [{"id": group_id, "name": name}])


def leave_group(p: Profile, group_id: str) -> Profile | None:
    if group_id not in p["group_ids"]:
        return None
    return _with_groups(p, [g for g in p["groups"] if g["id"] != group_id])


def rename_group(p: Profile, group_id: str, name: str) -> Profile | None:
    if group_id not in p["group_ids"]:
        return None
    return join_group(p, group_id, name)


def apply_ledger(p: Profile, entry: LedgerEntryRecorded, money: BaseMoney) -> Profile | None:
    """Keeps the balance of the highest sequence per currency (entries may arrive reordered)."""
    if p["deleted"]:
        return None
    held = p["credit"].get(entry.currency)
    if held is not None and held["sequence"] >= entry.sequence:
        return None
    credit = {**p["credit"], entry.currency: {"balance": entry.balance_after, "sequence": entry.sequence}}
    total = sum(money.to_base(c["balance"], cur) or 0 for cur, c in credit.items())
    return {**p, "credit": credit, "store_credit_balance": total}


def public_view(p: Profile) -> dict[str, Any]:
    hidden = {"_id", "active", "deleted", "groups", "credit", "counted_orders"}
    return {"customer_id": p["_id"], **{k: v for k, v in p.items() if k not in hidden}}
