"""Issue 5: the ledger against the real broker and FerretDB. Storefront events are published
with plain aio-pika; the ledger runs as a process; money is checked through its HTTP API and
the events it publishes."""

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from conftest import System
from ledger_support import REWARDS

from crm_contracts.outbound import LedgerEntryRecorded, LedgerHoldChanged
from harness import ROOT, Broker, ServiceProcess, envelope, eventually

ENV = {
    "CRM_LEDGER_EXPIRY_JOB_SECONDS": "0.5",
    **REWARDS,
    "CRM_LEDGER_UNKNOWN_CUSTOMER_HTTP_WAIT_SECONDS": "3",  # known(): customer.created in flight
}


@pytest.fixture
def ledger(system):
    return system.service("ledger", **ENV)


def cid() -> str:
    return f"cus_{uuid.uuid4().hex[:12]}"


async def known(broker: Broker, email: str | None = None) -> str:
    """A customer the ledger hears of (customer.created): money moves only for those. The
    first request for it waits for the event (the unknown-customer grace)."""
    c = cid()
    await broker.publish(envelope("customer.created", customer_state(c, email or f"{c}@example.com")))
    return c


def iso(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).isoformat()


def order(
    customer_id: str | None,
    *,
    email: str | None = None,
    total: int = 10000,
    credit: int = 0,
    hold_id: str | None = None,
    currency: str = "EUR",
) -> dict:
    body = {
        "order_id": f"ord_{uuid.uuid4().hex[:8]}",
        "placed_at": "2026-11-22T10:00:00Z",
        "customer": {"email": email or f"{uuid.uuid4().hex[:8]}@example.com", "customer_id": customer_id},
        "currency": currency,
        "total": total,
        "items": [{"sku": "SKU-1", "quantity": 1, "unit_price": total}],
        "store_credit_used": credit,
    }
    if hold_id:
        body["hold_id"] = hold_id
    return body


def customer_state(customer_id: str, email: str, version: int = 1) -> dict:
    return {
        "id": customer_id,
        "version": version,
        "email": email,
        "has_account": False,
        "created_at": "2026-11-22T10:00:00Z",
        "updated_at": "2026-11-22T10:00:00Z",
    }


async def fund(http, customer_id: str, amount: int, currency: str = "EUR", **extra) -> dict:
    r = await http.post(
        f"/v1/accounts/{customer_id}/entries",
        json={"kind": "funding", "amount": amount, "currency": currency, **extra},
    )
    assert r.status_code == 201, r.text
    return r.json()


async def balance(http, customer_id: str, currency: str = "EUR") -> dict:
    r = await http.get(f"/v1/accounts/{customer_id}")
    assert r.status_code == 200
    return next(
        (b for b in r.json()["balances"] if b["currency"] == currency),
        {"balance": 0, "available": 0, "held": 0, "expiring": []},
    )


async def entries(http, customer_id: str, **params) -> list[dict]:
    items, cursor = [], None
    while True:
        r = await http.get(
            f"/v1/accounts/{customer_id}/entries",
            params={**params, "limit": 7, **({"cursor": cursor} if cursor else {})},
        )
        assert r.status_code == 200, r.text
        items += r.json()["items"]
        cursor = r.json()["next_cursor"]
        if not cursor:
            return items


# -- accounts, entries, no overdraft -------------------------------------------------------------


