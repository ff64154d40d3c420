"""Replicas: the end-to-end throughput of the whole system with 1, 2 and 3 processes per service,
in one run, on fresh databases and a fresh RabbitMQ vhost for each configuration.

    bench/run.sh replicas [--replicas 1,2,3] [--orders 250] [--partitions 8]

1. For each N: N processes of each of the five services (customers, groups, ledger, segments,
   engagement), each on an HTTP port of its own, with CRM_REPLICA_INDEX=i and CRM_REPLICAS=N as
   `./crm up --replicas N` sets them, and CRM_PARTITIONS (8): live events go through
   `<service>.intake` and the consistent-hash exchange to partitions with a single active
   consumer (docs/scaling.md). N=1 runs twice: without partitions (the default of one process
   per service) and with them, so that the cost of the partition hop shows apart from the cost
   of more processes. With N > 1 the clock starts only after every replica logged "standing by
   for partitions" (CRM_PARTITION_STANDBY_SECONDS): each has subscribed to all partitions.
2. The same seeded storefront stream as bench/e2e.py (two segments, the same check): published as
   fast as the broker confirms; the clock stops when every customer's statistics and consent
   and every membership of both segments match what the stream implies. Dead letters are counted
   (there should be none beyond what e2e reports).
3. Per process, from its /metrics: inbound events handled (`crm_events_consumed_total`, outcome
   processed; duplicates and retries beside), and events moved from the intake to a partition
   (`crm_broker_operations_total{operation="to_partition"}`): shows how the work is spread.
   CPU seconds of the services against FerretDB, PostgreSQL and RabbitMQ in the throughput run.
4. Baseline: the floor of bench/bare_pipeline.py (each inbound event once into each queue that
   consumes its type, one upsert there), in the same run.
"""

import argparse
import asyncio
import os
import re
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aio_pika
import httpx

from bench.e2e import Listener, bindings, dead_letters, publish_all, wait_visible
from bench.infra import BENCH_ENV, CpuMeter, Infra, Service, Services, bare_pipeline, log, run_id, save, table
from bench.storefront import SEGMENTS, create_segments, stream

SERVICES = ("customers", "groups", "ledger", "segments", "engagement")
STANDBY_LINE = "standing by for partitions"


def consumed(svc: Service) -> dict[str, float]:
    """One process's inbound events by outcome, and its moves from the intake to a partition."""
    out: dict[str, float] = {}
    for line in httpx.get(f"{svc.url}/metrics", timeout=10).text.splitlines():
        if line.startswith("crm_events_consumed_total{"):
            labels = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}", 1)[0]))
            outcome = labels.get("outcome", "?")
            out[outcome] = out.get(outcome, 0.0) + float(line.rsplit(" ", 1)[1])
        elif line.startswith('crm_broker_operations_total{operation="to_partition"}'):
            out["to_partition"] = out.get("to_partition", 0.0) + float(line.rsplit(" ", 1)[1])
    return out


async def dead_letter_reasons(url: str, queues: list[str]) -> dict[str, list[str]]:
    """Type and reason (`x-crm-reason`) of each dead letter, looked at and put back."""
    out: dict[str, list[str]] = {}
    conn = await aio_pika.connect_robust(url)
    try:
        ch = await conn.channel()
        for name in queues:
            q = await ch.declare_queue(name, passive=True)
            seen = []
            while (msg := await q.get(no_ack=False, fail=False)) is not None:
                seen.append(msg)
                reason = str((msg.headers or {}).get("x-crm-reason", "?"))
                out.setdefault(name, []).append(f"{msg.routing_key}: {reason[:300]}")
            for msg in seen:
                await msg.nack(requeue=True)
    finally:
        await conn.close()
    return out


