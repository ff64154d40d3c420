"""Issue 16: loyalty KPIs of a period, against the real broker and FerretDB (a module of its own:
a fresh database, so every figure is known). Each figure is checked against what the test
itself did."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from harness import Broker, envelope, eventually

ENV = {
    "CRM_REWARD_POINTS_PER_UNIT": "1",
    "CRM_REWARD_TARGET": "100",
    "CRM_REWARD_COUPON_VALUE": "500",
    "CRM_REWARD_COUPON_CURRENCY": "EUR",
    "CRM_LEDGER_UNKNOWN_CUSTOMER_HTTP_WAIT_SECONDS": "3",
}


@pytest.fixture
def ledger(system):
    return system.service("ledger", **ENV)


def customer(customer_id: str) -> dict:
    return {
        "id": customer_id,
        "version": 1,
        "email": f"{customer_id}@example.com",
        "has_account": True,
        "created_at": "2026-11-22T10:00:00Z",
        "updated_at": "2026-11-22T10:00:00Z",
    }


def order(customer_id: str, total: int, code: str | None = None) -> dict:
    return {
        "order_id": f"ord_{uuid.uuid4().hex[:8]}",
        "placed_at": datetime.now(UTC).isoformat(),
        "customer": {"email": f"{customer_id}@example.com", "customer_id": customer_id},
        "currency": "EUR",
        "total": total,
        "referral_code": code,
    }


def refund_of(customer_id: str, placed: dict, amount: int, refund_id: str) -> dict:
    return {
        "order_id": placed["order_id"],
        "refunded_at": datetime.now(UTC).isoformat(),
        "customer": {"email": f"{customer_id}@example.com", "customer_id": customer_id},
        "currency": "EUR",
        "amount": amount,
        "refund_id": refund_id,
    }


async def test_loyalty_kpis_of_a_period(ledger, broker: Broker):
    start = datetime.now(UTC) - timedelta(minutes=1)
    a, b, c, gone = (f"cus_{uuid.uuid4().hex[:10]}" for _ in range(4))
    for x in (a, b, c, gone):
        await broker.publish(envelope("customer.created", customer(x)))
    async with ledger.client() as http:
        code = (await http.get(f"/v1/customers/{a}/referral")).json()["code"]
        await broker.publish(envelope("order.placed", order(a, 12000)))  # 120 points: a coupon (100 spent)
        first_of_b = order(b, 3000, code)  # 30 points; b was referred by a
        await broker.publish(envelope("order.placed", first_of_b))
        await broker.publish(envelope("customer.deleted", {"id": gone}))
        issued = await broker.wait_for("reward.coupon.issued", lambda e: e["data"]["customer_id"] == a)
        await broker.wait_for("referral.converted", lambda e: e["data"]["referee_id"] == b)
        refund = refund_of(b, first_of_b, 1000, "rf-1")  # a third: 10 points back
        await broker.publish(envelope("order.refunded", refund))
        await broker.wait_for("reward.points.reversed", lambda e: e["data"]["customer_id"] == b)
        r = await http.post(
            f"/v1/coupons/{issued[0]['body']['data']['code']}/redeem",
            json={"customer_id": a, "order_id": "o"},
        )
        assert r.status_code == 200, r.text

        async def erased() -> bool:
            return (await http.get(f"/v1/customers/{gone}/referral")).status_code == 404

        await eventually(erased)
        await asyncio.sleep(0.5)  # the reversal's fact is written right after its change
        end = datetime.now(UTC) + timedelta(minutes=1)
        r = await http.get("/v1/loyalty/kpis", params={"from": start.isoformat(), "to": end.isoformat()})
        assert r.status_code == 200, r.text
        kpis = {k: v for k, v in r.json().items() if k not in ("from", "to")}
        assert kpis == {
            "customers": 3,  # a, b, c (gone was erased)
            "members": 2,  # a and b earned points
            "enrolment_rate": round(2 / 3, 4),
            "new_members": 2,
            "points_issued": 150,
            "points_reversed": 10,
            "points_redeemed": 100,  # a's 100 turned into the coupon
            "points_expired": 0,
            "coupons_issued": 1,
            "coupons_redeemed": 1,
            "redemption_rate": 1.0,
            "referral_conversions": 1,
        }
        before = await http.get(
            "/v1/loyalty/kpis", params={"from": "2020-01-01T00:00:00Z", "to": "2021-01-01T00:00:00Z"}
        )
        assert before.json()["customers"] == 0 and before.json()["enrolment_rate"] is None
        assert before.json()["points_issued"] == 0 and before.json()["redemption_rate"] is None
        bad = await http.get("/v1/loyalty/kpis", params={"from": end.isoformat(), "to": start.isoformat()})
        assert bad.status_code == 422 and bad.json()["type"].endswith("/validation-error")
        assert (await http.get("/v1/loyalty/kpis", params={"from": "yesterday"})).status_code == 422


async def test_a_refund_handled_again_records_the_reversal_its_first_handling_stopped_before(
    ledger, broker: Broker, mongo, system
):
    """A replica killed between committing a refund's points reversal and recording it for the
    KPIs: the refund comes again (not acknowledged), changes no balance, and the KPIs count it."""
    start = datetime.now(UTC) - timedelta(minutes=1)
    x = f"cus_{uuid.uuid4().hex[:10]}"
    await broker.publish(envelope("customer.created", customer(x)))
    placed = order(x, 5000)  # 50 points
    await broker.publish(envelope("order.placed", placed))
    await broker.wait_for("customer.created", lambda e: e["data"]["id"] == x)
    refund = refund_of(x, placed, 2000, "rf-again")  # two fifths: 20 points back
    refunded = envelope("order.refunded", refund)
    await broker.publish(refunded)
    await broker.wait_for("reward.points.reversed", lambda e: e["data"]["customer_id"] == x)
    facts = mongo[system.database("ledger")]["points_reversals"]
    await eventually(lambda: facts.find_one({"customer_id": x}))
    end = datetime.now(UTC) + timedelta(minutes=1)
    async with ledger.client() as http:

        async def reversed_points() -> int:
            r = await http.get("/v1/loyalty/kpis", params={"from": start.isoformat(), "to": end.isoformat()})
            assert r.status_code == 200, r.text
            return r.json()["points_reversed"]

        async def points() -> int:
            r = await http.get(f"/v1/customers/{x}/rewards")
            assert r.status_code == 200, r.text
            return r.json()["points"]

        counted, balance = await reversed_points(), await points()
        assert balance == 30
        await facts.delete_one({"customer_id": x})  # as if the first handling stopped before it
        assert await reversed_points() == counted - 20
        await broker.publish(refunded)  # the same event again
        await eventually(lambda: facts.find_one({"customer_id": x}))
        assert await reversed_points() == counted and await points() == balance