async def test_funding_unfunding_history_and_insufficient_funds(ledger, broker: Broker):
    c = await known(broker)
    async with ledger.client() as http:
        await fund(http, c, 1000, reason="goodwill", operator="ops@shop")
        await fund(http, c, 250, currency="USD")
        r = await http.post(
            f"/v1/accounts/{c}/entries",
            json={"kind": "unfunding", "amount": 300, "currency": "EUR", "reason": "correction"},
        )
        assert r.status_code == 201 and r.json()["balance_after"] == 700 and r.json()["amount"] == -300

        r = await http.post(
            f"/v1/accounts/{c}/entries", json={"kind": "unfunding", "amount": 701, "currency": "EUR"}
        )
        assert r.status_code == 409 and r.headers["content-type"] == "application/problem+json"
        assert r.json()["type"].endswith("/problems/insufficient-funds") and r.json()["available"] == 700

        account = (await http.get(f"/v1/accounts/{c}")).json()
        assert {b["currency"]: b["balance"] for b in account["balances"]} == {"EUR": 700, "USD": 250}
        history = await entries(http, c, currency="EUR")
        assert [(e["kind"], e["amount"], e["balance_after"]) for e in history] == [
            ("unfunding", -300, 700),
            ("funding", 1000, 1000),
        ]
        assert history[1]["reason"] == "goodwill" and history[1]["operator"] == "ops@shop"
        assert [e["kind"] for e in await entries(http, c, kind="funding")] == ["funding", "funding"]

        for bad in (
            {"kind": "funding", "amount": 0, "currency": "EUR"},
            {"kind": "funding", "amount": 10, "currency": "euro"},
            {"kind": "theft", "amount": 10, "currency": "EUR"},
            {"kind": "funding", "amount": 1.5, "currency": "EUR"},
        ):
            r = await http.post(f"/v1/accounts/{c}/entries", json=bad)
            assert r.status_code == 422 and r.json()["errors"], bad
        assert (await http.get(f"/v1/accounts/{c}/entries", params={"kind": "nonsense"})).status_code == 422

    recorded = await broker.wait_for(
        "ledger.entry.recorded", lambda b: b["data"]["customer_id"] == c, count=3
    )
    eur = sorted(
        (e["body"]["data"] for e in recorded if e["body"]["data"]["currency"] == "EUR"),
        key=lambda d: d["sequence"],
    )
    assert [(d["kind"], d["amount"], d["balance_after"]) for d in eur] == [
        ("funding", 1000, 1000),
        ("unfunding", -300, 700),
    ]
    assert all(e["message_id"] == e["body"]["id"] and e["body"]["subject"] == c for e in recorded)
    for e in recorded:
        LedgerEntryRecorded.model_validate(e["body"]["data"])
    async with ledger.client(token=None) as anonymous:
        assert (await anonymous.get(f"/v1/accounts/{c}")).status_code == 401


async def test_fifty_concurrent_unfundings_never_overdraw(ledger, broker: Broker):
    c = await known(broker)
    async with ledger.client() as http:
        await fund(http, c, 1000)

        async def unfund() -> int:
            r = await http.post(
                f"/v1/accounts/{c}/entries", json={"kind": "unfunding", "amount": 100, "currency": "EUR"}
            )
            return r.status_code

        statuses = await asyncio.gather(*(unfund() for _ in range(50)))
        assert sorted(statuses) == [201] * 10 + [409] * 40
        assert (await balance(http, c))["balance"] == 0
        unfundings = await entries(http, c, kind="unfunding")
        assert len(unfundings) == 10
        assert sorted(e["balance_after"] for e in unfundings) == list(range(0, 1000, 100))


async def test_idempotency_key_replays_the_first_result_and_refuses_another_body(ledger, broker: Broker):
    c = await known(broker)
    key = f"key-{uuid.uuid4()}"
    body = {"kind": "funding", "amount": 500, "currency": "EUR", "reason": "welcome"}
    async with ledger.client() as http:
        first = await http.post(f"/v1/accounts/{c}/entries", json=body, headers={"Idempotency-Key": key})
        again = await asyncio.gather(
            *(
                http.post(f"/v1/accounts/{c}/entries", json=body, headers={"Idempotency-Key": key})
                for _ in range(3)
            )
        )
        assert first.status_code == 201
        for r in again:  # the first result again (or "in progress" while it runs; never a second entry)
            assert (r.status_code, r.json()) == (201, first.json())
        other = await http.post(
            f"/v1/accounts/{c}/entries", json={**body, "amount": 501}, headers={"Idempotency-Key": key}
        )
        assert other.status_code == 409 and other.json()["type"].endswith("/idempotency-key-reused")
        assert len(await entries(http, c)) == 1 and (await balance(http, c))["balance"] == 500

        # A refused debit is a result too: replayed as it was, even once funds arrived.
        debit = {"kind": "unfunding", "amount": 800, "currency": "EUR"}
        k2 = f"key-{uuid.uuid4()}"
        r1 = await http.post(f"/v1/accounts/{c}/entries", json=debit, headers={"Idempotency-Key": k2})
        await fund(http, c, 1000)
        r2 = await http.post(f"/v1/accounts/{c}/entries", json=debit, headers={"Idempotency-Key": k2})
        assert r1.status_code == r2.status_code == 409 and r1.json() == r2.json()
        assert (await balance(http, c))["balance"] == 1500


# -- event-driven movements --------------------------------------------------------------------