def stop_all(procs: list[Service], grace: float = 30) -> None:
    """All at once (a process stuck on a database that does not answer is killed after `grace`)."""
    for p in procs:
        if p.proc and p.proc.poll() is None:
            p.proc.terminate()
    deadline = time.monotonic() + grace
    for p in procs:
        if p.proc:
            try:
                p.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.proc.kill()
                p.proc.wait()


def wait_standing_by(procs: list[Service], timeout: float) -> float:
    """Until each process logged that it subscribed to the other partitions as a standby."""
    t0 = time.perf_counter()
    waiting = list(procs)
    while waiting and time.perf_counter() - t0 < timeout:
        waiting = [p for p in waiting if STANDBY_LINE not in Path(p.log_path).read_text(errors="replace")]
        if waiting:
            time.sleep(0.5)
    if waiting:
        log(f"no '{STANDBY_LINE}' after {timeout}s from {[p.name for p in waiting]}")
    return time.perf_counter() - t0


def with_pool(url: str, size: int) -> str:
    return f"{url}{'&' if '?' in url else '?'}maxPoolSize={size}"


def database_answers(infra: Infra) -> bool:
    from pymongo import MongoClient

    try:
        c: MongoClient[dict[str, Any]]
        with MongoClient(infra.mongo_url, serverSelectionTimeoutMS=10_000, socketTimeoutMS=10_000) as c:
            c.admin.command("ping")
        return True
    except Exception:  # noqa: BLE001
        return False


