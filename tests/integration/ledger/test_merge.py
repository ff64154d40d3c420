"""Issue 15: the ledger's part of customer.merged (staff merged record `merged_id` into `id`),
against the real broker and FerretDB: balances in every currency, points and coupons move to the
kept customer once, however often the event is delivered; money no longer moves for the merged
id, whose history stays readable."""

import asyncio
import uuid

import pytest
from ledger_support import REWARDS

from harness import Broker, ServiceProcess, envelope, eventually

ENV = {
    **REWARDS,
    "CRM_LEDGER_UNKNOWN_CUSTOMER_HTTP_WAIT_SECONDS": "3",
}


@pytest.fixture
def ledger(system):
    return system.service("ledger", **ENV)


async def known(broker: Broker) -> str:
    c = f"cus_{uuid.uuid4().hex[:12]}"
    state = {
        "id": c,
        "version": 1,
        "email": f"{c}@example.com",
        "has_account": False,
        "created_at": "2026-11-22T10:00:00Z",
        "updated_at": "2026-11-22T10:00:00Z",
    }
    await broker.publish(envelope("customer.created", state))
    return c


def order(customer_id: str, total: int) -> dict:
    return {
        "order_id": f"ord_{uuid.uuid4().hex[:8]}",
        "placed_at": "2026-11-22T10:00:00Z",
        "customer": {"email": f"{customer_id}@example.com", "customer_id": customer_id},
        "currency": "EUR",
        "total": total,
        "items": [{"sku": "SKU-1", "quantity": 1, "unit_price": total}],
        "store_credit_used": 0,
    }


async def post_entry(http, customer_id: str, kind: str, amount: int, currency: str):
    return await http.post(
        f"/v1/accounts/{customer_id}/entries", json={"kind": kind, "amount": amount, "currency": currency}
    )


async def balances(http, customer_id: str) -> dict[str, tuple[int, int, int]]:
    r = await http.get(f"/v1/accounts/{customer_id}")
    assert r.status_code == 200, r.text
    return {b["currency"]: (b["balance"], b["available"], b["held"]) for b in r.json()["balances"]}


@pytest.fixture
def second(ledger):
    """A second replica on the same queue and database: deliveries of one event go to either."""
    replica = ServiceProcess("ledger", ledger.env, ledger.log_path.with_name(ledger.log_path.stem + "-2.log"))
    replica.start(**ENV)
    yield replica
    replica.stop()


