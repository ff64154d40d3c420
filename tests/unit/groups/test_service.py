"""The groups use cases against an in-memory store: the errors a merchant sees, and which
membership changes are announced."""

import pytest

from crm_groups.service import Groups, Memberships
from crm_groups.settings import GroupsSettings
from crm_servicekit.errors import Conflict, Invalid, NotFound
from crm_servicekit.problems import from_domain

SETTINGS = GroupsSettings(
    MONGODB_URL="mongodb://unused",
    RABBITMQ_URL="amqp://unused",
    CRM_API_TOKENS="unit-test-token-0123456789",
    CRM_GROUPS_MAX_BULK_IDS=3,
    CRM_GROUPS_MEMBER_EVENT_IDS=2,
)


class FakeStore:
    """The part of GroupStore the use cases call, in dicts; events land in `events`."""

    def __init__(self, customers=()):
        self.groups: dict = {}
        self.names: dict = {}
        self.members: dict = {}  # (group, customer) -> adding change
        self.ops: dict = {}
        self.finished: set = set()
        self.customers = {c: False for c in customers}  # id -> erased
        self.deletions: set = set()
        self.events: list = []
        self.versions: dict = {}  # (group, customer) -> [(version, change, adding change)]

    # groups
    async def get(self, group_id):
        return self.groups.get(group_id)

    async def record_group(self, doc, events):
        self.groups[doc["id"]] = doc
        self.events += events

    async def record_group_deleted(self, doc, events):
        del self.groups[doc["id"]]
        self.events += events

    async def claim_name(self, key, group_id):
        return self.names.setdefault(key, group_id) == group_id

    async def release_name(self, key, group_id):
        if self.names.get(key) == group_id:
            del self.names[key]

    async def deletion_started(self, group_id):
        self.deletions.add(group_id)

    async def deletion_done(self, group_id):
        self.deletions.discard(group_id)

    async def delete_group_prices(self, group_id):
        self.prices = {k: v for k, v in getattr(self, "prices", {}).items() if v["group_id"] != group_id}

    # memberships
    async def member_count(self, group_id):
        return sum(1 for g, _ in self.members if g == group_id)

    async def delete_all_members(self, group_id):
        for key in [k for k in self.members if k[0] == group_id]:
            del self.members[key]

    async def memberships_of(self, customer_id, after=None, limit=None):
        return [{"group_id": g, "customer_id": c} for g, c in sorted(self.members) if c == customer_id]

    async def groups_to_leave(self, plan_id, customer_id):
        plans = self.__dict__.setdefault("leaving", {})
        now = [m["group_id"] for m in await self.memberships_of(customer_id)]
        return sorted({*plans.setdefault(plan_id, now), *now})

    async def forget_leaving(self, plan_id):
        self.__dict__.get("leaving", {}).pop(plan_id, None)

    async def start_op(self, op_id, group, add, remove):
        if op_id in self.ops:
            return self.ops[op_id], False
        op = {
            "_id": op_id,
            "group_id": group["id"],
            "group_name": group["name"],
            "add": add,
            "remove": remove,
        }
        self.ops[op_id] = {**op, "done": False}
        return self.ops[op_id], True

    async def op_finished(self, op_id):
        return op_id in self.finished

    async def present_members(self, group_id, customer_ids):
        return {c: self.members[(group_id, c)] for c in customer_ids if (group_id, c) in self.members}

    async def claim_removals(self, group_id, memberships, op_id):
        return dict(memberships)

    async def note_removing(self, op_id, memberships):
        self.ops[op_id]["removing"] = [{"c": c, "op": o} for c, o in memberships.items()]

    async def delete_memberships(self, group_id, memberships):
        for c, added_by in memberships.items():
            if self.members.get((group_id, c)) == added_by:
                del self.members[(group_id, c)]

    async def insert_members(self, group_id, customer_ids, op_id):
        added = [c for c in customer_ids if (group_id, c) not in self.members]
        self.members.update({(group_id, c): op_id for c in added})
        return added

    async def members_added_by(self, group_id, op_id):
        return [c for (g, c), op in self.members.items() if g == group_id and op == op_id]

    async def add_versions(self, group_id, members):
        return {c: self._version(group_id, c, "added", member) for c, member in members.items()}

    async def removal_versions(self, group_id, memberships, added, op_id):
        return {c: self._version(group_id, c, "removed", member) for c, member in memberships.items()}

    def _version(self, group_id, customer_id, change, member):
        history = self.versions.setdefault((group_id, customer_id), [])
        for v, ch, m in history:
            if (ch, m) == (change, member):
                return v
        history.append((len(history) + 1, change, member))
        return len(history)

    async def erased_among(self, customer_ids):
        return {c for c in customer_ids if self.customers.get(c)}

    async def finish_op(self, op_id, group_id, added, removed, events):
        self.finished.add(op_id)
        self.ops[op_id]["done"] = True
        self.events += events

    # customers
    async def unknown_customers(self, customer_ids):
        return [c for c in customer_ids if self.customers.get(c, True)]

    async def customer_exists(self, customer_id):
        return self.customers.get(customer_id) is False

    async def customer_erased(self, customer_id):
        self.customers[customer_id] = True


