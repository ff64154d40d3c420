"""Issue 16: birthday coupons, against the real broker and FerretDB, with two replicas running
the job on one database: one coupon per customer and year, consent respected."""

import asyncio
import uuid
from datetime import UTC, datetime

import pytest

from harness import Broker, ServiceProcess, envelope

ENV = {
    "CRM_LEDGER_BIRTHDAY_JOB_SECONDS": "0.3",
    "CRM_LEDGER_PROGRAMME_CACHE_SECONDS": "0.2",
}


@pytest.fixture
def ledger(system):
    return system.service("ledger", **ENV)


def customer(customer_id: str, born: str, consent: bool, version: int = 1) -> dict:
    return {
        "id": customer_id,
        "version": version,
        "email": f"{customer_id}@example.com",
        "has_account": True,
        "birthday": born,
        "email_subscribed": consent,
        "created_at": "2026-01-01T10:00:00Z",
        "updated_at": "2026-01-01T10:00:00Z",
    }


def ids_of(broker: Broker, customer_id: str) -> set[str]:
    found = broker.events("reward.coupon.issued", lambda b: b["data"]["customer_id"] == customer_id)
    return {e["body"]["id"] for e in found}


async def test_one_birthday_coupon_a_year_with_two_replicas_and_consent_respected(ledger, broker: Broker):
    today = datetime.now(UTC).date()
    born = today.replace(year=1990) if (today.month, today.day) != (2, 29) else today.replace(year=1988)
    fan, shy, later = (f"cus_{uuid.uuid4().hex[:10]}" for _ in range(3))
    await broker.publish(envelope("customer.created", customer(fan, born.isoformat(), consent=True)))
    await broker.publish(envelope("customer.created", customer(shy, born.isoformat(), consent=False)))
    await broker.publish(
        envelope(
            "customer.created",
            customer(later, "1990-01-01" if born.month != 1 or born.day != 1 else "1990-06-01", True),
        )
    )
    second = ServiceProcess("ledger", ledger.env, ledger.log_path.with_name(ledger.log_path.stem + "-2.log"))
    second.start(**ENV)
    try:
        second.wait_ready()
        async with ledger.client() as http:
            r = await http.patch(
                "/v1/reward-programmes/default",
                json={
                    "birthday_coupon": {"kind": "amount", "value": 700, "currency": "EUR", "valid_days": 10}
                },
            )
            assert r.status_code == 200, r.text
            issued = await broker.wait_for(
                "reward.coupon.issued", lambda b: b["data"]["customer_id"] == fan, timeout=30
            )
            data = issued[0]["body"]["data"]
            assert (data["source"], data["kind"], data["value"]) == ("birthday", "amount", 700)
            await asyncio.sleep(2)  # several more passes of both replicas
            # one coupon (the outbox publishes at least once: two relays may both send its event,
            # under the same event id)
            assert len(ids_of(broker, fan)) == 1
            (coupon,) = (await http.get(f"/v1/customers/{fan}/coupons")).json()["items"]
            assert coupon["code"].startswith("BD-") and coupon["status"] == "active"
            for other in (shy, later):
                assert (await http.get(f"/v1/customers/{other}/coupons")).json()["items"] == []

            # consent given later: that customer's coupon comes (once) too
            await broker.publish(
                envelope("customer.updated", customer(shy, born.isoformat(), True, version=2))
            )
            await broker.wait_for(
                "reward.coupon.issued", lambda b: b["data"]["customer_id"] == shy, timeout=30
            )

            await asyncio.sleep(1.5)
            assert len(ids_of(broker, fan)) == len(ids_of(broker, shy)) == 1
            assert len((await http.get(f"/v1/customers/{shy}/coupons")).json()["items"]) == 1
    finally:
        second.stop()