async def test_order_with_store_credit_debits_once_or_is_rejected(ledger, broker: Broker):
    c = await known(broker)
    async with ledger.client() as http:
        await fund(http, c, 1000)
        paid = envelope("order.placed", order(c, credit=600))
        await broker.publish(paid)
        await broker.publish(paid)  # redelivered
        await eventually(lambda: _kinds(http, c, "purchase", 1))

        short = envelope("order.placed", order(c, credit=401))
        await broker.publish(short)
        rejected = await broker.wait_for("ledger.debit.rejected", lambda b: b["data"]["customer_id"] == c)
        data = rejected[0]["body"]["data"]
        assert (data["amount"], data["available"], data["order_id"]) == (401, 400, short["data"]["order_id"])
        assert "insufficient" in data["reason"]

        refund = envelope(
            "order.refunded",
            {
                "order_id": paid["data"]["order_id"],
                "refunded_at": "2026-11-23T10:00:00Z",
                "customer": {"email": "x@example.com", "customer_id": c},
                "currency": "EUR",
                "amount": 250,
                "to_store_credit": True,
            },
        )
        await broker.publish(refund)
        await broker.publish(refund)
        await eventually(lambda: _kinds(http, c, "refund", 1))
        assert (await balance(http, c))["balance"] == 650
        purchase = (await entries(http, c, kind="purchase"))[0]
        assert purchase["order_id"] == paid["data"]["order_id"] and purchase["caused_by"] == paid["id"]


async def test_concurrent_orders_spending_credit_never_overdraw(ledger, broker: Broker):
    c = await known(broker)
    async with ledger.client() as http:
        await fund(http, c, 1000)
        await asyncio.gather(
            *(broker.publish(envelope("order.placed", order(c, credit=100))) for _ in range(20))
        )
        await broker.wait_for("ledger.debit.rejected", lambda b: b["data"]["customer_id"] == c, count=10)
        await eventually(lambda: _kinds(http, c, "purchase", 10))
        assert (await balance(http, c))["balance"] == 0


async def _kinds(http, customer_id: str, kind: str, n: int) -> bool:
    return len(await entries(http, customer_id, kind=kind)) == n


async def test_refund_to_store_credit_of_a_guest_known_only_later_is_booked_when_it_is(
    ledger, broker: Broker
):
    """Under a backlog the customer.created of a guest can reach the ledger long after the
    grace (3 s): the refund is retried meanwhile, not dead-lettered, and booked once."""
    email = f"Late.{uuid.uuid4().hex[:6]}@Example.com"
    refund = {
        "order_id": f"ord_{uuid.uuid4().hex[:8]}",
        "refunded_at": "2026-11-23T10:00:00Z",
        "customer": {"email": email},
        "currency": "EUR",
        "amount": 1250,
        "to_store_credit": True,
    }
    await broker.publish(envelope("order.refunded", refund))
    await asyncio.sleep(5)  # beyond the grace: in its retries now
    c = cid()
    await broker.publish(envelope("customer.created", customer_state(c, email.lower())))
    async with ledger.client() as http:
        await eventually(lambda: _kinds(http, c, "refund", 1), timeout=30)
        assert (await balance(http, c))["balance"] == 1250


async def test_store_credit_of_a_guest_never_known_is_dead_lettered_then_found_by_email(infra):
    """Once its attempts are used up (CRM_DELIVERY_LIMIT, 3 here: a queue argument, hence a
    vhost of its own) the order is dead-lettered with the reason; an order of the same e-mail
    after its customer.created is booked."""
    own = System(infra, f"ledger-limit-{uuid.uuid4().hex[:6]}", ROOT / ".data" / "test-logs")
    try:
        ledger = own.service(
            "ledger", **ENV, CRM_DELIVERY_LIMIT="3", CRM_LEDGER_UNKNOWN_CUSTOMER_GRACE_SECONDS="0.3"
        )
        async with Broker(own.rabbit_url) as broker:
            await _dead_lettered_then_found_by_email(ledger, broker)
    finally:
        await asyncio.to_thread(own.close)


async def _dead_lettered_then_found_by_email(ledger, broker: Broker) -> None:
    email = f"Guest.{uuid.uuid4().hex[:6]}@Example.com"
    unknown = envelope("order.placed", order(None, email=email, credit=100))
    await broker.publish(unknown)
    dead = await broker.dead_letters("ledger", expect=1)
    assert len(dead) == 1 and "unknown customer where one is required" in dead[0].headers["x-crm-reason"]

    c = cid()
    await broker.publish(envelope("customer.created", customer_state(c, email.lower())))
    async with ledger.client() as http:
        await fund(http, c, 300)
        await broker.publish(envelope("order.placed", order(None, email=email.upper(), credit=100)))
        await eventually(lambda: _kinds(http, c, "purchase", 1))
        assert (await balance(http, c))["balance"] == 200


