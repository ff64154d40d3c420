"""Issue 2: the outbox relay. A service killed between storing a change and publishing its
events publishes them after restart, once, with the same ids."""

import asyncio
import uuid

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
