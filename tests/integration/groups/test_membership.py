"""Issue 4: membership (bulk, idempotent, unknown ids rejected), a customer's erasure,
group deletion and group pricing, against the real broker and FerretDB."""

import asyncio
import uuid

from groups_support import create_group, ids_in, make_customers

from harness import Broker, envelope, eventually


async def test_adding_existing_members_is_idempotent_and_emits_nothing(system, broker: Broker, mongo):
    groups = system.service("groups")
    a, b, c = await make_customers(system, broker, mongo, 3)
    async with groups.client() as http:
        group = await create_group(http)
        url = f"/v1/groups/{group['id']}/customers"
        first = (await http.post(url, json={"add": [a, b]})).json()
        assert first == {"group_id": group["id"], "added": [a, b], "removed": [], "member_count": 2}
        # Again, with one more id and a repeat inside the call: only the new one is added.
        second = (await http.post(url, json={"add": [a, b, c, c]})).json()
        assert second["added"] == [c] and second["member_count"] == 3
        third = (await http.post(url, json={"add": [a, b, c]})).json()
        assert third["added"] == [] and third["member_count"] == 3
        # Removing a member and a non-member: only the member's removal is announced.
        removed = (await http.post(url, json={"remove": [b, "cus_never_member"]})).json()
        assert removed["removed"] == [b] and removed["member_count"] == 2
        again = (await http.post(url, json={"remove": [b]})).json()
        assert again["removed"] == []
        marker = (await http.post(url, json={"add": [b]})).json()
        assert marker["added"] == [b]

    # Events go out in the order the changes were made; the marker (b added again) comes last,
    # so everything before it has been published by the time it arrives.
    await broker.wait_for("group.members.added", lambda d: d["data"]["group_id"] == group["id"], count=3)
    added = broker.events("group.members.added", lambda d: d["data"]["group_id"] == group["id"])
    assert [e["body"]["data"]["customer_ids"] for e in added] == [[a, b], [c], [b]]
    assert added[0]["body"]["data"]["group_name"] == group["name"]
    assert ids_in(broker, "group.members.removed", group["id"]) == [b]


async def test_unknown_customer_ids_are_rejected_listing_them_and_nothing_changes(
    system, broker: Broker, mongo
):
    groups = system.service("groups")
    [known] = await make_customers(system, broker, mongo, 1)
    async with groups.client() as http:
        group = await create_group(http)
        r = await http.post(
            f"/v1/groups/{group['id']}/customers", json={"add": [known, "cus_ghost_1", "cus_ghost_2"]}
        )
        assert r.status_code == 422
        assert r.headers["content-type"] == "application/problem+json"
        problem = r.json()
        assert problem["type"].endswith("/problems/unknown-customers")
        assert problem["unknown_customer_ids"] == ["cus_ghost_1", "cus_ghost_2"]
        assert problem["errors"][0]["field"] == "add"
        assert (await http.get(f"/v1/groups/{group['id']}")).json()["member_count"] == 0

        both = await http.post(
            f"/v1/groups/{group['id']}/customers", json={"add": [known], "remove": [known]}
        )
        assert both.status_code == 422 and both.json()["errors"][0]["field"] == "remove"
        missing = await http.post("/v1/groups/grp_missing/customers", json={"add": [known]})
        assert missing.status_code == 404