async def test_replaying_every_event_twice_changes_nothing(ledger, broker: Broker, mongo, system):
    e2 = f"{uuid.uuid4().hex[:8]}@example.com"
    c1, c2 = await known(broker), await known(broker, e2)
    async with ledger.client() as http:
        await fund(http, c1, 1000)
        await fund(http, c2, 500, expires_at=iso(timedelta(days=5)))
    scenario = [
        envelope("customer.created", customer_state(c2, e2)),
        envelope("order.placed", order(c1, total=7000, credit=300)),
        envelope("order.placed", order(c1, total=5000, credit=1200)),  # rejected in any order
        envelope(
            "order.refunded",
            {
                "order_id": "ord_r1",
                "refunded_at": "2026-11-23T10:00:00Z",
                "customer": {"email": "a@example.com", "customer_id": c1},
                "currency": "EUR",
                "amount": 150,
                "to_store_credit": True,
            },
        ),
        envelope("order.placed", order(None, email=e2, total=3000, credit=200)),  # by e-mail
    ]

    async def snapshot():
        async with ledger.client() as http:
            return (
                [(e["id"], e["amount"], e["balance_after"]) for e in await entries(http, c1)],
                [(e["id"], e["amount"], e["balance_after"]) for e in await entries(http, c2)],
                await balance(http, c1),
                await balance(http, c2),
                (await http.get(f"/v1/customers/{c1}/rewards")).json(),
            )

    for ev in scenario:
        await broker.publish(ev)
    await broker.wait_for("ledger.debit.rejected", lambda b: b["data"]["customer_id"] == c1)

    async def settled():
        s = await snapshot()
        return s if len(s[0]) == 3 and len(s[1]) == 2 and s[4]["earned_total"] == 120 else None

    first = await eventually(settled)
    assert first[2]["balance"] == 850 and first[3]["balance"] == 300

    inbox = mongo[system.database("ledger")]["inbox"]
    ids = [ev["id"] for ev in scenario]
    for ev in scenario:  # redelivered: the inbox drops them
        await broker.publish(ev)
    # The inbox is lost (restore from a backup...): the effects themselves are keyed by event id.
    await inbox.delete_many({"_id": {"$in": ids}})
    for ev in scenario:
        await broker.publish(ev)

    async def handled_again():  # the inbox records an event after its handler ran
        return await inbox.count_documents({"_id": {"$in": ids}}) == len(ids)

    await eventually(handled_again)
    assert await snapshot() == first
    assert len(broker.events("ledger.debit.rejected", lambda b: b["data"]["customer_id"] == c1)) == 1


# -- holds -----------------------------------------------------------------------------------------


async def test_hold_blocks_a_debit_the_balance_alone_would_allow(ledger, broker: Broker):
    c = await known(broker)
    async with ledger.client() as http:
        await fund(http, c, 1000)
        r = await http.post(f"/v1/accounts/{c}/holds", json={"amount": 800, "currency": "EUR"})
        assert r.status_code == 201, r.text
        hold = r.json()
        assert hold["status"] == "active"
        assert (await balance(http, c))["available"] == 200

        r = await http.post(
            f"/v1/accounts/{c}/entries", json={"kind": "unfunding", "amount": 300, "currency": "EUR"}
        )
        assert r.status_code == 409 and r.json()["available"] == 200
        r = await http.post(f"/v1/accounts/{c}/holds", json={"amount": 201, "currency": "EUR"})
        assert r.status_code == 409 and r.json()["type"].endswith("/insufficient-funds")
        await broker.publish(envelope("order.placed", order(c, credit=300)))
        await broker.wait_for("ledger.debit.rejected", lambda b: b["data"]["customer_id"] == c)

        r = await http.post(f"/v1/accounts/{c}/holds/{hold['id']}/capture", json={"amount": 700})
        assert (
            r.status_code == 200 and r.json()["status"] == "captured" and r.json()["captured_amount"] == 700
        )
        again = await http.post(f"/v1/accounts/{c}/holds/{hold['id']}/capture", json={"amount": 700})
        assert again.json() == r.json()
        assert (await http.post(f"/v1/accounts/{c}/holds/{hold['id']}/void")).status_code == 409
        b = await balance(http, c)
        assert (b["balance"], b["held"], b["available"]) == (300, 0, 300)
        purchases = await entries(http, c, kind="purchase")
        assert [(p["amount"], p["hold_id"]) for p in purchases] == [(-700, hold["id"])]
    captured = await broker.wait_for("ledger.hold.captured", lambda b: b["data"]["id"] == hold["id"])
    data = LedgerHoldChanged.model_validate(captured[0]["body"]["data"])
    assert (data.amount, data.captured_amount, data.available_after) == (800, 700, 300)


async def test_hold_with_idempotency_key_is_placed_once(ledger, broker: Broker):
    c = await known(broker)
    key = f"key-{uuid.uuid4()}"
    async with ledger.client() as http:
        await fund(http, c, 1000)
        body = {"amount": 600, "currency": "EUR", "order_id": "ord_h"}
        first, second = await asyncio.gather(
            *(
                http.post(f"/v1/accounts/{c}/holds", json=body, headers={"Idempotency-Key": key})
                for _ in range(2)
            )
        )
        statuses = sorted([first.status_code, second.status_code])
        assert statuses in ([201, 201], [201, 409])  # 409: the first was still running
        again = await http.post(f"/v1/accounts/{c}/holds", json=body, headers={"Idempotency-Key": key})
        assert again.status_code == 201 and again.json()["id"] in (
            first.json().get("id"),
            second.json().get("id"),
        )
        b = await balance(http, c)
        assert (b["held"], b["available"]) == (600, 400)


