"""Copies of another service's versioned entity on FerretDB (servicekit.copies): the copy ends at
the newest version whatever order and concurrency the versions come in, an erased copy stays
erased, and no older version record is left behind."""

import asyncio
import random
import uuid

from crm_servicekit.copies import VERSION_INDEXES, VersionedCopy


async def copies(mongo, alive=None):
    db = mongo[f"test_copies_{uuid.uuid4().hex[:8]}"]
    await db["versions"].create_indexes(VERSION_INDEXES)
    return db, VersionedCopy(db["copies"], db["versions"], alive)


async def test_versions_written_at_once_in_any_order_leave_the_copy_at_the_newest(mongo):
    db, copy = await copies(mongo)
    versions = list(range(1, 31)) * 2  # each twice: redeliveries
    random.Random(7).shuffle(versions)
    try:
        await asyncio.gather(
            *(copy.write("cus_1", v, {"email": f"v{v}@x.io", "padding": "x" * 2000}) for v in versions)
        )
        doc = await db["copies"].find_one({"_id": "cus_1"})
        assert (doc["version"], doc["email"]) == (30, "v30@x.io")
        left = await db["versions"].find({"doc_id": "cus_1"}).to_list()
        assert [d["version"] for d in left if d["version"] < 30] == []
    finally:
        await mongo.drop_database(db.name)


async def test_a_late_older_version_changes_nothing_and_first_write_fields_stay(mongo):
    db, copy = await copies(mongo)
    try:
        assert await copy.write("cus_1", 2, {"email": "new@x.io"}, on_insert={"since": 1})
        assert not await copy.write("cus_1", 1, {"email": "old@x.io"}, on_insert={"since": 9})
        assert await db["copies"].find_one({"_id": "cus_1"}) == {
            "_id": "cus_1",
            "email": "new@x.io",
            "version": 2,
            "since": 1,
        }
        assert await copy.write("cus_1", 3, {"email": "newer@x.io"}, exists=True)
        assert (await db["copies"].find_one({"_id": "cus_1"}))["email"] == "newer@x.io"
    finally:
        await mongo.drop_database(db.name)


async def test_an_erased_copy_stays_erased_and_its_version_records_go(mongo):
    db, copy = await copies(mongo, alive={"deleted": False})
    try:
        await copy.write("cus_1", 1, {"email": "a@x.io"})
        await db["copies"].replace_one({"_id": "cus_1"}, {"deleted": True, "email": None, "version": 1})
        await copy.forget("cus_1")
        assert not await copy.write("cus_1", 2, {"email": "a@x.io"})  # a late customer.updated
        assert (await db["copies"].find_one({"_id": "cus_1"}))["email"] is None
        assert await db["versions"].count_documents({"doc_id": "cus_1"}) == 0  # nothing kept
    finally:
        await mongo.drop_database(db.name)
