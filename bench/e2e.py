"""End-to-end: a storefront stream published to crm.events while a marketing listener receives
segment joins; sustained orders per second until every effect is visible, then latency from
publish to `segment.member.joined` at half that rate; against a bare aio-pika pipeline doing the
same number of broker hops and document writes, in the same run.

    bench/run.sh e2e [--orders 250] [--latency-seconds 60]

1. The four services run as processes; two segments are created first: "buyers"
   (`number_of_orders >= 1`) and "loyal subscribers" (`number_of_orders >= 3 AND
   email_subscribed = true`).
2. Throughput: the whole stream (bench/storefront.py, seeded) is published as fast as the broker
   confirms; the clock stops when every customer's statistics (order count, consent) in the
   customers database and every membership of both segments match what the stream implies.
   While it runs, FerretDB's command counters and the listener give the broker hops (deliveries
   into service queues) and document writes per inbound event.
3. Latency: a second stream of new customers is published at half the measured rate for
   `--latency-seconds`; each new customer's first order is timed from its publish to the
   `segment.member.joined` of "buyers" for that customer.
4. Baselines: bench/bare_pipeline.py, plain aio-pika and pymongo in one process, receives the
   same inbound events (durable quorum queues, persistent, confirmed, manual acks). The floor of
   this architecture, which the target refers to: each event delivered once into each queue
   that consumes its type, one upsert there, no reads. Two heavier ones for comparison: as many
   queues in turn as our events took hops on average, with as many inserts and updates as ours
   (and then also as many reads). The clock stops when the last one leaves the last queue.
5. Each service's own counts of database commands and broker operations (`crm_db_commands_total`
   and `crm_broker_operations_total` on /metrics) per inbound event.
"""

import argparse
import asyncio
import json
import re
import time
from collections import Counter
from contextlib import nullcontext
from typing import Any

import aio_pika

from bench.infra import (
    RESULTS,
    CpuMeter,
    FerretdbProfile,
    Infra,
    Services,
    bare_pipeline,
    log,
    percentile,
    py_spy,
    run_id,
    save,
    table,
    top_frames,
)
from bench.storefront import SEGMENTS, Expected, create_segments, stream

SERVICES = ("customers", "groups", "ledger", "segments")