async def test_order_captures_its_hold_once_and_void_releases(ledger, broker: Broker):
    c = await known(broker)
    async with ledger.client() as http:
        await fund(http, c, 1000)
        h1 = (await http.post(f"/v1/accounts/{c}/holds", json={"amount": 400, "currency": "EUR"})).json()
        h2 = (await http.post(f"/v1/accounts/{c}/holds", json={"amount": 500, "currency": "EUR"})).json()
        placed = envelope("order.placed", order(c, credit=400, hold_id=h1["id"]))
        await broker.publish(placed)
        await broker.publish(placed)
        await eventually(lambda: _kinds(http, c, "purchase", 1))
        assert (await http.get(f"/v1/accounts/{c}/holds/{h1['id']}")).json()["status"] == "captured"
        r = await http.post(f"/v1/accounts/{c}/holds/{h2['id']}/void")
        assert r.status_code == 200 and r.json()["status"] == "voided"
        assert (await http.post(f"/v1/accounts/{c}/holds/{h2['id']}/void")).json()["status"] == "voided"
        assert (await http.post(f"/v1/accounts/{c}/holds/{h2['id']}/capture")).status_code == 409
        b = await balance(http, c)
        assert (b["balance"], b["available"]) == (600, 600)
        assert (await http.get(f"/v1/accounts/{c}/holds/hold_nope")).status_code == 404
        assert (await http.get(f"/v1/accounts/{cid()}/holds/{h1['id']}")).status_code == 404


async def test_hold_expires_and_releases_the_amount(ledger, broker: Broker):
    c = await known(broker)
    async with ledger.client() as http:
        await fund(http, c, 1000)
        hold = (
            await http.post(
                f"/v1/accounts/{c}/holds",
                json={"amount": 900, "currency": "EUR", "expires_at": iso(timedelta(seconds=1))},
            )
        ).json()
        await broker.wait_for("ledger.hold.expired", lambda b: b["data"]["id"] == hold["id"])
        assert (await http.get(f"/v1/accounts/{c}/holds/{hold['id']}")).json()["status"] == "expired"
        assert (await balance(http, c))["available"] == 1000
        assert (await http.post(f"/v1/accounts/{c}/holds/{hold['id']}/capture")).status_code == 409


# -- expiring credit ---------------------------------------------------------------------------------


async def test_soonest_expiring_credit_is_spent_first_and_the_rest_expires(ledger, broker: Broker):
    c = await known(broker)
    async with ledger.client() as http:
        await fund(http, c, 500)  # never expires
        late = await fund(http, c, 300, expires_at=iso(timedelta(days=30)))
        soon = await fund(http, c, 400, expires_at=iso(timedelta(seconds=3)))
        r = await http.post(
            f"/v1/accounts/{c}/entries", json={"kind": "unfunding", "amount": 150, "currency": "EUR"}
        )
        assert r.status_code == 201
        b = await balance(http, c)
        assert sorted((x["funding_id"], x["amount"]) for x in b["expiring"]) == sorted(
            [(soon["id"], 250), (late["id"], 300)]
        )

        expired = await broker.wait_for(
            "ledger.entry.recorded", lambda e: e["data"]["customer_id"] == c and e["data"]["kind"] == "expiry"
        )
        assert expired[0]["body"]["data"]["amount"] == -250
        b = await balance(http, c)
        assert b["balance"] == 800 and [(x["funding_id"], x["amount"]) for x in b["expiring"]] == [
            (late["id"], 300)
        ]
        # Next debit: the credit expiring in 30 days goes before the credit that never expires.
        await http.post(
            f"/v1/accounts/{c}/entries", json={"kind": "unfunding", "amount": 350, "currency": "EUR"}
        )
        b = await balance(http, c)
        assert b["balance"] == 450 and b["expiring"] == []
        assert [e["amount"] for e in await entries(http, c, kind="expiry")] == [-250]


