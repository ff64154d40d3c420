"""Idempotency keys expire (issue 20; 24 hours by default, like Stripe's): within the expiry the
first result is replayed and another request with the key is refused; after it the key is a
new one, and the records of expired keys are purged."""

import asyncio
import uuid

import pytest

from harness import Broker, customer_state, envelope, eventually

EXPIRY_HOURS = 0.001  # 3.6 s


@pytest.fixture(scope="module")
def ledger(system):
    return system.service("ledger", CRM_LEDGER_IDEMPOTENCY_KEY_HOURS=str(EXPIRY_HOURS))


async def test_an_expired_key_is_a_new_key_and_its_record_is_purged(ledger, broker: Broker, mongo, system):
    c = f"cus_{uuid.uuid4().hex[:12]}"
    await broker.publish(envelope("customer.created", customer_state(c, f"{c}@example.com")))
    key = {"Idempotency-Key": f"key-{uuid.uuid4()}"}
    first = {"kind": "funding", "amount": 500, "currency": "EUR"}
    second = {**first, "amount": 700}
    async with ledger.client() as http:
        r1 = await http.post(f"/v1/accounts/{c}/entries", json=first, headers=key)
        assert r1.status_code == 201, r1.text
        refused = await http.post(f"/v1/accounts/{c}/entries", json=second, headers=key)
        assert refused.status_code == 409

        await asyncio.sleep(EXPIRY_HOURS * 3600 + 0.5)  # the key expires
        r2 = await http.post(f"/v1/accounts/{c}/entries", json=second, headers=key)
        assert r2.status_code == 201 and r2.json()["id"] != r1.json()["id"]
        replay = await http.post(f"/v1/accounts/{c}/entries", json=second, headers=key)
        assert replay.json() == r2.json()
        [eur] = (await http.get(f"/v1/accounts/{c}")).json()["balances"]
        assert (eur["currency"], eur["balance"]) == ("EUR", 1200)

    keys = mongo[system.database("ledger")]["idempotency_keys"]

    async def purged():
        return await keys.count_documents({}) == 0

    assert await eventually(purged, timeout=30)
