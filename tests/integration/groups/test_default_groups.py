"""Issue 15: a new installation starts with the default groups "Standard" and "Business",
created exactly once even when two replicas start together on an empty database; they can be
removed (and stay removed) and are configurable (CRM_GROUPS_DEFAULT_GROUPS)."""

import asyncio

from harness import TOKEN, Broker, ServiceProcess, eventually


def replica(system, database: str, n: int, **env: str) -> ServiceProcess:
    base = {
        "MONGODB_URL": system.mongo_url,
        "MONGODB_DATABASE": database,
        "RABBITMQ_URL": system.rabbit_url,
        "CRM_API_TOKENS": TOKEN,
        "CRM_OUTBOX_POLL_SECONDS": "0.2",
        "CRM_LOG_LEVEL": "INFO",
        **env,
    }
    return ServiceProcess("groups", base, system.logs / f"{system.tag}-{database}-{n}.log")


async def group_names(proc: ServiceProcess) -> list[str]:
    async with proc.client() as http:
        r = await http.get("/v1/groups", params={"limit": 200})
        assert r.status_code == 200
        return [g["name"] for g in r.json()["items"]]


async def test_two_replicas_starting_together_create_each_default_group_once(system, broker: Broker, mongo):
    database = system.database("groups") + "_defaults"
    first, second = replica(system, database, 1), replica(system, database, 2)
    try:
        await asyncio.gather(asyncio.to_thread(first.start), asyncio.to_thread(second.start))

        async def both_there() -> list[str] | None:
            names = await group_names(first)
            return names if set(names) >= {"Standard", "Business"} else None

        assert sorted(await eventually(both_there)) == ["Business", "Standard"]
        assert sorted(await group_names(second)) == ["Business", "Standard"]
        created = await broker.wait_for(
            "group.created", lambda b: b["data"]["name"] in ("Standard", "Business"), count=2
        )
        await asyncio.sleep(1)  # a second creation of either would be announced by now
        # Two relays may both publish one stored event (at least once): the same event id,
        # which consumers deduplicate. A second creation would be a second event id.
        announced = {
            (e["body"]["id"], e["body"]["data"]["id"], e["body"]["data"]["name"])
            for e in broker.events("group.created")
        }
        assert sorted(name for _, _, name in announced) == ["Business", "Standard"], announced
        assert all(e["body"]["data"]["member_count"] == 0 for e in created)

        # Removable: deleted, it stays deleted when the service starts again.
        async with first.client() as http:
            [standard] = [
                g for g in (await http.get("/v1/groups")).json()["items"] if g["name"] == "Standard"
            ]
            assert (await http.delete(f"/v1/groups/{standard['id']}")).status_code == 204
    finally:
        first.stop()
        second.stop()
    again = replica(system, database, 3)
    try:
        again.start()
        await asyncio.sleep(1)
        assert await group_names(again) == ["Business"]
        claims = mongo[database]["default_groups"]
        assert sorted([d["_id"] async for d in claims.find({"done": True})]) == ["business", "standard"]
    finally:
        again.stop()


async def test_the_default_groups_are_configurable_and_can_be_none(system):
    custom = replica(
        system, system.database("groups") + "_custom", 1, CRM_GROUPS_DEFAULT_GROUPS=" Retail , Wholesale ,"
    )
    none = replica(system, system.database("groups") + "_none", 1, CRM_GROUPS_DEFAULT_GROUPS="")
    try:
        custom.start()
        none.start()

        async def custom_made() -> list[str] | None:
            names = await group_names(custom)
            return names if len(names) == 2 else None

        assert await eventually(custom_made) == ["Retail", "Wholesale"]
        await asyncio.sleep(0.5)
        assert await group_names(none) == []
    finally:
        custom.stop()
        none.stop()
