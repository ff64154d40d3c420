"""The end-to-end baseline: plain aio-pika and pymongo, no framework, no validation, no outbox.

Each inbound event goes through `hops` durable quorum queues in turn (persistent messages,
publisher confirms, manual acks, prefetch 32: what the services' queues do); at each hop it does
its share of `inserts` and `updates` per event (an insert of the message as a document, an
upsert of a document by _id) and, with `--reads`, of finds by _id, then publishes to the next queue. The clock
runs from the first publish until the last event leaves the last queue. Prints one JSON line.
"""

import argparse
import asyncio
import json
import time
import uuid

import aio_pika
from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError

RETRIES = {"n": 0}


async def retried(op, *args, **kwargs):  # type: ignore[no-untyped-def]
    """A transient database error: try again, as the services' consumers do (their whole
    handler is retried). FerretDB on SQLite answered SQLITE_BUSY under concurrent writes."""
    for attempt in range(100):
        try:
            return await op(*args, **kwargs)
        except PyMongoError:
            if attempt == 99:
                raise
            RETRIES["n"] += 1
            await asyncio.sleep(0.01 * (attempt + 1))


async def main(a: argparse.Namespace) -> None:
    client: AsyncMongoClient = AsyncMongoClient(a.mongo)
    db = client[a.database]
    conn = await aio_pika.connect_robust(a.rabbit)
    pub = await conn.channel(publisher_confirms=True)
    exchange = await pub.declare_exchange("bare.events", aio_pika.ExchangeType.DIRECT, durable=True)
    queues = []
    for i in range(a.hops):
        ch = await conn.channel()
        await ch.set_qos(prefetch_count=32)
        q = await ch.declare_queue(f"bare.hop{i}", durable=True, arguments={"x-queue-type": "quorum"})
        await q.bind("bare.events", routing_key=f"hop{i}")
        queues.append(q)
    done = asyncio.Event()
    finished = 0
    # Writes per hop: the per-event totals spread evenly (fractions carried between events).
    per_hop_inserts, per_hop_updates, per_hop_reads = a.inserts / a.hops, a.updates / a.hops, a.reads / a.hops
    carry = {"i": 0.0, "u": 0.0, "r": 0.0}

    def share(kind: str, per_hop: float) -> int:
        carry[kind] += per_hop
        n = int(carry[kind])
        carry[kind] -= n
        return n

    async def consume(i: int, msg: aio_pika.abc.AbstractIncomingMessage) -> None:
        nonlocal finished
        doc = json.loads(msg.body)
        col = db[f"hop{i}"]
        for _ in range(share("i", per_hop_inserts)):
            await retried(col.insert_one, {"_id": str(uuid.uuid4()), "event": doc["id"], "data": doc})
        for _ in range(share("u", per_hop_updates)):
            await retried(col.update_one, {"_id": doc["id"]}, {"$set": {"seen": i}}, upsert=True)
        for _ in range(share("r", per_hop_reads)):
            await retried(col.find_one, {"_id": doc["id"]})
        if i + 1 < a.hops:
            await exchange.publish(
                aio_pika.Message(
                    msg.body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT, message_id=doc["id"]
                ),
                routing_key=f"hop{i + 1}",
            )
        await msg.ack()
        if i + 1 == a.hops:
            finished += 1
            if finished == a.events:
                done.set()

    for i, q in enumerate(queues):
        await q.consume(lambda m, i=i: consume(i, m))
    body = json.dumps({"id": "", "type": "order.placed", "data": {"pad": "x" * 900}})
    started = time.perf_counter()
    for s in range(0, a.events, 200):
        await asyncio.gather(
            *(
                exchange.publish(
                    aio_pika.Message(
                        body.replace('"id": ""', f'"id": "{uuid.uuid4()}"').encode(),
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    ),
                    routing_key="hop0",
                )
                for _ in range(min(200, a.events - s))
            )
        )
    await done.wait()
    seconds = time.perf_counter() - started
    await conn.close()
    await client.drop_database(a.database)
    await client.close()
    print(
        json.dumps(
            {
                "events": a.events,
                "orders": a.orders,
                "hops": a.hops,
                "inserts_per_event": a.inserts,
                "updates_per_event": a.updates,
                "reads_per_event": a.reads,
                "database_retries": RETRIES["n"],
                "seconds": seconds,
                "orders_per_second": a.orders / seconds,
                "events_per_second": a.events / seconds,
            }
        )
    )


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    for name in ("--rabbit", "--mongo", "--database"):
        p.add_argument(name, required=True)
    p.add_argument("--events", type=int, required=True)
    p.add_argument("--orders", type=int, required=True)
    p.add_argument("--hops", type=int, required=True)
    p.add_argument("--inserts", type=float, required=True)
    p.add_argument("--updates", type=float, required=True)
    p.add_argument("--reads", type=float, default=0.0, help="finds by _id per event (0: writes only)")
    asyncio.run(main(p.parse_args()))
