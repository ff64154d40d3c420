"""Order history -> statistics, with no I/O.

Statistics are always derived from the whole stored history (orders, each stored once by
(source, order_id), and their cancellations and refunds, each stored once by event), never
incremented: so a redelivered or reordered event cannot count twice, and a cancellation that
arrives before its order is applied when the order comes.
"""

from collections import Counter
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class OrderView:
    """One order with its cancellations and refunds applied."""

    order: dict[str, Any]
    cancelled_at: Any
    refunded: int

    @property
    def counts(self) -> bool:
        return self.cancelled_at is None

    @property
    def net(self) -> int:
        # A refund beyond the total (a storefront error) cannot make spending negative.
        return max(self.order["total"] - self.refunded, 0)

    @property
    def status(self) -> str:
        if self.cancelled_at is not None:
            return "cancelled"
        if self.refunded >= self.order["total"] and self.refunded > 0:
            return "refunded"
        return "partially_refunded" if self.refunded else "placed"


def apply_adjustments(order: dict[str, Any], adjustments: list[dict[str, Any]]) -> OrderView:
    cancelled = [a["at"] for a in adjustments if a["kind"] == "cancelled"]
    refunded = sum(
        a["amount"] for a in adjustments if a["kind"] == "refunded" and a.get("currency") == order["currency"]
    )
    return OrderView(order, min(cancelled) if cancelled else None, refunded)


def order_view(v: OrderView) -> dict[str, Any]:
    """An order as the history API shows it."""
    o = v.order
    return {
        "order_id": o["order_id"],
        "source": o["source"],
        "placed_at": o["placed_at"],
        "currency": o["currency"],
        "total": o["total"],
        "refunded": v.refunded,
        "net_total": v.net,
        "status": v.status,
        "cancelled_at": v.cancelled_at,
        "items": o.get("items", []),
        "shipping_address": o.get("shipping_address"),
        "billing_address": o.get("billing_address"),
        "store_credit_used": o.get("store_credit_used", 0),
    }


def compute(views: list[OrderView]) -> dict[str, Any]:
    """CustomerStats (crm_contracts) of the orders that count: a cancelled order counts as
    never placed; refunds reduce the total spent. Categories come most bought first."""
    counted = sorted((v for v in views if v.counts), key=lambda v: (v.order["placed_at"], v.order["_id"]))
    per: dict[str, dict[str, int]] = {}
    categories: Counter[str] = Counter()
    products: set[str] = set()
    for v in counted:
        c = per.setdefault(v.order["currency"], {"orders": 0, "total_spent": 0})
        c["orders"] += 1
        c["total_spent"] += v.net
        for item in v.order.get("items", []):
            products.add(item["sku"])
            if item.get("category"):
                categories[item["category"]] += item.get("quantity", 1)
    return {
        "number_of_orders": len(counted),
        "first_order_at": counted[0].order["placed_at"] if counted else None,
        "last_order_at": counted[-1].order["placed_at"] if counted else None,
        "per_currency": [
            {
                "currency": cur,
                "orders": c["orders"],
                "total_spent": c["total_spent"],
                "average_order": c["total_spent"] // c["orders"],
            }
            for cur, c in sorted(per.items())
        ],
        "categories_purchased": [k for k, _ in sorted(categories.items(), key=lambda kv: (-kv[1], kv[0]))],
        "products_purchased": sorted(products),
    }


def latest_shipping_address(views: list[OrderView]) -> dict[str, Any] | None:
    counted = [v for v in views if v.counts and v.order.get("shipping_address")]
    if not counted:
        return None
    return max(counted, key=lambda v: (v.order["placed_at"], v.order["_id"])).order["shipping_address"]


def spent_by_currency(stats: dict[str, Any]) -> dict[str, int]:
    return {c["currency"]: c["total_spent"] for c in stats.get("per_currency", [])}
