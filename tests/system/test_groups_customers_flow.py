"""Issue 4 across services: the real customers service creates a guest from an order and
announces it; the groups service learns it from customer.created, so it can join a group;
deleting the group leaves the customer in the customers service."""

import uuid

from groups_support import create_group

from harness import Broker, envelope, eventually, order_placed


async def test_customer_from_customers_service_joins_a_group_and_survives_its_deletion(
    system, broker: Broker
):
    customers = system.service("customers")
    groups = system.service("groups")
    email = f"flow.{uuid.uuid4().hex[:6]}@example.com"
    await broker.publish(envelope("order.placed", order_placed(email)))
    [created] = await broker.wait_for("customer.created", lambda b: b["data"]["email"] == email)
    customer_id = created["body"]["data"]["id"]

    async with groups.client() as http:
        group = await create_group(http)
        url = f"/v1/groups/{group['id']}/customers"

        async def joined():
            r = await http.post(url, json={"add": [customer_id]})
            return r.status_code == 200 and r.json()  # 422 until customer.created is consumed

        assert (await eventually(joined))["added"] == [customer_id]
        [added] = await broker.wait_for("group.members.added", lambda b: b["data"]["group_id"] == group["id"])
        assert added["body"]["data"]["customer_ids"] == [customer_id]

        assert (await http.delete(f"/v1/groups/{group['id']}")).status_code == 204
        await broker.wait_for("group.deleted", lambda b: b["data"]["id"] == group["id"])
        assert (await http.get(f"/v1/customers/{customer_id}/groups")).json()["items"] == []

    async with customers.client() as http:
        r = await http.get(f"/v1/customers/{customer_id}")
    assert r.status_code == 200 and r.json()["email"] == email
