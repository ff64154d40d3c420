"""Issue 4: a membership change interrupted by a crash (recorded, partly applied, events not
stored) is finished by the recovery job: every member is added and announced once, and
(issue 19) each with its pair's version."""

from datetime import UTC, datetime, timedelta

from groups_support import create_group, ids_in, make_customers

from harness import Broker, envelope, eventually


async def test_an_interrupted_bulk_add_is_finished_and_announced(system, broker: Broker, mongo):
    groups = system.service(
        "groups", CRM_GROUPS_RECOVERY_AFTER_SECONDS="1", CRM_GROUPS_RECOVERY_EVERY_SECONDS="0.5"
    )
    a, b, c = await make_customers(system, broker, mongo, 3)
    async with groups.client() as http:
        group = await create_group(http)
        earlier = (await http.post(f"/v1/groups/{group['id']}/customers", json={"add": [c]})).json()
        assert earlier["added"] == [c]

    # What a process killed in the middle of adding [a, b, c] leaves behind: the change record,
    # and the membership of `a` inserted; no events stored.
    db = mongo[system.database("groups")]
    started = datetime.now(UTC) - timedelta(minutes=5)
    await db["membership_ops"].insert_one(
        {
            "_id": "op_crashed",
            "group_id": group["id"],
            "group_name": group["name"],
            "add": [a, b, c],
            "remove": [],
            "started_at": started,
            "done": False,
        }
    )
    await db["memberships"].insert_one(
        {
            "_id": f"{group['id']}:{a}",
            "group_id": group["id"],
            "customer_id": a,
            "added_at": started,
            "op": "op_crashed",
        }
    )

    await broker.wait_for("group.members.added", lambda d: d["data"]["group_id"] == group["id"], count=2)
    # `c` was already a member by an earlier call: it is not announced again.
    assert sorted(ids_in(broker, "group.members.added", group["id"])) == sorted([a, b, c])
    assert (await db["membership_ops"].find_one({"_id": "op_crashed"}))["done"] is True
    async with groups.client() as http:
        assert (await http.get(f"/v1/groups/{group['id']}")).json()["member_count"] == 3


async def test_a_removal_interrupted_after_its_membership_went_is_announced_with_its_version(
    system, broker: Broker, mongo
):
    # The module's first test starts the service with these; later ones get the running process.
    groups = system.service(
        "groups", CRM_GROUPS_RECOVERY_AFTER_SECONDS="1", CRM_GROUPS_RECOVERY_EVERY_SECONDS="0.5"
    )
    a, b = await make_customers(system, broker, mongo, 2)
    async with groups.client() as http:
        group = await create_group(http)
        url = f"/v1/groups/{group['id']}/customers"
        assert (await http.post(url, json={"add": [a, b]})).json()["added"] == [a, b]
        assert (await http.post(url, json={"remove": [a]})).json()["removed"] == [a]
        assert (await http.post(url, json={"add": [a]})).json()["added"] == [a]  # a: 1, 2, 3
    await broker.wait_for("group.members.added", lambda d: d["data"]["group_id"] == group["id"], count=2)
    db = mongo[system.database("groups")]
    memberships = {m["customer_id"]: m async for m in db["memberships"].find({"group_id": group["id"]})}

    # What a process killed while removing [a, b] leaves: the change with the memberships it
    # removes noted, both memberships deleted already, no versions claimed, no events stored.
    started = datetime.now(UTC) - timedelta(minutes=5)
    removing = [{"c": c, "op": memberships[c]["op"]} for c in (a, b)]
    for c in (a, b):
        key = f"{group['id']}:{c}:{memberships[c]['op']}"
        await db["membership_removals"].insert_one({"_id": key, "by": "op_cut", "at": started})
    await db["memberships"].delete_many({"group_id": group["id"]})
    await db["membership_ops"].insert_one(
        {
            "_id": "op_cut",
            "group_id": group["id"],
            "group_name": group["name"],
            "add": [],
            "remove": [a, b],
            "removing": removing,
            "started_at": started,
            "done": False,
        }
    )
    [removed] = await broker.wait_for(
        "group.members.removed",
        lambda d: d["data"]["group_id"] == group["id"] and len(d["data"]["customer_ids"]) == 2,
    )
    data = removed["body"]["data"]
    assert dict(zip(data["customer_ids"], data["versions"], strict=True)) == {a: 4, b: 2}


async def test_an_interrupted_group_deletion_loses_its_memberships(system, broker: Broker, mongo):
    groups = system.service(
        "groups", CRM_GROUPS_RECOVERY_AFTER_SECONDS="1", CRM_GROUPS_RECOVERY_EVERY_SECONDS="0.5"
    )
    [a] = await make_customers(system, broker, mongo, 1)
    db = mongo[system.database("groups")]
    # What a process killed after committing a deletion leaves: the deletion marker and the
    # memberships of a group that no longer exists.
    started = datetime.now(UTC) - timedelta(minutes=5)
    await db["group_deletions"].insert_one({"_id": "grp_gone", "started_at": started})
    await db["memberships"].insert_one(
        {"_id": f"grp_gone:{a}", "group_id": "grp_gone", "customer_id": a, "added_at": started, "op": "op_x"}
    )

    async def cleared():
        return (
            await db["memberships"].count_documents({"group_id": "grp_gone"}) == 0
            and await db["group_deletions"].count_documents({}) == 0
        )

    await eventually(cleared)
    async with groups.client() as http:
        assert (await http.get(f"/v1/customers/{a}/groups")).json()["items"] == []


async def test_a_customer_event_without_id_is_dead_lettered_with_the_reason(system, broker: Broker, mongo):
    system.service("groups")
    bad = envelope("customer.created", {"version": 1, "email": "x@example.com"}, source="/crm/customers")
    await broker.publish(bad)
    [dead] = await broker.dead_letters("groups", expect=1)
    assert (
        "invalid data for customer.created" in dead.headers["x-crm-reason"]
        and "id" in dead.headers["x-crm-reason"]
    )
    # The next event is processed.
    await make_customers(system, broker, mongo, 1)
