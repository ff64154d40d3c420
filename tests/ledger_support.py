"""Events the ledger's integration tests publish: a known customer (customer.created data)
and an order of theirs paid now in EUR."""

import uuid
from datetime import UTC, datetime


def customer(customer_id: str) -> dict:
    return {
        "id": customer_id,
        "version": 1,
        "email": f"{customer_id}@example.com",
        "has_account": False,
        "created_at": "2026-11-22T10:00:00Z",
        "updated_at": "2026-11-22T10:00:00Z",
    }


def order(customer_id: str, total: int) -> dict:
    return {
        "order_id": f"ord_{uuid.uuid4().hex[:8]}",
        "placed_at": datetime.now(UTC).isoformat(),
        "customer": {"email": f"{customer_id}@example.com", "customer_id": customer_id},
        "currency": "EUR",
        "total": total,
    }