def event_ids(store, type_):
    return [c for e in store.events if e["type"] == type_ for c in e["data"]["customer_ids"]]


@pytest.fixture
def store():
    return FakeStore(customers=["a", "b", "c", "d"])


async def make_group(store, name="VIP"):
    return await Groups(store, SETTINGS).create_group({"name": name}, {})


async def test_a_name_is_taken_whatever_its_case_and_spaces(store):
    await make_group(store, "Whole Sale")
    with pytest.raises(Conflict) as e:
        await make_group(store, "  whole   SALE")
    assert e.value.slug == "group-name-taken"
    assert e.value.detail == "a group named 'whole SALE' exists (names are case-insensitive)"


async def test_invalid_metadata_creates_nothing_and_claims_no_name(store):
    with pytest.raises(Invalid) as e:
        await Groups(store, SETTINGS).create_group({"name": "VIP"}, {"a.b": 1})
    assert e.value.extra["errors"][0]["field"] == "metadata.a.b"
    assert store.groups == {} and store.names == {}


async def test_deleting_a_missing_group_is_not_found_and_leaves_no_deletion_marker(store):
    with pytest.raises(NotFound):
        await Groups(store, SETTINGS).delete_group("grp_missing")
    assert store.deletions == set()


async def test_unknown_customers_are_the_same_problem_as_before(store):
    group = await make_group(store)
    with pytest.raises(Invalid) as e:
        await Memberships(store, SETTINGS).change_members(group["id"], ["a", "x", "y", "x"], [])
    problem = from_domain(e.value)
    assert (problem.status, problem.slug, problem.title) == (422, "unknown-customers", "Unknown customers")
    assert problem.detail == "2 customer id(s) in add are unknown"
    assert problem.extra == {
        "errors": [{"field": "add", "message": "unknown customer ids"}],
        "unknown_customer_ids": ["x", "y"],
    }
    assert store.members == {}


async def test_too_many_ids_or_an_id_in_both_lists_is_invalid_before_the_group_is_looked_up(store):
    members = Memberships(store, SETTINGS)
    with pytest.raises(Invalid) as e:
        await members.change_members("grp_missing", ["a", "b", "c", "d"], ["b"])
    assert e.value.extra["errors"] == [
        {"field": "add", "message": "at most 3 ids per call"},
        {"field": "remove", "message": "ids both added and removed: b"},
    ]
    with pytest.raises(NotFound):
        await members.change_members("grp_missing", ["a", "a", "a", "a"], [])  # repeats count once


async def test_only_what_changed_is_announced_in_events_of_bounded_size(store):
    group = await make_group(store)
    members = Memberships(store, SETTINGS)
    first = await members.change_members(group["id"], ["a", "b", "c"], [])
    assert (first.added, first.member_count) == (["a", "b", "c"], 3)
    assert [len(e["data"]["customer_ids"]) for e in store.events if e["type"] == "group.members.added"] == [
        2,
        1,
    ]

    again = await members.change_members(group["id"], ["a", "d"], ["b", "c"])
    assert (again.added, again.removed, again.member_count) == (["d"], ["b", "c"], 2)
    noop = await members.change_members(group["id"], ["a"], ["b"])
    assert (noop.added, noop.removed) == ([], [])
    assert event_ids(store, "group.members.added") == ["a", "b", "c", "d"]
    assert event_ids(store, "group.members.removed") == ["b", "c"]


async def test_an_erased_customer_leaves_every_group_once_even_on_redelivery(store):
    vip, gold = await make_group(store, "VIP"), await make_group(store, "Gold")
    members = Memberships(store, SETTINGS)
    for group in (vip, gold):
        await members.change_members(group["id"], ["a", "b"], [])
    await members.customer_erased("a", "evt_1")
    await members.customer_erased("a", "evt_1")
    assert sorted(event_ids(store, "group.members.removed")) == ["a", "a"]
    assert await store.member_count(vip["id"]) == await store.member_count(gold["id"]) == 1
    with pytest.raises(Invalid):  # erased: can no longer be added
        await members.change_members(vip["id"], ["a"], [])


