"""Helpers (no tests) for the segments tests: the events the customers, groups and ledger services publish
(shaped by crm_contracts.outbound), built from orders the test defines."""

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from harness import Broker, envelope

NOW = datetime.now(UTC)


def iso(t: datetime) -> str:
    return t.isoformat()


@dataclass
class Order:
    total: int  # minor units
    currency: str = "EUR"
    days_ago: float = 1
    skus: tuple[str, ...] = ("SKU-1",)
    category: str = "shoes"
    placed_at: datetime = field(init=False)

    def __post_init__(self) -> None:
        self.placed_at = datetime.now(UTC) - timedelta(days=self.days_ago)


@dataclass
class Customer:
    """A customer as the customers service would publish it; `orders` give its statistics."""

    id: str = field(default_factory=lambda: f"cus_{uuid.uuid4().hex[:12]}")
    version: int = 0
    email: str = ""
    country: str | None = "PT"
    city: str | None = "Lisboa"
    tags: list[str] = field(default_factory=list)
    email_subscribed: bool = True
    has_account: bool = False
    orders: list[Order] = field(default_factory=list)
    created_at: datetime = field(default_factory=lambda: NOW - timedelta(days=400))

    def __post_init__(self) -> None:
        self.email = self.email or f"{self.id}@example.com"

    def stats(self) -> dict[str, Any]:
        per: dict[str, dict[str, int]] = {}
        for o in self.orders:
            c = per.setdefault(o.currency, {"orders": 0, "total_spent": 0})
            c["orders"] += 1
            c["total_spent"] += o.total
        times = [o.placed_at for o in self.orders]
        return {
            "number_of_orders": len(self.orders),
            "first_order_at": iso(min(times)) if times else None,
            "last_order_at": iso(max(times)) if times else None,
            "per_currency": [
                {"currency": cur, **c, "average_order": c["total_spent"] // c["orders"]}
                for cur, c in sorted(per.items())
            ],
            "categories_purchased": sorted({o.category for o in self.orders}),
            "products_purchased": sorted({s for o in self.orders for s in o.skus}),
        }

    def state(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "version": self.version,
            "email": self.email,
            "first_name": "Ana",
            "last_name": "Lima",
            "has_account": self.has_account,
            "status": "enabled",
            "tags": self.tags,
            "email_subscribed": self.email_subscribed,
            "country": self.country,
            "city": self.city,
            "created_at": iso(self.created_at),
            "updated_at": iso(datetime.now(UTC)),
            "stats": self.stats(),
        }

    def event(self) -> dict[str, Any]:
        """The next version of this customer as an event (created for the first)."""
        self.version += 1
        return envelope(
            "customer.created" if self.version == 1 else "customer.updated",
            self.state(),
            source="/crm/customers",
        )


def group_members(kind: str, group_id: str, name: str, customer_ids: list[str]) -> dict[str, Any]:
    return envelope(
        f"group.members.{kind}",
        {"group_id": group_id, "group_name": name, "customer_ids": customer_ids},
        source="/crm/groups",
    )


def ledger_entry(
    customer_id: str, balance_after: int, sequence: int, currency: str = "EUR"
) -> dict[str, Any]:
    return envelope(
        "ledger.entry.recorded",
        {
            "id": f"led_{uuid.uuid4().hex[:8]}",
            "customer_id": customer_id,
            "currency": currency,
            "kind": "funding",
            "amount": balance_after,
            "balance_after": balance_after,
            "sequence": sequence,
            "at": iso(datetime.now(UTC)),
        },
        source="/crm/ledger",
    )


def membership(
    broker: Broker, kind: str, segment_id: str, customer_id: str | None = None
) -> list[dict[str, Any]]:
    return [
        m["body"]
        for m in broker.events(
            f"segment.member.{kind}",
            lambda b: (
                b["data"]["segment_id"] == segment_id and customer_id in (None, b["data"]["customer_id"])
            ),
        )
    ]


async def wait_membership(
    broker: Broker, kind: str, segment_id: str, customer_id: str, timeout: float = 20
) -> dict[str, Any]:
    found = await broker.wait_for(
        f"segment.member.{kind}",
        lambda b: b["data"]["segment_id"] == segment_id and b["data"]["customer_id"] == customer_id,
        timeout=timeout,
    )
    return found[0]["body"]


class Probe:
    """A barrier: a segment of its own that the customer joins or leaves through a group event.
    Events are handled in order and the outbox publishes in the order it recorded, so once the
    probe's event arrives, every membership event caused before it has arrived too."""

    def __init__(self, http: Any, broker: Broker) -> None:
        self.http, self.broker = http, broker
        self.group = f"grp_probe_{uuid.uuid4().hex[:8]}"
        self.inside: dict[str, bool] = {}

    async def create(self) -> "Probe":
        r = await self.http.post(
            "/v1/segments", json={"name": "probe", "rule": f"customer_groups CONTAINS '{self.group}'"}
        )
        assert r.status_code == 201, r.text
        self.segment_id = r.json()["id"]
        return self

    async def sync(self, customer_id: str) -> None:
        inside = self.inside.get(customer_id, False)
        await self.broker.publish(
            group_members("removed" if inside else "added", self.group, self.group, [customer_id])
        )
        kind = "left" if inside else "joined"
        count = len(membership(self.broker, kind, self.segment_id, customer_id)) + 1
        await self.broker.wait_for(
            f"segment.member.{kind}",
            lambda b: b["data"]["segment_id"] == self.segment_id and b["data"]["customer_id"] == customer_id,
            count=count,
        )
        self.inside[customer_id] = not inside
