"""examples/marketing_consumer.py, what docs/contract.md offers marketing systems, against the
real broker: each segment change is applied once, a redelivered event (same id) is dropped, and
a left undoes a joined."""

import sqlite3
import subprocess
import sys
import uuid

import aio_pika

from harness import ROOT, Broker


def event(type_: str, customer: str, id_: str | None = None) -> dict:
    return {
        "specversion": "1.0", "id": id_ or str(uuid.uuid4()), "source": "/crm/segments", "type": type_,
        "time": "2026-12-01T10:00:00Z", "subject": "seg_1",
        "data": {"segment_id": "seg_1", "segment_name": "VIP", "customer_id": customer,
                 "email": f"{customer}@example.com", "email_subscribed": True},
    }  # fmt: skip


async def test_each_change_is_applied_once_and_duplicates_are_dropped(system, broker: Broker, tmp_path):
    queue_name = f"marketing-{uuid.uuid4().hex[:6]}"
    connection = await aio_pika.connect_robust(system.rabbit_url)
    async with connection:  # the consumer's queue exists before anything is published
        channel = await connection.channel()
        exchange = await channel.declare_exchange("crm.events", aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue(queue_name, durable=True)
        for key in ("segment.member.joined", "segment.member.left"):
            await queue.bind(exchange, routing_key=key)
    joined_a = event("segment.member.joined", "cus_a")
    for e in (
        joined_a,
        joined_a,
        event("segment.member.joined", "cus_b"),
        event("segment.member.left", "cus_a"),
    ):
        await broker.publish(e)

    db = tmp_path / "members.sqlite"
    run = [sys.executable, str(ROOT / "examples/marketing_consumer.py"), "--queue", queue_name, "--db", str(db),
           "--idle-exit", "3"]  # fmt: skip
    env = {"RABBITMQ_URL": system.rabbit_url, "PATH": "/usr/bin:/bin"}
    out = subprocess.run(run, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["cus_a joined VIP", "cus_b joined VIP", "cus_a left VIP"]
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT customer_id FROM members").fetchall() == [("cus_b",)]

    await broker.publish(joined_a)  # redelivered later, after a restart of the consumer
    again = subprocess.run(run, env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and again.stdout == ""
