"""Issue 4: a bulk add of 5,000 customers in one call, announced in events of at most 1,000
ids; the same call again adds and announces nothing; a bulk remove of them all."""

import time

from groups_support import create_group, ids_in, make_customers

from harness import Broker, eventually


async def test_bulk_add_of_5000_customers_in_one_call(system, broker: Broker, mongo):
    groups = system.service("groups")
    started = time.monotonic()
    customers = await make_customers(system, broker, mongo, 5000, prefix="bulk")
    print(f"5000 customer.created consumed in {time.monotonic() - started:.1f}s")
    async with groups.client() as http:
        http.timeout = 120
        group = await create_group(http)
        url = f"/v1/groups/{group['id']}/customers"
        started = time.monotonic()
        r = await http.post(url, json={"add": customers})
        print(f"bulk add of 5000 took {time.monotonic() - started:.1f}s")
        assert r.status_code == 200, r.text
        assert len(r.json()["added"]) == 5000 and r.json()["member_count"] == 5000

        again = await http.post(url, json={"add": customers})
        assert again.json()["added"] == [] and again.json()["member_count"] == 5000
        assert (await http.get(f"/v1/groups/{group['id']}")).json()["member_count"] == 5000

    await eventually(lambda: _announced(broker, group["id"], "group.members.added", 5000), timeout=60)
    events = broker.events("group.members.added", lambda b: b["data"]["group_id"] == group["id"])
    assert len(events) == 5 and all(len(e["body"]["data"]["customer_ids"]) == 1000 for e in events)
    assert sorted(ids_in(broker, "group.members.added", group["id"])) == sorted(customers)

    async with groups.client() as http:
        http.timeout = 120
        r = await http.post(url, json={"remove": customers})
        assert sorted(r.json()["removed"]) == sorted(customers) and r.json()["member_count"] == 0
    await eventually(lambda: _announced(broker, group["id"], "group.members.removed", 5000), timeout=60)
    # The second add announced nothing: still exactly the 5,000 ids of the first.
    assert len(ids_in(broker, "group.members.added", group["id"])) == 5000


async def _announced(broker: Broker, group_id: str, type_: str, n: int) -> bool:
    return len(ids_in(broker, type_, group_id)) >= n
