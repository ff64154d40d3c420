"""A marketing system's side of segment membership: the smallest correct consumer.

It binds a durable queue of its own to `segment.member.joined` and `segment.member.left` on the
`crm.events` exchange, and for each event:
- drops it if its `id` was seen before (delivery is at least once: the same event can come twice),
- applies it (here: keeps who is in which segment in a local SQLite file and prints the change),
- records the id in the same transaction as the change, then acknowledges the message.
A crash between applying and acknowledging therefore redelivers an event that is then dropped.

    RABBITMQ_URL=amqp://user:password@127.0.0.1:5672/ python examples/marketing_consumer.py \\
        --queue newsletter-tool.segments --db members.sqlite

Only aio-pika and the standard library; the payload is docs/contract.md's `segment.member.*`.
"""

import argparse
import asyncio
import json
import os
import sqlite3
from contextlib import closing

import aio_pika

EXCHANGE = "crm.events"
TYPES = ("segment.member.joined", "segment.member.left")


def open_db(path: str) -> sqlite3.Connection:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE IF NOT EXISTS seen (event_id TEXT PRIMARY KEY)")
    db.execute(
        "CREATE TABLE IF NOT EXISTS members (segment_id TEXT, customer_id TEXT, email TEXT,"
        " subscribed INTEGER, PRIMARY KEY (segment_id, customer_id))"
    )
    return db


def apply(db: sqlite3.Connection, event: dict) -> bool:
    """Applies one event once; False if it was a duplicate."""
    data = event["data"]
    with db:  # one transaction: the change and the id, or neither
        try:
            db.execute("INSERT INTO seen (event_id) VALUES (?)", (event["id"],))
        except sqlite3.IntegrityError:
            return False
        if event["type"] == "segment.member.joined":
            db.execute(
                "INSERT OR REPLACE INTO members VALUES (?, ?, ?, ?)",
                (
                    data["segment_id"],
                    data["customer_id"],
                    data.get("email"),
                    int(bool(data.get("email_subscribed"))),
                ),
            )
        else:
            db.execute(
                "DELETE FROM members WHERE segment_id = ? AND customer_id = ?",
                (data["segment_id"], data["customer_id"]),
            )
    verb = "joined" if event["type"].endswith("joined") else "left"
    print(f"{data['customer_id']} {verb} {data.get('segment_name') or data['segment_id']}", flush=True)
    return True


async def consume(url: str, queue_name: str, db: sqlite3.Connection, idle_exit: float | None) -> None:
    connection = await aio_pika.connect_robust(url)
    async with connection:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=50)
        exchange = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue(queue_name, durable=True)
        for key in TYPES:
            await queue.bind(exchange, routing_key=key)
        async with queue.iterator() as messages:
            while True:
                try:
                    message = await asyncio.wait_for(messages.__anext__(), timeout=idle_exit)
                except TimeoutError:
                    return  # --idle-exit: nothing came for that long
                try:
                    event = json.loads(message.body)
                    apply(db, event)
                except (ValueError, KeyError) as e:  # not an event of ours: keep it out of the way
                    print(f"rejected {message.message_id}: {e}", flush=True)
                    await message.reject(requeue=False)
                    continue
                await message.ack()


def main() -> None:
    parser = argparse.ArgumentParser(description="Consume segment membership changes from the CRM.")
    parser.add_argument("--queue", default="marketing.segment-members", help="this consumer's own queue")
    parser.add_argument("--db", default="segment-members.sqlite")
    parser.add_argument("--idle-exit", type=float, default=None, help="stop after this many idle seconds")
    args = parser.parse_args()
    with closing(open_db(args.db)) as db:
        asyncio.run(consume(os.environ["RABBITMQ_URL"], args.queue, db, args.idle_exit))


if __name__ == "__main__":
    main()
