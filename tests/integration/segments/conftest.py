"""A segments store on a database of its own, on the real MongoDB-protocol server, with the
service's indexes: for tests of store.py itself."""

import uuid

import pytest
from pymongo import AsyncMongoClient

from crm_segments.store import SegmentStore


@pytest.fixture
async def store(infra):
    client: AsyncMongoClient = AsyncMongoClient(infra["mongodb"], tz_aware=True)
    name = f"t_segment_store_{uuid.uuid4().hex[:8]}"
    store = SegmentStore(client[name], lambda: None)
    for collection, indexes in store.indexes.items():
        if indexes:
            await client[name][collection].create_indexes(indexes)
    yield store
    await client.drop_database(name)
    await client.close()