class Listener:
    """A marketing system bound to every event on crm.events (routing key #)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.counts: Counter[str] = Counter()
        self.joined: list[tuple[str, str, float]] = []  # (segment_id, email, time)

    async def __aenter__(self) -> "Listener":
        self.conn = await aio_pika.connect_robust(self.url)
        ch = await self.conn.channel()
        await ch.set_qos(prefetch_count=1000)
        self.exchange = await ch.declare_exchange("crm.events", aio_pika.ExchangeType.TOPIC, durable=True)
        q = await ch.declare_queue(exclusive=True, auto_delete=True)
        await q.bind(self.exchange, routing_key="#")
        await q.consume(self._on, no_ack=True)
        self.pub = await self.conn.channel(publisher_confirms=True)
        self.pub_exchange = await self.pub.get_exchange("crm.events")
        return self

    async def _on(self, msg: aio_pika.abc.AbstractIncomingMessage) -> None:
        self.counts[msg.routing_key or "?"] += 1
        if msg.routing_key == "segment.member.joined":
            d = json.loads(msg.body)["data"]
            self.joined.append((d["segment_id"], d["email"], time.perf_counter()))

    async def publish(self, env: dict[str, Any]) -> float:
        t = time.perf_counter()
        await self.pub_exchange.publish(
            aio_pika.Message(
                json.dumps(env).encode(),
                content_type="application/cloudevents+json",
                message_id=env["id"],
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            routing_key=env["type"],
        )
        return t

    async def __aexit__(self, *exc: object) -> None:
        await self.conn.close()


async def publish_all(listener: Listener, events: list[dict[str, Any]], window: int = 200) -> list[float]:
    """As fast as the broker confirms, `window` unconfirmed at a time, in stream order."""
    times = [0.0] * len(events)
    for start in range(0, len(events), window):
        chunk = range(start, min(start + window, len(events)))
        got = await asyncio.gather(*(listener.publish(events[i]) for i in chunk))
        for i, t in zip(chunk, got, strict=False):
            times[i] = t
    return times


async def publish_paced(
    listener: Listener, events: list[dict[str, Any]], orders_per_second: float
) -> list[float]:
    """Orders at a steady rate; the other events go right after the order before them."""
    times = [0.0] * len(events)
    start = time.perf_counter()
    n = 0
    pending: list[asyncio.Task[float]] = []
    for env in events:
        if env["type"] == "order.placed":
            delay = start + n / orders_per_second - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            n += 1
        pending.append(asyncio.create_task(listener.publish(env)))
    for i, t in enumerate(await asyncio.gather(*pending)):
        times[i] = t
    return times


async def visible(
    db_customers: Any, db_segments: Any, seg_ids: dict[str, str], exp: Expected
) -> dict[str, Any]:
    """How far the stored state is from what the stream implies (0 missing = all visible)."""
    members = {}
    for name, sid in seg_ids.items():
        want = sum(exp.member(name, e) for e in exp.customers())
        have = await db_segments["memberships"].count_documents({"segment_id": sid, "member": True})
        members[name] = (have, want)
    if any(h != w for h, w in members.values()):
        return {"done": False, "members": members}
    wrong = 0
    found = set()
    async for c in db_customers["customers"].find(
        {}, {"email": 1, "email_subscribed": 1, "stats.number_of_orders": 1}
    ):
        e = c["email"]
        found.add(e)
        if (c.get("stats") or {}).get("number_of_orders", 0) != exp.orders.get(e, 0) or bool(
            c.get("email_subscribed")
        ) != exp.subscribed.get(e, False):
            wrong += 1
    missing = len(exp.customers() - found)
    return {
        "done": wrong == 0 and missing == 0,
        "members": members,
        "customers_wrong": wrong,
        "customers_missing": missing,
    }


async def differences(
    db_c: Any, db_s: Any, seg_ids: dict[str, str], exp: Expected, limit: int = 20
) -> dict[str, Any]:
    """What differs from the expectation, customer by customer (to look into a run that did not
    converge): memberships against the profiles' e-mails, and the customers' statistics."""
    out: dict[str, Any] = {}
    profiles = {
        p["_id"]: p
        async for p in db_s["profiles"].find({}, {"email": 1, "number_of_orders": 1, "email_subscribed": 1})
    }
    for name, sid in seg_ids.items():
        members = {
            m["customer_id"] async for m in db_s["memberships"].find({"segment_id": sid, "member": True})
        }
        wrong = []
        for cid, p in profiles.items():
            want = exp.member(name, p.get("email") or "")
            if want != (cid in members):
                wrong.append(
                    {
                        "customer_id": cid,
                        "email": p.get("email"),
                        "member": cid in members,
                        "expected": want,
                        "profile_orders": p.get("number_of_orders"),
                        "expected_orders": exp.orders.get(p.get("email") or ""),
                        "profile_subscribed": p.get("email_subscribed"),
                    }
                )
        out[name] = wrong[:limit]
    customers = []
    async for c in db_c["customers"].find(
        {}, {"email": 1, "email_subscribed": 1, "stats.number_of_orders": 1, "version": 1}
    ):
        e = c["email"]
        if (c.get("stats") or {}).get("number_of_orders", 0) != exp.orders.get(e, 0) or bool(
            c.get("email_subscribed")
        ) != exp.subscribed.get(e, False):
            customers.append(
                {
                    "id": c["_id"],
                    "email": e,
                    "orders": (c.get("stats") or {}).get("number_of_orders"),
                    "expected_orders": exp.orders.get(e, 0),
                    "subscribed": c.get("email_subscribed"),
                    "expected_subscribed": exp.subscribed.get(e, False),
                    "version": c.get("version"),
                }
            )
    out["customers"] = customers[:limit]
    return out


async def wait_visible(
    db_c: Any, db_s: Any, seg_ids: dict[str, str], exp: Expected, timeout: float
) -> tuple[float | None, dict[str, Any]]:
    deadline = time.perf_counter() + timeout
    last: dict[str, Any] = {}
    while time.perf_counter() < deadline:
        last = await visible(db_c, db_s, seg_ids, exp)
        if last["done"]:
            return time.perf_counter(), last
        await asyncio.sleep(0.5)
    last["differences"] = await differences(db_c, db_s, seg_ids, exp)
    log(f"differences: {json.dumps(last['differences'], default=str)[:3000]}")
    return None, last


def db_commands(url: str) -> Counter[tuple[str, str]]:
    """A service's `crm_db_commands_total` from its /metrics, by (command, collection)."""
    import httpx

    out: Counter[tuple[str, str]] = Counter()
    for line in httpx.get(f"{url}/metrics", timeout=10).text.splitlines():
        if line.startswith("crm_db_commands_total{"):
            labels = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}", 1)[0]))
            out[(labels.get("command", "?"), labels.get("collection", ""))] += float(line.rsplit(" ", 1)[1])
    return out


