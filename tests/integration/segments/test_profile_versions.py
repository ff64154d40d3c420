"""Profile versions on the real FerretDB (store.py): a second writer of one version conflicts,
a profile stored before versions existed is taken over by version 1, and an erasure keeps no
older version (they hold personal data)."""

import asyncio

import pytest

from crm_segments.domain.profiles import empty
from crm_servicekit.versioned import VersionConflict


def profile(version: int, **fields):
    return {**empty("cus_1"), "active": True, "email": "a@x.io", "version": version, **fields}


async def test_of_two_writers_of_one_version_one_conflicts_and_the_projection_keeps_the_winner(store):
    await store.commit_profile(profile(1))
    results = await asyncio.gather(
        store.commit_profile(profile(2, number_of_orders=3)),
        store.commit_profile(profile(2, customer_tags=["vip"])),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["NoneType", "VersionConflict"]
    winner = profile(2, number_of_orders=3) if results[0] is None else profile(2, customer_tags=["vip"])
    newest, lagging = await store.profile_to_change("cus_1")
    assert (newest, lagging) == (winner, False)
    assert await store.profile("cus_1") == winner
    with pytest.raises(VersionConflict):
        await store.commit_profile(profile(1, number_of_orders=9))  # an old version: refused
    assert await store.profile("cus_1") == winner


async def test_a_recorded_version_not_yet_projected_is_what_a_writer_reads(store):
    await store.commit_profile(profile(1))
    await store.profile_versions.changes.insert_one(
        {"_id": "cus_1:2", "doc_id": "cus_1", "version": 2, "state": profile(2, number_of_orders=4)}
    )
    newest, lagging = await store.profile_to_change("cus_1")
    assert lagging and newest == profile(2, number_of_orders=4)
    assert await store.newer_profile(profile(1)) == newest
    await store.project_profile(newest)
    await store.project_profile(profile(1))  # a late projection of an older version: ignored
    assert await store.profile("cus_1") == newest


async def test_a_profile_stored_before_versions_is_replaced_by_version_1(store):
    legacy = {k: v for k, v in profile(0).items() if k != "version"}
    await store.profiles.insert_one(legacy)
    current, lagging = await store.profile_to_change("cus_1")
    assert current is not None and current["version"] == 0 and not lagging
    await store.commit_profile(profile(1, number_of_orders=2))
    assert (await store.profile("cus_1"))["number_of_orders"] == 2


async def test_an_erasure_keeps_no_older_version(store):
    await store.commit_profile(profile(1))
    await store.commit_profile(profile(2, email="b@x.io"))
    await store.commit_profile({**empty("cus_1"), "deleted": True, "version": 3})
    kept = await store.profile_versions.changes.find({"doc_id": "cus_1"}).to_list()
    assert [c["version"] for c in kept] == [3] and kept[0]["state"]["email"] is None
