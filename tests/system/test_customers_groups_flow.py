"""Customers and the real groups service: memberships made in groups become the `group_id`
filter of the customer search; erasing a customer removes it from the groups too."""

import uuid

from harness import Broker, eventually


async def test_group_membership_from_the_groups_service_filters_customer_search(system, broker: Broker):
    customers = system.service("customers")
    groups = system.service("groups")
    async with customers.client() as c_http, groups.client() as g_http:
        ids = []
        for name in ("one", "two", "three"):
            r = await c_http.post(
                "/v1/customers", json={"email": f"{name}.{uuid.uuid4().hex[:6]}@example.com"}
            )
            assert r.status_code == 201
            ids.append(r.json()["id"])
        r = await g_http.post("/v1/groups", json={"name": f"VIP {uuid.uuid4().hex[:6]}"})
        assert r.status_code == 201, r.text
        group = r.json()

        async def added():
            r = await g_http.post(f"/v1/groups/{group['id']}/customers", json={"add": ids[:2]})
            return r.status_code == 200  # 422 until groups has seen customer.created

        await eventually(added)

        async def members():
            r = await c_http.get("/v1/customers", params={"group_id": group["id"], "sort": "created_at"})
            return [c["id"] for c in r.json()["items"]]

        await eventually(lambda: _is(members(), ids[:2]))
        assert (await c_http.delete(f"/v1/customers/{ids[0]}")).status_code == 204
        await eventually(lambda: _is(members(), ids[1:2]))

        async def left_in_groups():
            r = await g_http.get(f"/v1/groups/{group['id']}/customers")
            return [m.get("customer_id", m.get("id")) for m in r.json()["items"]] == ids[1:2]

        await eventually(left_in_groups)


async def _is(awaitable, expected) -> bool:
    return (await awaitable) == expected
