"""Ledger under contention: concurrent debits and credits on 1 and on 1,000 accounts through
the ledger's HTTP API (POST /v1/accounts/{id}/entries), operations per second and latency, and
zero overdrafts checked at the end on the stored journal.

    bench/run.sh ledger [--accounts 1,1000] [--ops 200] [--concurrency 16]

Each account is first funded, then `ops` operations run with `concurrency` at a time: half
`funding` (100-1,000 cents), half `unfunding` (100-2,000 cents; refused with 409
insufficient-funds when the balance does not cover it). Baseline in the same run: the same
operations on the same number of accounts done bare with pymongo (read the newest record,
decide, insert with a unique (account, sequence) key, retry on a duplicate), the least any
overdraft-free ledger on this database has to do, without HTTP, framework or outbox.
"""

import argparse
import asyncio
import random
import time
from typing import Any

import httpx
from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, IndexModel
from pymongo.errors import DuplicateKeyError

from bench.infra import CpuMeter, Infra, Services, log, percentile, run_id, save, table

CURRENCY = "EUR"


def plan(accounts: list[str], ops: int, seed: int) -> list[tuple[str, str, int]]:
    r = random.Random(seed)
    out = []
    for _ in range(ops):
        kind = r.choice(["funding", "unfunding"])
        amount = r.randrange(100, 1001) if kind == "funding" else r.randrange(100, 2001)
        out.append((r.choice(accounts), kind, amount))
    return out


async def run_concurrently(
    ops: list[Any], concurrency: int, do: Any
) -> tuple[list[float], dict[str, int], float]:
    latencies: list[float] = []
    outcomes: dict[str, int] = {}
    queue = list(reversed(ops))

    async def worker() -> None:
        while queue:
            op = queue.pop()
            t = time.perf_counter()
            outcome = await do(*op)
            latencies.append(time.perf_counter() - t)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, outcomes, time.perf_counter() - started


# -- ours: the ledger service over HTTP ---------------------------------------------------------


async def ours(http: httpx.AsyncClient, account: str, kind: str, amount: int) -> str:
    r = await http.post(
        f"/v1/accounts/{account}/entries",
        json={"kind": kind, "amount": amount, "currency": CURRENCY, "reason": "bench"},
    )
    if r.status_code == 201:
        return "ok"
    if r.status_code == 409 and "insufficient-funds" in r.text:
        return "insufficient-funds"
    return f"http {r.status_code}"


async def check_journal(records: Any, accounts: list[str], account_key: Any) -> dict[str, Any]:
    """Every account's journal: sequences 1..n with no gap, no balance or available balance
    below zero after any record, and the balance equal to the sum of the amounts."""
    overdrafts, broken, entries = 0, 0, 0
    by_account: dict[str, list[dict[str, Any]]] = {account_key(a): [] for a in accounts}
    # One pass over the journal (every query is a scan on FerretDB), grouped here.
    async for d in records.find(
        {"account": {"$in": list(by_account)}},
        {"account": 1, "sequence": 1, "type": 1, "amount": 1, "balance_after": 1, "available_after": 1},
    ):
        by_account[d["account"]].append(d)
    for docs in by_account.values():
        docs.sort(key=lambda d: d["sequence"])
        entries += len(docs)
        balance = 0
        for i, d in enumerate(docs, 1):
            balance += d.get("amount", 0) if d.get("type", "entry") == "entry" else 0
            if d["sequence"] != i or d["balance_after"] != balance:
                broken += 1
            if d["balance_after"] < 0 or d.get("available_after", 0) < 0:
                overdrafts += 1
    return {"records": entries, "overdrafts": overdrafts, "inconsistent": broken}


# -- baseline: bare pymongo, the same scheme -----------------------------------------------------


class Bare:
    def __init__(self, db: Any) -> None:
        self.col = db["journal"]

    async def setup(self) -> None:
        await self.col.create_indexes(
            [IndexModel([("account", ASCENDING), ("sequence", DESCENDING)], unique=True)]
        )

    async def op(self, account: str, kind: str, amount: int) -> str:
        signed = amount if kind == "funding" else -amount
        for _ in range(500):
            last = await self.col.find_one({"account": account}, sort=[("sequence", DESCENDING)])
            seq, balance = (last["sequence"], last["balance_after"]) if last else (0, 0)
            if balance + signed < 0:
                return "insufficient-funds"
            try:
                await self.col.insert_one(
                    {
                        "account": account,
                        "sequence": seq + 1,
                        "amount": signed,
                        "balance_after": balance + signed,
                        "type": "entry",
                    }
                )
                return "ok"
            except DuplicateKeyError:
                await asyncio.sleep(random.uniform(0, 0.002))
        return "contention"