async def test_credit_that_expired_while_the_ledger_was_down_expires_once_after_restart(
    system, ledger, broker: Broker
):
    c = await known(broker)
    async with ledger.client() as http:
        await fund(http, c, 700)
        await fund(http, c, 300, expires_at=iso(timedelta(seconds=2)))
    ledger.stop()
    time.sleep(2.5)
    # Back with two instances on the same database: both run the expiry job.
    second = ServiceProcess("ledger", ledger.env, ledger.log_path.with_name(ledger.log_path.stem + "-2.log"))
    ledger = system.service("ledger", **ENV)
    second.start(**ENV)
    try:
        async with ledger.client() as http:
            await eventually(lambda: _kinds(http, c, "expiry", 1))
            await asyncio.sleep(2)  # several more passes of both jobs
            assert [e["amount"] for e in await entries(http, c, kind="expiry")] == [-300]
            assert (await balance(http, c))["balance"] == 700
    finally:
        second.stop()


# -- rewards and coupons -----------------------------------------------------------------------------


async def test_coupon_issued_exactly_when_points_reach_the_target(ledger, broker: Broker):
    c = await known(broker)
    first = envelope("order.placed", order(c, total=9950))  # 99 points
    await broker.publish(first)
    await broker.publish(first)
    async with ledger.client() as http:
        await eventually(lambda: _points(http, c, 99))
        assert (await http.get(f"/v1/customers/{c}/coupons")).json()["items"] == []

        await broker.publish(envelope("order.placed", order(c, total=100)))  # 1 point -> 100
        issued = await broker.wait_for("reward.coupon.issued", lambda b: b["data"]["customer_id"] == c)
        coupon = issued[0]["body"]["data"]
        assert (coupon["kind"], coupon["value"], coupon["currency"]) == ("amount", 500, "EUR")
        await eventually(lambda: _points(http, c, 0))

        await broker.publish(envelope("order.placed", order(c, total=25000)))  # 250 -> two more, 50 left
        await broker.wait_for("reward.coupon.issued", lambda b: b["data"]["customer_id"] == c, count=3)
        await eventually(lambda: _points(http, c, 50))
        coupons = (await http.get(f"/v1/customers/{c}/coupons")).json()["items"]
        assert len(coupons) == 3 and len({x["code"] for x in coupons}) == 3
        assert all(x["status"] == "active" for x in coupons)
        assert len(broker.events("reward.coupon.issued", lambda b: b["data"]["customer_id"] == c)) == 3

        code = coupon["code"]
        mine = {"customer_id": c}
        r1 = await http.post(f"/v1/coupons/{code}/redeem", json={**mine, "order_id": "ord_a"})
        r2 = await http.post(f"/v1/coupons/{code}/redeem", json={**mine, "order_id": "ord_a"})
        assert r1.status_code == r2.status_code == 200 and r1.json() == r2.json()
        assert r1.json()["status"] == "redeemed"
        r3 = await http.post(f"/v1/coupons/{code}/redeem", json={**mine, "order_id": "ord_b"})
        assert r3.status_code == 409 and r3.json()["type"].endswith("/coupon-used")
        assert (await http.post("/v1/coupons/RW-NOPE/redeem", json=mine)).status_code == 404
        assert (await http.post(f"/v1/coupons/{code}/redeem")).status_code == 422  # who redeems?


async def _points(http, customer_id: str, points: int) -> bool:
    return (await http.get(f"/v1/customers/{customer_id}/rewards")).json()["points"] == points


async def test_points_of_a_guest_order_wait_for_the_customer_to_be_known(ledger, broker: Broker):
    email = f"{uuid.uuid4().hex[:8]}@example.com"
    await broker.publish(envelope("order.placed", order(None, email=email, total=12000)))  # 120 points
    c = cid()
    await broker.publish(envelope("customer.created", customer_state(c, email)))
    await broker.wait_for("reward.coupon.issued", lambda b: b["data"]["customer_id"] == c)
    async with ledger.client() as http:
        await eventually(lambda: _points(http, c, 20))


# -- erasure -----------------------------------------------------------------------------------------


async def test_customer_deleted_keeps_entries_but_anonymises_them(ledger, broker: Broker):
    c = await known(broker)
    async with ledger.client() as http:
        await fund(http, c, 400, reason="apology to Ana Lima", operator="bob@shop")
        key = f"key-{uuid.uuid4()}"
        body = {"kind": "unfunding", "amount": 100, "currency": "EUR", "reason": "Ana asked"}
        await http.post(f"/v1/accounts/{c}/entries", json=body, headers={"Idempotency-Key": key})
        await broker.publish(envelope("customer.deleted", {"id": c}))

        async def anonymised():
            items = await entries(http, c)
            return items if all(e["reason"] is None and e["operator"] is None for e in items) else None

        items = await eventually(anonymised)
        assert [e["amount"] for e in items] == [-100, 400]
        assert (await balance(http, c))["balance"] == 300
        # the stored response that repeated the reason is gone; no money moves for them any more
        again = await http.post(f"/v1/accounts/{c}/entries", json=body, headers={"Idempotency-Key": key})
        assert again.status_code == 404 and again.json()["type"].endswith("/not-found")
        assert (await balance(http, c))["balance"] == 300


