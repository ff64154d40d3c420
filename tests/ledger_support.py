"""What the ledger's integration tests share: the reward programme they run the service with
(`REWARDS`: a point per EUR, a 5 EUR coupon at 100 points, valid 30 days) and the events they
publish, a known customer (customer.created data) and an order of theirs paid now in EUR."""

import uuid
from datetime import UTC, datetime

REWARDS = {
    "CRM_REWARD_POINTS_PER_UNIT": "1",
    "CRM_REWARD_TARGET": "100",
    "CRM_REWARD_COUPON_KIND": "amount",
    "CRM_REWARD_COUPON_VALUE": "500",
    "CRM_REWARD_COUPON_CURRENCY": "EUR",
    "CRM_REWARD_COUPON_DAYS": "30",
}


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
