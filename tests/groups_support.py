"""What the groups tests share: customers made known to the groups service the way the
customers service would, and a group created over HTTP."""

import asyncio
import uuid
from datetime import UTC, datetime

from harness import Broker, envelope, eventually


def unique_name(prefix: str = "Group") -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]}"


def customer_state(
    customer_id: str, version: int = 1, spend: dict[str, tuple[int, int]] | None = None
) -> dict:
    """CustomerState as the customers service publishes it; `spend`: currency -> (orders, total)."""
    now = datetime.now(UTC).isoformat()
    per_currency = [
        {"currency": cur, "orders": n, "total_spent": total, "average_order": total // n if n else 0}
        for cur, (n, total) in sorted((spend or {}).items())
    ]
    return {
        "id": customer_id,
        "version": version,
        "email": f"{customer_id}@example.com",
        "has_account": False,
        "created_at": now,
        "updated_at": now,
        "stats": {
            "number_of_orders": sum(n for n, _ in (spend or {}).values()),
            "per_currency": per_currency,
        },
    }


async def make_customers(system, broker: Broker, mongo, n: int, prefix: str = "cus") -> list[str]:
    """Publishes customer.created for `n` new customers, as the customers service would, and
    waits until the groups service has recorded them."""
    ids = [f"{prefix}_{uuid.uuid4().hex[:12]}" for _ in range(n)]
    for start in range(0, n, 200):  # concurrent publishes, each still confirmed by the broker
        await asyncio.gather(
            *(
                broker.publish(envelope("customer.created", customer_state(cid), source="/crm/customers"))
                for cid in ids[start : start + 200]
            )
        )
    known = mongo[system.database("groups")]["known_customers"]
    await eventually(lambda: _all_known(known, ids), timeout=max(30, n / 20))
    return ids


async def _all_known(known, ids: list[str]) -> bool:
    count = 0
    for start in range(0, len(ids), 1000):
        count += await known.count_documents({"_id": {"$in": ids[start : start + 1000]}, "deleted": False})
    return count == len(ids)


async def create_group(http, **body) -> dict:
    body.setdefault("name", unique_name())
    r = await http.post("/v1/groups", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def ids_in(broker: Broker, type_: str, group_id: str) -> list[str]:
    """The customer ids of every `type_` event published for `group_id`."""
    return [
        c
        for e in broker.events(type_, lambda b: b["data"]["group_id"] == group_id)
        for c in e["body"]["data"]["customer_ids"]
    ]