# -- issue 16: refunds by refund id, known customers, coupons bound to their owner, points back --


def refunded(order_id: str, customer_id: str, amount: int, refund_id: str | None, to_credit: bool) -> dict:
    body = {
        "order_id": order_id,
        "refunded_at": "2026-11-23T10:00:00Z",
        "customer": {"email": "x@example.com", "customer_id": customer_id},
        "currency": "EUR",
        "amount": amount,
        "to_store_credit": to_credit,
    }
    return {**body, "refund_id": refund_id} if refund_id else body


async def _rewards(http, customer_id: str) -> dict:
    return (await http.get(f"/v1/customers/{customer_id}/rewards")).json()


async def test_a_refund_re_sent_under_a_new_event_id_counts_once_and_takes_points_back(
    ledger, broker: Broker
):
    c = await known(broker)
    placed = order(c, total=8000)  # 80 points (target 100: no coupon yet)
    await broker.publish(envelope("order.placed", placed))
    async with ledger.client() as http:
        await eventually(lambda: _points(http, c, 80))
        oid = placed["order_id"]
        for _ in range(3):  # the same refund, each time under a new event id
            await broker.publish(envelope("order.refunded", refunded(oid, c, 2000, "rf-1", True)))
        await broker.publish(envelope("order.refunded", refunded(oid, c, 1000, "rf-2", False)))
        await broker.wait_for("reward.points.reversed", lambda b: b["data"]["customer_id"] == c, count=2)
        await eventually(lambda: _points(http, c, 50))  # 20 + 10 taken back
        await eventually(lambda: _kinds(http, c, "refund", 1))
        await asyncio.sleep(1)  # the re-sent copies had their chance
        assert [e["amount"] for e in await entries(http, c, kind="refund")] == [2000]
        assert (await balance(http, c))["balance"] == 2000
        rewards = await _rewards(http, c)
        assert (rewards["points"], rewards["earned_total"], rewards["reversed_total"]) == (50, 80, 30)
        # the two refunds are handled in either order: each takes back its share once
        movements = {m["points"]: m for m in rewards["movements"] if m["kind"] == "reversed"}
        assert sorted(movements) == [-20, -10] and all(m["order_id"] == oid for m in movements.values())
        assert movements[-10]["reason"].startswith(f"order {oid} refunded 1000 EUR (")
        assert movements[-10]["reason"].endswith(": 10 of its 80 points taken back")
    events = broker.events("reward.points.reversed", lambda b: b["data"]["customer_id"] == c)
    assert sorted((e["body"]["data"]["refund_id"], e["body"]["data"]["points"]) for e in events) == [
        ("rf-1", 20),
        ("rf-2", 10),
    ]


def _cancelled(order_id: str, customer_id: str) -> dict:
    return {
        "order_id": order_id,
        "cancelled_at": "2026-11-23T10:00:00Z",
        "customer": {"email": "x@example.com", "customer_id": customer_id},
    }


async def test_a_cancelled_order_takes_back_its_points_once_never_below_zero(ledger, broker: Broker):
    c = await known(broker)
    placed = order(c, total=12000)  # 120 points: a coupon for 100, 20 left
    await broker.publish(envelope("order.placed", placed))
    issued = await broker.wait_for("reward.coupon.issued", lambda b: b["data"]["customer_id"] == c)
    code = issued[0]["body"]["data"]["code"]
    async with ledger.client() as http:
        r = await http.post(f"/v1/coupons/{code}/redeem", json={"customer_id": c, "order_id": "ord_x"})
        assert r.status_code == 200, r.text  # used: its points stay spent
    await broker.publish(envelope("order.cancelled", _cancelled(placed["order_id"], c)))
    await broker.publish(envelope("order.cancelled", _cancelled(placed["order_id"], c)))
    reversed_ = await broker.wait_for("reward.points.reversed", lambda b: b["data"]["customer_id"] == c)
    data = reversed_[0]["body"]["data"]
    assert (data["cause"], data["requested"], data["points"], data["points_after"]) == (
        "cancellation",
        120,
        20,
        0,
    )
    assert "100 more were due but the balance was 20" in data["reason"] and data["revoked_coupons"] == []
    async with ledger.client() as http:
        await eventually(lambda: _points(http, c, 0))
        await broker.publish(envelope("order.placed", order(c, total=3000)))
        await eventually(lambda: _points(http, c, 30))  # no debt carried into later orders
    assert len(broker.events("reward.points.reversed", lambda b: b["data"]["customer_id"] == c)) == 1