def by_command(diff: Counter[tuple[str, str]], inbound: int) -> dict[str, Any]:
    """Per inbound event: by command name, and by command and collection."""
    names: Counter[str] = Counter()
    for (cmd, _), v in diff.items():
        names[cmd] += v
    return {
        "by_command": {k: round(v / inbound, 3) for k, v in names.most_common() if v},
        "by_command_and_collection": {
            f"{c} {coll}": round(v / inbound, 3) for (c, coll), v in diff.most_common() if v
        },
    }


def database_time(folder: Any) -> dict[str, Any]:
    """Per service: the queries that took the most time (bench/hooks/sitecustomize.py)."""
    out = {}
    for f in sorted(folder.glob("*.json")):
        data = json.loads(f.read_text())
        total = sum(v["seconds"] for v in data.values()) or 1
        top = sorted(data.items(), key=lambda kv: -kv[1]["seconds"])[:8]
        out[f.stem] = {
            "seconds": round(total, 1),
            "commands": sum(v["count"] for v in data.values()),
            "top": [
                {
                    "query": k,
                    **v,
                    "share": round(v["seconds"] / total, 3),
                    "ms_each": round(v["seconds"] / v["count"] * 1000, 1),
                }
                for k, v in top
            ],
        }
    return out


def bindings(infra: Infra) -> dict[str, list[str]]:
    """routing key -> service queues bound to it (on crm.live, which every live event reaches)."""
    out: dict[str, list[str]] = {}
    if not infra.vhost:  # an external broker: the bindings the services declare (handlers)
        for name in SERVICES:
            module = __import__(f"crm_{name}.handlers", fromlist=["handlers"])
            for key in module.handlers.routing_keys:
                out.setdefault(key, []).append(f"{name}.events")
        return out
    for line in infra.rabbitmqctl(
        "list_bindings", "-p", infra.vhost, "source_name", "routing_key", "destination_name"
    ).splitlines():
        parts = line.split("\t")
        if len(parts) == 3 and parts[0] == "crm.live" and parts[2].endswith(".events"):
            out.setdefault(parts[1], []).append(parts[2])
    return out


def dead_letters(infra: Infra) -> dict[str, int]:
    out: dict[str, int] = {}
    if not infra.vhost:
        return out
    for line in infra.rabbitmqctl("list_queues", "-p", infra.vhost, "name", "messages").splitlines():
        parts = line.split("\t")
        if len(parts) == 2 and parts[0].endswith(".dead-letter") and parts[1].isdigit() and int(parts[1]):
            out[parts[0]] = int(parts[1])
    return out


