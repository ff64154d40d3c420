"""MongoDB client lifecycle (one AsyncMongoClient per event loop) and index creation at start."""

from collections.abc import Mapping, Sequence
from typing import Any

from pymongo import AsyncMongoClient, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, CollectionInvalid, DuplicateKeyError, OperationFailure

from crm_servicekit.dbmonitor import monitor_from_env
from crm_servicekit.pgindexes import ensure_gin_indexes

IndexSpec = Mapping[str, Sequence[IndexModel]]
"""collection name -> indexes; each store module declares every collection it uses, with an
empty list where `_id` is the only key it looks up."""


DUPLICATE_KEY = 11000


async def insert_once(collection: AsyncCollection, doc: Mapping[str, Any]) -> bool:
    """Inserts `doc` unless a document with the same unique key exists: True if this call
    inserted it (and so owns what it stands for), False if it was there already. Correctness
    under concurrency rests on this, never on an update being atomic."""
    try:
        await collection.insert_one(dict(doc))
    except DuplicateKeyError:
        return False
    return True


async def insert_many_once(collection: AsyncCollection, docs: Sequence[Mapping[str, Any]]) -> set[int]:
    """Inserts every doc whose unique key is free, in one command; returns the positions of
    those that already existed. Any other write error is raised."""
    if not docs:
        return set()
    try:
        await collection.insert_many([dict(d) for d in docs], ordered=False)
    except BulkWriteError as e:
        errors = e.details.get("writeErrors", [])
        if any(err.get("code") != DUPLICATE_KEY for err in errors):
            raise
        return {err["index"] for err in errors}
    return set()


class Mongo:
    def __init__(self, url: str, database: str, ferretdb_postgresql_url: str | None = None) -> None:
        # tz_aware: datetimes come back as aware UTC, never naive.
        self.client: AsyncMongoClient = AsyncMongoClient(
            url,
            tz_aware=True,
            serverSelectionTimeoutMS=5000,
            connectTimeoutMS=5000,
            event_listeners=[monitor_from_env()],
        )
        self.db: AsyncDatabase = self.client[database]
        self.ferretdb_postgresql_url = ferretdb_postgresql_url

    async def ensure_indexes(self, spec: IndexSpec) -> None:
        # Only the missing ones, one per command: FerretDB 1.24 drops the connection (a panic
        # on its side) when one createIndexes names several indexes that already exist.
        for collection, indexes in spec.items():
            existing = {i["name"] async for i in await self.db[collection].list_indexes()}
            if not existing:
                try:  # the GIN indexes below need the collection's table to exist
                    await self.db.create_collection(collection)
                except (CollectionInvalid, OperationFailure):
                    pass  # created meanwhile by another replica or a first write
            for index in indexes:
                if index.document["name"] not in existing:
                    await self.db[collection].create_indexes([index])
        if self.ferretdb_postgresql_url:
            await ensure_gin_indexes(self.ferretdb_postgresql_url, self.db.name, spec)

    async def ping(self) -> None:
        await self.client.admin.command("ping")

    async def close(self) -> None:
        await self.client.close()