async def test_merge_moves_balances_points_and_coupons_once_and_refuses_the_merged_id(
    ledger, second, broker: Broker
):
    kept, merged = await known(broker), await known(broker)
    async with ledger.client() as http:
        for customer_id, kind, amount, currency in [
            (merged, "funding", 3000, "EUR"),
            (merged, "funding", 700, "USD"),
            (merged, "unfunding", 200, "USD"),
            (kept, "funding", 1000, "EUR"),
        ]:
            r = await post_entry(http, customer_id, kind, amount, currency)
            assert r.status_code == 201, r.text
        r = await http.post(f"/v1/accounts/{merged}/holds", json={"amount": 400, "currency": "EUR"})
        assert r.status_code == 201, r.text
        hold_id = r.json()["id"]

        # The merged customer: 150 points = a coupon (100) and 50 towards the next; the kept: 30.
        await broker.publish(envelope("order.placed", order(merged, 15000)))
        await broker.publish(envelope("order.placed", order(kept, 3000)))
        issued = await broker.wait_for("reward.coupon.issued", lambda b: b["data"]["customer_id"] == merged)
        code = issued[0]["body"]["data"]["code"]

        async def points_settled() -> bool:
            merged_points = (await http.get(f"/v1/customers/{merged}/rewards")).json()["points"]
            kept_points = (await http.get(f"/v1/customers/{kept}/rewards")).json()["points"]
            return (merged_points, kept_points) == (50, 30)

        await eventually(points_settled)

        # Staff merge them; the event is delivered four times at once, to two replicas.
        merge = envelope("customer.merged", {"id": kept, "merged_id": merged, "version": 1})
        await asyncio.gather(*(broker.publish(merge) for _ in range(4)))

        def moved_in(b: dict) -> bool:
            return b["data"]["customer_id"] == kept and b["data"]["caused_by"] == merge["id"]

        def recorded(pred) -> dict[str, tuple[str, str, int]]:
            """Per event id (delivery is at least once, consumers deduplicate by it)."""
            found = broker.events("ledger.entry.recorded", pred)
            return {
                e["body"]["id"]: (
                    e["body"]["data"]["kind"],
                    e["body"]["data"]["currency"],
                    e["body"]["data"]["amount"],
                )
                for e in found
            }

        async def both_in() -> bool:
            return len(recorded(moved_in)) >= 2

        await eventually(both_in)
        assert sorted(recorded(moved_in).values()) == [("funding", "EUR", 3000), ("funding", "USD", 500)]

        async def moved() -> bool:
            return await balances(http, kept) == {"EUR": (4000, 4000, 0), "USD": (500, 500, 0)} and (
                await balances(http, merged) == {"EUR": (0, 0, 0), "USD": (0, 0, 0)}
            )

        await eventually(moved)
        assert (await http.get(f"/v1/accounts/{merged}/holds/{hold_id}")).json()["status"] == "voided"

        async def rewards_moved() -> bool:
            return (await http.get(f"/v1/customers/{kept}/rewards")).json()["points"] == 80 and (
                await http.get(f"/v1/customers/{merged}/rewards")
            ).json()["points"] == 0

        await eventually(rewards_moved)
        kept_codes = [c["code"] for c in (await http.get(f"/v1/customers/{kept}/coupons")).json()["items"]]
        assert code in kept_codes
        merged_coupons = (await http.get(f"/v1/customers/{merged}/coupons")).json()["items"]
        assert code not in [c["code"] for c in merged_coupons]

        # Redeliveries moved nothing twice: one entry out and one in per currency; nor does the
        # same merge announced again under another event id.
        await broker.publish(envelope("customer.merged", {"id": kept, "merged_id": merged, "version": 1}))
        await asyncio.sleep(2)
        assert await balances(http, kept) == {"EUR": (4000, 4000, 0), "USD": (500, 500, 0)}
        assert sorted(recorded(moved_in).values()) == [("funding", "EUR", 3000), ("funding", "USD", 500)]
        out = recorded(lambda b: b["data"]["customer_id"] == merged and b["data"]["caused_by"] == merge["id"])
        assert sorted(out.values()) == [("unfunding", "EUR", -3000), ("unfunding", "USD", -500)]
        assert (await http.get(f"/v1/customers/{kept}/rewards")).json()["points"] == 80

        # The history of the merged id stays readable, saying where the money went.
        r = await http.get(f"/v1/accounts/{merged}/entries", params={"kind": "unfunding", "currency": "EUR"})
        assert r.status_code == 200, r.text
        assert [(e["amount"], e["reason"]) for e in r.json()["items"]] == [(-3000, f"merged into {kept}")]
        r = await http.get(f"/v1/accounts/{kept}/entries", params={"kind": "funding", "currency": "USD"})
        assert [(e["amount"], e["reason"]) for e in r.json()["items"]] == [(500, f"merged from {merged}")]

        # Money no longer moves for the merged id: 404, naming the record to use instead.
        r = await post_entry(http, merged, "funding", 100, "EUR")
        assert r.status_code == 404, r.text
        assert r.json()["type"].endswith("/not-found") and r.json()["merged_into"] == kept
        r = await http.post(f"/v1/accounts/{merged}/holds", json={"amount": 1, "currency": "EUR"})
        assert r.status_code == 404, r.text
        assert await balances(http, merged) == {"EUR": (0, 0, 0), "USD": (0, 0, 0)}

        # The merged customer's coupon is the kept customer's now: redeemed by them, not by it.
        r = await http.post(f"/v1/coupons/{code}/redeem", json={"customer_id": merged, "order_id": "ord_m"})
        assert r.status_code == 404, r.text
        r = await http.post(f"/v1/coupons/{code}/redeem", json={"customer_id": kept, "order_id": "ord_k"})
        assert r.status_code == 200, r.text
        assert r.json()["customer_id"] == kept
