"""A seeded storefront stream: orders from customers with Zipf-like repeat purchases, several
currencies, cancellations, refunds (some to store credit) and newsletter events, as CloudEvents
envelopes (docs/contract.md §1.1). It also knows what every customer should end up with."""

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

MARKETS = [
    ("PT", "EUR", "Lisboa"),
    ("ES", "EUR", "Madrid"),
    ("FR", "EUR", "Paris"),
    ("DE", "EUR", "Berlin"),
    ("GB", "GBP", "London"),
    ("US", "USD", "Boston"),
    ("BR", "BRL", "Recife"),
]
MARKET_WEIGHTS = [10, 12, 14, 16, 14, 28, 6]
CATALOG = [
    (f"SKU-{i:03d}", f"Product {i}", cat, price)
    for i, (cat, price) in enumerate(
        [(c, p) for c in ("shoes", "shirts", "bags", "hats", "coats") for p in (1999, 2999, 4999, 8999)]
    )
]


@dataclass
class Expected:
    orders: dict[str, int] = field(default_factory=dict)  # email -> orders that count
    subscribed: dict[str, bool] = field(default_factory=dict)  # email -> consent after the stream
    first_order_event: dict[str, int] = field(default_factory=dict)  # email -> index in events

    def customers(self) -> set[str]:
        """E-mails that have a customer: someone ordered, or subscribed."""
        return set(self.orders) | {e for e, s in self.subscribed.items() if s}

    def member(self, segment: str, email: str) -> bool:
        n = self.orders.get(email, 0)
        if segment == "buyers":
            return n >= 1
        return n >= 3 and self.subscribed.get(email, False)


SEGMENTS = {
    "buyers": "number_of_orders >= 1",
    "loyal subscribers": "number_of_orders >= 3 AND email_subscribed = true",
}


async def create_segments(http: Any, segments: dict[str, str] = SEGMENTS) -> dict[str, str]:
    """Creates `segments` (name -> rule) through the segments service's API (`http`: a client
    of it); returns name -> id."""
    ids = {}
    for name, rule in segments.items():
        r = await http.post("/v1/segments", json={"name": name, "rule": rule})
        r.raise_for_status()
        ids[name] = r.json()["id"]
    return ids


def _env(type_: str, data: dict[str, Any], source: str, at: datetime) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": source,
        "type": type_,
        "time": at.isoformat(),
        "datacontenttype": "application/json",
        "data": data,
    }


def stream(
    n_orders: int, seed: int, tag: str, expected: Expected | None = None, zipf_s: float = 0.8
) -> tuple[list[dict[str, Any]], Expected]:
    """`n_orders` orders with, on average per order, 0.04 cancellations, 0.06 refunds and 0.1
    newsletter events; customers `tag`-<k>@example.com drawn with weight 1/k^s."""
    r = random.Random(seed)
    exp = expected or Expected()
    pool = max(10, n_orders)
    weights = [1 / (k**zipf_s) for k in range(1, pool + 1)]
    customers = r.choices(range(1, pool + 1), weights, k=n_orders)
    source = f"/storefronts/bench-{tag}"
    events: list[dict[str, Any]] = []
    placed: list[tuple[str, str, str, int, bool]] = []  # (order_id, email, currency, total, cancelled)
    newsletter_done: set[str] = set()
    at = datetime.now(UTC) - timedelta(days=1)
    for i, k in enumerate(customers):
        at += timedelta(milliseconds=50)
        email = f"{tag}-{k}@example.com"
        country, currency, city = r.choices(MARKETS, MARKET_WEIGHTS)[0]
        items = [
            {"sku": sku, "name": name, "category": cat, "quantity": q, "unit_price": price}
            for (sku, name, cat, price), q in (
                (r.choice(CATALOG), r.randint(1, 3)) for _ in range(r.randint(1, 3))
            )
        ]
        total = sum(it["quantity"] * it["unit_price"] for it in items)
        order_id = f"ord-{tag}-{i}"
        address = {
            "first_name": "Bench",
            "last_name": f"N{k}",
            "line1": f"Street {k}",
            "city": city,
            "postal_code": "1000",
            "country_code": country,
        }
        events.append(
            _env(
                "order.placed",
                {
                    "order_id": order_id,
                    "placed_at": at.isoformat(),
                    "customer": {
                        "email": email,
                        "customer_id": None,
                        "first_name": "Bench",
                        "last_name": f"N{k}",
                        "phone": None,
                    },
                    "currency": currency,
                    "total": total,
                    "items": items,
                    "shipping_address": address,
                    "billing_address": None,
                    "store_credit_used": 0,
                },
                source,
                at,
            )
        )
        exp.first_order_event.setdefault(email, len(events) - 1)
        exp.orders[email] = exp.orders.get(email, 0) + 1
        placed.append((order_id, email, currency, total, False))
        roll = r.random()
        if roll < 0.04 and len(placed) > 5:  # cancel an earlier order that still counts
            j = r.randrange(len(placed) - 5, len(placed))
            oid, em, cur, tot, cancelled = placed[j]
            if not cancelled:
                placed[j] = (oid, em, cur, tot, True)
                exp.orders[em] -= 1
                events.append(
                    _env(
                        "order.cancelled",
                        {"order_id": oid, "cancelled_at": at.isoformat(), "customer": {"email": em}},
                        source,
                        at,
                    )
                )
        elif roll < 0.10 and len(placed) > 5:  # refund part of an earlier order
            oid, em, cur, tot, cancelled = placed[r.randrange(len(placed) - 5, len(placed))]
            if not cancelled:
                events.append(
                    _env(
                        "order.refunded",
                        {
                            "order_id": oid,
                            "refunded_at": at.isoformat(),
                            "customer": {"email": em},
                            "currency": cur,
                            "amount": tot // 2,
                            "to_store_credit": r.random() < 0.3,
                        },
                        source,
                        at,
                    )
                )
        if r.random() < 0.10:  # a newsletter event, at most one per e-mail
            # mostly people who have ordered, some who never do
            other = (
                placed[r.randrange(len(placed))][1]
                if r.random() < 0.8
                else f"{tag}-{r.randrange(1, pool + 1)}@example.com"
            )
            if other not in newsletter_done:
                newsletter_done.add(other)
                sub = r.random() < 0.7
                exp.subscribed[other] = sub
                events.append(
                    _env(
                        "newsletter.subscribed" if sub else "newsletter.unsubscribed",
                        {"email": other, "at": at.isoformat()},
                        source,
                        at,
                    )
                )
    return events, exp
