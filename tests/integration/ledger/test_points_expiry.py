"""Issue 16: reward points that expire (a programme's `points_expire_days`), against the real
broker and FerretDB, with two replicas running the expiry job on one database: each earning's
points expire once, with a movement saying why, and the KPIs count them. Days cannot pass in a
test: the lot's expiry is moved into the past in the stored reward state."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from ledger_support import customer, order

from harness import Broker, ServiceProcess, envelope, eventually

ENV = {
    "CRM_REWARD_POINTS_PER_UNIT": "1",
    "CRM_REWARD_TARGET": "1000",
    "CRM_LEDGER_POINTS_EXPIRY_JOB_SECONDS": "0.3",
    "CRM_LEDGER_PROGRAMME_CACHE_SECONDS": "0.2",
}


@pytest.fixture
def ledger(system):
    return system.service("ledger", **ENV)


async def rewards(http, customer_id: str) -> dict:
    return (await http.get(f"/v1/customers/{customer_id}/rewards")).json()


async def test_points_expire_once_per_earning_with_two_replicas(ledger, broker: Broker, mongo, system):
    start = datetime.now(UTC) - timedelta(minutes=1)
    c = f"cus_{uuid.uuid4().hex[:10]}"
    await broker.publish(envelope("customer.created", customer(c)))
    second = ServiceProcess("ledger", ledger.env, ledger.log_path.with_name(ledger.log_path.stem + "-2.log"))
    second.start(**ENV)
    try:
        second.wait_ready()
        async with ledger.client() as http:
            assert (
                await http.patch("/v1/reward-programmes/default", json={"points_expire_days": 0})
            ).status_code == 422
            r = await http.patch("/v1/reward-programmes/default", json={"points_expire_days": 30})
            assert r.status_code == 200 and r.json()["points_expire_days"] == 30
            await asyncio.sleep(0.5)  # both replicas reload the programme
            first, later = order(c, 5000), order(c, 3000)
            await broker.publish(envelope("order.placed", first))
            await eventually(lambda: _points(http, c, 50))
            await broker.publish(envelope("order.placed", later))
            await eventually(lambda: _points(http, c, 80))
            expiring = (await rewards(http, c))["expiring"]
            assert [(x["points"], x["order_id"]) for x in expiring] == [
                (50, first["order_id"]),
                (30, later["order_id"]),
            ]
            in_30_days = datetime.now(UTC) + timedelta(days=30)
            assert abs(datetime.fromisoformat(expiring[0]["expires_at"]) - in_30_days) < timedelta(minutes=1)

            # The first earning's 30 days are over.
            states = mongo[system.database("ledger")]["rewards"]
            doc = await states.find_one({"_id": c})
            past = datetime.now(UTC) - timedelta(seconds=1)
            doc["lots"][0]["expires_at"] = past
            doc["points_deadline"] = past
            await states.replace_one({"_id": c, "version": doc["version"]}, doc)

            await eventually(lambda: _points(http, c, 30))
            await asyncio.sleep(1.5)  # several passes of both replicas
            state = await rewards(http, c)
            assert state["points"] == 30 and state["expired_total"] == 50
            assert [(x["points"], x["order_id"]) for x in state["expiring"]] == [(30, later["order_id"])]
            expired = [m for m in state["movements"] if m["kind"] == "expired"]
            assert len(expired) == 1
            assert expired[0]["points"] == -50 and expired[0]["order_id"] == first["order_id"]
            assert "expired" in expired[0]["reason"]

            kpis = await http.get(
                "/v1/loyalty/kpis",
                params={
                    "from": start.isoformat(),
                    "to": (datetime.now(UTC) + timedelta(minutes=1)).isoformat(),
                },
            )
            assert kpis.status_code == 200, kpis.text
            assert kpis.json()["points_expired"] == 50
            assert kpis.json()["points_issued"] >= 80
    finally:
        second.stop()


async def _points(http, customer_id: str, n: int) -> bool:
    return (await rewards(http, customer_id))["points"] == n