async def main(
    n_orders: int, latency_seconds: float, profile_seconds: int, timeout: float, keep_data: bool
) -> None:
    from pymongo import AsyncMongoClient

    started_all = time.perf_counter()
    run = run_id("e2e")
    result: dict[str, Any] = {"orders": n_orders, "segments": SEGMENTS}
    events, exp = stream(n_orders, seed=42, tag=f"t{run}")
    inbound = len(events)
    result["stream"] = dict(Counter(e["type"] for e in events))
    with Infra() as infra:
        services = Services(infra, run, CRM_FX_RATES="USD=0.92,GBP=1.17")
        db_profiles = RESULTS / f"e2e-dbprofile-{run}"
        if profile_seconds:
            db_profiles.mkdir(parents=True, exist_ok=True)
        client: AsyncMongoClient = AsyncMongoClient(infra.mongo_url, tz_aware=True)
        db_c, db_s = client[services.database("customers")], client[services.database("segments")]
        try:
            for n in SERVICES:
                extra = (
                    {
                        "PYTHONPATH": str(RESULTS.parent / "hooks"),
                        "CRM_BENCH_DB_PROFILE": str(db_profiles / f"{n}.json"),
                    }
                    if profile_seconds
                    else {}
                )
                services.start(n, **extra)
            pids = {n: services[n].pid for n in SERVICES}
            async with services["segments"].client() as http:
                seg_ids = await create_segments(http)
            await asyncio.sleep(1)  # their (empty) batch computations finish
            rss_idle = {n: services[n].rss() for n in SERVICES}
            async with Listener(infra.rabbit_url) as listener:
                # -- 1. throughput --------------------------------------------------------------
                log(f"publishing {inbound} events ({n_orders} orders)")
                spies = {}
                if profile_seconds:
                    for n in ("customers", "segments"):
                        spies[n] = py_spy(
                            services[n].pid, profile_seconds, RESULTS / f"e2e-profile-{n}-{run}.txt"
                        )
                counts0 = Counter(listener.counts)
                ops0 = {n: services[n].operations() for n in SERVICES}
                cmds0 = {n: db_commands(services[n].url) for n in SERVICES}
                ferret = FerretdbProfile(RESULTS / f"e2e-ferretdb-{run}")
                with (
                    services.sampling_rss() as rss_peak,
                    CpuMeter(pids, infra) as cpu,
                    ferret if profile_seconds else nullcontext(),
                ):
                    times = await publish_all(listener, events)
                    t0 = times[0]
                    published_s = time.perf_counter() - t0
                    done_at, state = await wait_visible(db_c, db_s, seg_ids, exp, timeout)
                for spy in spies.values():
                    if spy and spy.poll() is None:
                        spy.send_signal(2)
                    if spy:
                        spy.wait()
                if done_at is None:
                    log(f"not every effect visible after {timeout}s: {state}")
                    log(f"databases: {services.database('customers')}, {services.database('segments')}")
                elapsed = (done_at or time.perf_counter()) - t0
                seen = Counter(listener.counts) - counts0
                ops1 = {n: services[n].operations() for n in SERVICES}
                cmds1 = {n: db_commands(services[n].url) for n in SERVICES}
                commands_per_event = {n: by_command(cmds1[n] - cmds0[n], inbound) for n in SERVICES}
                per_event = {n: {k: (ops1[n][k] - ops0[n][k]) / inbound for k in ops1[n]} for n in SERVICES}
                bound = bindings(infra)
                inbound_types = Counter(e["type"] for e in events)
                consuming = sum(c * len(bound.get(k, [])) for k, c in inbound_types.items()) / inbound
                deliveries = sum(c * len(bound.get(k, [])) for k, c in seen.items())
                writes = {k: cpu.commands.get(k, 0) for k in ("insert", "update", "delete")}
                reads = {
                    k: cpu.commands.get(k, 0) for k in ("find", "getMore", "aggregate", "count", "distinct")
                }
                result["throughput"] = {
                    "all_visible": done_at is not None,
                    "state": state,
                    "seconds": elapsed,
                    "publish_seconds": published_s,
                    "orders_per_second": n_orders / elapsed,
                    "events_per_second": inbound / elapsed,
                    "events_seen_on_exchange": dict(seen),
                    "deliveries_to_service_queues": deliveries,
                    "hops_per_inbound_event": deliveries / inbound,
                    "consuming_queues_per_inbound_event": consuming,
                    "operations_per_inbound_event": per_event,
                    "db_commands_per_inbound_event": commands_per_event,
                    "writes_per_inbound_event": {k: v / inbound for k, v in writes.items()},
                    "reads_per_inbound_event": {k: v / inbound for k, v in reads.items()},
                    "cpu": cpu.summary(),
                    "rss_peak_mib": dict(rss_peak),
                    "rss_idle_mib": rss_idle,
                    "dead_letters": dead_letters(infra),
                }
                result["profiles"] = {n: top_frames(RESULTS / f"e2e-profile-{n}-{run}.txt") for n in spies}
                result["database_time"] = database_time(db_profiles) if profile_seconds else {}
                result["ferretdb_profile"] = ferret.shares()
                rate = n_orders / elapsed
                log(
                    f"throughput: {rate:.2f} orders/s ({elapsed:.1f}s); hops/event "
                    f"{deliveries / inbound:.2f}; writes {writes}; reads {reads}"
                )

                # -- 2. latency at half the rate -------------------------------------------------
                half = rate / 2
                n2 = max(10, int(half * latency_seconds))
                events2, exp = stream(n2, seed=43, tag=f"l{run}", expected=exp)
                # The new customers' first orders (indices into events2).
                first_orders = {e: i for e, i in exp.first_order_event.items() if e.startswith(f"l{run}-")}
                log(f"latency: {n2} orders at {half:.2f}/s")
                joined0 = len(listener.joined)
                with services.sampling_rss() as rss_peak2:
                    times2 = await publish_paced(listener, events2, half)
                    done2, state2 = await wait_visible(db_c, db_s, seg_ids, exp, timeout)
                buyers = seg_ids["buyers"]
                first_join: dict[str, float] = {}
                for sid, email, t in listener.joined[joined0:]:
                    if sid == buyers and email not in first_join:
                        first_join[email] = t
                lat = [first_join[e] - times2[i] for e, i in first_orders.items() if e in first_join]
                result["latency"] = {
                    "orders_per_second": half,
                    "orders": n2,
                    "samples": len(lat),
                    "p50_s": percentile(lat, 50),
                    "p95_s": percentile(lat, 95),
                    "p99_s": percentile(lat, 99),
                    "max_s": max(lat) if lat else None,
                    "all_visible": done2 is not None,
                    "drained_after_last_publish_s": (done2 - max(times2)) if done2 else None,
                    "rss_peak_mib": dict(rss_peak2),
                    "state": state2,
                }
                result["rss_after_mib"] = {n: services[n].rss() for n in SERVICES}
        finally:
            await client.close()
            services.stop()

        # -- 3. baseline: the bare pipeline, same inbound events ---------------------------------
        tp = result["throughput"]
        hops = max(1, round(tp["hops_per_inbound_event"]))
        w = tp["writes_per_inbound_event"]
        inserts, updates = w["insert"], w["update"] + w["delete"]
        log(
            f"baseline: {inbound} events, {hops} hops, {inserts:.2f} inserts and {updates:.2f} updates per event"
        )
        reads = sum(tp["reads_per_inbound_event"].values())
        result["baselines"] = {}
        # The floor of this architecture (the target reference): each inbound event
        # delivered once into each queue that consumes its type, one upsert there, no reads.
        floor = max(1, round(tp["consuming_queues_per_inbound_event"]))
        for label, h, ins, upd, r in (
            ("floor: each consuming queue once, one upsert", floor, 0.0, float(floor), 0.0),
            ("hops + writes", hops, inserts, updates, 0.0),
            ("hops + writes + reads", hops, inserts, updates, reads),
        ):
            result["baselines"][label] = bare_pipeline(
                infra, f"{run}_bare", inbound, n_orders, h, ins, upd, r, timeout
            )
            log(f"baseline {label}: {result['baselines'][label]['orders_per_second']:.2f} orders/s")
        result["baseline"] = result["baselines"]["floor: each consuming queue once, one upsert"]
        result["share_of_hops_and_writes"] = (
            tp["orders_per_second"] / result["baselines"]["hops + writes"]["orders_per_second"]
        )
        result["share_of_baseline"] = tp["orders_per_second"] / result["baseline"]["orders_per_second"]
        result["share_of_baseline_with_reads"] = (
            tp["orders_per_second"] / result["baselines"]["hops + writes + reads"]["orders_per_second"]
        )
        if not keep_data:
            infra.drop_databases(run)
    result["wall_seconds"] = time.perf_counter() - started_all
    path = save("e2e", result)
    tp, lt = result["throughput"], result["latency"]
    print(
        table(
            f"End-to-end ({n_orders} orders, {inbound} inbound events; seeded stream)",
            [
                "run",
                "orders/s",
                "seconds",
                "all effects visible",
                "hops/event",
                "writes/event",
                "reads/event",
            ],
            [
                [
                    "ours (4 services)",
                    tp["orders_per_second"],
                    tp["seconds"],
                    tp["all_visible"],
                    tp["hops_per_inbound_event"],
                    sum(tp["writes_per_inbound_event"].values()),
                    sum(tp["reads_per_inbound_event"].values()),
                ],
                *[
                    [
                        f"bare aio-pika: {label}",
                        b["orders_per_second"],
                        b["seconds"],
                        True,
                        b["hops"],
                        b["inserts_per_event"] + b["updates_per_event"],
                        b["reads_per_event"],
                    ]
                    for label, b in result["baselines"].items()
                ],
            ],
        )
    )
    print(
        f"ours at {result['share_of_baseline']:.0%} of the floor (target: at least 50%); "
        f"{result['share_of_hops_and_writes']:.0%} of a bare pipeline with our hops and writes, "
        f"{result['share_of_baseline_with_reads']:.0%} of one that also does our reads\n"
    )
    ops = tp["operations_per_inbound_event"]
    print(
        table(
            "Operations per inbound event, as each service counts them (/metrics)",
            ["service", "database commands", "broker operations (publish+confirm, ack, nack)"],
            [
                *[[n, ops[n]["db_commands"], ops[n]["broker_operations"]] for n in SERVICES],
                [
                    "all",
                    sum(o["db_commands"] for o in ops.values()),
                    sum(o["broker_operations"] for o in ops.values()),
                ],
            ],
        )
    )
    print()
    cpe = tp["db_commands_per_inbound_event"]
    names = sorted({k for n in SERVICES for k in cpe[n]["by_command"]})
    print(
        table(
            "Database commands per inbound event, by command name (/metrics)",
            ["service", *names],
            [[n, *(cpe[n]["by_command"].get(k, 0.0) for k in names)] for n in SERVICES],
        )
    )
    for n in SERVICES:
        print(f"{n}: " + ", ".join(f"{k} {v:.2f}" for k, v in cpe[n]["by_command_and_collection"].items()))
    print()
    print(
        table(
            f"Latency publish -> segment.member.joined at {lt['orders_per_second']:.2f} orders/s (half the sustained rate)",
            ["samples", "p50 s", "p95 s", "p99 s", "max s", "drained after last publish s"],
            [
                [
                    lt["samples"],
                    lt["p50_s"],
                    lt["p95_s"],
                    lt["p99_s"],
                    lt["max_s"],
                    lt["drained_after_last_publish_s"],
                ]
            ],
        )
    )
    print()
    print(
        table(
            "Resident memory of each service (MiB)",
            ["service", "idle", "peak under load", "peak at half rate", "after"],
            [
                [
                    n,
                    tp["rss_idle_mib"][n],
                    tp["rss_peak_mib"][n],
                    lt["rss_peak_mib"][n],
                    result["rss_after_mib"][n],
                ]
                for n in SERVICES
            ],
        )
    )
    print(
        f"\nCPU seconds during the throughput run ({tp['cpu']['wall_seconds']}s wall): {tp['cpu']['cpu_seconds']}"
    )
    print(f"database commands: {tp['cpu']['database_commands']}")
    for n, prof in result["profiles"].items():
        if prof.get("ours"):
            print(f"profile of {n} (py-spy, on-CPU):", ", ".join(f"{k} {v:.0%}" for k, v in prof["ours"][:8]))
            print(
                "   innermost frame by package:",
                ", ".join(f"{k} {v:.0%}" for k, v in prof["leaf_packages"][:6]),
            )
    if result.get("ferretdb_profile"):
        print(
            "profile of FerretDB (Go pprof, on-CPU, by subtree):",
            ", ".join(f"{k} {v:.0%}" for k, v in result["ferretdb_profile"].items()),
        )
    for n, d in result.get("database_time", {}).items():
        print(f"{n}: {d['commands']} database commands, {d['seconds']}s waiting for them; the costliest:")
        for q in d["top"][:4]:
            print(f"   {q['share']:.0%}  {q['query']}  x{q['count']}  {q['ms_each']} ms each")
    if tp["dead_letters"]:
        print(f"dead letters: {tp['dead_letters']}")
    print(f"results: {path}  ({result['wall_seconds']:.0f}s)")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--orders", type=int, default=250)
    p.add_argument("--latency-seconds", type=float, default=60)
    p.add_argument(
        "--profile-seconds",
        type=int,
        default=600,
        help="py-spy customers and segments during the throughput run (0: off)",
    )
    p.add_argument(
        "--timeout", type=float, default=600, help="give up waiting for the effects after this long"
    )
    p.add_argument("--keep-data", action="store_true", help="keep the run's databases (to look at them)")
    a = p.parse_args()
    asyncio.run(main(a.orders, a.latency_seconds, a.profile_seconds, a.timeout, a.keep_data))