async def scenario(
    http: httpx.AsyncClient,
    db_ours: Any,
    db_bare: Any,
    n_accounts: int,
    ops: int,
    concurrency: int,
    pids: dict[str, int],
    infra: Infra,
) -> dict[str, Any]:
    from crm_ledger.store import account_key

    tag = f"a{n_accounts}"
    accounts = [f"cus_{tag}_{i:05d}" for i in range(n_accounts)]
    funding = [(a, "funding", 5_000) for a in accounts]
    work = plan(accounts, ops, seed=n_accounts)
    out: dict[str, Any] = {"accounts": n_accounts, "ops": ops, "concurrency": concurrency}

    # The ledger moves money only for customers it has heard of: as if their customer.created
    # had been consumed (the read model as the service stores it).
    await db_ours["known_customers"].insert_many(
        [{"_id": a, "version": 1, "email_key": f"{a}@example.com"} for a in accounts]
    )
    bare = Bare(db_bare)
    await bare.setup()
    for label, do, records, key in (
        ("ours", lambda *op: ours(http, *op), db_ours["journal"], lambda a: account_key(a, CURRENCY)),
        ("bare", bare.op, db_bare["journal"], lambda a: a),
    ):
        await run_concurrently(funding, concurrency, do)
        while label == "ours" and await records.count_documents({"published": False}):
            await asyncio.sleep(0.5)  # the funding's events are out before the clock starts
        with CpuMeter(pids, infra) as cpu:
            lat, outcomes, wall = await run_concurrently(work, concurrency, do)
        drain_started = time.perf_counter()
        while label == "ours" and await records.count_documents({"published": False}):
            await asyncio.sleep(0.5)  # the outbox relay catches up before the next run starts
        drain = time.perf_counter() - drain_started
        check = await check_journal(records, accounts, key)
        out[label] = {
            "ops_per_second": len(work) / wall,
            "seconds": wall,
            "outcomes": outcomes,
            "p50_ms": percentile(lat, 50) * 1000,
            "p99_ms": percentile(lat, 99) * 1000,
            "max_ms": max(lat) * 1000,
            **check,
            "cpu": cpu.summary(),
            "outbox_drained_after_s": drain,
        }
        log(f"{n_accounts} accounts, {label}: {out[label]['ops_per_second']:.1f} ops/s, {outcomes}, {check}")
    out["share_of_baseline"] = out["ours"]["ops_per_second"] / out["bare"]["ops_per_second"]
    return out


async def main(account_counts: list[int], ops: int, concurrency: int) -> None:
    started = time.perf_counter()
    run = run_id("ledger")
    result: dict[str, Any] = {"scenarios": []}
    with Infra() as infra:
        services = Services(infra, run)
        client: AsyncMongoClient = AsyncMongoClient(infra.mongo_url, tz_aware=True)
        try:
            services.start("ledger")
            ledger = services["ledger"]
            limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
            async with httpx.AsyncClient(
                base_url=ledger.url, timeout=120, limits=limits, headers=ledger.client().headers
            ) as http:
                for n in account_counts:
                    result["scenarios"].append(
                        await scenario(
                            http,
                            client[services.database("ledger")],
                            client[f"{run}_bare_{n}"],
                            n,
                            ops,
                            concurrency,
                            {"ledger": ledger.pid},
                            infra,
                        )
                    )
            result["ledger_rss_mib"] = ledger.rss()
        finally:
            await client.close()
            services.stop()
            infra.drop_databases(run)
    result["wall_seconds"] = time.perf_counter() - started
    path = save("ledger", result)
    rows = []
    for s in result["scenarios"]:
        for label in ("ours", "bare"):
            r = s[label]
            rows.append(
                [
                    s["accounts"],
                    label,
                    r["ops_per_second"],
                    r["p50_ms"],
                    r["p99_ms"],
                    r["outcomes"].get("ok", 0),
                    r["outcomes"].get("insufficient-funds", 0),
                    sum(v for k, v in r["outcomes"].items() if k not in ("ok", "insufficient-funds")),
                    r["overdrafts"],
                    r["inconsistent"],
                ]
            )
    print(
        table(
            f"Ledger under contention ({ops} operations, {concurrency} concurrent; ours = HTTP API, "
            "bare = pymongo, same scheme)",
            [
                "accounts",
                "run",
                "ops/s",
                "p50 ms",
                "p99 ms",
                "booked",
                "refused (409)",
                "errors",
                "overdrafts",
                "inconsistent",
            ],
            rows,
        )
    )
    for s in result["scenarios"]:
        print(f"{s['accounts']} account(s): ours at {s['share_of_baseline']:.0%} of the bare baseline")
        for label in ("ours", "bare"):
            c = s[label]["cpu"]
            per_op = {k: round(v / s["ops"], 1) for k, v in c["database_commands"].items()}
            print(f"  {label}: CPU seconds {c['cpu_seconds']}; database commands per operation {per_op}")
    print(f"results: {path}  ({result['wall_seconds']:.0f}s)")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--accounts", default="1,1000")
    p.add_argument("--ops", type=int, default=200)
    p.add_argument("--concurrency", type=int, default=16)
    a = p.parse_args()
    asyncio.run(main([int(x) for x in a.accounts.split(",")], a.ops, a.concurrency))
