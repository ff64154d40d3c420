"""Issue 15, merging customers: on customer.merged the kept customer becomes a member of every
group the merged one was in (unless a member already) and the merged one leaves them, announced
with group.members.added / removed once, even when the event is redelivered and handled by two
replicas at once; the merged id is then refused for new memberships like an erased customer."""

import asyncio

from groups_support import create_group, ids_in, make_customers

from harness import TOKEN, Broker, ServiceProcess, envelope, eventually


def replica(system, n: int) -> ServiceProcess:
    """Another replica of the groups service under test: same database, same queue."""
    env = {
        "MONGODB_URL": system.mongo_url,
        "MONGODB_DATABASE": system.database("groups"),
        "RABBITMQ_URL": system.rabbit_url,
        "CRM_API_TOKENS": TOKEN,
        "CRM_OUTBOX_POLL_SECONDS": "0.2",
        "CRM_LOG_LEVEL": "INFO",
    }
    return ServiceProcess("groups", env, system.logs / f"{system.tag}-groups-merge-{n}.log")


def merged(kept: str, gone: str) -> dict:
    return envelope("customer.merged", {"id": kept, "merged_id": gone, "version": 3}, source="/crm/customers")


async def _groups_of(http, customer: str) -> list[str]:
    r = await http.get(f"/v1/customers/{customer}/groups")
    return sorted(g["id"] for g in r.json()["items"]) if r.status_code == 200 else []


async def test_the_kept_customer_takes_over_the_merged_ones_groups(system, broker: Broker, mongo):
    groups = system.service("groups")
    kept, gone, other = await make_customers(system, broker, mongo, 3)
    async with groups.client() as http:
        vip, gold, both = await create_group(http), await create_group(http), await create_group(http)
        for group, members in ((vip, [gone, other]), (gold, [gone]), (both, [gone, kept])):
            r = await http.post(f"/v1/groups/{group['id']}/customers", json={"add": members})
            assert r.status_code == 200, r.text

        await broker.publish(merged(kept, gone))

        for group in (vip, gold, both):
            [removed] = await broker.wait_for(
                "group.members.removed", lambda d, g=group: d["data"]["group_id"] == g["id"]
            )
            assert removed["body"]["data"]["customer_ids"] == [gone]
            assert removed["body"]["data"]["versions"] == [2]  # added (1), then removed
        for group in (vip, gold):
            [added] = await broker.wait_for(
                "group.members.added",
                lambda d, g=group: d["data"]["group_id"] == g["id"] and d["data"]["customer_ids"] == [kept],
            )
            assert added["body"]["data"]["versions"] == [1]
        await eventually(lambda: _groups_of(http, kept))
        assert await _groups_of(http, kept) == sorted([vip["id"], gold["id"], both["id"]])
        # Already a member of `both`: not added (nor announced) again.
        assert ids_in(broker, "group.members.added", both["id"]).count(kept) == 1
        assert (await http.get(f"/v1/groups/{vip['id']}")).json()["member_count"] == 2
        assert (await http.get(f"/v1/groups/{both['id']}")).json()["member_count"] == 1

        # The merged id no longer exists: refused for new memberships, like an erased customer.
        r = await http.post(f"/v1/groups/{gold['id']}/customers", json={"add": [gone]})
        assert r.status_code == 422
        assert r.json()["unknown_customer_ids"] == [gone]
        assert (await http.get(f"/v1/customers/{gone}/groups")).status_code == 404


async def test_a_merge_redelivered_and_handled_by_two_replicas_is_applied_once(system, broker: Broker, mongo):
    groups = system.service("groups")
    second = replica(system, 2)
    await asyncio.to_thread(second.start)
    try:
        kept, gone, marker = await make_customers(system, broker, mongo, 3)
        async with groups.client() as http:
            vip, gold = await create_group(http), await create_group(http)
            for group in (vip, gold):
                r = await http.post(f"/v1/groups/{group['id']}/customers", json={"add": [gone]})
                assert r.status_code == 200, r.text

            event = merged(kept, gone)
            await asyncio.gather(*(broker.publish(event) for _ in range(6)))  # both replicas get some
            for group in (vip, gold):
                await broker.wait_for(
                    "group.members.added", lambda d, g=group: d["data"]["group_id"] == g["id"]
                )
            # A later change of the same groups is announced after anything the duplicates did.
            for group in (vip, gold):
                r = await http.post(f"/v1/groups/{group['id']}/customers", json={"add": [marker]})
                assert r.status_code == 200, r.text
                await broker.wait_for(
                    "group.members.added",
                    lambda d, g=group: (
                        d["data"]["group_id"] == g["id"] and marker in d["data"]["customer_ids"]
                    ),
                )
            await broker.publish(event)  # delivered again after everything
            await asyncio.sleep(2)
            for group in (vip, gold):
                announced_added = {
                    (e["body"]["id"], c)
                    for e in broker.events(
                        "group.members.added", lambda d, g=group: d["data"]["group_id"] == g["id"]
                    )
                    for c in e["body"]["data"]["customer_ids"]
                }
                # Two relays may publish one stored event twice (same event id): counted once.
                assert sorted(c for _, c in announced_added) == sorted([gone, kept, marker])
                announced_removed = {
                    (e["body"]["id"], c)
                    for e in broker.events(
                        "group.members.removed", lambda d, g=group: d["data"]["group_id"] == g["id"]
                    )
                    for c in e["body"]["data"]["customer_ids"]
                }
                assert [c for _, c in announced_removed] == [gone]
                assert (await http.get(f"/v1/groups/{group['id']}")).json()["member_count"] == 2
            assert await _groups_of(http, kept) == sorted([vip["id"], gold["id"]])
    finally:
        second.stop()


async def test_a_merge_of_a_customer_in_no_group_changes_nothing(system, broker: Broker, mongo):
    groups = system.service("groups")
    kept, gone = await make_customers(system, broker, mongo, 2)
    event = merged(kept, gone)
    await broker.publish(event)
    db = mongo[system.database("groups")]
    await eventually(lambda: db["known_customers"].find_one({"_id": gone, "deleted": True}))
    assert await db["membership_ops"].count_documents({"_id": {"$regex": f"^{event['id']}"}}) == 0
    async with groups.client() as http:
        assert (await http.get(f"/v1/customers/{kept}/groups")).json()["items"] == []
