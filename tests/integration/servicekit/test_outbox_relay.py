"""Issue 2: the outbox relay. A service killed between storing a change and publishing its
events publishes them after restart, once, with the same ids."""

import asyncio
import uuid
from datetime import UTC, datetime

import httpx

from crm_servicekit.lanes import bulk_work
from crm_servicekit.outbox import OUTBOX_INDEXES, OutboxRelay, OutboxSource, pending
from harness import Broker, envelope, eventually, order_placed


async def test_killed_before_publishing_publishes_after_restart_exactly_once(system, broker: Broker, mongo):
    # The relay is switched off, so the stored customer.created stays in the outbox: the state a
    # crash between storing and publishing leaves behind.
    customers = system.service("customers", CRM_OUTBOX_RELAY="false")
    email = f"crash.{uuid.uuid4().hex[:6]}@example.com"
    await broker.publish(envelope("order.placed", order_placed(email)))

    changes = mongo[system.database("customers")]["customers_changes"]
    stored = await eventually(lambda: changes.find_one({"state.email": email}))
    assert stored["published"] is False
    customers.kill()  # SIGKILL: no shutdown hook runs
    await asyncio.sleep(1)
    assert broker.events("customer.created", lambda b: b["data"]["email"] == email) == []

    system.service("customers")  # restarted with the relay on
    [first] = await broker.wait_for("customer.created", lambda b: b["data"]["email"] == email)
    assert first["body"]["id"] == stored["outbox"][0]["id"]
    assert first["message_id"] == stored["outbox"][0]["id"]
    # Marked once the whole batch it went out with is confirmed.
    assert await eventually(lambda: _published(changes, stored["_id"]), timeout=10)

    # A further restart publishes nothing again.
    system.processes["customers"].stop()
    system.service("customers")
    await asyncio.sleep(2)
    assert len(broker.events("customer.created", lambda b: b["data"]["email"] == email)) == 1


async def _published(changes, change_id: str) -> bool:
    return (await changes.find_one({"_id": change_id}))["published"] is True


async def test_a_backlog_of_several_batches_goes_out_once_and_is_marked(system, broker: Broker, mongo):
    """250 changes waiting (the relay was off, as behind a history import): a relay marks full
    batches record by record and the last one in one statement; each event goes out once and
    nothing stays pending."""
    await _stopped(system)
    system.service("customers", CRM_OUTBOX_RELAY="false")
    tag = uuid.uuid4().hex[:6]
    emails = [f"backlog.{i}.{tag}@example.com" for i in range(250)]
    for email in emails:
        await broker.publish(envelope("order.placed", order_placed(email)))
    changes = mongo[system.database("customers")]["customers_changes"]
    mine = {"state.email": {"$in": emails}}

    async def all_stored() -> bool:
        return await changes.count_documents(mine) >= len(emails)

    await eventually(all_stored, timeout=120)
    system.processes["customers"].kill()  # no shutdown pass
    system.service("customers")  # the relay on: the backlog goes out
    for email in emails:
        await broker.wait_for("customer.created", lambda b, e=email: b["data"]["email"] == e, timeout=60)

    async def none_pending() -> bool:
        return await changes.count_documents({**mine, "published": False}) == 0

    await eventually(none_pending, timeout=30)
    await asyncio.sleep(2)
    created = broker.events("customer.created", lambda b: b["data"]["email"] in emails)
    assert len(created) == len({m["body"]["id"] for m in created}) == len(emails)


