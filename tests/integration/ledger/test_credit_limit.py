"""Issue 15: buying on account. A group's credit limit (group events) lets its members'
balances go below zero for purchases, down to the limit and never below it, under concurrency;
against the real broker and FerretDB."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from harness import Broker, envelope, eventually

GROUPS = "/crm/groups"


@pytest.fixture
def ledger(system):
    return system.service("ledger", CRM_REWARD_POINTS_PER_UNIT="0")


def cid() -> str:
    return f"cus_{uuid.uuid4().hex[:12]}"


def customer_state(customer_id: str, email: str, version: int = 1) -> dict:
    return {
        "id": customer_id,
        "version": version,
        "email": email,
        "has_account": False,
        "created_at": "2026-11-22T10:00:00Z",
        "updated_at": "2026-11-22T10:00:00Z",
    }


def order(customer_id: str, credit: int, currency: str = "EUR") -> dict:
    return {
        "order_id": f"ord_{uuid.uuid4().hex[:8]}",
        "placed_at": "2026-11-22T10:00:00Z",
        "customer": {"email": f"{customer_id}@example.com", "customer_id": customer_id},
        "currency": currency,
        "total": credit,
        "store_credit_used": credit,
    }


async def fund(http, customer_id: str, amount: int, currency: str = "EUR") -> None:
    r = await http.post(
        f"/v1/accounts/{customer_id}/entries",
        json={"kind": "funding", "amount": amount, "currency": currency},
    )
    assert r.status_code == 201, r.text


async def balance(http, customer_id: str, currency: str = "EUR") -> dict:
    r = await http.get(f"/v1/accounts/{customer_id}")
    assert r.status_code == 200
    return next(b for b in r.json()["balances"] if b["currency"] == currency)


async def entries(http, customer_id: str, kind: str) -> list[dict]:
    r = await http.get(f"/v1/accounts/{customer_id}/entries", params={"kind": kind, "limit": 100})
    assert r.status_code == 200, r.text
    return r.json()["items"]


def group_state(group_id: str, version: int, limits: dict[str, int], days: int | None = 30) -> dict:
    now = datetime.now(UTC).isoformat()
    return {
        "id": group_id,
        "version": version,
        "name": f"Wholesale {group_id[-4:]}",
        "payment_terms_days": days,
        "credit_limits": [{"amount": a, "currency": c} for c, a in limits.items()],
        "created_at": now,
        "updated_at": now,
    }


def members(group_id: str, *customer_ids: str) -> dict:
    return {"group_id": group_id, "group_name": "Wholesale", "customer_ids": list(customer_ids)}


def at(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


async def member_of(broker: Broker, http, limits: dict[str, int], days: int | None = 30) -> tuple[str, str]:
    """A known customer in a new group with these limits; waits until the ledger shows it."""
    c, g = cid(), f"grp_{uuid.uuid4().hex[:8]}"
    await broker.publish(envelope("customer.created", customer_state(c, f"{c}@example.com")))
    await broker.publish(envelope("group.created", group_state(g, 1, limits, days), source=GROUPS))
    await broker.publish(envelope("group.members.added", members(g, c), source=GROUPS))
    await eventually(lambda: _limits(http, c, limits))
    return c, g


async def _limits(http, customer_id: str, limits: dict[str, int]) -> bool:
    r = await http.get(f"/v1/accounts/{customer_id}")
    credit = r.json()["credit"]
    return {m["currency"]: m["amount"] for m in credit["limits"]} == limits


async def _hold(http, customer_id: str, amount: int, currency: str = "EUR"):
    return await http.post(f"/v1/accounts/{customer_id}/holds", json={"amount": amount, "currency": currency})


async def test_a_member_buys_on_account_down_to_the_limit_and_never_below(ledger, broker: Broker):
    async with ledger.client() as http:
        c, g = await member_of(broker, http, {"EUR": 50000})
        account = (await http.get(f"/v1/accounts/{c}")).json()
        assert account["credit"] == {
            "group_ids": [g],
            "limits": [{"amount": 50000, "currency": "EUR"}],
            "payment_terms_days": 30,
        }
        await fund(http, c, 1000)
        # A hold beyond the balance, within the limit: placed; captured, the balance is below zero.
        r = await _hold(http, c, 31000)
        assert r.status_code == 201, r.text
        r = await http.post(f"/v1/accounts/{c}/holds/{r.json()['id']}/capture")
        assert r.status_code == 200, r.text
        b = await balance(http, c)
        assert b["balance"] == -30000 and b["credit_limit"] == 50000
        # An order paying on account, within what is left: debited.
        await broker.publish(envelope("order.placed", order(c, credit=15000)))
        await eventually(lambda: _kinds(http, c, "purchase", 2))
        assert (await balance(http, c))["balance"] == -45000
        # Past the limit: the same clear refusal as without credit, naming what is available.
        r = await _hold(http, c, 5001)
        assert r.status_code == 409, r.text
        problem = r.json()
        assert problem["type"].endswith("insufficient-funds")
        assert problem["available"] == 5000 and problem["requested"] == 5001
        assert problem["credit_limit"] == 50000
        await broker.publish(envelope("order.placed", order(c, credit=6000)))
        rejected = await broker.wait_for("ledger.debit.rejected", lambda e: e["data"]["customer_id"] == c)
        assert rejected[0]["body"]["data"]["available"] == 5000
        assert (await balance(http, c))["balance"] == -45000
        # Another currency has no limit; staff unfunding never goes below zero.
        assert (await _hold(http, c, 1, "USD")).status_code == 409
        r = await http.post(
            f"/v1/accounts/{c}/entries", json={"kind": "unfunding", "amount": 1, "currency": "EUR"}
        )
        assert r.status_code == 409


async def test_concurrent_purchases_near_the_limit_exactly_the_allowed_ones_succeed(ledger, broker: Broker):
    async with ledger.client() as http:
        c, _ = await member_of(broker, http, {"EUR": 1000})
        await fund(http, c, 500)
        statuses = await asyncio.gather(*(_hold(http, c, 100) for _ in range(30)))
        assert sorted(s.status_code for s in statuses) == [201] * 15 + [409] * 15
        b = await balance(http, c)
        assert b["available"] == -1000 and b["balance"] == 500
        # Orders paying on account at once, after the holds are voided: exactly 15 debit.
        for s in statuses:
            if s.status_code == 201:
                assert (await http.post(f"/v1/accounts/{c}/holds/{s.json()['id']}/void")).status_code == 200
        await asyncio.gather(
            *(broker.publish(envelope("order.placed", order(c, credit=100))) for _ in range(25))
        )
        await broker.wait_for("ledger.debit.rejected", lambda e: e["data"]["customer_id"] == c, count=10)
        await eventually(lambda: _kinds(http, c, "purchase", 15))
        assert (await balance(http, c))["balance"] == -1000


async def test_most_generous_group_counts_and_leaving_or_deletion_ends_the_credit(ledger, broker: Broker):
    async with ledger.client() as http:
        c, g1 = await member_of(broker, http, {"EUR": 1000}, days=30)
        g2 = f"grp_{uuid.uuid4().hex[:8]}"
        # Members first, the group's terms later (events come in any order).
        await broker.publish(envelope("group.members.added", members(g2, c), source=GROUPS))
        await broker.publish(envelope("group.created", group_state(g2, 1, {"EUR": 3000}, 60), source=GROUPS))
        await eventually(lambda: _limits(http, c, {"EUR": 3000}))
        assert (await http.get(f"/v1/accounts/{c}")).json()["credit"]["payment_terms_days"] == 60
        # The group lowers its limit (a newer version; an older one arriving late changes nothing).
        await broker.publish(envelope("group.updated", group_state(g2, 3, {"EUR": 2000}, 60), source=GROUPS))
        await broker.publish(envelope("group.updated", group_state(g2, 2, {"EUR": 9000}, 60), source=GROUPS))
        await eventually(lambda: _limits(http, c, {"EUR": 2000}))
        await asyncio.sleep(1)
        assert await _limits(http, c, {"EUR": 2000})
        assert (await _hold(http, c, 2001)).status_code == 409
        # Leaving g2: g1's limit; a removal older than the addition changes nothing.
        old = envelope("group.members.removed", members(g1, c), source=GROUPS)
        old["time"] = at(-3600)
        await broker.publish(old)
        await broker.publish(envelope("group.members.removed", members(g2, c), source=GROUPS))
        await eventually(lambda: _limits(http, c, {"EUR": 1000}))
        # g1 deleted: its memberships end, nothing below zero any more.
        await broker.publish(envelope("group.deleted", {"id": g1, "name": "Wholesale"}, source=GROUPS))
        await eventually(lambda: _limits(http, c, {}))
        assert (await http.get(f"/v1/accounts/{c}")).json()["credit"]["group_ids"] == []
        assert (await _hold(http, c, 1)).status_code == 409
        # A late members.added of the deleted group brings nothing back.
        await broker.publish(envelope("group.members.added", members(g1, c), source=GROUPS))
        await asyncio.sleep(1)
        assert await _limits(http, c, {})


async def test_an_erased_member_loses_the_credit_line(ledger, broker: Broker, mongo, system):
    async with ledger.client() as http:
        c, g = await member_of(broker, http, {"EUR": 1000})
        await broker.publish(envelope("customer.deleted", {"id": c}))
        db = mongo[system.database("ledger")]
        await eventually(lambda: _gone(db, c))
        assert (await http.get(f"/v1/accounts/{c}")).json()["credit"]["limits"] == []
        # A late membership of the erased customer is not recorded.
        await broker.publish(envelope("group.members.added", members(g, c), source=GROUPS))
        await asyncio.sleep(1)
        assert await _gone(db, c)


async def _gone(db, customer_id: str) -> bool:
    return (
        await db["group_memberships"].count_documents({"customer_id": customer_id}) == 0
        and await db["credit_lines"].count_documents({"_id": customer_id}) == 0
    )


async def _kinds(http, customer_id: str, kind: str, n: int) -> bool:
    return len(await entries(http, customer_id, kind)) == n


async def test_membership_versions_decide_over_arrival_order(ledger, broker: Broker):
    async with ledger.client() as http:
        c, g = await member_of(broker, http, {"EUR": 700})
        g2 = f"grp_{uuid.uuid4().hex[:8]}"
        await broker.publish(envelope("group.created", group_state(g2, 1, {"EUR": 900}), source=GROUPS))
        added = {**members(g2, c), "versions": [3]}
        stale_removal = {**members(g2, c), "versions": [2]}
        newer = envelope("group.members.removed", stale_removal, source=GROUPS)
        newer["time"] = at(3600)  # a later time, but an older version of the pair: versions decide
        await broker.publish(envelope("group.members.added", added, source=GROUPS))
        await eventually(lambda: _limits(http, c, {"EUR": 900}))
        await broker.publish(newer)
        await asyncio.sleep(1)
        assert await _limits(http, c, {"EUR": 900})
        await broker.publish(
            envelope("group.members.removed", {**members(g2, c), "versions": [4]}, source=GROUPS)
        )
        await eventually(lambda: _limits(http, c, {"EUR": 700}))
