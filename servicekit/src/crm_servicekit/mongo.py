"""MongoDB client lifecycle (one AsyncMongoClient per event loop) and index creation at start."""

from collections.abc import Mapping, Sequence

from pymongo import AsyncMongoClient, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

IndexSpec = Mapping[str, Sequence[IndexModel]]
"""collection name -> indexes; each store module declares its own."""


class Mongo:
    def __init__(self, url: str, database: str) -> None:
        # tz_aware: datetimes come back as aware UTC, never naive.
        self.client: AsyncMongoClient = AsyncMongoClient(
            url, tz_aware=True, serverSelectionTimeoutMS=5000, connectTimeoutMS=5000
        )
        self.db: AsyncDatabase = self.client[database]

    async def ensure_indexes(self, spec: IndexSpec) -> None:
        # Only the missing ones, one per command: FerretDB 1.24 drops the connection (a panic
        # on its side) when one createIndexes names several indexes that already exist.
        for collection, indexes in spec.items():
            existing = {i["name"] async for i in await self.db[collection].list_indexes()}
            for index in indexes:
                if index.document["name"] not in existing:
                    await self.db[collection].create_indexes([index])

    async def ping(self) -> None:
        await self.client.admin.command("ping")

    async def close(self) -> None:
        await self.client.close()
