"""Order facts from the storefront's order events (documents.OrderFact): what the analytics per
period read. Each event becomes one inserted document whose `_id` makes a redelivered or re-sent
event count once; a refund lowers its order's revenue, a cancellation takes the order out."""

from datetime import datetime

from crm_contracts.inbound import OrderCancelled, OrderPlaced, OrderRefunded
from crm_contracts.types import email_key
from crm_segments.domain.documents import OrderFact
from crm_servicekit.clock import to_ms

PLACED, REFUNDED, CANCELLED = "placed", "refunded", "cancelled"


def placed(order: OrderPlaced, now: datetime) -> OrderFact:
    return {
        "_id": order.order_id,
        "kind": PLACED,
        "order_id": order.order_id,
        "customer_id": order.customer.customer_id,
        "email_key": email_key(str(order.customer.email)),
        "at": to_ms(order.placed_at),
        "currency": order.currency,
        "amount": order.total,
        "items": [
            {
                "sku": i.sku,
                "category": i.category,
                "quantity": i.quantity,
                "amount": i.quantity * i.unit_price,
            }
            for i in order.items
        ],
        "recorded_at": now,
    }


def refunded(event_id: str, refund: OrderRefunded, now: datetime) -> OrderFact:
    """Keyed by the storefront's refund id (the same refund re-sent counts once), else by the
    event id."""
    return {
        "_id": f"{refund.order_id}|refund|{refund.refund_id or event_id}",
        "kind": REFUNDED,
        "order_id": refund.order_id,
        "customer_id": refund.customer.customer_id,
        "email_key": email_key(str(refund.customer.email)),
        "at": to_ms(refund.refunded_at),
        "currency": refund.currency,
        "amount": refund.amount,
        "recorded_at": now,
    }


def cancelled(cancellation: OrderCancelled, now: datetime) -> OrderFact:
    return {
        "_id": f"{cancellation.order_id}|cancel",
        "kind": CANCELLED,
        "order_id": cancellation.order_id,
        "customer_id": cancellation.customer.customer_id,
        "email_key": email_key(str(cancellation.customer.email)),
        "at": to_ms(cancellation.cancelled_at),
        "recorded_at": now,
    }
