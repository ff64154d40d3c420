"""Issue 16: referrals, against the real broker and FerretDB. A module of its own: it changes
the programme `default`."""

import asyncio
import uuid

import pytest

from crm_ledger.domain.rewards import referral_code
from harness import Broker, envelope, eventually

ENV = {"CRM_LEDGER_PROGRAMME_CACHE_SECONDS": "0.2"}


@pytest.fixture
def ledger(system):
    return system.service("ledger", **ENV)


def customer(customer_id: str, email: str) -> dict:
    return {
        "id": customer_id,
        "version": 1,
        "email": email,
        "has_account": False,
        "created_at": "2026-11-22T10:00:00Z",
        "updated_at": "2026-11-22T10:00:00Z",
    }


def order(email: str, code: str | None, customer_id: str | None = None) -> dict:
    return {
        "order_id": f"ord_{uuid.uuid4().hex[:8]}",
        "placed_at": "2031-01-10T10:00:00Z",  # after the programme change below
        "customer": {"email": email, "customer_id": customer_id},
        "currency": "EUR",
        "total": 2000,
        "referral_code": code,
    }


def coupons(broker: Broker, customer_id: str) -> dict[str, dict]:
    found = broker.events("reward.coupon.issued", lambda b: b["data"]["customer_id"] == customer_id)
    return {e["body"]["id"]: e["body"]["data"] for e in found}


async def test_a_referred_newcomers_first_order_rewards_both_once(ledger, broker: Broker):
    ana = f"cus_{uuid.uuid4().hex[:10]}"
    await broker.publish(envelope("customer.created", customer(ana, f"{ana}@example.com")))
    async with ledger.client() as http:
        r = await http.patch(
            "/v1/reward-programmes/default",
            json={
                "referrer_coupon": {"kind": "amount", "value": 1000, "currency": "EUR", "valid_days": 30},
                "referee_coupon": {"kind": "percentage", "value": 10, "valid_days": 30},
            },
        )
        assert r.status_code == 200, r.text
        r = await http.get(f"/v1/customers/{ana}/referral")
        assert r.status_code == 200, r.text
        code = r.json()["code"]
        assert r.json()["conversions"] == 0
        assert (await http.get(f"/v1/customers/cus_{uuid.uuid4().hex}/referral")).status_code == 404

        # A guest: the order comes first, its customer.created (made from that order) after it.
        bea, email = f"cus_{uuid.uuid4().hex[:10]}", f"bea.{uuid.uuid4().hex[:6]}@example.com"
        first = order(email, code)
        await broker.publish(envelope("order.placed", first))
        await asyncio.sleep(0.5)
        await broker.publish(envelope("customer.created", customer(bea, email)))
        converted = await broker.wait_for("referral.converted", lambda b: b["data"]["referee_id"] == bea)
        data = converted[0]["body"]["data"]
        assert (data["referrer_id"], data["code"], data["order_id"]) == (ana, code, first["order_id"])

        await broker.publish(envelope("order.placed", order(email, code, bea)))  # a second order
        await broker.publish(envelope("order.placed", order(f"{ana}@example.com", code, ana)))  # own code
        await asyncio.sleep(1.5)
        assert (await http.get(f"/v1/customers/{ana}/referral")).json()["conversions"] == 1
        assert [(c["kind"], c["value"]) for c in coupons(broker, ana).values()] == [("amount", 1000)]
        assert [(c["kind"], c["value"]) for c in coupons(broker, bea).values()] == [("percentage", 10)]
        assert {x["source"] for x in [*coupons(broker, ana).values(), *coupons(broker, bea).values()]} == {
            "referral"
        }
        assert (
            len(
                {
                    e["body"]["id"]
                    for e in broker.events("referral.converted", lambda b: b["data"]["referrer_id"] == ana)
                }
            )
            == 1
        )

        # An erased referrer's code earns nothing any more.
        await broker.publish(envelope("customer.deleted", {"id": ana}))
        cid, cmail = f"cus_{uuid.uuid4().hex[:10]}", f"cid.{uuid.uuid4().hex[:6]}@example.com"
        await broker.publish(envelope("customer.created", customer(cid, cmail)))

        async def erased() -> bool:
            return (await http.get(f"/v1/customers/{ana}/referral")).status_code == 404

        await eventually(erased)
        await broker.publish(envelope("order.placed", order(cmail, code, cid)))
        await asyncio.sleep(1.5)
        assert broker.events("referral.converted", lambda b: b["data"]["referee_id"] == cid) == []


def created(customer_id: str, email: str, referred_by: str | None) -> dict:
    return {**customer(customer_id, email), "referred_by": referred_by}


