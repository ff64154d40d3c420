"""Every equality lookup the services make is served by an index (issue 12).

The whole system handles the storefront stream of the fault suite with CRM_RECORD_QUERIES set,
so each service writes down every distinct query shape it sent (crm_servicekit.dbmonitor). Then
each recorded filter is replayed through `explain` on the same database:
- a filter with an equality on a top-level field (what FerretDB 1.x pushes down) must be
  index-served: a Bitmap Index Scan or Index Scan on FerretDB/PostgreSQL; IXSCAN, IDHACK or
  EXPRESS on MongoDB. Where PostgreSQL's planner still prefers a scan (a value its statistics
  call common), PostgreSQL is asked whether an index can serve the pushed-down condition;
- a query made while handling an event must have such an equality: nothing on the per-event
  path may read a whole collection (ranges, `$in`, `$or` and sort are never pushed down).
Each collection gets 2,000 filler documents of about 1 KB first, which match no lookup: on a table
of a few rows, or when most rows match, PostgreSQL rightly prefers a sequential scan, and the
check would say nothing about a real store, where a lookup matches few of many documents.
"""

import json
import os
from datetime import datetime
from typing import Any

import pytest
from bson import ObjectId, json_util
from conftest import System
from pymongo import AsyncMongoClient

from harness import ROOT
from system_stream import SERVICES, SystemRun, stream

FILLER = 2000
PAD = "x" * 800  # documents of about the size the services store, so a scan costs what it would
# Read whole on purpose: what a merchant configures, not what grows with traffic (every segment's
# rule is checked against a changed profile; the reward programmes apply to every order).
CONFIGURATION = {("segments", "segments"), ("ledger", "reward_programmes")}
SCALARS = (str, int, float, bool, datetime, ObjectId)


def pushable(filt: dict[str, Any]) -> list[str]:
    """The top-level fields compared by equality to a scalar: what FerretDB pushes down."""
    fields = []
    for key, value in filt.items():
        if key.startswith("$") or "." in key:
            continue
        if isinstance(value, SCALARS) or (isinstance(value, dict) and isinstance(value.get("$eq"), SCALARS)):
            fields.append(key)
    return fields


def index_served(explained: dict[str, Any]) -> bool:
    plan = explained.get("queryPlanner", {})
    if "winningPlan" in plan:  # MongoDB
        text = json.dumps(plan["winningPlan"], default=str)
        return "COLLSCAN" not in text and any(s in text for s in ("IXSCAN", "IDHACK", "EXPRESS"))
    return "Index Scan" in json.dumps(plan.get("Plan", plan), default=str)  # FerretDB/PostgreSQL


async def index_can_serve(explained: dict[str, Any]) -> bool:
    """FerretDB on PostgreSQL, where the planner chose a scan: whether an index can serve the
    very condition FerretDB pushed down. PostgreSQL prefers a scan when its statistics say the
    value is common, which is right for the table at hand; what must hold at any size is that
    an index exists for the expression. Asked of PostgreSQL itself with scans switched off."""
    url = os.environ.get("CRM_FERRETDB_POSTGRESQL_URL")
    plan = explained.get("queryPlanner", {}).get("Plan", {})
    if not url or plan.get("Node Type") != "Seq Scan" or "Filter" not in plan:
        return False
    import psycopg
    from psycopg import sql

    from crm_servicekit.pgindexes import libpq_url

    async with await psycopg.AsyncConnection.connect(libpq_url(url), autocommit=True) as conn:
        await conn.execute("SET enable_seqscan = off")
        query = sql.SQL("EXPLAIN (FORMAT JSON) SELECT _jsonb FROM {}.{} AS {} WHERE ").format(
            sql.Identifier(plan["Schema"]),
            sql.Identifier(plan["Relation Name"]),
            sql.Identifier(plan["Alias"]),
        ) + sql.SQL(plan["Filter"])  # PostgreSQL's own rendering of the pushed-down condition
        rows = await (await conn.execute(query)).fetchall()
    return "Index Scan" in json.dumps(rows)


@pytest.fixture(scope="module")
def recorded(infra, tmp_path_factory) -> tuple[System, list[dict[str, Any]]]:
    path = tmp_path_factory.mktemp("queries") / "queries.jsonl"
    logs = ROOT / ".data" / "test-logs"
    logs.mkdir(parents=True, exist_ok=True)
    import uuid

    system = System(infra, f"plans-{uuid.uuid4().hex[:6]}", logs)
    return system, path


async def test_every_lookup_of_every_service_is_index_served(recorded) -> None:
    system, path = recorded
    async with SystemRun(system, env={"CRM_RECORD_QUERIES": str(path)}) as run:
        await run.setup()
        await run.publish(stream(size=60), pace=0.02)
        await run.quiet_snapshot()
        system.close()  # the services stop; their databases stay for explain until the run ends

        queries = [json.loads(line) for line in path.read_text().splitlines()]
        assert {q["database"] for q in queries} >= {system.database(s) for s in SERVICES}
        client: AsyncMongoClient = AsyncMongoClient(system.mongo_url, tz_aware=True)
        try:
            padded: set[tuple[str, str]] = set()
            scans, unserved = [], []
            for q in queries:
                filt = json_util.loads(json.dumps(q["filter"]))
                db = client[q["database"]]
                where = f"{q['database']}.{q['collection']} {q['command']} {q['shape']} during {q['during']}"
                fields = pushable(filt)
                service = q["database"].rsplit("_", 1)[-1]
                if not fields:
                    if q["during"] is not None and (service, q["collection"]) not in CONFIGURATION:
                        scans.append(where)
                    continue
                if (q["database"], q["collection"]) not in padded:
                    await db[q["collection"]].insert_many(
                        [{"_id": f"filler-{i}", "filler": i, "pad": PAD} for i in range(FILLER)]
                    )
                    padded.add((q["database"], q["collection"]))
                explained = await db.command(
                    "explain", {"find": q["collection"], "filter": filt}, verbosity="queryPlanner"
                )
                if not index_served(explained) and not await index_can_serve(explained):
                    unserved.append(
                        f"{where}: {json.dumps(explained.get('queryPlanner'), default=str)[:400]}"
                    )
            # The check can fail: a lookup on a field no index covers is reported.
            db, coll = next(iter(padded))
            unindexed = await client[db].command(
                "explain", {"find": coll, "filter": {"filler": 7}}, verbosity="queryPlanner"
            )
            assert not index_served(unindexed) and not await index_can_serve(unindexed)
        finally:
            await client.close()
    assert not scans, "queries on the event path that no index can serve:\n" + "\n".join(scans)
    assert not unserved, "equality lookups not served by an index:\n" + "\n".join(unserved)
