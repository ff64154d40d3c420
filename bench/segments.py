"""Segments at scale: membership of a new segment over N profiles, against the bare database
query with the same filter; and the re-check of one changed profile against 100 segments.

    bench/run.sh segments [--profiles 2000,5000,10000] [--rules 3] [--profile-seconds 600]

Profiles are loaded straight into the segments service's `profiles` collection with insert_many
(its read model exactly as profiles.py stores it), at each scale in turn (the data grows from
one scale to the next). For each rule a segment is created through the API (POST /v1/segments);
its membership is computed when the service has marked the batch run (`segment_runs`) and
published a `segment.member.joined` per member. Baseline: the same MongoDB filter the service
compiles, run bare with pymongo (ids only), on the same data in the same run.
"""

import argparse
import asyncio
import json
import signal
import statistics
import time
from datetime import UTC, datetime
from typing import Any

import aio_pika

from bench.data import load, profile
from bench.infra import RESULTS, CpuMeter, Infra, Services, log, py_spy, run_id, save, table, top_frames

RULES = [
    ("narrow", "amount_spent >= 2000 AND country = 'PT'"),
    ("medium", "customer_tags CONTAINS 'vip' AND number_of_orders >= 2"),
    ("broad", "number_of_orders >= 3 AND email_subscribed = true"),
]