async def test_a_refund_revokes_the_unused_coupon_its_points_paid_for(ledger, broker: Broker):
    c = await known(broker)
    placed = order(c, total=12000)  # 120 points: a coupon for 100, 20 left
    await broker.publish(envelope("order.placed", placed))
    issued = await broker.wait_for("reward.coupon.issued", lambda b: b["data"]["customer_id"] == c)
    code = issued[0]["body"]["data"]["code"]
    await broker.publish(envelope("order.refunded", refunded(placed["order_id"], c, 12000, "rf-all", False)))
    reversed_ = await broker.wait_for("reward.points.reversed", lambda b: b["data"]["customer_id"] == c)
    data = reversed_[0]["body"]["data"]
    assert (data["requested"], data["points"], data["points_after"]) == (120, 120, 0)
    assert data["revoked_coupons"] == [code] and f"unused coupon {code} revoked" in data["reason"]
    async with ledger.client() as http:
        (coupon,) = (await http.get(f"/v1/customers/{c}/coupons")).json()["items"]
        assert coupon["status"] == "revoked" and coupon["revoked_at"] is not None
        r = await http.post(f"/v1/coupons/{code}/redeem", json={"customer_id": c, "order_id": "ord_y"})
        assert r.status_code == 409 and r.json()["type"].endswith("/coupon-revoked"), r.text
        assert (await _rewards(http, c))["points"] == 0


async def test_money_never_moves_for_an_unknown_or_erased_customer(ledger, broker: Broker):
    stranger = cid()
    async with ledger.client() as http:
        for path, body in (
            (f"/v1/accounts/{stranger}/entries", {"kind": "funding", "amount": 500, "currency": "EUR"}),
            (f"/v1/accounts/{stranger}/holds", {"amount": 100, "currency": "EUR"}),
        ):
            r = await http.post(path, json=body)
            assert r.status_code == 404 and r.json()["type"].endswith("/not-found"), r.text
        assert (await http.get(f"/v1/accounts/{stranger}")).json()["balances"] == []

        # Created a moment ago: its customer.created is in flight; the request waits for it.
        late = cid()
        post = asyncio.create_task(
            http.post(
                f"/v1/accounts/{late}/entries", json={"kind": "funding", "amount": 500, "currency": "EUR"}
            )
        )
        await asyncio.sleep(0.5)
        await broker.publish(envelope("customer.created", customer_state(late, f"{late}@example.com")))
        assert (await post).status_code == 201

        c = await known(broker)
        await fund(http, c, 1000)
        hold = (await http.post(f"/v1/accounts/{c}/holds", json={"amount": 300, "currency": "EUR"})).json()
        await broker.publish(envelope("customer.deleted", {"id": c}))

        async def refused():  # a probe that moves no money
            return (await http.get(f"/v1/customers/{c}/referral")).status_code == 404

        await eventually(refused)
        # a late customer.updated of the erased customer brings nothing back
        await broker.publish(envelope("customer.updated", customer_state(c, "new@example.com", version=7)))
        await asyncio.sleep(0.5)
        started = time.monotonic()
        assert (
            await http.post(f"/v1/accounts/{c}/holds", json={"amount": 1, "currency": "EUR"})
        ).status_code == 404
        assert time.monotonic() - started < 2  # erased: refused at once, not after the grace
        assert (await http.post(f"/v1/accounts/{c}/holds/{hold['id']}/capture")).status_code == 404
        assert (await http.post(f"/v1/accounts/{c}/holds/{hold['id']}/void")).status_code == 200  # releases
        assert (await balance(http, c))["balance"] == 1000


async def test_a_coupon_is_redeemed_only_by_its_owner_and_once_under_concurrency(ledger, broker: Broker):
    c, other = await known(broker), await known(broker)
    await broker.publish(envelope("order.placed", order(c, total=10000)))
    issued = await broker.wait_for("reward.coupon.issued", lambda b: b["data"]["customer_id"] == c)
    code = issued[0]["body"]["data"]["code"]
    async with ledger.client() as http:
        r = await http.post(f"/v1/coupons/{code}/redeem", json={"customer_id": other, "order_id": "ord_x"})
        assert r.status_code == 404 and r.json()["type"].endswith("/not-found")
        replies = await asyncio.gather(
            *(
                http.post(f"/v1/coupons/{code}/redeem", json={"customer_id": c, "order_id": f"ord_{i}"})
                for i in range(10)
            )
        )
        assert sorted(r.status_code for r in replies) == [200] + [409] * 9, [r.text for r in replies]
        assert all(r.json()["type"].endswith("/coupon-used") for r in replies if r.status_code == 409)
        (coupon,) = (await http.get(f"/v1/customers/{c}/coupons")).json()["items"]
        assert coupon["status"] == "redeemed"
