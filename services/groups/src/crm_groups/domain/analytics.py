"""Group analytics: members, buyers, total spent and average order of a group's members."""

from collections.abc import Iterable
from typing import TypedDict

from crm_groups.domain.documents import Spend


class CurrencyAnalytics(TypedDict):
    currency: str
    buyers: int  # members with at least one order that counts in this currency
    orders: int
    total_spent: int  # minor units, net of refunds
    average_order: int  # minor units, rounded down


class GroupAnalytics(TypedDict):
    members: int
    buyers: int  # members with at least one order that counts, in any currency
    orders: int
    per_currency: list[CurrencyAnalytics]  # money is never added across currencies


def group_analytics(members: int, spends: Iterable[list[Spend]]) -> GroupAnalytics:
    """`spends`: what each member who bought something spent, per currency."""
    per: dict[str, CurrencyAnalytics] = {}
    buyers = 0
    for spend in spends:
        counted = [s for s in spend if s["orders"] > 0]
        if counted:
            buyers += 1
        for s in counted:
            c = per.setdefault(
                s["currency"],
                {"currency": s["currency"], "buyers": 0, "orders": 0, "total_spent": 0, "average_order": 0},
            )
            c["buyers"] += 1
            c["orders"] += s["orders"]
            c["total_spent"] += s["total_spent"]
    for c in per.values():
        c["average_order"] = c["total_spent"] // c["orders"]
    return {
        "members": members,
        "buyers": buyers,
        "orders": sum(c["orders"] for c in per.values()),
        "per_currency": [per[k] for k in sorted(per)],
    }
