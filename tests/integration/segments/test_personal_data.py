"""The personal-data protocol (GDPR, issue 15) for segments: personal_data.requested is answered
with the profile, the segment memberships (joined and left times) and the order facts held;
an unknown customer gets empty kinds; a redelivered request publishes the same event; after
customer.deleted, personal_data.erased says what was erased, once under one event id."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from harness import Broker, envelope, eventually
from segments_support import Customer, Order


def request(customer_id: str, request_id: str | None = None) -> dict:
    return envelope(
        "personal_data.requested",
        {
            "request_id": request_id or f"pdr_{uuid.uuid4().hex[:10]}",
            "customer_id": customer_id,
            "requested_at": datetime.now(UTC).isoformat(),
        },
        source="/crm/customers",
    )


@pytest.fixture
def segments(system):
    return system.service("segments")


async def _collected(broker: Broker, request_id: str, count: int = 1) -> list[dict]:
    found = await broker.wait_for(
        "personal_data.collected", lambda e: e["data"]["request_id"] == request_id, count=count, timeout=30
    )
    return [m["body"] for m in found]


async def test_export_and_erasure_of_a_known_customer(segments, broker: Broker):
    ana = Customer(country="PT", city="Porto", orders=[Order(4200, days_ago=3)])
    placed_at = ana.orders[0].placed_at
    await broker.publish(ana.event())
    async with segments.client() as http:
        seg = (await http.post("/v1/segments", json={"name": "Porto", "rule": "city = 'Porto'"})).json()
        await broker.wait_for("segment.member.joined", lambda e: e["data"]["customer_id"] == ana.id)
        order = {
            "order_id": f"ord_{uuid.uuid4().hex[:8]}",
            "placed_at": placed_at.isoformat(),
            "customer": {"email": ana.email, "customer_id": None},
            "currency": "EUR",
            "total": 4200,
            "items": [{"sku": "SKU-9", "category": "bags", "quantity": 1, "unit_price": 4200}],
        }
        await broker.publish(envelope("order.placed", order))
        window = {"from": (placed_at - timedelta(days=1)).isoformat(), "to": datetime.now(UTC).isoformat()}

        async def recorded():
            r = await http.get("/v1/analytics/period", params=window)
            return r.status_code == 200 and r.json()["orders"] == 1

        await eventually(recorded)

    req = request(ana.id)
    await broker.publish(req)
    [answer] = await _collected(broker, req["data"]["request_id"])
    assert answer["type"] == "personal_data.collected" and answer["subject"] == ana.id
    data = answer["data"]
    assert data["customer_id"] == ana.id and data["service"] == "segments"
    held = data["data"]
    assert held["profile"]["customer_id"] == ana.id
    assert held["profile"]["email"] == ana.email and held["profile"]["city"] == "Porto"
    assert held["profile"]["number_of_orders"] == 1
    [stay] = held["memberships"]
    assert stay["segment_id"] == seg["id"] and stay["segment_name"] == "Porto"
    assert datetime.fromisoformat(stay["joined_at"]) <= datetime.now(UTC) and stay["left_at"] is None
    [fact] = held["orders"]
    assert fact["order_id"] == order["order_id"] and fact["kind"] == "placed"
    assert fact["total"] == {"amount": 4200, "currency": "EUR"}
    assert fact["items"] == [{"sku": "SKU-9", "category": "bags", "quantity": 1, "amount": 4200}]
    assert "password" not in str(held) and "token" not in str(held)

    # The same request redelivered (a new delivery, the same request): the same event again.
    await broker.publish(request(ana.id, req["data"]["request_id"]))
    again = await _collected(broker, req["data"]["request_id"], count=2)
    assert {a["id"] for a in again} == {answer["id"]}

    # Erasure: the profile goes, the membership ends, the order is kept under no one's name.
    deleted = envelope("customer.deleted", {"id": ana.id, "version": 2}, source="/crm/customers")
    await broker.publish(deleted)
    [erased] = await broker.wait_for("personal_data.erased", lambda e: e["data"]["customer_id"] == ana.id)
    body = erased["body"]
    assert body["data"]["service"] == "segments"
    assert body["data"]["erased"] == {"profiles": 1, "memberships": 1, "orders": 1, "pending_checkouts": 0}
    left = await broker.wait_for("segment.member.left", lambda e: e["data"]["customer_id"] == ana.id)
    assert left[0]["body"]["data"]["email"] is None
    await broker.publish(envelope("customer.deleted", {"id": ana.id, "version": 2}, source="/crm/customers"))
    both = await broker.wait_for(
        "personal_data.erased", lambda e: e["data"]["customer_id"] == ana.id, count=2
    )
    assert {m["body"]["id"] for m in both} == {body["id"]}
    assert both[1]["body"]["data"]["erased"] == body["data"]["erased"]

    # An export after the erasure: no profile, no order of theirs; the stay shows its end.
    req = request(ana.id)
    await broker.publish(req)
    [after] = await _collected(broker, req["data"]["request_id"])
    held = after["data"]["data"]
    assert held["profile"] is None and held["orders"] == []
    assert [s["left_at"] is not None for s in held["memberships"]] == [True]
    assert ana.email not in str(after)
    # The figures keep the order, anonymously.
    async with segments.client() as http:
        got = (await http.get("/v1/analytics/period", params=window)).json()
        assert got["orders"] == 1 and got["customers"] == 0


async def test_an_unknown_customer_gets_an_empty_answer(segments, broker: Broker):
    req = request("cus_never_heard_of")
    await broker.publish(req)
    [answer] = await _collected(broker, req["data"]["request_id"])
    assert answer["data"]["data"] == {"profile": None, "memberships": [], "orders": []}
    assert answer["data"]["customer_id"] == "cus_never_heard_of"