async def test_a_live_change_goes_out_before_a_bulk_backlog(broker: Broker, mongo):
    """300 changes that bulk events caused wait in an outbox (as behind a history import), then
    a live one: the relay publishes the live change after the first batch, not after the
    backlog. The backlog's events say `crmlane: "bulk"`; once published no record stays live."""
    db = mongo[f"test_lanes_{uuid.uuid4().hex[:8]}"]
    changes = db["changes"]
    await changes.create_indexes(OUTBOX_INDEXES)
    tag = uuid.uuid4().hex[:6]

    def record(i: int, kind: str) -> dict:
        event = {"id": f"{tag}-{kind}-{i}", "type": f"test.{tag}", "subject": f"{kind}-{i}", "data": {}}
        return {"_id": event["id"], "recorded_at": datetime.now(UTC), **pending([event])}

    token = bulk_work.set(True)
    try:
        bulk = [record(i, "bulk") for i in range(300)]
    finally:
        bulk_work.reset(token)
    live = record(0, "live")
    assert all(r["outbox"][0]["crmlane"] == "bulk" and "live" not in r for r in bulk)
    assert live["live"] is True and "crmlane" not in live["outbox"][0]
    await changes.insert_many(bulk)
    await changes.insert_one(live)

    async def publish(env: dict) -> None:
        await broker.publish(env, headers={"crm-lane": "bulk"} if env.get("crmlane") else None)

    try:
        assert await OutboxRelay(publish, [OutboxSource(changes, ordered=False)]).drain() == 301
        arrived = [m["body"]["id"] for m in await broker.wait_for(f"test.{tag}", count=301, timeout=60)]
        assert len(set(arrived)) == 301
        assert arrived.index(live["_id"]) <= 100, "the live change waited for the backlog"
        assert await changes.count_documents({"published": False}) == 0
        assert await changes.count_documents({"live": True}) == 0
    finally:
        await mongo.drop_database(db.name)


async def test_two_replicas_publish_each_event_once(system, broker: Broker):
    """Each relay publishes the records its own process wrote: with two replicas on one queue,
    every customer.created goes out once (it went out twice when every relay took every record)."""
    await _stopped(system)
    system.replica("customers", 0, 2)
    system.replica("customers", 1, 2)
    emails = [f"twice.{i}.{uuid.uuid4().hex[:6]}@example.com" for i in range(20)]
    for email in emails:
        await broker.publish(envelope("order.placed", order_placed(email)))
    for email in emails:
        await broker.wait_for("customer.created", lambda b, e=email: b["data"]["email"] == e, timeout=60)
    await asyncio.sleep(3)  # a second copy would come within a relay pass or two
    created = broker.events("customer.created", lambda b: b["data"]["email"] in emails)
    assert sorted(m["body"]["data"]["email"] for m in created) == sorted(emails)
    assert len({m["body"]["id"] for m in created}) == len(emails)


async def test_records_of_a_replica_whose_relay_is_stuck_are_published_by_another(system, broker: Broker):
    """A replica that stores changes but never publishes them (relay off: as if stuck, or
    killed): the other replica publishes them once they are older than
    CRM_OUTBOX_ORPHAN_SECONDS, each once."""
    await _stopped(system)
    system.replica("customers", 0, 2, CRM_OUTBOX_RELAY="false")
    system.replica("customers", 1, 2, CRM_OUTBOX_ORPHAN_SECONDS="3")
    emails = [f"orphan.{i}.{uuid.uuid4().hex[:6]}@example.com" for i in range(20)]
    for email in emails:
        await broker.publish(envelope("order.placed", order_placed(email)))
    for email in emails:
        await broker.wait_for("customer.created", lambda b, e=email: b["data"]["email"] == e, timeout=60)
    await asyncio.sleep(3)
    created = broker.events("customer.created", lambda b: b["data"]["email"] in emails)
    assert len(created) == len(emails) == len({m["body"]["id"] for m in created})
    # Both replicas handled orders, so some records really were the stuck one's.
    for key in ("customers", "customers#1"):
        assert await _orders_handled(system.processes[key].url) > 0, key
    await _stopped(system)  # replica 0 must not keep its relay off for a later test


async def _stopped(system) -> None:
    for key in ("customers", "customers#1"):
        if key in system.processes:
            await asyncio.to_thread(system.processes[key].stop)


async def _orders_handled(url: str) -> float:
    async with httpx.AsyncClient(timeout=10) as http:
        text = (await http.get(f"{url}/metrics")).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("crm_events_consumed_total{")
        and 'type="order.placed"' in line
        and 'outcome="processed"' in line
    )
