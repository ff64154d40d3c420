"""Seeded synthetic data: segment profiles and customer documents, loaded straight into a
service's database with insert_many (the read model exactly as the service stores it)."""

import random
from datetime import UTC, datetime, timedelta
from typing import Any

COUNTRIES = ["PT", "ES", "FR", "DE", "GB", "US", "IT", "NL", "BR", "PL"]
COUNTRY_WEIGHTS = [8, 12, 14, 16, 12, 20, 8, 4, 4, 2]
CITIES = {c: [f"{c}-city-{i}" for i in range(20)] for c in COUNTRIES}
CATEGORIES = ["shoes", "shirts", "pants", "bags", "hats", "socks", "coats", "belts"]
TAGS = ["vip", "wholesale", "newsletter", "b2b", "influencer"]
GROUPS = [(f"grp_{i:02d}", f"Group {i}") for i in range(20)]


def profile(i: int, now: datetime) -> dict[str, Any]:
    """Profile number i (segments' read model, profiles.py), the same for the same i."""
    r = random.Random(i)
    orders = min(int(r.paretovariate(1.3)) - 1, 200)  # many with 0 or 1 order, a long tail
    created = now - timedelta(days=r.uniform(0, 1500))
    spent = sum(r.randrange(500, 20000) for _ in range(min(orders, 30))) * max(1, orders // 30)
    first = created + timedelta(days=r.uniform(0, 30)) if orders else None
    last = (first + timedelta(days=r.uniform(0, (now - first).days or 1))) if first else None
    country = r.choices(COUNTRIES, COUNTRY_WEIGHTS)[0]
    groups = [{"id": g, "name": n} for g, n in r.sample(GROUPS, k=r.choice([0, 0, 0, 1, 1, 2]))]
    groups.sort(key=lambda g: g["id"])
    cats = sorted(r.sample(CATEGORIES, k=min(orders, r.randrange(1, 4)))) if orders else []
    ms = lambda t: t.replace(microsecond=t.microsecond // 1000 * 1000) if t else None  # noqa: E731
    return {
        "_id": f"cus_{i:09d}",
        "active": True,
        "deleted": False,
        "customer_version": 1 + orders,
        "email": f"customer{i}@example.com",
        "email_subscribed": r.random() < 0.4,
        "has_account": r.random() < 0.5,
        "country": country,
        "city": r.choice(CITIES[country]),
        "created_at": ms(created),
        "customer_tags": sorted(r.sample(TAGS, k=r.choice([0, 0, 0, 0, 1, 1, 2]))),
        "number_of_orders": orders,
        "counted_orders": orders,
        "first_order_date": ms(first),
        "last_order_date": ms(last),
        "amount_spent": spent,
        "average_order_value": spent // orders if orders else None,
        "categories_purchased": cats,
        "products_purchased": [f"SKU-{r.randrange(500)}" for _ in range(min(orders, 3))],
        "groups": groups,
        "group_ids": [g["id"] for g in groups],
        "customer_groups": sorted(g["name"] for g in groups),
        "credit": {},
        "store_credit_balance": r.choice([0, 0, 0, 0, 500, 2500]),
    }


def customer(i: int, now: datetime) -> dict[str, Any]:
    """Customer number i as the customers service stores it (its own domain.new_customer)."""
    from crm_customers.domain import customer as domain

    r = random.Random(i)
    first = "".join(r.choices("abcdefghijklmnopqrstuvwxyz", k=6)).title()
    last = "".join(r.choices("abcdefghijklmnopqrstuvwxyz", k=8)).title()
    doc = domain.new_customer(
        f"cus_{i:09d}",
        email=f"{first.lower()}.{last.lower()}{i}@example.com",
        now=now - timedelta(seconds=i),
        has_account=r.random() < 0.5,
        first_name=first,
        last_name=last,
        tags=["vip"] if r.random() < 0.05 else [],
        group_ids=[GROUPS[r.randrange(20)][0]],
    )
    return doc


def load(collection: Any, make: Any, n: int, batch: int = 1000, start: int = 0) -> None:
    """insert_many in batches (a pymongo sync collection)."""
    now = datetime.now(UTC)
    for s in range(start, start + n, batch):
        collection.insert_many([make(i, now) for i in range(s, min(s + batch, start + n))], ordered=False)
