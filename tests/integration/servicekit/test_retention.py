"""The retention job prunes old processed-event ids and old published change records, and
nothing else: not unpublished changes, not recent ones, not non-prunable sources."""

from datetime import UTC, datetime, timedelta

from pymongo import AsyncMongoClient

from crm_servicekit.outbox import OutboxSource
from crm_servicekit.service import prune


async def test_prune_removes_only_what_is_old_and_done(infra):
    client: AsyncMongoClient = AsyncMongoClient(infra["mongodb"], tz_aware=True)
    db = client["t_retention_probe"]
    await client.drop_database(db.name)
    now = datetime.now(UTC)
    old, recent = now - timedelta(days=40), now - timedelta(days=1)
    await db["inbox"].insert_many(
        [{"_id": "old", "processed_at": old}, {"_id": "new", "processed_at": recent}]
    )
    await db["changes"].insert_many(
        [
            {"_id": "old-published", "published": True, "recorded_at": old},
            {"_id": "old-pending", "published": False, "recorded_at": old},
            {"_id": "new-published", "published": True, "recorded_at": recent},
        ]
    )
    await db["entries"].insert_one({"_id": "ledger-entry", "published": True, "recorded_at": old})

    await prune(db, [OutboxSource(db["changes"], prunable=True), OutboxSource(db["entries"])], days=30)

    assert [d["_id"] async for d in db["inbox"].find()] == ["new"]
    assert sorted([d["_id"] async for d in db["changes"].find()]) == ["new-published", "old-pending"]
    assert await db["entries"].count_documents({}) == 1
    await client.drop_database(db.name)
    await client.close()