async def test_members_and_a_customers_groups_are_paginated(system, broker: Broker, mongo):
    groups = system.service("groups")
    customers = await make_customers(system, broker, mongo, 7)
    async with groups.client() as http:
        group = await create_group(http)
        others = [await create_group(http) for _ in range(3)]
        await http.post(f"/v1/groups/{group['id']}/customers", json={"add": customers})
        for other in others:
            await http.post(f"/v1/groups/{other['id']}/customers", json={"add": customers[:1]})

        seen, cursor = [], None
        while True:
            params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
            page = (await http.get(f"/v1/groups/{group['id']}/customers", params=params)).json()
            seen += [m["customer_id"] for m in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert seen == sorted(customers)

        mine, cursor = [], None
        while True:
            params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            r = await http.get(f"/v1/customers/{customers[0]}/groups", params=params)
            assert r.status_code == 200
            mine += r.json()["items"]
            cursor = r.json()["next_cursor"]
            if not cursor:
                break
        assert sorted(g["id"] for g in mine) == sorted([group["id"]] + [o["id"] for o in others])
        assert {g["name"] for g in mine} == {group["name"]} | {o["name"] for o in others}
        assert (await http.get(f"/v1/customers/{customers[1]}/groups")).json()["items"][0]["id"] == group[
            "id"
        ]
        assert (await http.get("/v1/customers/cus_unknown/groups")).status_code == 404


async def test_concurrent_overlapping_bulk_changes_change_each_customer_once(system, broker: Broker, mongo):
    groups = system.service("groups")
    customers = await make_customers(system, broker, mongo, 300)
    async with groups.client() as http:
        group = await create_group(http)
        url = f"/v1/groups/{group['id']}/customers"
        # Four calls at once, each overlapping the others.
        slices = [customers[0:200], customers[100:300], customers[50:250], customers]
        replies = await asyncio.gather(*(http.post(url, json={"add": s}) for s in slices))
        assert all(r.status_code == 200 for r in replies)
        added = [c for r in replies for c in r.json()["added"]]
        assert sorted(added) == sorted(customers)  # every customer added by exactly one call
        assert (await http.get(f"/v1/groups/{group['id']}")).json()["member_count"] == 300

    await eventually(lambda: _announced(broker, group["id"], 300))
    assert sorted(ids_in(broker, "group.members.added", group["id"])) == sorted(customers)

    async with groups.client() as http:
        # Overlapping removals at once: each member is removed, and announced, once.
        replies = await asyncio.gather(*(http.post(url, json={"remove": s}) for s in slices))
        removed = [c for r in replies for c in r.json()["removed"]]
        assert sorted(removed) == sorted(customers)
        assert (await http.get(f"/v1/groups/{group['id']}")).json()["member_count"] == 0
        # A member added again after its removal can be removed (and announced) again.
        assert (await http.post(url, json={"add": customers[:1]})).json()["added"] == customers[:1]
        assert (await http.post(url, json={"remove": customers[:1]})).json()["removed"] == customers[:1]

    await eventually(lambda: _removals_announced(broker, group["id"], 301))
    assert sorted(ids_in(broker, "group.members.removed", group["id"])) == sorted(customers + customers[:1])


async def _announced(broker: Broker, group_id: str, n: int) -> bool:
    return len(ids_in(broker, "group.members.added", group_id)) >= n


async def _removals_announced(broker: Broker, group_id: str, n: int) -> bool:
    return len(ids_in(broker, "group.members.removed", group_id)) >= n


async def test_a_deleted_customer_leaves_every_group(system, broker: Broker, mongo):
    groups = system.service("groups")
    gone, stays = await make_customers(system, broker, mongo, 2)
    async with groups.client() as http:
        g1, g2 = await create_group(http), await create_group(http)
        for g in (g1, g2):
            await http.post(f"/v1/groups/{g['id']}/customers", json={"add": [gone, stays]})

        deleted = envelope("customer.deleted", {"id": gone}, source="/crm/customers")
        await broker.publish(deleted)
        await broker.publish(deleted)  # a redelivery changes nothing more
        for g in (g1, g2):
            [ev] = await broker.wait_for(
                "group.members.removed", lambda b, g=g: b["data"]["group_id"] == g["id"]
            )
            assert ev["body"]["data"]["customer_ids"] == [gone]
            assert ev["body"]["data"]["group_name"] == g["name"]
            members = (await http.get(f"/v1/groups/{g['id']}/customers")).json()["items"]
            assert [m["customer_id"] for m in members] == [stays]
        assert (await http.get(f"/v1/customers/{gone}/groups")).status_code == 404
        # An erased customer cannot be added again.
        r = await http.post(f"/v1/groups/{g1['id']}/customers", json={"add": [gone]})
        assert r.status_code == 422 and r.json()["unknown_customer_ids"] == [gone]

    # The redelivered customer.deleted announced nothing twice: a later change is the marker.
    async with groups.client() as http:
        await http.post(f"/v1/groups/{g1['id']}/customers", json={"remove": [stays]})
    await broker.wait_for("group.members.removed", lambda b: b["data"]["customer_ids"] == [stays])
    assert ids_in(broker, "group.members.removed", g1["id"]) == [gone, stays]


async def test_deleting_a_group_ends_its_memberships_only(system, broker: Broker, mongo):
    groups = system.service("groups")
    customers = await make_customers(system, broker, mongo, 3)
    async with groups.client() as http:
        doomed, kept = (
            await create_group(http, metadata={"k": "v"}, discount_percent=10),
            await create_group(http),
        )
        for g in (doomed, kept):
            await http.post(f"/v1/groups/{g['id']}/customers", json={"add": customers})
        r = await http.delete(f"/v1/groups/{doomed['id']}")
        assert r.status_code == 204
        assert (await http.get(f"/v1/groups/{doomed['id']}")).status_code == 404
        assert (await http.get(f"/v1/groups/{doomed['id']}/customers")).status_code == 404
        assert (await http.delete(f"/v1/groups/{doomed['id']}")).status_code == 404
        # The customers are still there, in their other group.
        for c in customers:
            mine = (await http.get(f"/v1/customers/{c}/groups")).json()["items"]
            assert [g["id"] for g in mine] == [kept["id"]]
        assert (await http.get(f"/v1/groups/{kept['id']}")).json()["member_count"] == 3
        # The name is free again.
        assert (await http.post("/v1/groups", json={"name": doomed["name"]})).status_code == 201

    [ev] = await broker.wait_for("group.deleted", lambda b: b["data"]["id"] == doomed["id"])
    assert ev["body"]["data"] == {"id": doomed["id"], "name": doomed["name"], "members_removed": 3}
    memberships = mongo[system.database("groups")]["memberships"]
    assert await memberships.count_documents({"group_id": doomed["id"]}) == 0


async def test_pricing_with_overlapping_groups_picks_one_discount(system, broker: Broker, mongo):
    groups = system.service("groups")
    ana, bo, cy, dee = await make_customers(system, broker, mongo, 4)
    tag = uuid.uuid4().hex[:6]
    async with groups.client() as http:
        retail = await create_group(http, name=f"Retail {tag}", discount_percent=5, priority=0)
        vip = await create_group(http, name=f"VIP {tag}", discount_percent=20, priority=0)
        wholesale = await create_group(
            http, name=f"Wholesale {tag}", discount_percent=10, price_tier="wholesale", priority=10
        )
        newsletter = await create_group(http, name=f"Newsletter {tag}")  # no pricing
        for g, members in (
            (retail, [ana, bo, cy]),
            (vip, [ana, bo]),
            (wholesale, [ana]),
            (newsletter, [ana, bo, cy, dee]),
        ):
            await http.post(f"/v1/groups/{g['id']}/customers", json={"add": members})

        async def pricing(c):
            r = await http.get(f"/v1/customers/{c}/pricing")
            assert r.status_code == 200
            return r.json()

        # ana: wholesale has the highest priority, even though VIP's discount is bigger.
        p = await pricing(ana)
        assert (p["discount_percent"], p["price_tier"], p["group"]["id"]) == (
            10,
            "wholesale",
            wholesale["id"],
        )
        assert [g["id"] for g in p["considered"]] == [wholesale["id"], vip["id"], retail["id"]]
        # bo: same priority, so the best discount.
        p = await pricing(bo)
        assert (p["discount_percent"], p["group"]["id"]) == (20, vip["id"])
        assert (await pricing(cy))["discount_percent"] == 5
        p = await pricing(dee)
        assert p["discount_percent"] is None and p["group"] is None and p["considered"] == []
        assert (await http.get("/v1/customers/cus_unknown/pricing")).status_code == 404

        # Pricing follows edits: raising retail's priority makes it win for bo.
        await http.patch(f"/v1/groups/{retail['id']}", json={"priority": 50})
        assert (await pricing(bo))["group"]["id"] == retail["id"]
        # ... and deletions.
        await http.delete(f"/v1/groups/{wholesale['id']}")
        assert (await pricing(ana))["group"]["id"] == retail["id"]
