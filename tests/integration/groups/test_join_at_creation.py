"""Issue 15, group at creation: customer.created with `join_group_ids` makes the customer a
member of each existing group, announced with group.members.added as a staff bulk add is;
unknown groups are skipped (and logged); a redelivered or duplicated event adds nothing more."""

import asyncio
import uuid

from groups_support import create_group, customer_state, ids_in

from harness import Broker, envelope, eventually


def created(customer_id: str, join_group_ids: list[str]) -> dict:
    state = {**customer_state(customer_id), "join_group_ids": join_group_ids}
    return envelope("customer.created", state, source="/crm/customers")


async def test_a_new_customer_joins_the_groups_asked_for_and_unknown_ones_are_skipped(system, broker: Broker):
    groups = system.service("groups")
    async with groups.client() as http:
        vip, gold, gone = await create_group(http), await create_group(http), await create_group(http)
        assert (await http.delete(f"/v1/groups/{gone['id']}")).status_code == 204
        customer = f"cus_{uuid.uuid4().hex[:12]}"
        asked = [vip["id"], "grp_never_existed", gold["id"], gone["id"], vip["id"]]
        await broker.publish(created(customer, asked))

        for group in (vip, gold):
            [event] = await broker.wait_for(
                "group.members.added", lambda d, g=group: d["data"]["group_id"] == g["id"]
            )
            assert event["body"]["data"] == {
                "group_id": group["id"],
                "group_name": group["name"],
                "customer_ids": [customer],
                "versions": [1],
            }
            assert event["body"]["source"] == "/crm/groups"
            assert (await http.get(f"/v1/groups/{group['id']}")).json()["member_count"] == 1
        mine = (await http.get(f"/v1/customers/{customer}/groups")).json()["items"]
        assert sorted(g["id"] for g in mine) == sorted([vip["id"], gold["id"]])

    log = groups.log_path.read_text()
    for skipped in ("grp_never_existed", gone["id"]):
        assert f"customer {customer} asked at creation to join group {skipped}" in log
    assert broker.events("group.members.added", lambda d: d["data"]["group_id"] == gone["id"]) == []


async def test_a_redelivered_or_duplicated_customer_created_adds_and_announces_once(system, broker: Broker):
    groups = system.service("groups")
    async with groups.client() as http:
        vip, gold = await create_group(http), await create_group(http)
        customer = f"cus_{uuid.uuid4().hex[:12]}"
        event = created(customer, [vip["id"], gold["id"]])
        # The same envelope several times at once (a redelivery racing the first delivery), and
        # the same creation under another event id would be another change: not tested here.
        await asyncio.gather(*(broker.publish(event) for _ in range(4)))
        await eventually(lambda: _members(http, vip["id"], gold["id"], 1))

        # A later customer of the same groups: its events come after anything the duplicates
        # could have caused, so once they arrive the duplicates have had their chance.
        marker = f"cus_{uuid.uuid4().hex[:12]}"
        await broker.publish(created(marker, [vip["id"], gold["id"]]))
        for group in (vip, gold):
            await eventually(lambda g=group: _announced(broker, g["id"], marker))
            assert ids_in(broker, "group.members.added", group["id"]) == [customer, marker]
        await broker.publish(event)  # delivered again after everything
        await asyncio.sleep(2)
        assert await _members(http, vip["id"], gold["id"], 2)
        for group in (vip, gold):
            assert ids_in(broker, "group.members.added", group["id"]) == [customer, marker]


async def test_customer_created_without_groups_adds_no_membership_work(system, broker: Broker, mongo):
    groups = system.service("groups")
    customer = f"cus_{uuid.uuid4().hex[:12]}"
    event = created(customer, [])
    await broker.publish(event)
    db = mongo[system.database("groups")]
    await eventually(lambda: db["known_customers"].find_one({"_id": customer}))
    assert await db["membership_ops"].count_documents({"_id": {"$regex": f"^{event['id']}"}}) == 0
    async with groups.client() as http:
        assert (await http.get(f"/v1/customers/{customer}/groups")).json()["items"] == []


async def _members(http, a: str, b: str, n: int) -> bool:
    counts = [(await http.get(f"/v1/groups/{g}")).json()["member_count"] for g in (a, b)]
    return counts == [n, n]


async def _announced(broker: Broker, group_id: str, customer: str) -> bool:
    return customer in ids_in(broker, "group.members.added", group_id)
