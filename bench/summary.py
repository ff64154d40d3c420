"""Markdown tables of the latest results (bench/results/<name>-latest.json), as the README's
performance section shows them:  .venv/bin/python -m bench.summary"""

import json
from typing import Any

from bench.infra import RESULTS


def _load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}-latest.json"
    return json.loads(path.read_text()) if path.exists() else None


def md(header: list[str], rows: list[list[Any]]) -> str:
    def f(v: Any) -> str:
        if v is None:
            return "-"
        if isinstance(v, float):
            return (
                f"{v:,.0f}"
                if abs(v) >= 100
                else f"{v:.1f}"
                if abs(v) >= 10
                else f"{v:.2f}"
                if abs(v) >= 0.1
                else f"{v:.3f}"
            )
        return str(v)

    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(f(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def main() -> None:
    e = _load("e2e")
    if e:
        tp, lt = e["throughput"], e["latency"]
        m = e["machine"]
        print(
            f"machine: {m['cpus']} CPUs ({m['cpu_model']}), {m['memory_gib']} GiB, Python {m['python']}, "
            f"finished {e['finished_at']}, load average at start {[round(x, 2) for x in m['load_average_at_start']]}\n"
        )
        rows = [
            [
                "ours: four services",
                tp["orders_per_second"],
                tp["seconds"],
                tp["all_visible"],
                tp["hops_per_inbound_event"],
                sum(tp["writes_per_inbound_event"].values()),
                sum(tp["reads_per_inbound_event"].values()),
            ]
        ]
        for label, b in e["baselines"].items():
            rows.append(
                [
                    f"bare aio-pika: {label}",
                    b["orders_per_second"],
                    b["seconds"],
                    True,
                    b["hops"],
                    b["inserts_per_event"] + b["updates_per_event"],
                    b["reads_per_event"],
                ]
            )
        print(
            md(
                [
                    "e2e",
                    "orders/s",
                    "seconds",
                    "all effects visible",
                    "hops/event",
                    "writes/event",
                    "reads/event",
                ],
                rows,
            )
        )
        print(
            f"\nshare of baseline: {e['share_of_baseline']:.0%}; with reads: {e['share_of_baseline_with_reads']:.0%}\n"
        )
        print(
            md(
                ["rate (orders/s)", "samples", "p50 s", "p95 s", "p99 s", "max s"],
                [
                    [
                        lt["orders_per_second"],
                        lt["samples"],
                        lt["p50_s"],
                        lt["p95_s"],
                        lt["p99_s"],
                        lt["max_s"],
                    ]
                ],
            )
        )
        print(f"\ncpu: {tp['cpu']}\n")
        for n, d in e.get("database_time", {}).items():
            print(
                n, d["commands"], d["seconds"], [(q["query"], q["share"], q["ms_each"]) for q in d["top"][:4]]
            )
        print()
    s = _load("segments")
    if s:
        rows = []
        for sc in s["scales"]:
            for r in sc["rules"]:
                rows.append(
                    [
                        f"{sc['profiles']:,}",
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
            md(
                [
                    "profiles",
                    "rule",
                    "selectivity",
                    "members",
                    "bare query s",
                    "ours: computed s",
                    "ours: joins published s",
                    "ratio",
                ],
                rows,
            )
        )
        print()
        print(
            md(
                [
                    "profiles",
                    "100 predicates ms",
                    "compile + predicates ms",
                    "full re-evaluation ms",
                    "read segments ms",
                    "read memberships ms",
                    "bare find by _id ms",
                ],
                [
                    [
                        f"{sc['profiles']:,}",
                        sc["recheck"]["predicates_ms"],
                        sc["recheck"]["compile_and_predicates_ms"],
                        sc["recheck"]["reevaluate_ms"],
                        sc["recheck"]["read_segments_ms"],
                        sc["recheck"]["read_memberships_ms"],
                        sc["recheck"]["bare_find_by_id_ms"],
                    ]
                    for sc in s["scales"]
                ],
            )
        )
        for sc in s["scales"]:
            print(sc["profiles"], "load/s", round(sc["load_per_second"]), "rss", round(sc["rss_mib"]))
            for r in sc["rules"]:
                if r.get("profile"):
                    print(r["profile"], r["cpu"])
        print()
    led = _load("ledger")
    if led:
        rows = []
        for sc in led["scenarios"]:
            for label in ("ours", "bare"):
                r = sc[label]
                rows.append(
                    [
                        sc["accounts"],
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
            md(
                [
                    "accounts",
                    "run",
                    "ops/s",
                    "p50 ms",
                    "p99 ms",
                    "booked",
                    "refused 409",
                    "errors",
                    "overdrafts",
                    "inconsistent",
                ],
                rows,
            )
        )
        for sc in led["scenarios"]:
            print(
                sc["accounts"], f"{sc['share_of_baseline']:.0%}", {k: sc[k]["cpu"] for k in ("ours", "bare")}
            )
        print()
    mem = _load("memory")
    if mem:
        names = list(mem["rss_started_mib"])
        rows = [["started, empty", "-", *(mem["rss_started_mib"][n] for n in names)]]
        for sc in mem["scales"]:
            data = sc["data_mib"]["customers"] + sc["data_mib"]["profiles"]
            rows.append(
                [f"{sc['customers']:,}: after load", data, *(sc["rss_after_load_mib"][n] for n in names)]
            )
            rows.append(
                [
                    f"{sc['customers']:,}: peak during requests",
                    data,
                    *(sc["rss_peak_during_requests_mib"][n] for n in names),
                ]
            )
        print(md(["customers", "data loaded MiB", *names], rows))
        for sc in mem["scales"]:
            print(sc["customers"], sc["load_seconds"], sc["request_seconds"])


if __name__ == "__main__":
    main()