class JoinCounter:
    """Counts segment.member.joined per segment, as a marketing system would receive them."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.joined: dict[str, int] = {}
        self.last_at: dict[str, float] = {}

    async def __aenter__(self) -> "JoinCounter":
        self.conn = await aio_pika.connect_robust(self.url)
        ch = await self.conn.channel()
        ex = await ch.declare_exchange("crm.events", aio_pika.ExchangeType.TOPIC, durable=True)
        q = await ch.declare_queue(exclusive=True, auto_delete=True)
        await q.bind(ex, routing_key="segment.member.joined")
        await q.consume(self._on, no_ack=True)
        return self

    async def _on(self, msg: aio_pika.abc.AbstractIncomingMessage) -> None:
        sid = json.loads(msg.body)["data"]["segment_id"]
        self.joined[sid] = self.joined.get(sid, 0) + 1
        self.last_at[sid] = time.perf_counter()

    async def __aexit__(self, *exc: object) -> None:
        await self.conn.close()


async def bare_query(db: Any, query: dict[str, Any]) -> tuple[int, float]:
    started = time.perf_counter()
    n = 0
    async for _ in db["profiles"].find(query, {"_id": 1}).batch_size(1000):
        n += 1
    return n, time.perf_counter() - started


async def compute_segment(
    seg_http: Any, db: Any, joins: JoinCounter, name: str, rule: str, timeout: float
) -> dict[str, Any]:
    started = time.perf_counter()
    r = await seg_http.post("/v1/segments", json={"name": name, "rule": rule})
    r.raise_for_status()
    sid = r.json()["id"]
    computed = None
    while time.perf_counter() - started < timeout:
        if computed is None and await db["segment_runs"].find_one({"_id": sid, "version": 1}):
            computed = time.perf_counter() - started
            members = await db["memberships"].count_documents({"segment_id": sid, "member": True})
        if computed is not None and joins.joined.get(sid, 0) >= members:
            return {
                "segment_id": sid,
                "members": members,
                "computed_s": computed,
                "published_s": max(joins.last_at.get(sid, started + computed) - started, computed),
            }
        await asyncio.sleep(0.05)
    return {
        "segment_id": sid,
        "members": None,
        "computed_s": computed,
        "published_s": None,
        "timed_out": True,
    }


async def recheck(db: Any, n_profiles: int, reps: int = 30) -> dict[str, Any]:
    """One changed profile re-checked against 100 segments with the service's own code: the
    rules compiled once (as the service caches them), then (a) the 100 predicates alone and
    (b) the whole re-evaluation the service runs after a profile change (segments and the
    customer's memberships read from the database, every predicate, no transition)."""
    from crm_segments.domain.money import BaseMoney
    from crm_segments.domain.rules import compile_rule, parse
    from crm_segments.service.membership import Membership
    from crm_segments.store import SegmentStore

    now = datetime.now(UTC)
    templates = [
        "amount_spent >= {a} AND country = '{c}'",
        "number_of_orders >= {n}",
        "customer_tags CONTAINS 'vip' AND last_order_date > -{d}d",
        "(country = '{c}' OR customer_groups CONTAINS 'Group {g}') AND NOT has_account = true",
        "average_order_value BETWEEN {a} AND {b} AND email_subscribed = true",
        "categories_purchased CONTAINS 'shoes' AND created_at < -{d}d",
    ]
    countries = ["PT", "ES", "FR", "DE", "US"]
    rules = [
        templates[i % len(templates)].format(
            a=10 + i * 7, b=200 + i * 11, n=2 + i % 9, d=30 + i * 5, c=countries[i % 5], g=i % 20
        )
        for i in range(100)
    ]
    store = SegmentStore(db, lambda: None)
    membership = Membership(store, BaseMoney("EUR", {}), "/bench")
    customer_id = f"cus_{n_profiles // 2:09d}"
    prof = await store.profile(customer_id)
    segs = []
    for i, rule in enumerate(rules):
        sid = f"seg_recheck_{i:03d}"
        segs.append(
            {
                "_id": sid,
                "id": sid,
                "version": 1,
                "name": f"recheck {i}",
                "rule": rule,
                "created_at": now,
                "updated_at": now,
            }
        )
    await db["segments"].insert_many(segs)
    # Marked computed, so the service's periodic job does not run their batches meanwhile.
    await db["segment_runs"].insert_many(
        [{"_id": s["id"], "version": 1, "name": s["name"], "at": now} for s in segs]
    )
    # The customer's current memberships agree with the rules: re-checking changes nothing.
    for s in segs:
        if compile_rule(parse(s["rule"]), now).predicate(prof):
            await db["memberships"].replace_one(
                {"_id": f"{s['id']}|{customer_id}"},
                {
                    "_id": f"{s['id']}|{customer_id}",
                    "segment_id": s["id"],
                    "customer_id": customer_id,
                    "n": 1,
                    "member": True,
                    "since": now,
                },
                upsert=True,
            )
    compiled = [membership.compiled(s, now) for s in segs]  # warm the parse cache

    def predicates_once() -> float:
        t = time.perf_counter()
        for c in compiled:
            c.predicate(prof)
        return time.perf_counter() - t

    def compile_and_check() -> float:
        t = time.perf_counter()
        t_now = datetime.now(UTC)
        for s in segs:
            membership.compiled(s, t_now).predicate(prof)
        return time.perf_counter() - t

    pred = [predicates_once() for _ in range(reps * 10)]
    compiled_each = [compile_and_check() for _ in range(reps * 10)]
    transitions: list[Any] = []
    original = membership._settle

    async def no_transition(*a: Any) -> bool:
        changed = await original(*a)
        transitions.append(changed)
        return changed

    membership._settle = no_transition  # type: ignore[method-assign]
    full, reads_segments, reads_memberships, bare = [], [], [], []
    for _ in range(reps):
        t = time.perf_counter()
        await membership._reevaluate(prof)
        full.append(time.perf_counter() - t)
        t = time.perf_counter()
        await store.all_segments()
        reads_segments.append(time.perf_counter() - t)
        t = time.perf_counter()
        await store.memberships_of(customer_id)
        reads_memberships.append(time.perf_counter() - t)
        t = time.perf_counter()
        await db["profiles"].find_one({"_id": customer_id})
        bare.append(time.perf_counter() - t)
    # Out of the way of later measurements: no memberships, never re-evaluated.
    for collection in ("segments", "segment_runs"):
        await db[collection].delete_many({"_id": {"$regex": "^seg_recheck_"}})
    await db["memberships"].delete_many({"segment_id": {"$regex": "^seg_recheck_"}})
    med = lambda xs: statistics.median(xs) * 1000  # noqa: E731
    return {
        "segments": len(segs),
        "customer_id": customer_id,
        "transitions": sum(transitions),
        "predicates_ms": med(pred),
        "compile_and_predicates_ms": med(compiled_each),
        "reevaluate_ms": med(full),
        "read_segments_ms": med(reads_segments),
        "read_memberships_ms": med(reads_memberships),
        "bare_find_by_id_ms": med(bare),
        "memberships_rows": await db["memberships"].estimated_document_count(),
    }


async def main(scales: list[int], n_rules: int, profile_seconds: int) -> None:
    from pymongo import AsyncMongoClient

    from crm_segments.domain.rules import compile_rule, parse

    started_all = time.perf_counter()
    run = run_id("segments")
    result: dict[str, Any] = {"scales": [], "rules": dict(RULES[:n_rules])}
    with Infra() as infra:
        services = Services(infra, run, CRM_SEGMENTS_REEVALUATE_SECONDS="3600")
        try:
            services.start("segments")
            seg = services["segments"]
            mongo = infra.mongo()
            sync_profiles = mongo[services.database("segments")]["profiles"]
            client: AsyncMongoClient = AsyncMongoClient(infra.mongo_url, tz_aware=True)
            db = client[services.database("segments")]
            loaded = 0
            async with JoinCounter(infra.rabbit_url) as joins, seg.client(timeout=600) as http:
                for n in scales:
                    t = time.perf_counter()
                    load(sync_profiles, profile, n - loaded, start=loaded)
                    load_s = time.perf_counter() - t
                    log(f"{n} profiles loaded ({n - loaded} in {load_s:.1f}s)")
                    scale: dict[str, Any] = {
                        "profiles": n,
                        "load_seconds": load_s,
                        "load_per_second": (n - loaded) / load_s,
                    }
                    loaded = n
                    rows = []
                    for label, rule in RULES[:n_rules]:
                        query = {
                            "$and": [
                                {"active": True},
                                compile_rule(parse(rule), datetime.now(UTC)).filter,
                            ]
                        }
                        with CpuMeter({"segments": seg.pid}) as bare_cpu:
                            count, bare_s = await bare_query(db, query)
                        spy = None
                        if profile_seconds and label == RULES[n_rules - 1][0] and n == scales[-1]:
                            spy = py_spy(seg.pid, profile_seconds, RESULTS / f"segments-profile-{run}.txt")
                        with CpuMeter({"segments": seg.pid}) as cpu:
                            ours = await compute_segment(http, db, joins, f"{label} {n}", rule, timeout=900)
                        ours["cpu"], ours["bare_cpu"] = cpu.summary(), bare_cpu.summary()
                        if spy:
                            spy.send_signal(signal.SIGINT)  # py-spy writes what it sampled so far
                            spy.wait()
                            ours["profile"] = top_frames(RESULTS / f"segments-profile-{run}.txt")
                        ratio = ours["computed_s"] / bare_s if ours["computed_s"] else None
                        rows.append(
                            {
                                "rule": label,
                                "text": rule,
                                "matches": count,
                                "selectivity": count / n,
                                "bare_query_s": bare_s,
                                **ours,
                                "ratio_computed_to_bare": ratio,
                                "ratio_published_to_bare": (ours["published_s"] / bare_s)
                                if ours.get("published_s")
                                else None,
                            }
                        )
                        log(f"{n} {label}: {count} members, bare {bare_s:.2f}s, ours {ours['computed_s']}s")
                    scale["rules"] = rows
                    scale["recheck"] = await recheck(db, n)
                    scale["rss_mib"] = seg.rss()
                    result["scales"].append(scale)
            await client.close()
            mongo.close()
        finally:
            services.stop()
            infra.drop_databases(run)
    result["wall_seconds"] = time.perf_counter() - started_all
    path = save("segments", result)
    rows = []
    for s in result["scales"]:
        for r in s["rules"]:
            rows.append(
                [
                    s["profiles"],
                    r["rule"],
                    f"{r['selectivity']:.2%}",
                    r["matches"],
                    r["bare_query_s"],
                    r["computed_s"],
                    r["published_s"],
                    r["ratio_computed_to_bare"],
                ]
            )
    print(
        table(
            "Segment membership of a new segment (seconds; target: within 1.5x of the bare query)",
            [
                "profiles",
                "rule",
                "selectivity",
                "members",
                "bare query",
                "ours: computed",
                "ours: published",
                "ratio",
            ],
            rows,
        )
    )
    print()
    rows = [
        [
            s["profiles"],
            s["recheck"]["predicates_ms"],
            s["recheck"]["compile_and_predicates_ms"],
            s["recheck"]["reevaluate_ms"],
            s["recheck"]["read_segments_ms"],
            s["recheck"]["read_memberships_ms"],
            s["recheck"]["bare_find_by_id_ms"],
        ]
        for s in result["scales"]
    ]
    print(
        table(
            "Re-check of one changed profile against 100 segments (ms, median; target: under 2 ms)",
            [
                "profiles",
                "100 predicates",
                "compile+predicates",
                "full re-evaluation",
                "read segments",
                "read memberships",
                "bare find by _id",
            ],
            rows,
        )
    )
    print(f"\nsegments RSS after each scale (MiB): {[round(s['rss_mib']) for s in result['scales']]}")
    for s in result["scales"]:
        for r in s["rules"]:
            if r.get("profile"):
                print(
                    f"\nprofile of the segments service while computing '{r['rule']}' at {s['profiles']} profiles "
                    f"(py-spy, on-CPU samples):"
                )
                print(
                    "  our functions on the stack:",
                    ", ".join(f"{k} {v:.0%}" for k, v in r["profile"]["ours"][:8]),
                )
                print(
                    "  innermost frame by package:",
                    ", ".join(f"{k} {v:.0%}" for k, v in r["profile"]["leaf_packages"][:8]),
                )
                print("  CPU seconds during the computation:", r["cpu"])
    print(f"results: {path}  ({result['wall_seconds']:.0f}s)")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--profiles", default="2000,5000,10000", help="comma-separated scales, ascending")
    p.add_argument("--rules", type=int, default=3, choices=[1, 2, 3])
    p.add_argument(
        "--profile-seconds",
        type=int,
        default=600,
        help="py-spy the service during the last rule's computation at the last scale (0: off)",
    )
    a = p.parse_args()
    asyncio.run(main([int(x) for x in a.profiles.split(",")], a.rules, a.profile_seconds))
