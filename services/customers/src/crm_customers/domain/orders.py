"""Orders as this service stores them, with no I/O: the key of an order, and the documents an
order.placed, order.cancelled and order.refunded become."""

from typing import Any, Literal

from crm_contracts.inbound import Address as OrderAddressIn
from crm_contracts.inbound import OrderCancelled, OrderPlaced, OrderRefunded
from crm_customers.domain.documents import Adjustment, Order, OrderAddress
from crm_customers.domain.stats import OrderView
from crm_servicekit.clock import to_ms


def order_key(source: str, order_id: str) -> str:
    """Order ids are unique per source (docs/contract.md 1.1)."""
    return f"{source}|{order_id}"


def _address(a: OrderAddressIn | None) -> OrderAddress | None:
    if a is None:
        return None
    return {
        "first_name": a.first_name,
        "last_name": a.last_name,
        "company": a.company,
        "line1": a.line1,
        "line2": a.line2,
        "city": a.city,
        "province": a.province,
        "postal_code": a.postal_code,
        "country_code": a.country_code,
        "phone": a.phone,
    }


def new_order(source: str, event_id: str, order: OrderPlaced, customer_id: str) -> Order:
    return {
        "_id": order_key(source, order.order_id),
        "order_id": order.order_id,
        "source": source,
        "customer_id": customer_id,
        "placed_at": to_ms(order.placed_at),
        "currency": order.currency,
        "total": order.total,
        "items": [
            {
                "sku": i.sku,
                "name": i.name,
                "category": i.category,
                "quantity": i.quantity,
                "unit_price": i.unit_price,
            }
            for i in order.items
        ],
        "shipping_address": _address(order.shipping_address),
        "billing_address": _address(order.billing_address),
        "store_credit_used": order.store_credit_used,
        "event_id": event_id,
    }


def cancellation(source: str, event_id: str, c: OrderCancelled) -> Adjustment:
    """Stored once per order, by key: a second cancellation of it is the same one."""
    key = order_key(source, c.order_id)
    return {
        "_id": f"{key}|cancelled",
        "order_key": key,
        "kind": "cancelled",
        "at": to_ms(c.cancelled_at),
        "event_id": event_id,
        "customer_id": None,
    }


def refund(source: str, event_id: str, r: OrderRefunded) -> Adjustment:
    """Stored once per event: an order may be refunded several times."""
    key = order_key(source, r.order_id)
    return {
        "_id": f"{key}|refund|{event_id}",
        "order_key": key,
        "kind": "refunded",
        "at": to_ms(r.refunded_at),
        "amount": r.amount,
        "currency": r.currency,
        "to_store_credit": r.to_store_credit,
        "event_id": event_id,
        "customer_id": None,
    }


OrderSort = Literal["-placed_at", "placed_at", "-total", "total"]


def _sort_value(v: OrderView, sort: OrderSort) -> int:
    o = v.order
    return o["total"] if sort.lstrip("-") == "total" else int(o["placed_at"].timestamp() * 1000)


def sorted_views(
    views: list[OrderView], sort: OrderSort, after: tuple[int, str] | None = None
) -> list[OrderView]:
    """A customer's orders in `sort` order (by date or by value, `-` for descending, the order
    key breaking ties), from just after `after` (sort value, order key) when given."""
    desc = sort.startswith("-")
    keyed = sorted(((_sort_value(v, sort), v.order["_id"]), v) for v in views)
    if desc:
        keyed.reverse()
    if after is not None:
        keyed = [(k, v) for k, v in keyed if (k < after if desc else k > after)]
    return [v for _, v in keyed]


def sort_cursor(v: OrderView, sort: OrderSort) -> dict[str, Any]:
    return {"s": sort, "v": _sort_value(v, sort), "id": v.order["_id"]}
