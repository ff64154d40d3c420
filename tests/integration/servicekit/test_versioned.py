"""Versioned documents on FerretDB: many writers changing the same documents at once leave
every projection (what lists and filters read) at the newest recorded version.

FerretDB's replace is read-then-write, so an older version's projection can land after a newer
one; a CI run once showed a customer list missing the last consent change for good."""

import asyncio
import uuid

from crm_servicekit.versioned import VersionConflict, VersionedStore, retry_on_conflict


async def test_concurrent_writers_leave_every_projection_at_the_newest_version(mongo):
    db = mongo[f"test_versioned_{uuid.uuid4().hex[:8]}"]
    store = VersionedStore(db, "things")
    docs = [f"doc-{i}" for i in range(6)]
    writers_per_doc, changes_per_writer = 6, 8

    async def writer(doc_id: str, w: int) -> None:
        for n in range(changes_per_writer):

            async def attempt(n: int = n) -> None:
                current = await store.get(doc_id)
                version = (current or {}).get("version", 0) + 1
                state = {"_id": doc_id, "version": version, "last": f"{w}:{n}", "padding": "x" * 2000}
                await store.commit(doc_id, version, state, [])

            await retry_on_conflict(attempt, tries=200)

    try:
        await asyncio.gather(*(writer(d, w) for d in docs for w in range(writers_per_doc)))
        for doc_id in docs:
            newest = await db["things_changes"].find_one({"doc_id": doc_id}, sort=[("version", -1)])
            assert newest["version"] == writers_per_doc * changes_per_writer
            projected = await db["things"].find_one({"_id": doc_id})
            assert projected == newest["state"], f"{doc_id}: projection at {projected['version']}"
            assert await store.get(doc_id) == newest["state"]
    finally:
        await mongo.drop_database(db.name)


async def test_a_late_write_of_an_older_version_is_repaired_by_its_writer(mongo):
    """The projection was overwritten with version 1 after version 2 was projected (what a
    read-then-write replace of the older change does when it lands late); that writer's own
    pass then brings it to version 2."""
    db = mongo[f"test_versioned_{uuid.uuid4().hex[:8]}"]
    store = VersionedStore(db, "things")
    try:
        v1 = {"_id": "a", "version": 1, "consent": "not_set"}
        v2 = {"_id": "a", "version": 2, "consent": "subscribed"}
        await store.commit("a", 1, v1, [])
        await store.commit("a", 2, v2, [])
        await db["things"].replace_one({"_id": "a"}, v1)  # the late write
        await store.project("a", 1, v1)  # what the writer of version 1 does after its write
        assert await db["things"].find_one({"_id": "a"}) == v2
        try:
            await store.commit("a", 2, {**v2, "consent": "other"}, [])
        except VersionConflict:
            pass
        else:
            raise AssertionError("a second version 2 was recorded")
    finally:
        await mongo.drop_database(db.name)


async def test_the_projection_alone_is_one_read_and_a_version_after_it_is_found(mongo):
    """What a load-decide-commit that reads the projection alone relies on: the projection may
    be behind (version 2 recorded, not projected yet), `newer_recorded` finds the version
    after it, and a commit on the stale projection conflicts."""
    db = mongo[f"test_versioned_{uuid.uuid4().hex[:8]}"]
    store = VersionedStore(db, "things")
    try:
        v1 = {"_id": "a", "version": 1, "flag": "off"}
        v2 = {"_id": "a", "version": 2, "flag": "on"}
        assert not await store.newer_recorded("a", None) and await store.get("a", probe=False) is None
        await store.commit("a", 1, v1, [])
        await store.commit("a", 2, v2, [])
        await db["things"].replace_one({"_id": "a"}, v1)  # a late projection of version 1
        stale = await store.get("a", probe=False)
        assert stale == v1 and await store.get("a") == v2
        assert await store.newer_recorded("a", stale) and not await store.newer_recorded("a", v2)
        try:
            await store.commit("a", 2, {**v1, "version": 2, "flag": "off"}, [])
        except VersionConflict:
            pass
        else:
            raise AssertionError("a commit on a stale projection must conflict")
    finally:
        await mongo.drop_database(db.name)