async def test_referred_by_at_creation_converts_on_the_first_order_once(ledger, broker: Broker):
    """Issue 16: `referred_by` on customer.created works like an order's referral_code."""
    ana = f"cus_{uuid.uuid4().hex[:10]}"
    await broker.publish(envelope("customer.created", customer(ana, f"{ana}@example.com")))
    async with ledger.client() as http:
        r = await http.patch(
            "/v1/reward-programmes/default",
            json={
                "referrer_coupon": {"kind": "amount", "value": 700, "currency": "EUR", "valid_days": 30},
                "referee_coupon": {"kind": "percentage", "value": 5, "valid_days": 30},
            },
        )
        assert r.status_code == 200, r.text
        r = await http.get(f"/v1/customers/{ana}/referral")
        assert r.status_code == 200, r.text
        code = r.json()["code"]

        # Registered with the code; the first order (no code of its own) converts it.
        bea, bmail = f"cus_{uuid.uuid4().hex[:10]}", f"bea.{uuid.uuid4().hex[:6]}@example.com"
        await broker.publish(envelope("customer.created", created(bea, bmail, code.lower())))
        await asyncio.sleep(0.5)
        assert broker.events("referral.converted", lambda b: b["data"]["referee_id"] == bea) == []
        first = order(bmail, None, bea)
        await broker.publish(envelope("order.placed", first))
        converted = await broker.wait_for("referral.converted", lambda b: b["data"]["referee_id"] == bea)
        data = converted[0]["body"]["data"]
        assert (data["referrer_id"], data["code"], data["order_id"]) == (ana, code, first["order_id"])
        await broker.publish(envelope("order.placed", order(bmail, None, bea)))  # a second order
        await broker.publish(envelope("order.placed", order(bmail, None, bea)))
        await asyncio.sleep(1.5)
        assert (
            len(
                {
                    e["body"]["id"]
                    for e in broker.events("referral.converted", lambda b: b["data"]["referee_id"] == bea)
                }
            )
            == 1
        )
        assert [(c["kind"], c["value"]) for c in coupons(broker, bea).values()] == [("percentage", 5)]
        assert (await http.get(f"/v1/customers/{ana}/referral")).json()["conversions"] == 1

        # A guest whose order came before its customer.created with the code: converted then.
        cid, cmail = f"cus_{uuid.uuid4().hex[:10]}", f"cid.{uuid.uuid4().hex[:6]}@example.com"
        guest_order = order(cmail, None)
        await broker.publish(envelope("order.placed", guest_order))
        await asyncio.sleep(0.5)
        await broker.publish(envelope("customer.created", created(cid, cmail, code)))
        converted = await broker.wait_for("referral.converted", lambda b: b["data"]["referee_id"] == cid)
        assert converted[0]["body"]["data"]["order_id"] == guest_order["order_id"]

        # Self-referral: nothing.
        dan = f"cus_{uuid.uuid4().hex[:10]}"
        await broker.publish(
            envelope("customer.created", created(dan, f"{dan}@example.com", referral_code(dan)))
        )
        await asyncio.sleep(0.5)
        await broker.publish(envelope("order.placed", order(f"{dan}@example.com", None, dan)))
        await asyncio.sleep(1.5)
        assert broker.events("referral.converted", lambda b: b["data"]["referee_id"] == dan) == []
        assert (await http.get(f"/v1/customers/{ana}/referral")).json()["conversions"] == 2


async def test_a_guest_who_registers_with_a_referral_code_is_converted(ledger, broker: Broker):
    """A guest's order made them known with no code; they then register with a friend's code
    (customer.registered: same e-mail, birthday and consent): the code is noted, and their first
    order converts it."""
    eva = f"cus_{uuid.uuid4().hex[:10]}"
    await broker.publish(envelope("customer.created", customer(eva, f"{eva}@example.com")))
    gid, gmail = f"cus_{uuid.uuid4().hex[:10]}", f"gus.{uuid.uuid4().hex[:6]}@example.com"
    guest_order = order(gmail, None)
    await broker.publish(envelope("order.placed", guest_order))
    await broker.publish(envelope("customer.created", customer(gid, gmail)))
    async with ledger.client() as http:
        code = (await eventually(lambda: http.get(f"/v1/customers/{eva}/referral"))).json()["code"]

        async def earned() -> bool:
            r = await http.get(f"/v1/customers/{gid}/rewards")
            return r.status_code == 200 and r.json()["earned_total"] > 0

        await eventually(earned)  # the guest's order is theirs
    registered = {**created(gid, gmail, code), "version": 2, "has_account": True}
    await broker.publish(envelope("customer.registered", registered))
    converted = await broker.wait_for("referral.converted", lambda b: b["data"]["referee_id"] == gid)
    data = converted[0]["body"]["data"]
    assert (data["referrer_id"], data["order_id"]) == (eva, guest_order["order_id"])
