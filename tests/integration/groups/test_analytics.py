"""Issue 15: group analytics (members, buyers, orders, total spent and average order per
currency) from what the customers service reports each customer has spent."""

import asyncio

from groups_support import create_group, customer_state, make_customers

from harness import Broker, envelope, eventually


async def publish_state(broker: Broker, customer_id: str, version: int, spend: dict) -> str:
    event = envelope("customer.updated", customer_state(customer_id, version, spend), source="/crm/customers")
    await broker.publish(event)
    return event["id"]


async def test_a_groups_members_buyers_and_spending(system, broker: Broker, mongo):
    groups = system.service("groups")
    ana, bo, cy, dee = await make_customers(system, broker, mongo, 4)
    await publish_state(broker, ana, 2, {"EUR": (2, 5000), "USD": (1, 1000)})
    await publish_state(broker, bo, 2, {"EUR": (1, 3001)})
    await publish_state(broker, dee, 2, {"EUR": (10, 99_000)})  # not a member
    async with groups.client() as http:
        group = await create_group(http)
        r = await http.post(f"/v1/groups/{group['id']}/customers", json={"add": [ana, bo, cy]})
        assert r.status_code == 200
        url = f"/v1/groups/{group['id']}/analytics"

        async def figures(expected_orders: int, members: int = 3) -> dict | None:
            body = (await http.get(url)).json()
            return body if (body["orders"], body["members"]) == (expected_orders, members) else None

        a = await eventually(lambda: figures(4))
        assert (a["group_id"], a["members"], a["buyers"], a["orders"]) == (group["id"], 3, 2, 4)
        assert a["per_currency"] == [
            {"currency": "EUR", "buyers": 2, "orders": 3, "total_spent": 8001, "average_order": 2667},
            {"currency": "USD", "buyers": 1, "orders": 1, "total_spent": 1000, "average_order": 1000},
        ]

        # A newer state counts; an older one arriving late changes nothing.
        await publish_state(broker, ana, 4, {"EUR": (3, 6000)})
        older = await publish_state(broker, ana, 3, {"EUR": (9, 9000)})
        newest = [{"currency": "EUR", "buyers": 2, "orders": 4, "total_spent": 9001, "average_order": 2250}]

        async def newest_counted() -> bool:
            return (await http.get(url)).json()["per_currency"] == newest  # ana 3 EUR + bo 1 EUR

        await eventually(newest_counted)
        inbox = mongo[system.database("groups")]["inbox"]
        await eventually(lambda: inbox.find_one({"_id": older}))  # the older version was handled
        assert await newest_counted()

        # An erased customer leaves the group, and its spending with it.
        await broker.publish(envelope("customer.deleted", {"id": bo}, source="/crm/customers"))
        a = await eventually(lambda: figures(3, members=2))
        assert (a["members"], a["buyers"], a["per_currency"][0]["total_spent"]) == (2, 1, 6000)

        empty = (await http.get(f"/v1/groups/{(await create_group(http))['id']}/analytics")).json()
        assert (empty["members"], empty["buyers"], empty["orders"], empty["per_currency"]) == (0, 0, 0, [])
        missing = await http.get("/v1/groups/grp_missing/analytics")
        assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"


async def test_the_analytics_of_a_large_group(system, broker: Broker, mongo):
    groups = system.service("groups")
    members = await make_customers(system, broker, mongo, 520, prefix="big")
    buyers = members[:30]
    await asyncio.gather(*(publish_state(broker, c, 2, {"EUR": (1, 1000)}) for c in buyers))
    async with groups.client() as http:
        group = await create_group(http)
        r = await http.post(f"/v1/groups/{group['id']}/customers", json={"add": members})
        assert r.status_code == 200

        async def all_counted() -> dict | None:
            body = (await http.get(f"/v1/groups/{group['id']}/analytics")).json()
            return body if body["buyers"] == len(buyers) else None

        a = await eventually(all_counted, timeout=30)
        assert (a["members"], a["orders"], a["per_currency"][0]["total_spent"]) == (520, 30, 30_000)
