"""Issue 16: reward programmes as data, against the real broker and FerretDB. A module of its
own (its own database): the programmes changed here would change the points of other tests."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from harness import Broker, envelope, eventually

ENV = {
    "CRM_REWARD_POINTS_PER_UNIT": "1",
    "CRM_REWARD_TARGET": "100",
    "CRM_REWARD_COUPON_VALUE": "500",
    "CRM_REWARD_COUPON_CURRENCY": "EUR",
    "CRM_REWARD_COUPON_DAYS": "30",
    "CRM_LEDGER_PROGRAMME_CACHE_SECONDS": "0.2",
}


@pytest.fixture
def ledger(system):
    return system.service("ledger", **ENV)


def at(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).isoformat()


def order(customer_id: str, total: int, placed_at: str, currency: str = "EUR") -> dict:
    return {
        "order_id": f"ord_{uuid.uuid4().hex[:8]}",
        "placed_at": placed_at,
        "customer": {"email": f"{customer_id}@example.com", "customer_id": customer_id},
        "currency": currency,
        "total": total,
    }


async def earned(http, customer_id: str, total: int) -> bool:
    return (await http.get(f"/v1/customers/{customer_id}/rewards")).json()["earned_total"] == total


async def test_programmes_are_data_and_a_change_applies_to_orders_placed_after_it(ledger, broker: Broker):
    async with ledger.client() as http:
        (default,) = (await http.get("/v1/reward-programmes")).json()["items"]
        assert (default["id"], default["version"], default["source"]) == ("default", 0, "environment")
        assert default["points_per_unit"] == 1 and default["thresholds"] == [
            {"points": 100, "coupon": {"kind": "amount", "value": 500, "currency": "EUR", "valid_days": 30}}
        ]
        before_change = at(timedelta(seconds=-30))

        r = await http.patch(
            "/v1/reward-programmes/default",
            json={
                "points_per_unit": 2,
                "rounding": "up",
                "minimum_order": 1000,
                "thresholds": [
                    {"points": 50, "coupon": {"kind": "percentage", "value": 10, "valid_days": 7}},
                    {
                        "points": 200,
                        "coupon": {"kind": "amount", "value": 1500, "currency": "EUR", "valid_days": 60},
                    },
                ],
            },
        )
        assert r.status_code == 200, r.text
        assert (r.json()["version"], r.json()["source"], r.json()["points_per_unit"]) == (1, "api", 2)
        now = (await http.get("/v1/reward-program")).json()
        assert (now["version"], now["target"], now["coupon"]["value"]) == (1, 200, 1500)

        c = f"cus_{uuid.uuid4().hex[:10]}"
        await broker.publish(envelope("order.placed", order(c, 4000, before_change)))  # version 0: 40
        await eventually(lambda: earned(http, c, 40))
        await broker.publish(envelope("order.placed", order(c, 999, at(timedelta(0)))))  # below minimum
        await broker.publish(envelope("order.placed", order(c, 1001, at(timedelta(0)))))  # 20.02 -> 21 (up)
        await eventually(lambda: earned(http, c, 61))
        issued = await broker.wait_for("reward.coupon.issued", lambda b: b["data"]["customer_id"] == c)
        assert (issued[0]["body"]["data"]["kind"], issued[0]["body"]["data"]["value"]) == ("percentage", 10)

        # A dated promotion: orders placed while it runs earn by it, the default before and after.
        r = await http.post(
            "/v1/reward-programmes",
            json={
                "name": "Double summer",
                "points_per_unit": 10,
                "starts_at": "2031-07-01T00:00:00Z",
                "ends_at": "2031-09-01T00:00:00Z",
            },
        )
        assert r.status_code == 201, r.text
        summer = r.json()
        assert summer["id"].startswith("prg_") and summer["version"] == 1
        d = f"cus_{uuid.uuid4().hex[:10]}"
        await broker.publish(envelope("order.placed", order(d, 2000, "2031-07-15T10:00:00Z")))  # 200
        await broker.publish(envelope("order.placed", order(d, 2000, "2031-09-15T10:00:00Z")))  # 40
        await eventually(lambda: earned(http, d, 240))
        listed = [(p["id"], p["version"]) for p in (await http.get("/v1/reward-programmes")).json()["items"]]
        assert listed == [("default", 1), (summer["id"], 1)]
        r = await http.patch(
            f"/v1/reward-programmes/{summer['id']}", json={"ends_at": "2031-08-01T00:00:00Z"}
        )
        assert (
            r.json()["version"] == 2
            and (await http.get(f"/v1/reward-programmes/{summer['id']}")).json() == r.json()
        )

        for bad in (
            {
                "name": "x",
                "points_per_unit": 1,
                "thresholds": [{"points": 100, "coupon": {"kind": "amount", "value": 5, "valid_days": 3}}],
            },
            {
                "name": "x",
                "points_per_unit": 1,
                "starts_at": "2031-01-02T00:00:00Z",
                "ends_at": "2031-01-01T00:00:00Z",
            },
            {"name": "x", "points_per_unit": -1},
        ):
            r = await http.post("/v1/reward-programmes", json=bad)
            assert r.status_code == 422 and r.json()["type"].endswith("/validation-error"), r.text
        assert (await http.patch("/v1/reward-programmes/prg_nope", json={"name": "x"})).status_code == 404
        assert (await http.patch("/v1/reward-programmes/default", json={"name": None})).status_code == 422
        assert len((await http.get("/v1/reward-programmes")).json()["items"]) == 2  # nothing changed
