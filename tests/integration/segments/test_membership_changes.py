"""Membership transitions on the real FerretDB (store.py): a decision starts from the recorded
transitions, and the `memberships` projection that lists members ends at the newest one even
when an older transition's projection lands after it (FerretDB's replace is read-then-write)."""

from crm_segments.store import SegmentStore


async def record(store: SegmentStore, segment_id: str, n: int, member: bool):
    return await store.record_transition(
        segment_id, "cus_1", n, member, {"type": "x", "id": f"{segment_id}{n}"}
    )


async def test_a_late_projection_of_an_older_transition_is_repaired_by_its_writer(store):
    first = await record(store, "seg_1", 1, True)
    await record(store, "seg_1", 2, False)
    # The late write, as FerretDB lets it land: the older state over the newer one.
    await store.memberships.replace_one(
        {"_id": "seg_1|cus_1"},
        {
            "segment_id": "seg_1",
            "customer_id": "cus_1",
            "n": 1,
            "member": True,
            "since": first["recorded_at"],
        },
    )
    assert await store.memberships_of("cus_1") == {
        "seg_1": await store.latest_change("seg_1", "cus_1")
    }  # the decision's view: change 2, whatever the projection says
    assert (await store.memberships_of("cus_1"))["seg_1"]["member"] is False
    await store.project(first)  # its writer's pass: writes, probes for change 2, projects it
    state = await store.memberships.find_one({"_id": "seg_1|cus_1"})
    assert (state["n"], state["member"]) == (2, False)
    assert [m async for m in store.member_ids("seg_1")] == []


async def test_the_view_of_a_customer_holds_the_newest_transition_of_each_segment(store):
    await record(store, "seg_1", 1, True)
    await record(store, "seg_2", 1, True)
    await record(store, "seg_2", 2, False)
    await record(store, "seg_2", 3, True)
    view = await store.memberships_of("cus_1")
    assert {s: (c["n"], c["member"]) for s, c in view.items()} == {"seg_1": (1, True), "seg_2": (3, True)}
    assert "outbox" not in view["seg_2"]
    assert await store.memberships_of("cus_2") == {}