async def test_a_merge_stopped_part_way_is_finished_by_its_redelivery_in_every_group(store, monkeypatch):
    """The first handling removed the merged customer from its first group and stopped before
    the kept one joined: that group no longer lists the merged customer, and the redelivery
    still finishes it there."""
    vip, gold = await make_group(store, "VIP"), await make_group(store, "Gold")
    members = Memberships(store, SETTINGS)
    await members.change_members(vip["id"], ["b"], [])
    await members.change_members(gold["id"], ["b"], [])
    insert = store.insert_members

    async def stopped(group_id, customer_ids, op_id):
        raise ConnectionError("killed")

    monkeypatch.setattr(store, "insert_members", stopped)
    with pytest.raises(ConnectionError):
        await members.customer_merged("a", "b", "evt_merged")
    assert len(await store.memberships_of("b")) == 1  # left the first group, joined nothing yet
    monkeypatch.setattr(store, "insert_members", insert)
    await members.customer_merged("a", "b", "evt_merged")  # redelivered
    assert [m["group_id"] for m in await store.memberships_of("a")] == sorted([vip["id"], gold["id"]])
    assert await store.memberships_of("b") == []
    removed = sorted(e["data"]["group_id"] for e in store.events if e["type"] == "group.members.removed")
    assert removed == sorted([vip["id"], gold["id"]])


async def test_pricing_of_an_unknown_customer_is_not_found(store):
    with pytest.raises(NotFound) as e:
        await Memberships(store, SETTINGS).pricing_of_customer("nobody")
    assert e.value.title == "Customer not found" and e.value.detail == "no customer with id 'nobody'"


async def test_a_created_group_shows_times_as_the_database_keeps_them(store):
    view = await make_group(store)
    assert view["created_at"].microsecond % 1000 == 0 and view["created_at"] == view["updated_at"]
    assert [e["type"] for e in store.events] == ["group.created"]


async def test_a_deleted_group_takes_its_price_list_and_memberships_with_it(store):
    group = await make_group(store)
    await Memberships(store, SETTINGS).change_members(group["id"], ["a"], [])
    store.prices = {"p1": {"group_id": group["id"]}, "p2": {"group_id": "grp_other"}}
    await Groups(store, SETTINGS).delete_group(group["id"])
    assert list(store.prices) == ["p2"] and store.members == {}
    assert [e["type"] for e in store.events][-1] == "group.deleted"


def versions_in(store, type_):
    return [
        (c, v)
        for e in store.events
        if e["type"] == type_
        for c, v in zip(e["data"]["customer_ids"], e["data"]["versions"], strict=True)
    ]


async def test_each_pair_change_carries_the_pairs_next_version(store):
    group = await make_group(store)
    members = Memberships(store, SETTINGS)
    await members.change_members(group["id"], ["a", "b"], [])
    await members.change_members(group["id"], [], ["a"])
    await members.change_members(group["id"], ["a", "c"], ["b"])
    await members.change_members(group["id"], ["a"], [])  # a member already: nothing, no version
    assert versions_in(store, "group.members.added") == [("a", 1), ("b", 1), ("a", 3), ("c", 1)]
    assert versions_in(store, "group.members.removed") == [("a", 2), ("b", 2)]


async def test_groups_asked_for_at_creation_are_joined_once_and_unknown_ones_skipped(store, caplog):
    vip, gold = await make_group(store, "VIP"), await make_group(store, "Gold")
    members = Memberships(store, SETTINGS)
    ids = [vip["id"], "grp_nope", gold["id"], vip["id"]]
    await members.join_at_creation("a", ids, "evt_created")
    await members.join_at_creation("a", ids, "evt_created")  # redelivered
    added = [e for e in store.events if e["type"] == "group.members.added"]
    assert [(e["data"]["group_id"], e["data"]["customer_ids"]) for e in added] == [
        (vip["id"], ["a"]),
        (gold["id"], ["a"]),
    ]
    assert await store.member_count(vip["id"]) == await store.member_count(gold["id"]) == 1
    assert "customer a asked at creation to join group grp_nope" in caplog.text


async def test_a_merge_moves_the_merged_customers_groups_to_the_kept_one_once(store):
    vip, gold = await make_group(store, "VIP"), await make_group(store, "Gold")
    members = Memberships(store, SETTINGS)
    await members.change_members(vip["id"], ["a", "b"], [])
    await members.change_members(gold["id"], ["b"], [])
    await members.customer_merged("a", "b", "evt_merged")
    await members.customer_merged("a", "b", "evt_merged")  # redelivered
    removed = [
        (e["data"]["group_id"], e["data"]["customer_ids"])
        for e in store.events
        if e["type"] == "group.members.removed"
    ]
    assert sorted(removed) == sorted([(vip["id"], ["b"]), (gold["id"], ["b"])])
    added = [
        (e["data"]["group_id"], e["data"]["customer_ids"])
        for e in store.events
        if e["type"] == "group.members.added"
    ]
    assert added[-1] == (gold["id"], ["a"]) and added.count((vip["id"], ["a"])) == 0  # a was in VIP already
    assert await store.member_count(vip["id"]) == await store.member_count(gold["id"]) == 1
    with pytest.raises(Invalid):  # merged away: refused like an erased customer
        await members.change_members(vip["id"], ["b"], [])
    with pytest.raises(Invalid):
        await members.customer_merged("a", "a", "evt_bad")
