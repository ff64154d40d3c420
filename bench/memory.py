"""Memory: resident memory (RSS, /proc) of each service process after loading customers and
while requests that go over all of them run: no service may hold all customers in memory.

    bench/run.sh memory [--customers 20000,50000]

At each scale, customers are loaded straight into the customers service's `customers`
collection and the same number of profiles into the segments service's `profiles` (insert_many,
documented in the README); then, with all four services running, requests that go over every
customer: segment analytics and RFM over all profiles (segments streams them), a new segment's
batch computation over all profiles, and the customers list sorted by total spent. RSS is
sampled every 0.2 s. Baseline: the size of the loaded documents (BSON), which a service holding
all customers would need at least, and each service's RSS before loading. The end-to-end run
(bench/run.sh e2e) reports RSS under load.
"""

import argparse
import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import bson

from bench.data import customer, load, profile
from bench.infra import Infra, Services, log, run_id, save, table

SERVICES = ("customers", "groups", "ledger", "segments")


async def exercise(services: Services) -> dict[str, float]:
    """Requests that go over every customer; returns how long each took."""
    took = {}
    async with (
        services["segments"].client(timeout=1800) as seg,
        services["customers"].client(timeout=1800) as cus,
    ):
        t = time.perf_counter()
        (await seg.get("/v1/analytics")).raise_for_status()
        took["segments analytics"] = time.perf_counter() - t
        t = time.perf_counter()
        (await seg.get("/v1/analytics/rfm", params={"limit": 100})).raise_for_status()
        took["segments RFM"] = time.perf_counter() - t
        t = time.perf_counter()
        r = await seg.post(
            "/v1/segments",
            json={"name": f"memory {time.time()}", "rule": "amount_spent >= 2000 AND country = 'PT'"},
        )
        r.raise_for_status()
        sid = r.json()["id"]
        client = services.infra.mongo()
        runs = client[services.database("segments")]["segment_runs"]
        while not runs.find_one({"_id": sid, "version": 1}):
            await asyncio.sleep(0.2)
        client.close()
        took["segment batch computation"] = time.perf_counter() - t
        t = time.perf_counter()
        (await cus.get("/v1/customers", params={"limit": 100, "sort": "-total_spent"})).raise_for_status()
        took["customers by total spent"] = time.perf_counter() - t
    return took


async def main(scales: list[int]) -> None:
    started = time.perf_counter()
    run = run_id("memory")
    result: dict[str, Any] = {"scales": []}
    with Infra() as infra:
        services = Services(infra, run, CRM_SEGMENTS_REEVALUATE_SECONDS="3600")
        try:
            services.start(*SERVICES)
            result["rss_started_mib"] = {n: services[n].rss() for n in SERVICES}
            mongo = infra.mongo()
            customers = mongo[services.database("customers")]["customers"]
            profiles = mongo[services.database("segments")]["profiles"]
            now = datetime.now(UTC)
            loaded = 0
            for n in scales:
                t = time.perf_counter()
                load(customers, customer, n - loaded, start=loaded)
                load(profiles, profile, n - loaded, start=loaded)
                load_s = time.perf_counter() - t
                log(f"{n} customers and profiles loaded ({load_s:.0f}s)")
                loaded = n
                sample = [customer(i, now) for i in range(0, n, max(1, n // 200))]
                bytes_customers = sum(len(bson.encode(d)) for d in sample) / len(sample) * n
                sample = [profile(i, now) for i in range(0, n, max(1, n // 200))]
                bytes_profiles = sum(len(bson.encode(d)) for d in sample) / len(sample) * n
                after_load = {s: services[s].rss() for s in SERVICES}
                with services.sampling_rss(0.2) as peak:
                    took = await exercise(services)
                result["scales"].append(
                    {
                        "customers": n,
                        "load_seconds": load_s,
                        "data_mib": {
                            "customers": bytes_customers / 2**20,
                            "profiles": bytes_profiles / 2**20,
                        },
                        "rss_after_load_mib": after_load,
                        "rss_peak_during_requests_mib": dict(peak),
                        "request_seconds": took,
                    }
                )
                log(f"{n}: peak RSS {dict(peak)}; requests {took}")
            mongo.close()
        finally:
            services.stop()
            infra.drop_databases(run)
    result["wall_seconds"] = time.perf_counter() - started
    path = save("memory", result)
    rows = [["(started, empty)", "", *(result["rss_started_mib"][s] for s in SERVICES)]]
    for s in result["scales"]:
        data = f"{s['data_mib']['customers']:.0f} + {s['data_mib']['profiles']:.0f}"
        rows.append([f"{s['customers']:,} after load", data, *(s["rss_after_load_mib"][x] for x in SERVICES)])
        rows.append(
            [
                f"{s['customers']:,} peak in requests",
                data,
                *(s["rss_peak_during_requests_mib"][x] for x in SERVICES),
            ]
        )
    print(
        table(
            "Resident memory per service (MiB) vs the data loaded (customers + profiles, MiB of BSON)",
            ["customers", "data MiB", *SERVICES],
            rows,
        )
    )
    for s in result["scales"]:
        print(f"{s['customers']:,}: " + ", ".join(f"{k} {v:.1f}s" for k, v in s["request_seconds"].items()))
    print(f"results: {path}  ({result['wall_seconds']:.0f}s)")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--customers", default="20000,50000", help="comma-separated scales, ascending")
    a = p.parse_args()
    asyncio.run(main([int(x) for x in a.customers.split(",")]))
