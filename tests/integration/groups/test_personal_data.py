"""Issue 15, GDPR: the groups service answers personal_data.requested with what it holds about
the person (memberships, spending, membership changes), answers for a customer it never heard
of, gives the same event on a redelivery, and confirms an erasure with personal_data.erased."""

import asyncio
import uuid
from datetime import UTC, datetime

from groups_support import create_group, customer_state

from harness import Broker, envelope, eventually


def requested(request_id: str, customer_id: str) -> dict:
    data = {
        "request_id": request_id,
        "customer_id": customer_id,
        "requested_at": datetime.now(UTC).isoformat(),
    }
    return envelope("personal_data.requested", data, source="/crm/customers")


async def known_customer(broker: Broker, mongo, system, spend=None) -> str:
    customer = f"cus_{uuid.uuid4().hex[:12]}"
    await broker.publish(
        envelope("customer.created", customer_state(customer, spend=spend), source="/crm/customers")
    )
    known = mongo[system.database("groups")]["known_customers"]
    await eventually(lambda: known.find_one({"_id": customer}))
    return customer


async def collected(broker: Broker, request_id: str, count: int = 1) -> list[dict]:
    return await broker.wait_for(
        "personal_data.collected", lambda d: d["data"]["request_id"] == request_id, count=count
    )


async def test_an_export_lists_memberships_spending_and_membership_changes(system, broker: Broker, mongo):
    groups = system.service("groups")
    customer = await known_customer(broker, mongo, system, spend={"EUR": (2, 12_500)})
    async with groups.client() as http:
        vip, gold = await create_group(http, name=f"VIP {uuid.uuid4().hex[:6]}"), await create_group(http)
        for group in (vip, gold):
            await http.post(f"/v1/groups/{group['id']}/customers", json={"add": [customer]})
        await http.post(f"/v1/groups/{gold['id']}/customers", json={"remove": [customer]})
        mine = (await http.get(f"/v1/customers/{customer}/groups")).json()["items"]

    request_id = f"pdr_{uuid.uuid4().hex[:8]}"
    await broker.publish(requested(request_id, customer))
    [event] = await collected(broker, request_id)
    body = event["body"]
    assert body["source"] == "/crm/groups" and body["subject"] == customer
    assert event["message_id"] == body["id"]
    answer = body["data"]
    assert (answer["request_id"], answer["customer_id"], answer["service"]) == (
        request_id,
        customer,
        "groups",
    )
    data = answer["data"]
    [since] = [g["added_at"] for g in mine if g["id"] == vip["id"]]
    assert data["memberships"] == [{"group_id": vip["id"], "group_name": vip["name"], "since": _iso(since)}]
    assert data["spending"] == [{"currency": "EUR", "orders": 2, "total_spent": 12_500}]
    changes = sorted((c["group_id"], c["version"], c["change"]) for c in data["membership_changes"])
    assert changes == sorted([(vip["id"], 1, "added"), (gold["id"], 1, "added"), (gold["id"], 2, "removed")])
    assert all(c["at"].endswith("+00:00") for c in data["membership_changes"])


async def test_a_customer_never_heard_of_is_answered_with_empty_lists(system, broker: Broker):
    system.service("groups")
    request_id = f"pdr_{uuid.uuid4().hex[:8]}"
    await broker.publish(requested(request_id, "cus_never_seen_here"))
    [event] = await collected(broker, request_id)
    assert event["body"]["data"]["data"] == {"memberships": [], "spending": [], "membership_changes": []}


async def test_a_redelivered_request_gives_the_same_event(system, broker: Broker, mongo):
    system.service("groups")
    customer = await known_customer(broker, mongo, system)
    request_id = f"pdr_{uuid.uuid4().hex[:8]}"
    first = requested(request_id, customer)
    again = requested(request_id, customer)  # the same request under another envelope id
    await asyncio.gather(broker.publish(first), broker.publish(first), broker.publish(again))
    await collected(broker, request_id)
    later = f"pdr_{uuid.uuid4().hex[:8]}"  # answered after the duplicates were handled
    await broker.publish(requested(later, customer))
    await collected(broker, later)
    answers = broker.events("personal_data.collected", lambda d: d["data"]["request_id"] == request_id)
    assert len({a["body"]["id"] for a in answers}) == 1
    assert (
        answers[0]["body"]["id"]
        != broker.events("personal_data.collected", lambda d: d["data"]["request_id"] == later)[0]["body"][
            "id"
        ]
    )


async def test_erasure_is_confirmed_once_with_counts_and_leaves_nothing_to_export(
    system, broker: Broker, mongo
):
    groups = system.service("groups")
    customer = await known_customer(broker, mongo, system, spend={"EUR": (1, 990)})
    async with groups.client() as http:
        vip, gold = await create_group(http), await create_group(http)
        for group in (vip, gold):
            await http.post(f"/v1/groups/{group['id']}/customers", json={"add": [customer]})
    before = f"pdr_{uuid.uuid4().hex[:8]}"
    await broker.publish(requested(before, customer))
    await collected(broker, before)

    deleted = envelope("customer.deleted", {"id": customer}, source="/crm/customers")
    await broker.publish(deleted)
    [event] = await broker.wait_for("personal_data.erased", lambda d: d["data"]["customer_id"] == customer)
    data = event["body"]["data"]
    assert data["service"] == "groups"
    assert data["erased"] == {"memberships": 2, "membership_changes": 4, "customer": 1}
    for group in (vip, gold):
        [removed] = await broker.wait_for(
            "group.members.removed", lambda d, g=group: d["data"]["group_id"] == g["id"]
        )
        assert removed["body"]["data"]["customer_ids"] == [customer]
        assert removed["body"]["data"]["versions"] == [2]

    db = mongo[system.database("groups")]
    assert await db["personal_data_exports"].count_documents({"customer_id": customer}) == 0
    assert await db["membership_versions"].count_documents({"customer_id": customer}) == 0

    after = f"pdr_{uuid.uuid4().hex[:8]}"
    await broker.publish(deleted)  # redelivered: the same confirmation or none, never another
    await broker.publish(envelope("customer.deleted", {"id": customer}, source="/crm/customers"))
    await broker.publish(requested(after, customer))
    [answer] = await collected(broker, after)
    assert answer["body"]["data"]["data"] == {"memberships": [], "spending": [], "membership_changes": []}
    await asyncio.sleep(1)
    confirmations = broker.events("personal_data.erased", lambda d: d["data"]["customer_id"] == customer)
    assert {c["body"]["id"] for c in confirmations} == {event["body"]["id"]}
    assert all(c["body"]["data"]["erased"] == data["erased"] for c in confirmations)


def _iso(value: str) -> str:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).isoformat()
