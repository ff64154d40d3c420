"""Order history -> statistics, with no I/O.

Statistics are always derived from the whole stored history (orders, each stored once by
(source, order_id), and their cancellations and refunds, each stored once by event), never
incremented: so a redelivered or reordered event cannot count twice, and a cancellation that
arrives before its order is applied when the order comes.
"""

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from crm_customers.domain.documents import Adjustment, CustomerStats, Order, OrderAddress

OrderStatus = Literal["placed", "cancelled", "refunded", "partially_refunded"]


@dataclass(frozen=True)
class OrderView:
    """One order with its cancellations and refunds applied."""

    order: Order
    cancelled_at: datetime | None
    refunded: int
    adjustments: int = 0  # how many cancellations and refunds were applied

    @property
    def counts(self) -> bool:
        return self.cancelled_at is None

    @property
    def net(self) -> int:
        # A refund beyond the total (a storefront error) cannot make spending negative.
        return max(self.order["total"] - self.refunded, 0)

    @property
    def status(self) -> OrderStatus:
        if self.cancelled_at is not None:
            return "cancelled"
        if self.refunded >= self.order["total"] and self.refunded > 0:
            return "refunded"
        return "partially_refunded" if self.refunded else "placed"


def apply_adjustments(order: Order, adjustments: list[Adjustment]) -> OrderView:
    cancelled = [a["at"] for a in adjustments if a["kind"] == "cancelled"]
    refunded = sum(
        a.get("amount", 0)
        for a in adjustments
        if a["kind"] == "refunded" and a.get("currency") == order["currency"]
    )
    return OrderView(order, min(cancelled) if cancelled else None, refunded, len(adjustments))


def _placed(v: OrderView) -> tuple[datetime, str]:
    return v.order["placed_at"], v.order["_id"]


def compute(views: list[OrderView]) -> CustomerStats:
    """CustomerStats (crm_contracts) of the orders that count: a cancelled order counts as
    never placed; refunds reduce the total spent. Categories come most bought first."""
    counted = sorted((v for v in views if v.counts), key=_placed)
    per: dict[str, dict[str, int]] = {}
    categories: Counter[str] = Counter()
    products: set[str] = set()
    for v in counted:
        c = per.setdefault(v.order["currency"], {"orders": 0, "total_spent": 0})
        c["orders"] += 1
        c["total_spent"] += v.net
        for item in v.order.get("items", []):
            products.add(item["sku"])
            if category := item.get("category"):
                categories[category] += item.get("quantity", 1)
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


def latest_shipping_address(views: list[OrderView]) -> OrderAddress | None:
    counted = [v for v in views if v.counts and v.order.get("shipping_address")]
    if not counted:
        return None
    return max(counted, key=_placed).order["shipping_address"]


def spent_by_currency(stats: CustomerStats) -> dict[str, int]:
    return {c["currency"]: c["total_spent"] for c in stats["per_currency"]}
