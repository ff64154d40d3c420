"""The personal-data protocol (GDPR) for the ledger, against the real broker and FerretDB: an
export request is answered with what the ledger holds (accounts, entries, holds, coupons,
points, referral, credit on account), once per request id; an unknown customer gets the kinds
empty; customer.deleted is confirmed with personal_data.erased and its counts."""

import asyncio
import uuid
from datetime import UTC, datetime

import pytest

from harness import Broker, envelope, eventually

ENV = {
    "CRM_REWARD_POINTS_PER_UNIT": "1",
    "CRM_REWARD_TARGET": "100",
    "CRM_REWARD_COUPON_VALUE": "500",
    "CRM_REWARD_COUPON_CURRENCY": "EUR",
}
CUSTOMERS = "/crm/customers"


@pytest.fixture
def ledger(system):
    return system.service("ledger", **ENV)


def customer(customer_id: str) -> dict:
    return {
        "id": customer_id,
        "version": 1,
        "email": f"{customer_id}@example.com",
        "has_account": True,
        "birthday": "1990-05-17",
        "email_subscribed": True,
        "created_at": "2026-11-22T10:00:00Z",
        "updated_at": "2026-11-22T10:00:00Z",
    }


def requested(customer_id: str, request_id: str | None = None) -> dict:
    return envelope(
        "personal_data.requested",
        {
            "request_id": request_id or f"pdr_{uuid.uuid4().hex[:10]}",
            "customer_id": customer_id,
            "requested_at": datetime.now(UTC).isoformat(),
        },
        source=CUSTOMERS,
    )


async def test_an_export_gathers_what_the_ledger_holds_once_per_request(ledger, broker: Broker):
    c = f"cus_{uuid.uuid4().hex[:10]}"
    await broker.publish(envelope("customer.created", customer(c), source=CUSTOMERS))
    async with ledger.client() as http:
        r = await http.post(
            f"/v1/accounts/{c}/entries",
            json={
                "kind": "funding",
                "amount": 2500,
                "currency": "EUR",
                "reason": "goodwill",
                "operator": "zoe",
            },
        )
        assert r.status_code == 201, r.text
        hold = await http.post(f"/v1/accounts/{c}/holds", json={"amount": 400, "currency": "EUR"})
        assert hold.status_code == 201, hold.text
    await broker.publish(
        envelope(
            "order.placed",
            {
                "order_id": "ord_pd1",
                "placed_at": datetime.now(UTC).isoformat(),
                "customer": {"email": f"{c}@example.com", "customer_id": c},
                "currency": "EUR",
                "total": 15000,
            },
        )
    )
    await broker.wait_for("reward.coupon.issued", lambda b: b["data"]["customer_id"] == c)

    ask = requested(c)
    await broker.publish(ask)
    rid = ask["data"]["request_id"]
    (got,) = await broker.wait_for("personal_data.collected", lambda b: b["data"]["request_id"] == rid)
    body = got["body"]
    assert body["source"] == "/crm/ledger" and body["subject"] == c
    data = body["data"]
    assert (data["customer_id"], data["service"]) == (c, "ledger")
    d = data["data"]
    assert [(a["currency"], a["balance"], a["held"]) for a in d["accounts"]] == [("EUR", 2500, 400)]
    assert [(e["kind"], e["amount"], e["reason"], e["operator"]) for e in d["entries"]] == [
        ("funding", 2500, "goodwill", "zoe")
    ]
    assert datetime.fromisoformat(d["entries"][0]["at"]).tzinfo is not None
    assert [(h["id"], h["amount"], h["status"]) for h in d["holds"]] == [(hold.json()["id"], 400, "active")]
    assert [(x["kind"], x["value"], x["currency"]) for x in d["coupons"]] == [("amount", 500, "EUR")]
    assert d["points"]["earned_total"] == 150 and d["points"]["points"] == 50
    assert d["referral"]["code"].startswith("REF-") and d["referral"]["conversions"] == 0
    assert d["customer"] == {"birthday": "05-17", "email_subscribed": True}

    # Redelivered (the same request again, under another event id): the same answer's id.
    await broker.publish(requested(c, rid))
    await asyncio.sleep(1.5)
    answers = broker.events("personal_data.collected", lambda b: b["data"]["request_id"] == rid)
    assert {a["body"]["id"] for a in answers} == {body["id"]}

    # Someone the ledger never heard of: answered, every kind empty.
    stranger = requested(f"cus_{uuid.uuid4().hex[:10]}")
    await broker.publish(stranger)
    (none,) = await broker.wait_for(
        "personal_data.collected", lambda b: b["data"]["request_id"] == stranger["data"]["request_id"]
    )
    empty = none["body"]["data"]["data"]
    assert empty["accounts"] == empty["entries"] == empty["holds"] == empty["coupons"] == []


async def test_customer_deleted_is_confirmed_with_what_was_erased(ledger, broker: Broker, mongo, system):
    c = f"cus_{uuid.uuid4().hex[:10]}"
    await broker.publish(envelope("customer.created", customer(c), source=CUSTOMERS))
    async with ledger.client() as http:
        r = await http.post(
            f"/v1/accounts/{c}/entries",
            json={"kind": "funding", "amount": 100, "currency": "EUR", "reason": "sorry", "operator": "zoe"},
        )
        assert r.status_code == 201, r.text
    await broker.publish(
        envelope("group.members.added", {"group_id": "grp_pd", "group_name": "VIP", "customer_ids": [c]})
    )
    db = mongo[system.database("ledger")]
    await eventually(lambda: db["group_memberships"].count_documents({"customer_id": c}))

    deleted = envelope("customer.deleted", {"id": c}, source=CUSTOMERS)
    await broker.publish(deleted)
    (erased,) = await broker.wait_for("personal_data.erased", lambda b: b["data"]["customer_id"] == c)
    data = erased["body"]["data"]
    assert data["service"] == "ledger"
    assert data["erased"]["entry_notes"] == 1
    assert data["erased"]["customer_emails"] == 1
    assert data["erased"]["group_memberships"] == 1
    # Redelivered: no different event.
    await broker.publish(envelope("customer.deleted", {"id": c}, source=CUSTOMERS))
    await asyncio.sleep(1.5)
    found = broker.events("personal_data.erased", lambda b: b["data"]["customer_id"] == c)
    assert {e["body"]["id"] for e in found} == {erased["body"]["id"]}
    # And an export after erasure answers empty.
    ask = requested(c)
    await broker.publish(ask)
    (after,) = await broker.wait_for(
        "personal_data.collected", lambda b: b["data"]["request_id"] == ask["data"]["request_id"]
    )
    assert after["body"]["data"]["data"]["entries"] == []