async def one(
    infra: Infra,
    label: str,
    n: int,
    partitions: int,
    n_orders: int,
    timeout: float,
    keep_data: bool,
    mongo_pool: int,
) -> dict[str, Any]:
    from pymongo import AsyncMongoClient

    run = run_id("replicas")
    events, exp = stream(n_orders, seed=42, tag=f"t{run}")
    inbound = len(events)
    pool = {"MONGODB_URL": with_pool(infra.mongo_url, mongo_pool)} if mongo_pool else {}
    services = Services(
        infra,
        run,
        CRM_FX_RATES="USD=0.92,GBP=1.17",
        CRM_PARTITIONS=str(partitions),
        # engagement's mails go to the benchmark's own Mailpit
        CRM_SMTP_HOST="127.0.0.1",
        CRM_SMTP_PORT=BENCH_ENV["MAILPIT_SMTP_PORT"],
        **pool,
    )
    # Timeouts: a database that stops answering fails this configuration instead of hanging.
    client: AsyncMongoClient = AsyncMongoClient(
        infra.mongo_url, tz_aware=True, serverSelectionTimeoutMS=20_000, socketTimeoutMS=30_000
    )
    db_c, db_s = client[services.database("customers")], client[services.database("segments")]
    out: dict[str, Any] = {
        "label": label,
        "replicas": n,
        "partitions": partitions,
        "run": run,
        "mongo_max_pool_size": mongo_pool or "default (100)",
    }
    procs: list[Service] = []
    try:
        t_start = time.perf_counter()
        procs += [p for name in SERVICES for p in services.start_replicas(name, n, wait=False)]
        for p in procs:
            p.wait_ready()
        out["start_seconds"] = round(time.perf_counter() - t_start, 1)
        if partitions and n > 1:
            out["standby_wait_seconds"] = round(wait_standing_by(procs, 120), 1)
        log(f"{label}: {len(procs)} processes up in {out['start_seconds']}s")
        async with services["segments"].client() as http:
            seg_ids = await create_segments(http)
        await asyncio.sleep(1)  # their (empty) batch computations finish
        pids = {p.name: p.pid for p in procs}
        async with Listener(infra.rabbit_url) as listener:
            before = {p.name: consumed(p) for p in procs}
            log(f"{label}: publishing {inbound} events ({n_orders} orders)")
            with services.sampling_rss() as rss_peak, CpuMeter(pids) as cpu:
                times = await publish_all(listener, events)
                t0 = times[0]
                published_s = time.perf_counter() - t0
                done_at, state = await wait_visible(db_c, db_s, seg_ids, exp, timeout)
            elapsed = (done_at or time.perf_counter()) - t0
            # Other work on this machine (tests, other benchmarks) shows here.
            out["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
            await asyncio.sleep(1)  # the last acks and counters of events with no visible effect
            after = {p.name: consumed(p) for p in procs}
        per_process = {
            p.name: {
                k: after[p.name].get(k, 0) - before[p.name].get(k, 0)
                for k in sorted(set(after[p.name]) | set(before[p.name]))
                if after[p.name].get(k, 0) - before[p.name].get(k, 0)
            }
            for p in procs
        }
        used = cpu.summary()
        services_cpu = sum(v for k, v in used["cpu_seconds"].items() if k in pids)
        out.update(
            {
                "all_visible": done_at is not None,
                "state": state,
                "seconds": elapsed,
                "publish_seconds": published_s,
                "orders_per_second": n_orders / elapsed,
                "events_per_second": inbound / elapsed,
                "inbound_events": inbound,
                "per_process": per_process,
                "processed_by_service": {
                    s: [per_process[p.name].get("processed", 0) for p in procs if p.service == s]
                    for s in SERVICES
                },
                "cpu": used,
                "cpu_seconds_services": round(services_cpu, 1),
                "rss_peak_mib": dict(rss_peak),
                "dead_letters": (dead := dead_letters(infra)),
                "dead_letter_reasons": await dead_letter_reasons(infra.rabbit_url, list(dead)),
                "bindings": bindings(infra) if not partitions else {},
            }
        )
        log(
            f"{label}: {out['orders_per_second']:.2f} orders/s ({elapsed:.1f}s), all visible "
            f"{out['all_visible']}, dead letters {out['dead_letters'] or 'none'}"
        )
    finally:
        stop_all(procs)
        try:
            await asyncio.wait_for(client.close(), 10)
        except Exception:  # noqa: BLE001 - a database that does not answer
            pass
    if not keep_data:
        infra.drop_databases(run)
    return out


def configs(replicas: list[int], partitions: int) -> list[tuple[str, int, int]]:
    out = []
    for n in replicas:
        if n == 1:
            out.append(("1 process per service, no partitions", 1, 0))
        out.append(
            (f"{n} process{'es' if n > 1 else ''} per service, {partitions} partitions", n, partitions)
        )
    return out


async def main(
    replicas: list[int], n_orders: int, partitions: int, timeout: float, keep_data: bool, mongo_pool: int
) -> None:
    started_all = time.perf_counter()
    result: dict[str, Any] = {
        "orders": n_orders,
        "services": SERVICES,
        "segments": SEGMENTS,
        "mongo_max_pool_size": mongo_pool or "default (100)",
        "runs": [],
    }
    with Infra() as infra:
        for i, (label, n, k) in enumerate(configs(replicas, partitions)):
            if i:
                infra.new_vhost()
            try:
                result["runs"].append(await one(infra, label, n, k, n_orders, timeout, keep_data, mongo_pool))
            except Exception as e:  # noqa: BLE001 - the other configurations still run
                log(f"{label} failed: {e!r}")
                failure = {"label": label, "replicas": n, "partitions": k, "failed": repr(e)[:500]}
                failure["database_answers_after"] = database_answers(infra)
                result["runs"].append(failure)
                if not failure["database_answers_after"]:
                    log("FerretDB does not answer any more: restarting it for the next configuration")
                    try:
                        infra.restart_ferretdb()
                    except Exception as e2:  # noqa: BLE001
                        log(f"restarting FerretDB failed: {e2!r}")
        # The floor, as in bench/e2e.py: each inbound event once into each queue consuming its type.
        bound: dict[str, list[str]] = next((r["bindings"] for r in result["runs"] if r.get("bindings")), {})
        events, _ = stream(n_orders, seed=42, tag="floor")
        inbound = len(events)
        types = Counter(e["type"] for e in events)
        floor = max(1, round(sum(c * len(bound.get(t, [])) for t, c in types.items()) / inbound))
        log(f"baseline: the floor, {inbound} events, {floor} hops")
        result["baseline"] = bare_pipeline(
            infra, f"{run_id('replicas')}_bare", inbound, n_orders, floor, 0.0, float(floor), 0.0, timeout
        )
    result["wall_seconds"] = time.perf_counter() - started_all
    path = save("replicas", result)
    base = result["baseline"]
    failed = [r for r in result["runs"] if "failed" in r]
    runs = [r for r in result["runs"] if "failed" not in r]
    for r in failed:
        print(f"{r['label']}: FAILED {r['failed']}")
    if not runs:
        return
    print(
        table(
            f"Replicas ({n_orders} orders, {runs[0]['inbound_events']} inbound events; seeded stream; "
            f"5 services; MongoDB client pool per process: {result['mongo_max_pool_size']})",
            [
                "run",
                "orders/s",
                "seconds",
                "all visible",
                "dead letters",
                "duplicates",
                "load 1 min",
                "CPU s services",
                "FerretDB",
                "PostgreSQL",
                "RabbitMQ",
            ],
            [
                [
                    r["label"],
                    r["orders_per_second"],
                    r["seconds"],
                    r["all_visible"],
                    sum(r["dead_letters"].values()),
                    sum(c.get("duplicate", 0) for c in r["per_process"].values()),
                    r["load_average_after"][0],
                    r["cpu_seconds_services"],
                    r["cpu"]["cpu_seconds"].get("ferretdb"),
                    r["cpu"]["cpu_seconds"].get("postgresql"),
                    r["cpu"]["cpu_seconds"].get("rabbitmq"),
                ]
                for r in runs
            ]
            + [
                [
                    f"bare aio-pika: the floor ({base['hops']} hops, one upsert each)",
                    base["orders_per_second"],
                    base["seconds"],
                    True,
                    0,
                    None,
                    None,
                    None,
                    None,
                    None,
                    None,
                ]
            ],
        )
    )
    print()
    print(
        table(
            "Inbound events handled per process (/metrics, outcome processed; replica 1 / 2 / 3)",
            ["run", *SERVICES],
            [
                [
                    r["label"],
                    *(" / ".join(f"{v:.0f}" for v in r["processed_by_service"][s]) for s in SERVICES),
                ]
                for r in runs
            ],
        )
    )
    for r in runs:
        extra = {
            name: {k: v for k, v in c.items() if k != "processed"}
            for name, c in r["per_process"].items()
            if any(k != "processed" for k in c)
        }
        if extra:
            print(f"{r['label']}: besides processed: {extra}")
        for q, reasons in r.get("dead_letter_reasons", {}).items():
            print(f"{r['label']}: dead letters in {q}:")
            for reason in reasons:
                print(f"   {reason}")
    print(f"results: {path}  ({result['wall_seconds']:.0f}s)")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--replicas", default="1,2,3", help="processes per service, one run each (1,2,3)")
    p.add_argument("--orders", type=int, default=250)
    p.add_argument("--partitions", type=int, default=8, help="CRM_PARTITIONS of the runs with partitions")
    p.add_argument(
        "--timeout", type=float, default=600, help="give up waiting for the effects after this long"
    )
    p.add_argument("--keep-data", action="store_true", help="keep the runs' databases (to look at them)")
    p.add_argument(
        "--mongo-pool",
        type=int,
        default=0,
        help="maxPoolSize of each service process's MongoDB client (0: the driver's default, 100); "
        "FerretDB 1.24 hangs when its own PostgreSQL pool (200) is exhausted",
    )
    a = p.parse_args()
    counts = [int(x) for x in a.replicas.split(",") if x.strip()]
    asyncio.run(main(counts, a.orders, a.partitions, a.timeout, a.keep_data, a.mongo_pool))
