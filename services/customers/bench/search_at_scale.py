"""Search at scale: loads N synthetic customers into a scratch database with the service's own
indexes, then times the queries the API builds and prints what the backend's planner says.

    MONGODB_URL=mongodb://127.0.0.1:27018/ .venv/bin/python services/customers/bench/search_at_scale.py 100000

On MongoDB the plans must show IXSCAN (never COLLSCAN). FerretDB 1.x on SQLite answers
every one of them with `SCAN <table>` (no secondary index is used; `filterPushdown` false),
so there the times grow with N: a production deployment at a million customers needs MongoDB
(or FerretDB on PostgreSQL, which we have not measured).
"""

import asyncio
import os
import random
import string
import sys
import time
from datetime import UTC, datetime, timedelta

from pymongo import AsyncMongoClient

from crm_customers.domain import customer as domain
from crm_customers.domain import search
from crm_customers.store import SEARCH_INDEXES


def fake(i: int, now: datetime) -> dict:
    rnd = random.Random(i)
    first = "".join(rnd.choices(string.ascii_lowercase, k=6)).title()
    last = "".join(rnd.choices(string.ascii_lowercase, k=8)).title()
    doc = domain.new_customer(
        f"cus_{i:09d}",
        email=f"{first.lower()}.{last.lower()}{i}@example.com",
        now=now - timedelta(seconds=i),
        has_account=rnd.random() < 0.5,
        first_name=first,
        last_name=last,
        tags=["vip"] if rnd.random() < 0.05 else [],
        group_ids=[f"grp_{rnd.randrange(50)}"],
    )
    doc["spent_base"] = rnd.randrange(0, 1_000_000)
    return doc


async def main(n: int) -> None:
    client: AsyncMongoClient = AsyncMongoClient(os.environ["MONGODB_URL"], tz_aware=True)
    db = client["bench_customers_search"]
    col = db["customers"]
    now = datetime.now(UTC)
    if await col.estimated_document_count() != n:
        await col.drop()
        await col.create_indexes(SEARCH_INDEXES)
        started = time.perf_counter()
        for start in range(0, n, 1000):
            await col.insert_many([fake(i, now) for i in range(start, min(start + 1000, n))])
        print(f"loaded {n} customers in {time.perf_counter() - started:.1f}s")
    probe = fake(n // 2, now)
    cases = {
        "e-mail prefix": search.build(q=probe["email_key"][:10]),
        "name prefix": search.build(q=probe["first_key"][:4], sort="name"),
        "group, by name": search.build(group_id="grp_7", sort="name"),
        "tag, newest": search.build(tag="vip"),
        "all, by total spent": search.build(sort="-total_spent"),
    }
    for name, query in cases.items():
        started = time.perf_counter()
        docs = await col.find(query.filter).sort(query.sort).limit(50).to_list()
        took = (time.perf_counter() - started) * 1000
        plan = (
            await db.command(
                "explain",
                {"find": "customers", "filter": query.filter, "sort": dict(query.sort), "limit": 50},
            )
        )["queryPlanner"]
        summary = plan.get("winningPlan") or plan.get("Plan")
        print(f"{name:22} {len(docs):3} hits {took:8.1f} ms  plan: {str(summary)[:160]}")
    await client.close()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000))
